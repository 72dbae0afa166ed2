/* common/conf: every error names the file, the line and what was expected. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "common/conf.h"
#include "common/error.h"
#include "tests/harness.h"

static char *dir;

static int setup(void **state)
{
	(void)state;
	dir = drbt_tmpdir("config");
	return dir ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	drbt_rmtree(dir);
	free(dir);
	return 0;
}

/* Parse text written to a file; returns rc, the message in msg. */
static int parse(const char *text, char *msg, size_t len, drb_config **out)
{
	char path[4200];
	drb_config *c = NULL;
	snprintf(path, sizeof path, "%s/t.conf", dir);
	drbt_write_file(path, text, 0600);
	drb_error_clear();
	int rc = drb_config_load(path, &c);
	msg[0] = 0;
	if (rc < 0)
		drb_error_line(msg, len);
	if (out)
		*out = c;
	else
		drb_config_free(c);
	return rc;
}

static void expect_error(const char *text, const char *at_line, const char *what)
{
	char msg[2048], want[64];
	assert_int_equal(parse(text, msg, sizeof msg, NULL), DRB_ERR_CONFIG);
	assert_non_null(strstr(msg, "t.conf"));
	snprintf(want, sizeof want, "t.conf:%s:", at_line);
	if (!strstr(msg, want) || !strstr(msg, what)) {
		print_error("message: %s\nexpected '%s' and '%s'\n", msg, want, what);
		fail();
	}
}

static void test_defaults(void **state)
{
	drb_config *c;
	char msg[1024];
	(void)state;
	assert_int_equal(parse("host_id = \"db01\"\n", msg, sizeof msg, &c), 0);
	assert_string_equal(c->host_id, "db01");
	assert_string_equal(c->spool_dir, "/var/lib/drbackup");
	assert_null(c->metrics_dir);
	assert_int_equal(c->compression.level, 3);
	assert_int_equal(c->compression.threads, 0);
	assert_int_equal(c->db.jobs, 0);
	assert_int_equal(c->db.n_databases, 0);
	assert_int_equal(c->binlog.segment_seconds, 300);
	assert_false(c->binlog.purge_after_ship);
	assert_int_equal(c->n_repos, 0);
	drb_config_free(c);
}

static void test_full_contract(void **state)
{
	drb_config *c;
	char msg[1024], text[4096], secret[4200];
	(void)state;
	snprintf(secret, sizeof secret, "%s/s3.secret", dir);
	drbt_write_file(secret, "abc\n", 0600);
	snprintf(text, sizeof text,
		 "host_id = \"db01\"\nspool_dir = \"/tmp/x\"\nmetrics_dir = \"/tmp/m\"\n"
		 "database {\n socket = \"/run/mysqld/mysqld.sock\"\n user = \"drbackup\"\n"
		 " databases = {\"practice_a\", \"practice_b\"}\n jobs = 4\n}\n"
		 "compression { level = 5 threads = 2 }\n"
		 "binlog { purge_after_ship = true segment_seconds = 10 }\n"
		 "repo primary {\n type = \"s3\"\n endpoint = \"https://s3.us-east-1.amazonaws.com\"\n"
		 " region = \"us-east-1\"\n bucket = \"ehr\"\n prefix = \"drbackup\"\n"
		 " access_key_id = \"AK\"\n secret_access_key_file = \"%s\"\n uri_style = \"host\"\n"
		 " object_lock_days = 7\n object_lock_mode = \"GOVERNANCE\"\n delete_versions = true\n"
		 " legal_hold = true\n tier {\n  after_days = 30\n  storage_class = \"GLACIER_IR\"\n }\n sign_payload = false\n}\n"
		 "repo dr {\n type = \"posix\"\n path = \"/mnt/dr\"\n}\n",
		 secret);
	assert_int_equal(parse(text, msg, sizeof msg, &c), 0);
	assert_string_equal(c->db.databases[1], "practice_b");
	assert_int_equal(c->db.n_databases, 2);
	assert_int_equal(c->db.jobs, 4);
	assert_int_equal(c->compression.level, 5);
	assert_true(c->binlog.purge_after_ship);
	assert_int_equal(c->n_repos, 2);
	assert_string_equal(c->repos[0].name, "primary");
	assert_string_equal(c->repos[0].bucket, "ehr");
	assert_string_equal(c->repos[0].uri_style, "host");
	assert_int_equal(c->repos[0].part_size, 8 * 1024 * 1024);
	assert_int_equal(c->repos[0].object_lock_days, 7);
	assert_string_equal(c->repos[0].object_lock_mode, "GOVERNANCE");
	assert_true(c->repos[0].delete_versions);
	assert_true(c->repos[0].legal_hold);
	assert_int_equal(c->repos[0].tier_after_days, 30);
	assert_string_equal(c->repos[0].tier_storage_class, "GLACIER_IR");
	/* the defaults: COMPLIANCE, markers only, no legal holds, no tiering */
	assert_string_equal(c->repos[1].object_lock_mode, "COMPLIANCE");
	assert_false(c->repos[1].delete_versions);
	assert_false(c->repos[1].legal_hold);
	assert_int_equal(c->repos[1].tier_after_days, 0);
	assert_false(c->repos[0].sign_payload); /* Content-MD5 and UNSIGNED-PAYLOAD */
	assert_true(c->repos[1].sign_payload);  /* the default: the body's SHA-256, signed */
	assert_string_equal(c->repos[1].path, "/mnt/dr");
	assert_ptr_equal(drb_config_repo(c, "dr"), &c->repos[1]);
	assert_null(drb_config_repo(c, "nope"));
	drb_config_free(c);
}

static void test_unknown_key(void **state)
{
	(void)state;
	expect_error("host_id = \"a\"\n\nbackup_dir = \"/x\"\n", "3", "no such option 'backup_dir'");
	expect_error("database {\n  sockett = \"/x\"\n}\n", "2", "no such option 'sockett'");
}

static void test_wrong_type(void **state)
{
	(void)state;
	expect_error("database {\n  socket = \"/s\"\n  port = \"abc\"\n}\n", "3", "port");
	expect_error("compression {\n level = 99\n}\n", "2", "expected a zstd level from 1 to 19");
	expect_error("binlog {\n purge_after_ship = maybe\n}\n", "2", "purge_after_ship");
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_error("repo a {\n type = \"ftp\"\n}\n", "2", "expected \"s3\" or \"posix\"");
	expect_error("repo a {\n type = \"posix\"\n}\n", "3", "needs option 'path'");
	expect_error("repo a {\n type = \"s3\"\n endpoint = \"http://x\"\n}\n", "4",
		     "needs option 'bucket'");
	expect_error("host_id = \"../etc\"\n", "1", "expected 1 to 64 letters");
	expect_error("repo a {\n type = \"posix\"\n path = \"/x\"\n}\nrepo a {\n type = \"posix\"\n "
		     "path = \"/y\"\n}\n",
		     "5", "");
	expect_error("database {\n jobs = -1\n}\n", "2", "expected a number of 0 or more");
	expect_error("repo a {\n type = \"posix\"\n path = \"/x\"\n object_lock_mode = \"compliance\"\n}\n",
		     "4", "\"COMPLIANCE\" or \"GOVERNANCE\"");
	expect_error("repo a {\n type = \"posix\"\n path = \"/x\"\n tier {\n  after_days = -3\n }\n}\n",
		     "5", "expected a number of 0 or more");
	expect_error("encryption {\n public_keys = {\"/nonexistent/dr.pub\"}\n}\n", "2",
		     "/nonexistent/dr.pub");
}

/* compaction spans: ascending multiples that divide a day; the follower's delay */
static void test_compact_levels(void **state)
{
	drb_config *c = NULL;
	char msg[1024];
	(void)state;
	assert_int_equal(parse("binlog {\n compact_levels = {300, 3600}\n compact_grace = 0\n "
	                       "follow_delay_ms = 50\n catalog_seconds = 5\n}\n",
	                       msg, sizeof msg, &c),
	                 0);
	assert_int_equal(c->binlog.n_compact_levels, 2);
	assert_int_equal(c->binlog.compact_levels[0], 300);
	assert_int_equal(c->binlog.compact_levels[1], 3600);
	assert_int_equal(c->binlog.compact_grace, 0);
	assert_int_equal(c->binlog.follow_delay_ms, 50);
	assert_int_equal(c->binlog.catalog_seconds, 5);
	drb_config_free(c);
	assert_int_equal(parse("host_id = \"a\"\n", msg, sizeof msg, &c), 0);
	assert_int_equal(c->binlog.n_compact_levels, 0);
	assert_int_equal(c->binlog.compact_grace, 600);
	assert_int_equal(c->binlog.follow_delay_ms, 0);
	assert_int_equal(c->binlog.catalog_seconds, 60);
	drb_config_free(c);
	expect_error("binlog {\n compact_levels = {300, 500}\n}\n", "2", "span 500 is not valid");
	expect_error("binlog {\n compact_levels = {3600, 300}\n}\n", "2", "span 300 is not valid");
	expect_error("binlog {\n compact_levels = {7}\n}\n", "2", "divide a day");
	expect_error("binlog {\n compact_levels = {10, 20, 40, 80, 160}\n}\n", "2", "at most 4");
	expect_error("binlog {\n follow_delay_ms = -5\n}\n", "2", "0 or more");
	expect_error("binlog {\n catalog_seconds = -1\n}\n", "2", "0 or more");
}

static void test_syntax_error(void **state)
{
	(void)state;
	expect_error("database {\n  socket = \n}\n", "3", "unexpected");
}

static void test_missing_file(void **state)
{
	drb_config *c = NULL;
	char msg[1024];
	(void)state;
	assert_int_equal(drb_config_load("/nonexistent/drbackup.conf", &c), DRB_ERR_CONFIG);
	drb_error_line(msg, sizeof msg);
	assert_non_null(strstr(msg, "/nonexistent/drbackup.conf"));
	assert_non_null(strstr(msg, "No such file"));
}

static void test_secret_file_modes(void **state)
{
	char secret[4200], text[8400], msg[2048];
	(void)state;
	snprintf(secret, sizeof secret, "%s/mariadb.pass", dir);
	drbt_write_file(secret, "hunter2\n", 0644);
	snprintf(text, sizeof text, "database {\n password_file = \"%s\"\n}\n", secret);
	assert_int_equal(parse(text, msg, sizeof msg, NULL), DRB_ERR_CONFIG);
	assert_non_null(strstr(msg, "t.conf:2:"));
	assert_non_null(strstr(msg, "mariadb.pass"));
	assert_non_null(strstr(msg, "chmod 600"));
	chmod(secret, 0640);
	assert_int_equal(parse(text, msg, sizeof msg, NULL), DRB_ERR_CONFIG);
	chmod(secret, 0600);
	assert_int_equal(parse(text, msg, sizeof msg, NULL), 0);
	/* a missing secret file is an error too */
	snprintf(text, sizeof text, "database {\n password_file = \"%s/none\"\n}\n", dir);
	assert_int_equal(parse(text, msg, sizeof msg, NULL), DRB_ERR_CONFIG);
	assert_non_null(strstr(msg, "none"));
}

static void test_path_resolution(void **state)
{
	(void)state;
	unsetenv("DRBACKUP_CONFIG");
	assert_string_equal(drb_config_path(NULL), DRB_DEFAULT_CONFIG);
	setenv("DRBACKUP_CONFIG", "/etc/other.conf", 1);
	assert_string_equal(drb_config_path(NULL), "/etc/other.conf");
	assert_string_equal(drb_config_path("/cli.conf"), "/cli.conf");
	unsetenv("DRBACKUP_CONFIG");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),      cmocka_unit_test(test_full_contract),
		cmocka_unit_test(test_unknown_key),   cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_bad_values),    cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_missing_file),  cmocka_unit_test(test_secret_file_modes),
		cmocka_unit_test(test_path_resolution), cmocka_unit_test(test_compact_levels),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
