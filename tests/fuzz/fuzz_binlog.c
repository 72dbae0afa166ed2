/* Fuzz target: the binlog event scanner on arbitrary bytes, whole files and mid-file starts
 * (with and without event CRC32s), and the format description reader. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
		for (uint8_t alg = 0; alg < 2; alg++) {
			drb_binlog_scan_init(&s, 4, "0-1-5,1-2-3");
			s.checksum = alg ? DRB_BINLOG_CRC32 : DRB_BINLOG_CRC_OFF;
			drb_binlog_scan_feed(&s, data + 4, size - 4);
			(void)drb_binlog_scan_torn(&s);
		}
		drb_error_clear();
	}
	/* the header reader on the same bytes as a file */
	FILE *f = tmpfile();
	if (f) {
		int64_t created;
		uint8_t alg;
		if (fwrite(data, 1, size, f) == size && fflush(f) == 0)
			drb_binlog_file_info(fileno(f), &created, &alg);
		fclose(f);
	}
	drb_error_clear();
	return 0;
}
