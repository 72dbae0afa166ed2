/* restore/replay: the hand-off between the feeder (a thread writing segments) and the decoder
 * (a child that may stop reading at the target). A decoder that stops early on purpose is a
 * success; one that exits non-zero, or stops early without a stop condition, and a feed that
 * fails (a damaged segment) are errors. Input far larger than a pipe's buffer, as on a host
 * whose segments are several MB. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/context.h"
#include "common/error.h"
#include "common/sink.h"
#include "restore/replay.h"

#define BIG (8u << 20)

typedef struct feed_spec {
	size_t bytes;
	int fail_after; /* >0: fail with DRB_ERR_INTEGRITY after this many bytes, as a damaged
			 * segment does when its chunk does not authenticate */
} feed_spec;

static int feed(void *ud, int fd)
{
	feed_spec *f = ud;
	static char block[65536];
	memset(block, 'x', sizeof block);
	block[sizeof block - 1] = '\n';
	for (size_t done = 0; done < f->bytes; done += sizeof block) {
		if (f->fail_after && done >= (size_t)f->fail_after)
			return drb_error(DRB_ERR_INTEGRITY, "segment 7: chunk 3 fails authentication");
		ssize_t w = write(fd, block, sizeof block);
		if (w < 0)
			return drb_error_errno(0, errno, "writing to the decoder");
	}
	return 0;
}

static int run(const char *script, feed_spec *f, bool stop_early, char *line, size_t len)
{
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	drb_sink *out = drb_null_sink_new();
	drb_error_clear();
	int rc = drb_decode_pipe(argv, NULL, feed, f, out, stop_early, "decoding mysql-bin.000009");
	drb_error_line(line, len);
	drb_sink_free(out);
	return rc;
}

static void test_stop_on_purpose_succeeds(void **state)
{
	char line[DRB_ERROR_LINE];
	feed_spec f = {.bytes = BIG};
	(void)state;
	/* reads 1 MB of 8, prints, exits 0: as mariadb-binlog at --stop-datetime */
	assert_int_equal(run("head -c 1048576 >/dev/null; echo stopped", &f, true, line, sizeof line), 0);
}

static void test_whole_input_succeeds(void **state)
{
	char line[DRB_ERROR_LINE];
	feed_spec f = {.bytes = BIG};
	(void)state;
	assert_int_equal(run("cat >/dev/null", &f, false, line, sizeof line), 0);
	assert_int_equal(run("cat >/dev/null", &f, true, line, sizeof line), 0);
}

static void test_decoder_error_fails(void **state)
{
	char line[DRB_ERROR_LINE];
	feed_spec f = {.bytes = BIG};
	(void)state;
	int rc = run("head -c 100000 >/dev/null; echo 'ERROR: Could not read entry' >&2; exit 1", &f,
		     true, line, sizeof line);
	assert_true(rc < 0);
	assert_non_null(strstr(line, "Could not read entry"));
}

static void test_early_stop_without_a_stop_condition_fails(void **state)
{
	char line[DRB_ERROR_LINE];
	feed_spec f = {.bytes = BIG};
	(void)state;
	int rc = run("head -c 100000 >/dev/null", &f, false, line, sizeof line);
	assert_true(rc < 0);
	assert_non_null(strstr(line, "stopped reading before the end"));
}

static void test_damaged_feed_fails(void **state)
{
	char line[DRB_ERROR_LINE];
	feed_spec f = {.bytes = BIG, .fail_after = 1 << 20};
	(void)state;
	/* the decoder reads everything and exits 0; the feed's own failure still counts, with or
	 * without a stop condition */
	assert_int_equal(run("cat >/dev/null", &f, true, line, sizeof line), DRB_ERR_INTEGRITY);
	assert_non_null(strstr(line, "fails authentication"));
	assert_int_equal(run("cat >/dev/null", &f, false, line, sizeof line), DRB_ERR_INTEGRITY);
}

int main(void)
{
	drb_signals_install(); /* SIGPIPE ignored, as in drbackup itself */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stop_on_purpose_succeeds),
		cmocka_unit_test(test_whole_input_succeeds),
		cmocka_unit_test(test_decoder_error_fails),
		cmocka_unit_test(test_early_stop_without_a_stop_condition_fails),
		cmocka_unit_test(test_damaged_feed_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
