/* drbackup check against a real sandbox server: every problem it must find, with its fix. */
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

#include "tests/harness.h"

static char *dir;
static drbt_mariadb db;
static char out[1 << 16], err[1 << 16];
static char repos[9000];

static int setup(void **state)
{
	(void)state;
	dir = drbt_tmpdir("check");
	if (!dir || drbt_keygen(dir) != 0 || drbt_mariadb_start(&db, NULL) != 0)
		return -1;
	snprintf(repos, sizeof repos, "repo local {\n type = \"posix\"\n path = \"%s/repo\"\n}\n", dir);
	char p[4300];
	snprintf(p, sizeof p, "%s/repo", dir);
	mkdir(p, 0700);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	drbt_mariadb_stop(&db);
	drbt_rmtree(dir);
	free(dir);
	return 0;
}

static int check(const char *extra_conf, const char *repo_text)
{
	char conf[4300];
	snprintf(conf, sizeof conf, "%s/c.conf", dir);
	drbt_write_config(conf, dir, &db, repo_text ? repo_text : repos, extra_conf);
	return drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s check", drbt_bin(), conf);
}

static void expect_in_output(const char *what)
{
	if (!strstr(out, what)) {
		print_error("'%s' not in:\n%s\n%s", what, out, err);
		fail();
	}
}

static void test_healthy_server_passes(void **state)
{
	(void)state;
	int rc = check(NULL, NULL);
	if (rc != 0)
		print_error("%s\n%s", out, err);
	assert_int_equal(rc, 0);
	expect_in_output("ok    database");
	expect_in_output("the binary log is on");
	expect_in_output("binlog_format is ROW");
	expect_in_output("has every privilege a backup needs");
	expect_in_output("is writable and readable");
	expect_in_output("0 problems");
	/* Debian-style defaults draw warnings, not failures */
	expect_in_output("sync_binlog");
}

static void test_wrong_binlog_format(void **state)
{
	(void)state;
	drbt_sql(&db, NULL, 0, "SET GLOBAL binlog_format = 'STATEMENT'");
	int rc = check(NULL, NULL);
	drbt_sql(&db, NULL, 0, "SET GLOBAL binlog_format = 'ROW'");
	assert_int_equal(rc, 1);
	expect_in_output("FAIL  binlog       binlog_format is STATEMENT");
	expect_in_output("fix: set binlog_format = ROW");
	assert_non_null(strstr(err, "check found 1 problem"));
}

static void test_missing_privileges(void **state)
{
	char pw[4300], extra[9000];
	(void)state;
	drbt_sql(&db, NULL, 0,
		 "CREATE USER 'weak'@'localhost' IDENTIFIED BY 'pw1';"
		 "GRANT SELECT, SHOW VIEW ON *.* TO 'weak'@'localhost';");
	snprintf(pw, sizeof pw, "%s/weak.pass", dir);
	drbt_write_file(pw, "pw1\n", 0600);
	snprintf(extra, sizeof extra, "database {\n socket = \"%s\"\n user = \"weak\"\n password_file = \"%s\"\n}\n",
		 db.socket, pw);
	/* the harness config already has a database section: write this one alone */
	char conf[4300], text[16000];
	snprintf(conf, sizeof conf, "%s/weak.conf", dir);
	snprintf(text, sizeof text,
		 "host_id = \"testhost\"\nspool_dir = \"%s/spool\"\n%s"
		 "encryption {\n public_keys = {\"%s/dr.pub\"}\n}\n%s",
		 dir, extra, dir, repos);
	drbt_write_file(conf, text, 0600);
	int rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s check", drbt_bin(), conf);
	assert_int_equal(rc, 1);
	expect_in_output("FAIL  privileges");
	expect_in_output("RELOAD");
	expect_in_output("TRIGGER");
	expect_in_output("EVENT");
	expect_in_output("GRANT ");
	expect_in_output("TO weak@localhost");
	/* the password never shows */
	assert_null(strstr(out, "pw1"));
	assert_null(strstr(err, "pw1"));
}

static void test_unwritable_repository(void **state)
{
	char bad[9000], file[4300];
	(void)state;
	snprintf(file, sizeof file, "%s/not-a-folder", dir);
	drbt_write_file(file, "x", 0600);
	snprintf(bad, sizeof bad, "repo broken {\n type = \"posix\"\n path = \"%s\"\n}\n", file);
	int rc = check(NULL, bad);
	assert_int_equal(rc, 1);
	expect_in_output("FAIL  repo broken");
	expect_in_output("not a folder");
	expect_in_output("fix: create the folder");
}

static void test_binary_log_off(void **state)
{
	drbt_mariadb nolog;
	(void)state;
	assert_int_equal(drbt_mariadb_start(&nolog, "--skip-log-bin"), 0);
	char conf[4300];
	snprintf(conf, sizeof conf, "%s/nolog.conf", dir);
	drbt_write_config(conf, dir, &nolog, repos, NULL);
	int rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s check", drbt_bin(), conf);
	drbt_mariadb_stop(&nolog);
	assert_int_equal(rc, 1);
	expect_in_output("the binary log is off");
	expect_in_output("fix: set log_bin");
}

static void test_server_down(void **state)
{
	char conf[4300], text[9000];
	(void)state;
	snprintf(conf, sizeof conf, "%s/down.conf", dir);
	snprintf(text, sizeof text,
		 "host_id = \"t\"\nspool_dir = \"%s/spool\"\ndatabase {\n socket = \"%s/none.sock\"\n}\n"
		 "encryption {\n public_keys = {\"%s/dr.pub\"}\n}\n%s",
		 dir, dir, dir, repos);
	drbt_write_file(conf, text, 0600);
	int rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s --json check", drbt_bin(), conf);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "\"status\": \"fail\""));
	assert_non_null(strstr(out, "cannot connect"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthy_server_passes),
		cmocka_unit_test(test_wrong_binlog_format),
		cmocka_unit_test(test_missing_privileges),
		cmocka_unit_test(test_unwritable_repository),
		cmocka_unit_test(test_binary_log_off),
		cmocka_unit_test(test_server_down),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
