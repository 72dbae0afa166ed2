/* Fuzz target: the restore's statement checker on arbitrary text, as a dump statement and as a
 * replay query, under each sql_mode it tracks; a rewrite must itself pass the check again. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "restore/sqlcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode = size ? data[0] : 0;
	const char *s = size ? (const char *)data + 1 : "";
	size_t n = size ? size - 1 : 0;
	drb_sqlcheck c = {.db = mode & 4 ? NULL : "practice_a",
	                  .no_backslash = mode & 1,
	                  .ansi_quotes = mode & 2};
	if (drb_sqlcheck_dump(&c, s, n) == 0 && c.rewritten) {
		/* what is sent instead passes as it is */
		char *again = malloc(c.rewritten_len + 1);
		if (again) {
			memcpy(again, c.rewritten, c.rewritten_len);
			again[c.rewritten_len] = 0;
		}
		if (again && drb_sqlcheck_dump(&c, again, c.rewritten_len) != 0)
			abort();
		free(again);
	}
	drb_sqlcheck_free(&c);
	c.db = mode & 4 ? NULL : "practice_a";
	c.no_backslash = mode & 1;
	c.ansi_quotes = mode & 2;
	drb_sqlcheck_replay(&c, s, n);
	drb_sqlcheck_free(&c);
	drb_error_clear();
	return 0;
}
