/* common/error: the chain a user reads as one line, and -v as every link. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/context.h"
#include "common/error.h"

static void test_chain(void **state)
{
	char line[2048];
	(void)state;
	assert_int_equal(drb_error(DRB_ERR_IO, "disk %s", "sdb"), DRB_ERR_IO);
	assert_int_equal(drb_error_wrap(0, "writing %s", "x.drb"), DRB_ERR_IO);
	assert_int_equal(drb_error_wrap(DRB_ERR_DEGRADED, "repository dr"), DRB_ERR_DEGRADED);
	assert_int_equal(drb_error_depth(), 3);
	assert_string_equal(drb_error_link(0), "repository dr");
	assert_string_equal(drb_error_link(2), "disk sdb");
	assert_null(drb_error_link(3));
	drb_error_line(line, sizeof line);
	assert_string_equal(line, "repository dr: writing x.drb: disk sdb");
}

static void test_errno(void **state)
{
	(void)state;
	assert_int_equal(drb_error_errno(0, ENOSPC, "writing %s", "f"), DRB_ERR_NO_SPACE);
	assert_non_null(strstr(drb_error_link(0), "No space left"));
	assert_int_equal(drb_error_errno(0, ENOENT, "x"), DRB_ERR_NOT_FOUND);
	assert_int_equal(drb_error_errno(0, EACCES, "x"), DRB_ERR_PERMISSION);
}

static void test_deep_chain_keeps_root(void **state)
{
	(void)state;
	drb_error(DRB_ERR_NETWORK, "root cause");
	for (int i = 0; i < 30; i++)
		drb_error_wrap(0, "context %d", i);
	assert_int_equal(drb_error_depth(), DRB_ERROR_DEPTH);
	assert_string_equal(drb_error_link(DRB_ERROR_DEPTH - 1), "root cause");
	assert_string_equal(drb_error_link(0), "context 29");
}

static void *worker(void *arg)
{
	drb_error_state *st = arg;
	drb_error(DRB_ERR_DATABASE, "in a thread");
	drb_error_save(st);
	return NULL;
}

static void test_threads_are_separate(void **state)
{
	drb_error_state st;
	pthread_t t;
	(void)state;
	drb_error(DRB_ERR_IO, "main");
	pthread_create(&t, NULL, worker, &st);
	pthread_join(t, NULL);
	assert_string_equal(drb_error_link(0), "main");
	drb_error_restore(&st);
	assert_int_equal(drb_error_code(), DRB_ERR_DATABASE);
	assert_string_equal(drb_error_link(0), "in a thread");
}

static void test_exit_status(void **state)
{
	(void)state;
	assert_int_equal(drb_exit_status(0), 0);
	assert_int_equal(drb_exit_status(DRB_ERR_IO), 1);
	assert_int_equal(drb_exit_status(DRB_ERR_USAGE), 2);
	assert_int_equal(drb_exit_status(DRB_ERR_CONFIG), 2);
	assert_int_equal(drb_exit_status(DRB_ERR_DEGRADED), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_errno),
		cmocka_unit_test(test_deep_chain_keeps_root),
		cmocka_unit_test(test_threads_are_separate),
		cmocka_unit_test(test_exit_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
