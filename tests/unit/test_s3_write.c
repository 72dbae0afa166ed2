/* Multipart arithmetic: part sizes that let any stream up to S3's 5 TiB fit in 10,000 parts
 * while keeping memory bounded, the number of parts in flight, and the ETags S3 gives. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "s3/internal.h"

#define MIB (1024ull * 1024)
#define GIB (1024 * MIB)
#define TIB (1024 * GIB)

/* What n parts of this schedule hold. */
static uint64_t capacity(uint64_t configured, uint64_t hint, unsigned n)
{
	uint64_t sum = 0;
	for (unsigned i = 1; i <= n; i++)
		sum += drb_s3_part_size(configured, hint, i);
	return sum;
}

static void schedule_without_hint(void **state)
{
	(void)state;
	uint64_t prev = 0;
	for (unsigned n = 1; n <= DRB_S3_MAX_PARTS; n++) {
		uint64_t s = drb_s3_part_size(8 * MIB, 0, n);
		assert_true(s >= prev);            /* never shrinks */
		assert_true(s <= DRB_S3_PART_MAX); /* never above what S3 takes */
		assert_true(s >= DRB_S3_PART_MIN);
		prev = s;
	}
	/* the configured size holds for the first 1000 parts (8 GiB at the default) */
	assert_int_equal(drb_s3_part_size(8 * MIB, 0, 1), 8 * MIB);
	assert_int_equal(drb_s3_part_size(8 * MIB, 0, 1000), 8 * MIB);
	assert_int_equal(drb_s3_part_size(8 * MIB, 0, 1001), 16 * MIB);
	assert_true(capacity(8 * MIB, 0, 1000) == 8000 * MIB);
	/* the default reaches beyond S3's 5 TiB object limit within 10,000 parts */
	assert_true(capacity(8 * MIB, 0, DRB_S3_MAX_PARTS) >= 5 * TIB);
	assert_true(capacity(6 * MIB, 0, DRB_S3_MAX_PARTS) >= 5 * TIB);
	/* the smallest configurable size still holds 4.8 TiB */
	assert_true(capacity(5 * MIB, 0, DRB_S3_MAX_PARTS) >= 4800 * GIB);
	/* a 100 GiB stream (far more than 10,000 x 8 MiB = 78 GiB) fits with 64 MiB parts */
	uint64_t sum = 0;
	unsigned n = 0;
	while (sum < 100 * GIB)
		sum += drb_s3_part_size(8 * MIB, 0, ++n);
	assert_true(n <= DRB_S3_MAX_PARTS);
	assert_int_equal(drb_s3_part_size(8 * MIB, 0, n), 64 * MIB);
}

static void schedule_with_hint(void **state)
{
	(void)state;
	/* a small hint changes nothing */
	assert_int_equal(drb_s3_part_size(8 * MIB, 1000, 1), 8 * MIB);
	assert_int_equal(drb_s3_part_size(8 * MIB, 50 * GIB, 1), 8 * MIB);
	/* 1 TiB: 8,000 parts of 132 MiB hold it */
	assert_int_equal(drb_s3_part_size(8 * MIB, TIB, 1), 132 * MIB);
	assert_int_equal(drb_s3_part_size(8 * MIB, TIB, 8000), 132 * MIB);
	assert_true(capacity(8 * MIB, TIB, 8000) >= TIB);
	/* and a stream that outgrows its hint 16-fold still fits */
	assert_true(capacity(8 * MIB, TIB, DRB_S3_MAX_PARTS) >= 5 * TIB);
	assert_true(capacity(8 * MIB, 10 * GIB, DRB_S3_MAX_PARTS) >= 16 * 10 * GIB);
	assert_int_equal(drb_s3_part_size(8 * MIB, 10 * GIB, 8001), 16 * MIB);
	assert_int_equal(drb_s3_part_size(8 * MIB, 10 * GIB, 8251), 32 * MIB);
	/* 5 TiB announced: fits, and no part above 5 GiB */
	assert_true(capacity(8 * MIB, 5 * TIB, DRB_S3_MAX_PARTS) >= 5 * TIB);
	for (unsigned n = 1; n <= DRB_S3_MAX_PARTS; n += 97)
		assert_true(drb_s3_part_size(8 * MIB, 5 * TIB, n) <= DRB_S3_PART_MAX);
	assert_int_equal(drb_s3_part_size(8 * MIB, UINT64_MAX, 1), DRB_S3_PART_MAX);
}

/* Buffers per writer: in flight + the one being filled stay within (P + 1) x configured
 * while parts have the configured size, and within max(P x configured, 2 parts) + 1 part. */
static void in_flight(void **state)
{
	(void)state;
	assert_int_equal(drb_s3_parts_in_flight(8 * MIB, 4, 8 * MIB), 4);
	assert_int_equal(drb_s3_parts_in_flight(8 * MIB, 1, 8 * MIB), 1);
	assert_int_equal(drb_s3_parts_in_flight(8 * MIB, 4, 16 * MIB), 2);
	assert_int_equal(drb_s3_parts_in_flight(8 * MIB, 8, 16 * MIB), 4);
	assert_int_equal(drb_s3_parts_in_flight(8 * MIB, 4, 64 * MIB), 2);
	assert_int_equal(drb_s3_parts_in_flight(8 * MIB, 1, 64 * MIB), 1);
	/* the buffers a writer holds, the one being filled included */
	assert_int_equal(drb_s3_part_buffers(8 * MIB, 4, 8 * MIB), 4);
	assert_int_equal(drb_s3_part_buffers(8 * MIB, 1, 8 * MIB), 2);
	assert_int_equal(drb_s3_part_buffers(8 * MIB, 4, 64 * MIB), 2);
	assert_int_equal(drb_s3_part_buffers(8 * MIB, 16, 32 * MIB), 4);
	for (unsigned p = 1; p <= 16; p++)
		for (unsigned n = 1; n <= DRB_S3_MAX_PARTS; n += 250) {
			uint64_t size = drb_s3_part_size(8 * MIB, 0, n);
			uint64_t all = drb_s3_part_buffers(8 * MIB, p, size) * size;
			assert_true(all <= (p > 2 ? p * 8 * MIB : 2 * size) || all <= 2 * size);
			if (size == 8 * MIB)
				assert_true(all <= (p < 2 ? 2 : p) * 8 * MIB);
		}
	for (unsigned p = 1; p <= 16; p++)
		for (unsigned n = 1; n <= DRB_S3_MAX_PARTS; n += 250) {
			uint64_t part = drb_s3_part_size(8 * MIB, 0, n);
			uint64_t held = (drb_s3_parts_in_flight(8 * MIB, p, part) + 1) * part;
			uint64_t flight = p * 8 * MIB > 2 * part ? p * 8 * MIB : 2 * part;
			assert_true(held <= flight + part);
			if (part == 8 * MIB)
				assert_true(held <= (p + 1) * 8 * MIB);
		}
}

static void etags(void **state)
{
	(void)state;
	unsigned char md5s[2][16];
	char out[48];
	drb_s3_md5("aaaaaaaaaa", 10, md5s[0]);
	drb_s3_md5("b", 1, md5s[1]);
	drb_s3_multipart_etag((const unsigned char(*)[16])md5s, 2, out);
	assert_string_equal(out, "3192ca8a7eba2efb8c52f8e48729e5f1-2");
	assert_true(drb_s3_etag_is_md5("d41d8cd98f00b204e9800998ecf8427e", ""));
	assert_true(drb_s3_etag_is_md5("D41D8CD98F00B204E9800998ECF8427E", NULL));
	assert_true(drb_s3_etag_is_md5("d41d8cd98f00b204e9800998ecf8427e", "AES256"));
	assert_false(drb_s3_etag_is_md5("d41d8cd98f00b204e9800998ecf8427e", "aws:kms"));
	assert_false(drb_s3_etag_is_md5("3192ca8a7eba2efb8c52f8e48729e5f1-2", ""));
	assert_false(drb_s3_etag_is_md5("d41d8cd98f00b204e9800998ecf8427g", ""));
	assert_false(drb_s3_etag_is_md5("", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(schedule_without_hint),
	    cmocka_unit_test(schedule_with_hint),
	    cmocka_unit_test(in_flight),
	    cmocka_unit_test(etags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
