/* Fuzz target: the configuration parser and its checks, on arbitrary text. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	drb_config *c = NULL;
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (drb_config_load_string(text, "fuzz.conf", &c) == 0)
		drb_config_free(c);
	drb_error_clear();
	free(text);
	return 0;
}
