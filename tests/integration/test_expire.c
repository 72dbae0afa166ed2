/* expire against a real MariaDB: five full backups with binlog cycles between them, rows with
 * BLOBs, two practices, two posix regions. The policy is evaluated with --now so that the
 * point-in-time window starts between the third and the fourth backup. The dry run changes
 * nothing; keep_min_days protects what is younger; expire deletes the two old backups and the
 * binlog before the third while every marked point inside the window still restores exactly; a
 * hold keeps its practice; a kill -9 in the middle is finished by the next run; expire refuses
 * beside a running full; a region that was down is completed when it returns and heal brings
 * nothing back. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/harness.h"

static char *dir;
static drbt_mariadb src, dst;
static char conf[4300], repos[9000];
static char out[1 << 18], err[1 << 18];

typedef struct moment {
	time_t t;
	char when[32];
	char fp[1 << 15];
} moment;

static moment m[6]; /* after each of the five full backups and its writes; m[0] unused */
static char ids[6][32];
static char now_arg[64]; /* --now that puts the window's start between full 3 and full 4 */

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s %s", drbt_bin(), conf, cmd);
	if (getenv("DRBT_VERBOSE"))
		fprintf(stderr, "drbackup %s -> %d\n%s%s", cmd, rc, out, err);
	return rc;
}

#define expect(got, want, what) drbt_expect(got, want, what, out, err)

#define contains(text, what) drbt_contains(text, what, err)

/* The repositories' listing: paths and sizes, sorted. */
static void listing(char *buf, size_t len)
{
	drbt_sh(buf, len, NULL, 0, "cd %s && find r1 r2 -type f -printf '%%p %%s\\n' | sort", dir);
}

static void write_conf(const char *retention)
{
	char extra[2048];
	snprintf(extra, sizeof extra, "binlog { segment_seconds = 1 }\nretention {\n%s\n}\n",
		 retention);
	drbt_write_config(conf, dir, &src, repos, extra);
}

static void capture(moment *mo)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	usleep((useconds_t)(1000000 - tv.tv_usec) + 20000);
	mo->t = time(NULL);
	strftime(mo->when, sizeof mo->when, "%Y-%m-%d %H:%M:%S", gmtime(&mo->t));
	drbt_fingerprint(&src, mo->fp, sizeof mo->fp, NULL);
	while (time(NULL) <= mo->t)
		usleep(20000);
}

static void restore_matches(const moment *mo, const char *what)
{
	char got[1 << 15];
	expect(run("restore --to '%s' --target-socket %s --target-user root --force", mo->when,
		   dst.socket),
	       0, what);
	drbt_fingerprint(&dst, got, sizeof got, NULL);
	if (strcmp(got, mo->fp) != 0) {
		print_error("%s: the restored data differs\n", what);
		fail();
	}
}

static int setup(void **state)
{
	(void)state;
	char p[4300];
	dir = drbt_tmpdir("expire");
	if (!dir || drbt_keygen(dir) != 0 || drbt_mariadb_start(&src, "--sync-binlog=1") != 0 ||
	    drbt_mariadb_start(&dst, NULL) != 0)
		return -1;
	for (int i = 1; i <= 2; i++) {
		snprintf(p, sizeof p, "%s/r%d", dir, i);
		mkdir(p, 0700);
	}
	snprintf(repos, sizeof repos,
		 "repo primary {\n type = \"posix\"\n path = \"%s/r1\"\n}\n"
		 "repo dr {\n type = \"posix\"\n path = \"%s/r2\"\n}\n",
		 dir, dir);
	snprintf(conf, sizeof conf, "%s/drbackup.conf", dir);
	write_conf("keep_daily = 0 keep_weekly = 0 keep_monthly = 0 keep_yearly = 0\n"
		   "pitr_days = 1 keep_min_days = 0");
	for (int i = 0; i < 2; i++) {
		const char *db = i ? "practice_b" : "practice_a";
		if (drbt_sql(&src, NULL, 0,
			     "CREATE DATABASE %s; CREATE TABLE %s.notes (id INT AUTO_INCREMENT PRIMARY "
			     "KEY, body TEXT, scan LONGBLOB)",
			     db, db) != 0)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	drbt_mariadb_stop(&src);
	drbt_mariadb_stop(&dst);
	if (!getenv("DRBT_KEEP"))
		drbt_rmtree(dir);
	free(dir);
	return 0;
}

static void test_fixture(void **state)
{
	(void)state;
	for (int i = 1; i <= 5; i++) {
		expect(run("full"), 0, "full");
		drbt_sh(ids[i], sizeof ids[i], NULL, 0, "ls %s/r1/testhost/full | tail -1 | tr -d '\\n'",
			dir);
		for (int k = 0; k < 20; k++)
			drbt_sql(&src, NULL, 0,
				 "INSERT INTO practice_a.notes (body, scan) VALUES (REPEAT('visit %d ', "
				 "300), RANDOM_BYTES(1000)); INSERT INTO practice_b.notes (body) VALUES "
				 "('b %d')",
				 i, k);
		capture(&m[i]); /* then shipped: the rotation covers the captured second */
		expect(run("binlog"), 0, "binlog");
	}
	/* the window of 1 day starts at the third moment: after the third snapshot, before the
	 * fourth */
	time_t at = m[3].t + 86400;
	strftime(now_arg, sizeof now_arg, "%Y-%m-%d %H:%M:%S", gmtime(&at));
}

static void test_dry_run_changes_nothing(void **state)
{
	static char before[1 << 16], after[1 << 16];
	(void)state;
	listing(before, sizeof before);
	expect(run("expire --dry-run --now '%s'", now_arg), 0, "dry run");
	contains(out, "DELETE full");
	contains(out, ids[1]);
	contains(out, "serves point-in-time recovery");
	expect(run("--json expire --dry-run --now '%s'", now_arg), 0, "dry run, JSON");
	contains(out, "\"dry_run\": true");
	contains(out, "\"bytes_freed\"");
	listing(after, sizeof after);
	assert_string_equal(before, after);
}

static void test_keep_min_days_protects(void **state)
{
	static char before[1 << 16], after[1 << 16];
	(void)state;
	write_conf("keep_daily = 0 keep_weekly = 0 keep_monthly = 0 keep_yearly = 0\n"
		   "pitr_days = 1 keep_min_days = 3");
	listing(before, sizeof before);
	expect(run("expire --now '%s'", now_arg), 0, "expire with a floor");
	listing(after, sizeof after);
	assert_string_equal(before, after); /* nothing written when nothing goes */
	write_conf("keep_daily = 0 keep_weekly = 0 keep_monthly = 0 keep_yearly = 0\n"
		   "pitr_days = 1 keep_min_days = 0");
}

static void test_hold_keeps_its_practice(void **state)
{
	(void)state;
	expect(run("hold --practice practice_b --reason 'subpoena 2026-117'"), 0, "hold");
	expect(run("list"), 0, "list");
	contains(out, "HOLD on practice practice_b");
	expect(run("expire --dry-run --now '%s'", now_arg), 0, "plan under a hold");
	contains(out, "DELETE practice_a of");
	contains(out, ids[1]);
	/* the old fulls stay for practice_b: no whole backup goes */
	char want[200];
	snprintf(want, sizeof want, "DELETE full %s", ids[1]);
	if (strstr(out, want)) {
		print_error("a full backup went under a hold:\n%s\n", out);
		fail();
	}
	expect(run("expire --now '%s'", now_arg), 0, "expire under a hold");
	expect(run("list"), 0, "list after");
	contains(out, "practice practice_a deleted by retention");
	/* practice_b still restores to the first moment; practice_a from that backup is refused */
	expect(run("restore --to '%s' --db practice_b --target-socket %s --target-user root --force",
		   m[1].when, dst.socket),
	       0, "practice_b under the hold");
	expect(run("restore --to '%s' --db practice_a --target-socket %s --target-user root --force",
		   m[1].when, dst.socket),
	       1, "practice_a was expired");
	contains(err, "deleted by retention");
	expect(run("hold --release --practice practice_b"), 0, "release");
}

/* Killed right after a manifest is deleted: the backup is invisible, the next run finishes. */
static void test_kill9_in_the_middle_then_finish(void **state)
{
	(void)state;
	int rc = drbt_sh(out, sizeof out, err, sizeof err,
			 "DRBACKUP_FAULTS=expire-die-after-manifest %s -c %s expire --now '%s'",
			 drbt_bin(), conf, now_arg);
	assert_int_equal(rc, 128 + 9);
	expect(run("list"), 0, "list after the kill");
	for (int i = 3; i <= 5; i++)
		contains(out, ids[i]);
	expect(run("expire --now '%s'", now_arg), 0, "the next run finishes");
	char left[4300];
	drbt_sh(left, sizeof left, NULL, 0, "ls %s/r1/testhost/full %s/r2/testhost/full | sort -u",
		dir, dir);
	assert_null(strstr(left, ids[1]));
	assert_null(strstr(left, ids[2]));
	assert_non_null(strstr(left, ids[3]));
}

/* Every marked point inside the window restores exactly; one before it is refused. */
static void test_window_still_restores(void **state)
{
	(void)state;
	restore_matches(&m[4], "the fourth moment");
	restore_matches(&m[5], "the fifth moment");
	restore_matches(&m[3], "the third moment");
	expect(run("restore --to '%s' --target-socket %s --target-user root --force", m[1].when,
		   dst.socket),
	       1, "before the window");
	contains(err, "no full backup");
}

static void test_refuses_beside_a_full(void **state)
{
	char pid[64];
	(void)state;
	/* -o: the lock is flock's own, so killing it releases the lock */
	drbt_sh(pid, sizeof pid, NULL, 0,
		"flock -o %s/spool/full.lock sleep 30 >/dev/null 2>&1 & echo $!", dir);
	usleep(300000);
	expect(run("expire --now '%s'", now_arg), 1, "expire beside a full");
	contains(err, "full");
	drbt_sh(NULL, 0, NULL, 0, "kill %s; while kill -0 %s 2>/dev/null; do sleep 0.05; done", pid,
		pid);
}

/* dr is down while expire deletes: exit 3; back, heal copies nothing expired, the next expire
 * completes dr. */
static void test_region_down_is_completed(void **state)
{
	(void)state;
	sleep(1);
	expect(run("full"), 0, "a sixth full");
	/* a later --now: the window moves past the third and the fourth backup */
	time_t later = m[5].t + 86400 + 1;
	char later_arg[64];
	strftime(later_arg, sizeof later_arg, "%Y-%m-%d %H:%M:%S", gmtime(&later));
	drbt_sh(NULL, 0, NULL, 0, "mv %s/r2 %s/r2.away", dir, dir);
	expect(run("expire --now '%s'", later_arg), 3, "expire with dr down");
	drbt_sh(NULL, 0, NULL, 0, "mv %s/r2.away %s/r2", dir, dir);
	drbt_sh(NULL, 0, NULL, 0, "rm -f %s/spool/heal-last* 2>/dev/null", dir);
	drbt_sql(&src, NULL, 0, "INSERT INTO practice_a.notes (body) VALUES ('after')");
	run("binlog"); /* heals */
	char left[4300];
	drbt_sh(left, sizeof left, NULL, 0, "ls %s/r1/testhost/full", dir);
	assert_null(strstr(left, ids[3])); /* not brought back from dr */
	expect(run("expire --now '%s'", later_arg), 0, "dr completed");
	drbt_sh(left, sizeof left, NULL, 0, "ls %s/r2/testhost/full", dir);
	assert_null(strstr(left, ids[3]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture),
		cmocka_unit_test(test_dry_run_changes_nothing),
		cmocka_unit_test(test_keep_min_days_protects),
		cmocka_unit_test(test_hold_keeps_its_practice),
		cmocka_unit_test(test_kill9_in_the_middle_then_finish),
		cmocka_unit_test(test_window_still_restores),
		cmocka_unit_test(test_refuses_beside_a_full),
		cmocka_unit_test(test_region_down_is_completed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
