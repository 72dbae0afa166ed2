/* agent/binlog_scan on binlog files the server wrote (the fuzz seeds): boundaries, GTID states,
 * and the same answers however the bytes are cut; event CRC32s; tails torn by a crash. */
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
			tail.checksum = p.checksum;
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

/* every event of a 10.11 file ends in a CRC32; the scanner checks each one */
static void test_crc_is_checked(void **state)
{
	size_t len;
	uint8_t *b = load("rotate-ended", &len);
	drb_binlog_scan s;
	(void)state;
	scan_pieces(b, len, len, &s);
	assert_int_equal(s.checksum, DRB_BINLOG_CRC32);
	assert_int_equal(s.checked, s.events);
	/* the in-use flag of an open (or crashed) file is not part of the format event's CRC */
	b[4 + 17] |= 1;
	scan_pieces(b, len, 3, &s);
	assert_int_equal(s.checked, s.events);
	free(b);
}

/* binlog_checksum=NONE: no event CRC, but the format description still carries its own */
static void test_no_checksum_file(void **state)
{
	size_t len;
	uint8_t *b = load("checksum-none", &len);
	drb_binlog_scan s;
	(void)state;
	scan_pieces(b, len, 7, &s);
	assert_int_equal(s.checksum, DRB_BINLOG_CRC_OFF);
	assert_int_equal(s.checked, 1);
	assert_true(s.events > 3);
	b[4 + 40] ^= 1; /* in the server version */
	drb_binlog_scan_init(&s, 0, "");
	assert_int_equal(drb_binlog_scan_feed(&s, b, len), DRB_ERR_FORMAT);
	drb_error_clear();
	free(b);
}

/* One flipped bit anywhere in an event: refused, and nothing at or after it is a boundary. */
static void test_crc_mismatch_is_refused(void **state)
{
	size_t len;
	uint8_t *b = load("demo-ddl-and-rows", &len);
	drb_binlog_scan whole, s;
	(void)state;
	scan_pieces(b, len, len, &whole);
	assert_int_equal(whole.checksum, DRB_BINLOG_CRC32);
	size_t refused = 0;
	for (size_t at = 4; at < len; at++) {
		if (at == 4 + 17)
			continue; /* the in-use flag, see above */
		for (int bit = 0; bit < 8; bit += 3) {
			b[at] ^= (uint8_t)(1u << bit);
			drb_binlog_scan_init(&s, 0, "");
			int rc = 0;
			for (size_t off = 0; off < len && rc == 0; off += 97)
				rc = drb_binlog_scan_feed(&s, b + off, len - off < 97 ? len - off : 97);
			b[at] ^= (uint8_t)(1u << bit);
			drb_error_clear();
			/* a flip in a size field may read as a bad size (an error all the same) or
			 * as an event longer than the file (torn: never complete) */
			if (rc == 0)
				assert_true(drb_binlog_scan_torn(&s) > 0);
			else
				assert_int_equal(rc, DRB_ERR_FORMAT);
			assert_true(s.safe_end <= at);
			refused++;
		}
	}
	assert_true(refused > 1000);
	free(b);
}

/* A continuation past the format description is checked when told the algorithm. */
static void test_crc_in_a_continuation(void **state)
{
	size_t len;
	uint8_t *b = load("demo-ddl-and-rows", &len);
	drb_binlog_scan p, s;
	(void)state;
	scan_pieces(b, len / 2, len, &p);
	assert_true(p.safe_end > 4 && p.safe_end < len);
	b[len - 10] ^= 0x40;
	drb_binlog_scan_init(&s, p.safe_end, p.state);
	assert_int_equal(drb_binlog_scan_feed(&s, b + p.safe_end, len - p.safe_end),
			 DRB_ERR_FORMAT); /* untold */
	drb_error_clear();
	drb_binlog_scan_init(&s, p.safe_end, p.state);
	s.checksum = DRB_BINLOG_CRC32;
	assert_int_equal(drb_binlog_scan_feed(&s, b + p.safe_end, len - p.safe_end),
			 DRB_ERR_FORMAT);
	drb_error_clear();
	free(b);
}

/* A crash cuts the last transaction anywhere: the torn rest is counted, never a boundary, and
 * what comes before it scans as complete. */
static void test_torn_tail(void **state)
{
	size_t len;
	uint8_t *b = load("demo-ddl-and-rows", &len);
	drb_binlog_scan whole, s, again;
	(void)state;
	scan_pieces(b, len, len, &whole);
	assert_int_equal(drb_binlog_scan_torn(&whole), 0);
	size_t torn_seen = 0;
	for (size_t cut = 5; cut < len; cut++) {
		scan_pieces(b, cut, 61, &s);
		assert_false(s.closed);
		assert_int_equal(s.safe_end + drb_binlog_scan_torn(&s), cut);
		if (drb_binlog_scan_torn(&s) == 0)
			continue;
		torn_seen++;
		/* the complete prefix alone: the same state, nothing torn */
		scan_pieces(b, (size_t)s.safe_end, 4096, &again);
		assert_int_equal(drb_binlog_scan_torn(&again), 0);
		assert_string_equal(again.state, s.state);
		assert_int_equal(again.events, s.events);
	}
	assert_true(torn_seen > len / 2);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_closed_file),
		cmocka_unit_test(test_cut_transaction_is_not_a_boundary),
		cmocka_unit_test(test_damage_is_an_error),
		cmocka_unit_test(test_crc_is_checked),
		cmocka_unit_test(test_no_checksum_file),
		cmocka_unit_test(test_crc_mismatch_is_refused),
		cmocka_unit_test(test_crc_in_a_continuation),
		cmocka_unit_test(test_torn_tail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
