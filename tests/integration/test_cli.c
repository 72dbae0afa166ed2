/* The drbackup binary as a user meets it: help, exit statuses, configuration errors, keys, and
 * the repo commands on two posix repositories. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/harness.h"

static char *dir;
static char conf[4200];
static char out[1 << 16], err[1 << 16];

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static int setup(void **state)
{
	char repos[9000];
	(void)state;
	dir = drbt_tmpdir("cli");
	if (!dir || drbt_keygen(dir) != 0)
		return -1;
	snprintf(repos, sizeof repos,
		 "repo primary {\n type = \"posix\"\n path = \"%s/r1\"\n}\n"
		 "repo dr {\n type = \"posix\"\n path = \"%s/r2\"\n}\n",
		 dir, dir);
	snprintf(conf, sizeof conf, "%s/drbackup.conf", dir);
	char p[4300];
	snprintf(p, sizeof p, "%s/r1", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/r2", dir);
	mkdir(p, 0700);
	return drbt_write_config(conf, dir, NULL, repos, NULL);
}

static int teardown(void **state)
{
	(void)state;
	drbt_rmtree(dir);
	free(dir);
	return 0;
}

static void test_help_and_version(void **state)
{
	(void)state;
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err, "%s --help", drbt_bin()), 0);
	assert_non_null(strstr(out, "usage: drbackup"));
	assert_non_null(strstr(out, "restore-test"));
	assert_non_null(strstr(out, "exit status"));
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err, "%s --version", drbt_bin()), 0);
	assert_non_null(strstr(out, "drbackup "));
	static const char *const cmds[] = {"keygen", "check",   "full",         "binlog", "list",
					   "restore", "restore-test", "repo", NULL};
	for (int i = 0; cmds[i]; i++) {
		assert_int_equal(
			drbt_sh(out, sizeof out, err, sizeof err, "%s %s --help", drbt_bin(), cmds[i]), 0);
		assert_non_null(strstr(out, "usage: drbackup"));
		assert_non_null(strstr(out, cmds[i]));
	}
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err, "%s help restore", drbt_bin()), 0);
	assert_non_null(strstr(out, "--to"));
}

static void test_usage_errors_exit_2(void **state)
{
	(void)state;
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err, "%s", drbt_bin()), 2);
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err, "%s frobnicate", drbt_bin()), 2);
	assert_non_null(strstr(err, "'frobnicate' is not a drbackup command"));
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err, "%s --bogus check", drbt_bin()), 2);
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err, "%s keygen", drbt_bin()), 2);
	assert_int_equal(
		drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s repo frob", drbt_bin(), conf), 2);
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s --repo nope repo ls",
				 drbt_bin(), conf),
			 2);
}

/* Every command the help lists runs: none is a stub that says "not implemented". */
static void test_every_command_is_implemented(void **state)
{
	(void)state;
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err, "%s --help", drbt_bin()), 0);
	assert_null(strstr(out, "not implemented"));
	assert_non_null(strstr(out, "expire"));
	assert_non_null(strstr(out, "export"));
	assert_non_null(strstr(out, "audit"));
	/* without a configuration each says so (exit 2), never "done" */
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err,
				 "DRBACKUP_CONFIG=/nonexistent %s export --practice a", drbt_bin()),
			 2);
}

/* Each configuration error: one line on stderr naming the file (and line), exit 2. */
static void config_error(const char *text, int mode, const char *want1, const char *want2)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/bad.conf", dir);
	drbt_write_file(path, text, mode);
	int rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s repo ls", drbt_bin(), path);
	if (rc != 2 || count_lines(err) != 1 || !strstr(err, want1) || (want2 && !strstr(err, want2))) {
		print_error("exit %d, stderr:\n%s\nwanted '%s' and '%s' in one line\n", rc, err, want1,
			    want2 ? want2 : "");
		fail();
	}
}

static void test_config_errors(void **state)
{
	char text[9000], secret[4300];
	(void)state;
	config_error("database {\n  port = \"abc\"\n}\n", 0600, "bad.conf:2:", "port");
	config_error("host_id = \"a\"\nbogus_key = 1\n", 0600, "bad.conf:2:", "no such option 'bogus_key'");
	int rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s/none.conf repo ls", drbt_bin(), dir);
	assert_int_equal(rc, 2);
	assert_int_equal(count_lines(err), 1);
	assert_non_null(strstr(err, "none.conf"));
	snprintf(secret, sizeof secret, "%s/pw", dir);
	drbt_write_file(secret, "secret\n", 0644);
	snprintf(text, sizeof text, "database {\n  password_file = \"%s\"\n}\n", secret);
	config_error(text, 0600, "bad.conf:2:", "chmod 600");
	/* $DRBACKUP_CONFIG is read when -c is absent */
	rc = drbt_sh(out, sizeof out, err, sizeof err, "DRBACKUP_CONFIG=%s/none2.conf %s repo ls", dir,
		     drbt_bin());
	assert_int_equal(rc, 2);
	assert_non_null(strstr(err, "none2.conf"));
}

static void test_keygen(void **state)
{
	char p[4300];
	struct stat st;
	(void)state;
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err, "%s --json keygen --out %s/k",
				 drbt_bin(), dir),
			 0);
	assert_non_null(strstr(out, "\"key_id\""));
	snprintf(p, sizeof p, "%s/k.key", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err, "%s keygen --out %s/k", drbt_bin(),
				 dir),
			 1);
	assert_non_null(strstr(err, "already exists"));
}

static void test_repo_round_trip(void **state)
{
	(void)state;
	int rc = drbt_sh(out, sizeof out, err, sizeof err,
			 "seq 1 300000 | %s -c %s repo put testhost/x/seq.drb", drbt_bin(), conf);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(err, "in 2 repositories"));
	rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s repo get testhost/x/seq.drb | md5sum",
		     drbt_bin(), conf);
	assert_int_equal(rc, 0);
	char want[128];
	drbt_sh(want, sizeof want, NULL, 0, "seq 1 300000 | md5sum");
	assert_string_equal(out, want);
	/* each repository alone */
	rc = drbt_sh(out, sizeof out, err, sizeof err,
		     "%s -c %s --repo dr repo get testhost/x/seq.drb | md5sum", drbt_bin(), conf);
	assert_int_equal(rc, 0);
	assert_string_equal(out, want);
	rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s repo ls testhost/", drbt_bin(), conf);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "# repository primary"));
	assert_non_null(strstr(out, "# repository dr"));
	assert_non_null(strstr(out, "testhost/x/seq.drb"));
	rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s --json --repo primary repo ls",
		     drbt_bin(), conf);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "\"path\": \"testhost/x/seq.drb\""));
	/* the stored bytes are sealed: no plaintext on disk */
	rc = drbt_sh(out, sizeof out, err, sizeof err, "grep -c 299999 %s/r1/testhost/x/seq.drb", dir);
	assert_int_not_equal(rc, 0);
	rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s repo get --raw testhost/x/seq.drb | head -c 4",
		     drbt_bin(), conf);
	assert_string_equal(out, "DRB1");
}

static void test_repo_get_refuses_moved_object(void **state)
{
	(void)state;
	drbt_sh(NULL, 0, NULL, 0, "cp %s/r1/testhost/x/seq.drb %s/r1/testhost/x/moved.drb", dir, dir);
	int rc = drbt_sh(out, sizeof out, err, sizeof err,
			 "%s -c %s --repo primary repo get testhost/x/moved.drb > /dev/null", drbt_bin(),
			 conf);
	assert_int_equal(rc, 1);
	assert_int_equal(count_lines(err), 1);
	assert_non_null(strstr(err, "testhost/x/moved.drb"));
	assert_non_null(strstr(err, "stored at another path"));
	rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s repo get testhost/x/none > /dev/null",
		     drbt_bin(), conf);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(err, "not in any repository"));
}

static void test_repo_put_degraded(void **state)
{
	char repos[9000], path[4300];
	(void)state;
	snprintf(repos, sizeof repos,
		 "repo primary {\n type = \"posix\"\n path = \"%s/r1\"\n}\n"
		 "repo dr {\n type = \"posix\"\n path = \"%s/missing-disk\"\n}\n",
		 dir, dir);
	snprintf(path, sizeof path, "%s/degraded.conf", dir);
	drbt_write_config(path, dir, NULL, repos, NULL);
	int rc = drbt_sh(out, sizeof out, err, sizeof err, "echo hi | %s -c %s repo put testhost/x/d",
			 drbt_bin(), path);
	assert_int_equal(rc, 3);
	assert_non_null(strstr(err, "1 of 2 repositories"));
	assert_non_null(strstr(err, "repository dr"));
	rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s --repo primary repo get testhost/x/d",
		     drbt_bin(), path);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "hi\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_usage_errors_exit_2),
		cmocka_unit_test(test_every_command_is_implemented),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_keygen),
		cmocka_unit_test(test_repo_round_trip),
		cmocka_unit_test(test_repo_get_refuses_moved_object),
		cmocka_unit_test(test_repo_put_degraded),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
