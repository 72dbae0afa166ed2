/* agent/binlog_scan on binlog files the server wrote (the fuzz seeds): boundaries, GTID states,
 * and the same answers however the bytes are cut. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/binlog_scan.h"
#include "common/error.h"
#include "tests/harness.h"

static uint8_t *load(const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/fuzz/corpus/binlog/%s", drbt_srcdir(), name);
	uint8_t *b = (uint8_t *)drbt_read_file(path, len);
	assert_non_null(b);
	return b;
}

static void scan_pieces(const uint8_t *b, size_t len, size_t piece, drb_binlog_scan *s)
{
	drb_binlog_scan_init(s, 0, "");
	for (size_t off = 0; off < len; off += piece)
		assert_int_equal(drb_binlog_scan_feed(s, b + off, len - off < piece ? len - off : piece), 0);
}

static void test_closed_file(void **state)
{
	size_t len;
	uint8_t *b = load("rotate-ended", &len);
	drb_binlog_scan whole, bytes;
	(void)state;
	scan_pieces(b, len, len, &whole);
	assert_true(whole.closed);
	assert_int_equal(whole.safe_end, len);
	assert_int_equal(whole.pos, len);
	assert_true(whole.events > 5);
	assert_true(whole.file_created > 0);
	assert_true(whole.last_event >= whole.first_event);
	assert_string_not_equal(whole.state, "");
	/* byte by byte: the same result */
	scan_pieces(b, len, 1, &bytes);
	assert_int_equal(bytes.safe_end, whole.safe_end);
	assert_int_equal(bytes.events, whole.events);
	assert_string_equal(bytes.state, whole.state);
	assert_string_equal(bytes.start_state, whole.start_state);
	free(b);
}

static void test_cut_transaction_is_not_a_boundary(void **state)
{
	size_t len;
	uint8_t *b = load("demo-ddl-and-rows", &len);
	drb_binlog_scan s;
	(void)state;
	/* every prefix: safe_end never passes the bytes given, and never sits inside a
	 * transaction that is cut */
	uint64_t last_safe = 0;
	for (size_t cut = 4; cut <= len; cut += 7) {
		scan_pieces(b, cut, 4096, &s);
		assert_true(s.safe_end <= cut);
		assert_true(s.safe_end >= last_safe);
		last_safe = s.safe_end;
	}
	scan_pieces(b, len, 4096, &s);
	/* a continuation from a boundary sees the same end */
	drb_binlog_scan tail;
	uint64_t mid = 0;
	for (size_t cut = 4; cut < len; cut += 50) {
		drb_binlog_scan p;
		scan_pieces(b, cut, 4096, &p);
		if (p.safe_end > 4 && p.safe_end < len) {
			mid = p.safe_end;
			drb_binlog_scan_init(&tail, mid, p.state);
			break;
		}
	}
	assert_true(mid > 0);
	assert_int_equal(drb_binlog_scan_feed(&tail, b + mid, len - mid), 0);
	assert_string_equal(tail.state, s.state);
	assert_int_equal(tail.safe_end, s.safe_end);
	free(b);
}

static void test_damage_is_an_error(void **state)
{
	size_t len;
	uint8_t *b = load("rotate-ended", &len);
	drb_binlog_scan s;
	(void)state;
	drb_binlog_scan_init(&s, 0, "");
	assert_int_equal(drb_binlog_scan_feed(&s, (const uint8_t *)"\xfe" "bix", 4), DRB_ERR_FORMAT);
	/* an event size that cannot be */
	b[4 + 9] = 0x05;
	b[4 + 10] = b[4 + 11] = b[4 + 12] = 0;
	drb_binlog_scan_init(&s, 0, "");
	assert_int_equal(drb_binlog_scan_feed(&s, b, len), DRB_ERR_FORMAT);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_closed_file),
		cmocka_unit_test(test_cut_transaction_is_not_a_boundary),
		cmocka_unit_test(test_damage_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
