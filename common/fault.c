#include "config.h"
#include "common/fault.h"

#include <stdlib.h>
#include <string.h>

bool drb_fault(const char *name)
{
	const char *f = getenv("DRBACKUP_FAULTS");
	size_t n = strlen(name);
	while (f && *f) {
		const char *end = strchr(f, ',');
		size_t len = end ? (size_t)(end - f) : strlen(f);
		if (len == n && strncmp(f, name, n) == 0)
			return true;
		f = end ? end + 1 : NULL;
	}
	return false;
}
