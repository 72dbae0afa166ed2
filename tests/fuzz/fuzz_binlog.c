/* Fuzz target: the binlog event scanner on arbitrary bytes, whole files and mid-file starts. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "agent/binlog_scan.h"
#include "common/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	drb_binlog_scan s;
	/* a whole file, fed in uneven pieces */
	drb_binlog_scan_init(&s, 0, "");
	size_t off = 0, step = 1;
	int rc = 0;
	while (off < size && rc == 0) {
		size_t n = size - off < step ? size - off : step;
		rc = drb_binlog_scan_feed(&s, data + off, n);
		off += n;
		step = step * 5 + 3;
	}
	/* the same bytes as a continuation from an event boundary */
	if (size > 4) {
		drb_binlog_scan_init(&s, 4, "0-1-5,1-2-3");
		drb_binlog_scan_feed(&s, data + 4, size - 4);
	}
	drb_error_clear();
	return 0;
}
