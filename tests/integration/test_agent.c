/* The agent under real conditions, against real servers: mariadbd killed in the middle of a large
 * transaction, a damaged closed binlog, full and binlog racing with a region down, heal over
 * three repositories, a restore into the server being backed up, and a follower that runs for
 * minutes under a writer while a region goes down and comes back, days close and the server's
 * binlog folder is purged, with its memory and open files measured. */
#include "config.h"

#include <mysql.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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

/* ------------------------------------------------------------------ helpers */

static int run_with(const char *config, const char *fmt, va_list ap)
{
	char cmd[8192];
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	int rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s %s", drbt_bin(), config, cmd);
	if (getenv("DRBT_VERBOSE"))
		fprintf(stderr, "drbackup %s -> %d\n%s%s", cmd, rc, out, err);
	return rc;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = run_with(conf, fmt, ap);
	va_end(ap);
	return rc;
}

static int run_conf(const char *config, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_conf(const char *config, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = run_with(config, fmt, ap);
	va_end(ap);
	return rc;
}

#define expect(got, want, what) drbt_expect(got, want, what, out, err)

#define contains(text, what) drbt_contains(text, what, err)

static void lacks(const char *text, const char *what)
{
	if (strstr(text, what)) {
		print_error("'%s' found in:\n%s\n", what, text);
		fail();
	}
}

static long sh_long(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long sh_long(const char *fmt, ...)
{
	char cmd[8192], buf[256] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	drbt_sh(buf, sizeof buf, NULL, 0, "%s", cmd);
	return atol(buf);
}

static void fingerprint(drbt_mariadb *m, char *buf, size_t len)
{
	char list[8192] = "", sums[32768] = "";
	drbt_sql(m, list, sizeof list,
		 "SELECT GROUP_CONCAT(CONCAT('`', TABLE_SCHEMA, '`.`', TABLE_NAME, '`') ORDER BY "
		 "TABLE_SCHEMA, TABLE_NAME SEPARATOR ', ') FROM information_schema.TABLES WHERE "
		 "TABLE_SCHEMA LIKE 'practice\\_%%' AND TABLE_TYPE = 'BASE TABLE'");
	if (list[0] && strcmp(list, "NULL") != 0)
		drbt_sql(m, sums, sizeof sums, "CHECKSUM TABLE %s EXTENDED", list);
	snprintf(buf, len, "%s", sums);
}

static char last_bg[64]; /* the newest background process: killed after a failed test */

static void background(char *pid, size_t len, const char *cmd)
{
	drbt_sh(pid, len, NULL, 0, "%s & echo $!", cmd);
	pid[strcspn(pid, "\n")] = 0;
	snprintf(last_bg, sizeof last_bg, "%s", pid);
}

static void wait_gone(const char *pid)
{
	drbt_sh(NULL, 0, NULL, 0, "while kill -0 %s 2>/dev/null; do sleep 0.05; done", pid);
}

/* Until the file holds what (seconds at most); true when it does. */
static bool wait_for_text(const char *path, const char *what, int seconds)
{
	for (int i = 0; i < seconds * 10; i++) {
		char *l = drbt_read_file(path, NULL);
		bool seen = l && strstr(l, what);
		free(l);
		if (seen)
			return true;
		usleep(100000);
	}
	return false;
}

static void region_down(const char *name)
{
	drbt_sh(NULL, 0, NULL, 0, "mv %s/%s %s/%s.away && touch %s/%s", dir, name, dir, name, dir,
		name);
}

static void region_up(const char *name)
{
	drbt_sh(NULL, 0, NULL, 0, "rm %s/%s && mv %s/%s.away %s/%s", dir, name, dir, name, dir,
		name);
}

static long binlog_files(void)
{
	char o[8192];
	drbt_sql(&src, o, sizeof o, "SHOW BINARY LOGS");
	long n = 0;
	for (char *p = o; *p; p++)
		n += *p == '\n';
	return o[0] ? n + 1 : 0;
}

static void first_binlog(char *buf, size_t len)
{
	drbt_sql(&src, buf, len, "SHOW BINARY LOGS");
	buf[strcspn(buf, "\t\n")] = 0;
}

static void active_binlog(char *buf, size_t len)
{
	drbt_sql(&src, buf, len, "SHOW MASTER STATUS");
	buf[strcspn(buf, "\t\n")] = 0;
}

/* Every object r1 holds now is in r2 too. */
static bool r2_holds_r1(void)
{
	return sh_long("cd %s && (cd r1 && find testhost/binlog testhost/full -type f | sort) "
		       ">held.r1 && (cd r2 && find testhost/binlog testhost/full -type f | sort) "
		       ">held.r2 && comm -23 held.r1 held.r2 | wc -l",
		       dir) == 0;
}

/* ------------------------------------------------------------------ the writer */

typedef struct writer {
	pthread_t t;
	volatile int stop, pause, paused;
	volatile long n;
	useconds_t pace;
} writer;

static writer w;

static void *write_loop(void *arg)
{
	writer *wr = arg;
	MYSQL *m = mysql_init(NULL);
	if (!mysql_real_connect(m, NULL, "root", NULL, NULL, 0, src.socket, 0)) {
		fprintf(stderr, "writer: %s\n", mysql_error(m));
		return NULL;
	}
	char sql[1024];
	while (!wr->stop) {
		if (wr->pause) {
			wr->paused = 1;
			usleep(2000);
			continue;
		}
		wr->paused = 0;
		long n = ++wr->n;
		snprintf(sql, sizeof sql,
			 "INSERT INTO practice_%c.visits (pid, note) VALUES (%ld, CONCAT('visit %ld ', "
			 "REPEAT('n', %ld)))",
			 n % 2 ? 'a' : 'b', n % 97, n, 50 + n % 200);
		if (mysql_query(m, sql) != 0) {
			/* the server may be killed under it: reconnect */
			mysql_close(m);
			m = mysql_init(NULL);
			while (!wr->stop &&
			       !mysql_real_connect(m, NULL, "root", NULL, NULL, 0, src.socket, 0))
				usleep(100000);
		}
		usleep(wr->pace);
	}
	mysql_close(m);
	return NULL;
}

static bool writer_running;

static void writer_start(useconds_t pace)
{
	memset(&w, 0, sizeof w);
	writer_running = true;
	w.pace = pace;
	pthread_create(&w.t, NULL, write_loop, &w);
	while (w.n < 5)
		usleep(10000);
}

static void writer_stop(void)
{
	w.stop = 1;
	pthread_join(w.t, NULL);
	writer_running = false;
}

/* A failed test leaves no writer behind for the next one. */
static int after_test(void **state)
{
	(void)state;
	if (writer_running)
		writer_stop();
	if (last_bg[0])
		drbt_sh(NULL, 0, NULL, 0, "kill -9 %s 2>/dev/null", last_bg);
	last_bg[0] = 0;
	return 0;
}

/* A moment to restore to: writes paused over one whole second. */
typedef struct moment {
	time_t t;
	char when[32];
	char fp[1 << 15];
} moment;

static void capture(moment *mo, bool writing)
{
	struct timeval tv;
	if (writing) {
		w.pause = 1;
		while (!w.paused)
			usleep(1000);
	}
	gettimeofday(&tv, NULL);
	usleep((useconds_t)(1000000 - tv.tv_usec) + 20000);
	mo->t = time(NULL);
	struct tm tm;
	gmtime_r(&mo->t, &tm);
	strftime(mo->when, sizeof mo->when, "%Y-%m-%d %H:%M:%S", &tm);
	fingerprint(&src, mo->fp, sizeof mo->fp);
	while (time(NULL) <= mo->t)
		usleep(20000);
	w.pause = 0;
}

static void expect_target_matches(const char *fp, const char *what)
{
	char got[1 << 15];
	fingerprint(&dst, got, sizeof got);
	if (strcmp(got, fp) != 0) {
		print_error("%s: the restored data differs\nexpected:\n%s\ngot:\n%s\n", what, fp, got);
		fail();
	}
}

static int restore_to(const char *to)
{
	return run("restore --to '%s' --target-socket %s --target-user root --force", to,
		   dst.socket);
}

/* ------------------------------------------------------------------ setup */

static const char schema[] =
	"CREATE TABLE visits (id INT PRIMARY KEY AUTO_INCREMENT, pid INT, note TEXT, "
	"at TIMESTAMP NOT NULL DEFAULT '2026-01-01 00:00:00') ENGINE=InnoDB;\n"
	"CREATE TABLE big (id INT PRIMARY KEY, body VARCHAR(1200)) ENGINE=InnoDB;\n"
	"INSERT INTO visits (pid, note) VALUES (1, 'first'), (2, 'ünïcode ''quoted''');\n";

static void write_conf(const char *path, const char *repo_text, const char *extra)
{
	char more[2048];
	snprintf(more, sizeof more, "metrics_dir = \"%s/metrics\"\n%s", dir, extra ? extra : "");
	drbt_write_config(path, dir, &src, repo_text, more);
}

static int setup(void **state)
{
	(void)state;
	dir = drbt_tmpdir("agent");
	if (!dir || drbt_keygen(dir) != 0 || drbt_mariadb_start(&src, "--sync-binlog=1") != 0 ||
	    drbt_mariadb_start(&dst, NULL) != 0)
		return -1;
	drbt_sh(NULL, 0, NULL, 0, "mkdir -p %s/r1 %s/r2 %s/metrics", dir, dir, dir);
	snprintf(repos, sizeof repos,
		 "repo primary {\n type = \"posix\"\n path = \"%s/r1\"\n}\n"
		 "repo dr {\n type = \"posix\"\n path = \"%s/r2\"\n}\n",
		 dir, dir);
	snprintf(conf, sizeof conf, "%s/drbackup.conf", dir);
	write_conf(conf, repos, "binlog { segment_seconds = 1 }\n");
	for (char p = 'a'; p <= 'b'; p++) {
		char path[4300], text[sizeof schema + 200];
		snprintf(path, sizeof path, "%s/schema.sql", src.dir);
		snprintf(text, sizeof text, "CREATE DATABASE practice_%c;\nUSE practice_%c;\n%s", p, p,
			 schema);
		drbt_write_file(path, text, 0600);
		if (drbt_sh(NULL, 0, err, sizeof err, "mariadb --no-defaults -uroot -S %s < %s",
			    src.socket, path) != 0) {
			fprintf(stderr, "schema: %s\n", err);
			return -1;
		}
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

/* ------------------------------------------------------------------ crash-torn binlog */

/* kill -9 while the server writes a multi-MB transaction into its binlog: that file ends in a
 * torn transaction. Shipped up to its last complete one, the chain restores exactly, to the
 * latest point and to a point after the restart. */
static void test_kill9_in_a_large_transaction(void **state)
{
	char file[256], path[4600], pid[64], cmd[4600];
	bool torn = false;
	(void)state;
	expect(run("full"), 0, "full before the crash");
	writer_start(2000);
	expect(run("binlog"), 0, "binlog before the crash");
	for (int attempt = 0; attempt < 4 && !torn; attempt++) {
		active_binlog(file, sizeof file);
		snprintf(path, sizeof path, "%s/%s", src.datadir, file);
		struct stat st;
		stat(path, &st);
		off_t before = st.st_size;
		snprintf(cmd, sizeof cmd,
			 "mariadb --no-defaults -uroot -S %s -e \"INSERT INTO practice_a.big SELECT "
			 "seq + %d, REPEAT(CHAR(65 + seq %% 26), 1000) FROM practice_a.seq_1_to_%d\" >/dev/null "
			 "2>&1",
			 src.socket, attempt * 1000000, 60000 + attempt * 40000);
		background(pid, sizeof pid, cmd);
		/* the commit copies the transaction into the binlog: kill as the file grows */
		bool killed = false;
		for (int i = 0; i < 400000 && !killed; i++) {
			if (stat(path, &st) == 0 && st.st_size > before + (1 << 20)) {
				drbt_mariadb_kill(&src);
				killed = true;
			}
			if (i % 64 == 0 && drbt_sh(NULL, 0, NULL, 0, "kill -0 %s 2>/dev/null", pid))
				break; /* done before we saw it */
			usleep(100);
		}
		if (!killed)
			drbt_mariadb_kill(&src);
		wait_gone(pid);
		assert_int_equal(drbt_mariadb_restart(&src, "--sync-binlog=1"), 0);
		/* the last event of the file is cut: an event claims more bytes than follow */
		stat(path, &st);
		torn = killed && st.st_size > before + (1 << 20);
	}
	assert_true(torn);
	char v[64];
	drbt_sql(&src, v, sizeof v, "SELECT COUNT(*) FROM practice_a.big");
	assert_string_equal(v, "0"); /* it never committed */
	/* after the restart: writes, a moment, more writes */
	sleep(1);
	moment after;
	capture(&after, true);
	sleep(1);
	writer_stop();
	expect(run("binlog"), 0, "binlog after the crash");
	contains(err, "never committed");
	contains(err, file);
	lacks(err, "decode");
	char *prom = NULL;
	snprintf(path, sizeof path, "%s/metrics/drbackup.prom", dir);
	prom = drbt_read_file(path, NULL);
	assert_non_null(prom);
	contains(prom, "drbackup_binlog_damaged 0");
	lacks(prom, "drbackup_binlog_torn_bytes 0\n");
	free(prom);
	char latest[1 << 15];
	fingerprint(&src, latest, sizeof latest);
	expect(restore_to("latest"), 0, "restore to latest across the crash");
	lacks(err, "decode");
	expect_target_matches(latest, "restore --to latest after kill -9");
	expect(restore_to(after.when), 0, "restore to a point after the restart");
	lacks(err, "decode");
	expect_target_matches(after.fp, "restore --to a point after the restart");
}

/* ------------------------------------------------------------------ damaged binlog */

static void test_corrupted_byte_is_refused(void **state)
{
	char file[256], path[4600], o[8192];
	(void)state;
	expect(run("binlog"), 0, "binlog before");
	drbt_sql(&src, NULL, 0,
		 "INSERT INTO practice_b.visits (pid, note) SELECT seq, REPEAT('r', 300) FROM "
		 "practice_b.seq_1_to_200");
	active_binlog(file, sizeof file);
	drbt_sql(&src, NULL, 0, "FLUSH BINARY LOGS");
	snprintf(path, sizeof path, "%s/%s", src.datadir, file);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	/* one byte in the middle of the rows, in the closed, unshipped file */
	long at = (long)st.st_size / 2;
	drbt_sh(NULL, 0, NULL, 0,
		"cp %s %s.good && printf '\\x5a' | dd of=%s bs=1 seek=%ld conv=notrunc 2>/dev/null",
		path, path, path, at);
	expect(run("binlog"), 1, "binlog over a damaged file");
	contains(err, "REFUSED");
	contains(err, "checksum mismatch");
	contains(err, file);
	/* one clear line */
	long lines = 0;
	for (const char *p = err; (p = strstr(p, "REFUSED")); p++)
		lines++;
	assert_int_equal(lines, 1);
	snprintf(o, sizeof o, "%s/metrics/drbackup.prom", dir);
	char *prom = drbt_read_file(o, NULL);
	assert_non_null(prom);
	contains(prom, "drbackup_binlog_damaged 1");
	free(prom);
	/* nothing of it is described as closed, no segment covers the damaged byte */
	drbt_sh(o, sizeof o, NULL, 0,
		"cat %s/r1/testhost/binlog/*/%s*.json 2>/dev/null | grep -c '\"closed\": true'", dir,
		file);
	assert_int_equal(atol(o), 0);
	drbt_sh(o, sizeof o, NULL, 0,
		"cat %s/r1/testhost/binlog/*/%s*.json 2>/dev/null | grep -o '\"end\": [0-9]*' | "
		"sort -t' ' -k2 -n | tail -1 | cut -d' ' -f2",
		dir, file);
	assert_true(atol(o) <= at);
	/* repaired: it goes out whole */
	drbt_sh(NULL, 0, NULL, 0, "mv %s.good %s", path, path);
	expect(run("binlog"), 0, "binlog after the repair");
	drbt_sh(o, sizeof o, NULL, 0,
		"cat %s/r1/testhost/binlog/*/%s*.json | grep -c '\"closed\": true'", dir, file);
	assert_int_equal(atol(o), 1);
}

/* ------------------------------------------------------------------ heal state */

/* full and binlog at once, a region down, purge_after_ship on: the heal flag survives both, and
 * no binlog file leaves the server until every repository holds it. */
static void test_full_and_binlog_race_with_region_down(void **state)
{
	char pconf[4400], first[256], after[256], p1[64], p2[64], cmd[9000], o[4096];
	(void)state;
	snprintf(pconf, sizeof pconf, "%s/purge.conf", dir);
	write_conf(pconf, repos, "binlog { segment_seconds = 1 purge_after_ship = true }\n");
	expect(run_conf(pconf, "binlog"), 0, "binlog with purge, all up");
	drbt_sql(&src, NULL, 0, "INSERT INTO practice_a.visits (pid) VALUES (1); FLUSH BINARY LOGS");
	drbt_sql(&src, NULL, 0, "INSERT INTO practice_a.visits (pid) VALUES (2); FLUSH BINARY LOGS");
	first_binlog(first, sizeof first);
	long files = binlog_files();
	region_down("r2");
	snprintf(cmd, sizeof cmd, "%s -c %s full >%s/race-full.log 2>&1; echo $? >%s/race-full.rc",
		 drbt_bin(), pconf, dir, dir);
	background(p1, sizeof p1, cmd);
	snprintf(cmd, sizeof cmd,
		 "%s -c %s binlog >%s/race-binlog.log 2>&1; echo $? >%s/race-binlog.rc", drbt_bin(),
		 pconf, dir, dir);
	background(p2, sizeof p2, cmd);
	wait_gone(p1);
	wait_gone(p2);
	assert_int_equal(sh_long("cat %s/race-full.rc", dir), 3);
	assert_int_equal(sh_long("cat %s/race-binlog.rc", dir), 3);
	drbt_sh(o, sizeof o, NULL, 0, "cat %s/spool/heal-state.json", dir);
	contains(o, "\"needed\": true");
	first_binlog(after, sizeof after);
	assert_string_equal(after, first);
	assert_true(binlog_files() >= files);
	/* a second binlog run with the region still down: still nothing purged */
	drbt_sql(&src, NULL, 0, "INSERT INTO practice_a.visits (pid) VALUES (3)");
	expect(run_conf(pconf, "binlog"), 3, "binlog again with dr down");
	first_binlog(after, sizeof after);
	assert_string_equal(after, first);
	drbt_sh(o, sizeof o, NULL, 0, "cat %s/spool/heal-state.json", dir);
	contains(o, "\"needed\": true");
	/* back: healed, then purged */
	region_up("r2");
	expect(run_conf(pconf, "binlog"), 0, "binlog with dr back");
	contains(err, "healed");
	drbt_sh(o, sizeof o, NULL, 0, "cat %s/spool/heal-state.json", dir);
	contains(o, "\"needed\": false");
	first_binlog(after, sizeof after);
	assert_string_not_equal(after, first);
	assert_true(binlog_files() <= 2);
	/* both regions hold the same */
	assert_true(r2_holds_r1());
}

/* Three repositories: the first source of an object lacks its description, the third holds
 * nothing. Heal completes all three. */
static void test_heal_three_repositories(void **state)
{
	char c3[4400], r3[9400], o[8192], seg[4096];
	(void)state;
	drbt_sh(NULL, 0, NULL, 0, "mkdir -p %s/r3", dir);
	snprintf(r3, sizeof r3, "%srepo third {\n type = \"posix\"\n path = \"%s/r3\"\n}\n", repos,
		 dir);
	snprintf(c3, sizeof c3, "%s/three.conf", dir);
	write_conf(c3, r3, "binlog { segment_seconds = 1 }\n");
	drbt_sql(&src, NULL, 0, "INSERT INTO practice_b.visits (pid) VALUES (33)");
	expect(run("binlog"), 0, "binlog into two");
	/* the newest segment's description is lost from the first repository */
	drbt_sh(seg, sizeof seg, NULL, 0,
		"cd %s/r1 && ls -t testhost/binlog/*/*.json | head -1 | tr -d '\\n'", dir);
	assert_true(seg[0] != 0);
	drbt_sh(NULL, 0, NULL, 0, "rm %s/r1/%s", dir, seg);
	/* the daily comparison is due */
	drbt_sh(NULL, 0, NULL, 0, "rm -f %s/spool/heal-last", dir);
	expect(run_conf(c3, "binlog"), 0, "binlog over three repositories");
	contains(err, "healed");
	snprintf(o, sizeof o, "%s/r1/%s", dir, seg);
	assert_int_equal(access(o, F_OK), 0);
	snprintf(o, sizeof o, "%s/r3/%s", dir, seg);
	assert_int_equal(access(o, F_OK), 0);
	snprintf(o, sizeof o, "%s/r3/%.*s.drb", dir, (int)strlen(seg) - 5, seg);
	assert_int_equal(access(o, F_OK), 0);
	/* every data object and description is in all three */
	drbt_sh(o, sizeof o, NULL, 0,
		"cd %s && for r in r1 r2 r3; do (cd $r && find testhost -type f | grep -v "
		"-e /catalog/ -e /check/ | sort | md5sum); done | sort -u | wc -l",
		dir);
	assert_int_equal(atol(o), 1);
	drbt_sh(o, sizeof o, NULL, 0, "cd %s/r3 && find testhost -name '*.drb' | wc -l", dir);
	assert_true(atol(o) > 3);
	expect(run_conf(c3, "--repo third list"), 0, "list the third");
	lacks(out, "GAP");
	drbt_sh(NULL, 0, NULL, 0, "rm -rf %s/r3", dir);
}

/* ------------------------------------------------------------------ restore in place */

/* A restore into the server being backed up forks its history: the agent starts a new
 * generation there, and restores before and after the fork are both exact. */
static void test_restore_in_place_starts_a_generation(void **state)
{
	moment before, after;
	char gens[4096], gens2[4096];
	(void)state;
	expect(run("full"), 0, "full before");
	writer_start(3000);
	sleep(1);
	capture(&before, true);
	sleep(1);
	writer_stop();
	expect(run("binlog"), 0, "binlog before the restore");
	drbt_sh(gens, sizeof gens, NULL, 0, "ls %s/r1/testhost/binlog | wc -l", dir);
	/* into the source itself: the data goes back to 'before' */
	expect(run("restore --to '%s' --target-socket %s --target-user root --force", before.when,
		   src.socket),
	       0, "restore in place");
	contains(err, "new binlog generation");
	char fp[1 << 15];
	fingerprint(&src, fp, sizeof fp);
	assert_string_equal(fp, before.fp);
	/* the new history */
	writer_start(3000);
	sleep(2);
	writer_stop();
	expect(run("binlog"), 0, "binlog after the restore");
	contains(err, "starting binlog generation");
	contains(err, "forked its history");
	drbt_sh(gens2, sizeof gens2, NULL, 0, "ls %s/r1/testhost/binlog | wc -l", dir);
	assert_int_equal(atol(gens2), atol(gens) + 1);
	sleep(1);
	expect(run("full"), 0, "full after the restore");
	writer_start(3000);
	sleep(1);
	capture(&after, true);
	sleep(1);
	writer_stop();
	expect(run("binlog"), 0, "binlog later");
	char latest[1 << 15];
	fingerprint(&src, latest, sizeof latest);
	expect(restore_to(before.when), 0, "restore to before the fork");
	expect_target_matches(before.fp, "restore to before the in-place restore");
	expect(restore_to(after.when), 0, "restore to after the fork");
	expect_target_matches(after.fp, "restore to after the in-place restore");
	expect(restore_to("latest"), 0, "restore to latest");
	expect_target_matches(latest, "restore to latest after the in-place restore");
}

/* ------------------------------------------------------------------ the long follower */

/* Open files: the fewest of ten looks 50 ms apart, so that a segment being shipped at the
 * moment of a look (its binlog file and a temporary object per repository) is not counted as a
 * leak; a leak shows in every look. */
static long proc_value(const char *pid, const char *what)
{
	if (strcmp(what, "fds") == 0)
		return sh_long("m=9999; for i in 1 2 3 4 5 6 7 8 9 10; do n=$(ls /proc/%s/fd | wc -l); "
			       "[ $n -lt $m ] && m=$n; sleep 0.05; done; echo $m",
			       pid);
	return sh_long("awk '/^VmRSS:/ {print $2}' /proc/%s/status", pid);
}

/* Does repo hold the closed catalog of the day `ago` days before the test clock's (offset:
 * its seconds), in the newest generation? */
static bool day_closed(const char *repo, int offset, int ago)
{
	char day[16];
	time_t t = time(NULL) + offset - (time_t)ago * 86400;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(day, sizeof day, "%Y%m%d", &tm);
	return sh_long("f=$(ls -d %s/%s/testhost/catalog/*/ | sort | tail -1)%s.json; "
	               "test -f $f && ! grep -q '\"open\"' $f && echo 1 || echo 0",
	               dir, repo, day) == 1;
}


static void test_follower_for_minutes(void **state)
{
	char fconf[4400], logf[4400], clock[4400], pid[64], cmd[12000], first[256], now1[256];
	(void)state;
	snprintf(fconf, sizeof fconf, "%s/follow.conf", dir);
	/* without the current day's catalog (catalog_seconds = 0): this test watches the follower's
	 * own memory over minutes, and each rewrite of that catalog holds the day's segments for a
	 * moment (test_compact checks the follower writing it in both regions) */
	write_conf(fconf, repos,
	           "binlog { segment_seconds = 1 purge_after_ship = true catalog_seconds = 0 }\n");
	snprintf(logf, sizeof logf, "%s/follow.log", dir);
	snprintf(clock, sizeof clock, "%s/clock", dir);
	drbt_write_file(clock, "0\n", 0600);
	drbt_sql(&src, NULL, 0, "SET GLOBAL max_binlog_size = 32768");
	expect(run("full"), 0, "full before following");
	writer_start(15000);
	/* a small ASan quarantine, so freed memory is not counted as growth */
	snprintf(cmd, sizeof cmd,
		 "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1\" "
		 "DRB_TEST_CLOCK_FILE=%s exec %s -v -c %s binlog --follow >%s 2>&1",
		 clock, drbt_bin(), fconf, logf);
	background(pid, sizeof pid, cmd);
	assert_true(wait_for_text(logf, "following", 10));
	sleep(8);
	long rss0 = proc_value(pid, "rss"), fd0 = proc_value(pid, "fds");
	fprintf(stderr, "follower at start: RSS %ld kB, %ld open files\n", rss0, fd0);
	/* purged as it goes: the folder holds what is not shipped yet */
	long most = 0;
	for (int i = 0; i < 10; i++) {
		long n = binlog_files();
		most = n > most ? n : most;
		sleep(1);
	}
	assert_true(most <= 4);
	/* a region goes down: nothing leaves the server while it lacks it */
	region_down("r2");
	sleep(2);
	first_binlog(first, sizeof first);
	long files_down = binlog_files();
	sleep(14);
	first_binlog(now1, sizeof now1);
	assert_string_equal(now1, first);
	assert_true(binlog_files() > files_down); /* the writer kept rotating */
	assert_true(wait_for_text(logf, "missed", 1));
	region_up("r2");
	assert_true(wait_for_text(logf, "every repository holds every copy again", 60));
	assert_true(r2_holds_r1());
	/* purged again once both hold it */
	bool shrank = false;
	for (int i = 0; i < 20 && !shrank; i++) {
		shrank = binlog_files() <= 4;
		sleep(1);
	}
	assert_true(shrank);
	first_binlog(now1, sizeof now1);
	assert_string_not_equal(now1, first);
	/* days close: the catalog of each finished day is written closed in both (the timer runs
	 * before the follower wrote the current day's open) */
	for (int day = 1; day <= 2; day++) {
		char off[32];
		snprintf(off, sizeof off, "%d\n", day * 86400);
		drbt_write_file(clock, off, 0600);
		bool seen = false;
		for (int i = 0; i < 100 && !seen; i++) {
			seen = day_closed("r1", day * 86400, 1) && day_closed("r2", day * 86400, 1);
			usleep(200000);
		}
		assert_true(seen);
		sleep(3); /* segments of the new day */
	}
	sleep(15);
	long rss1 = proc_value(pid, "rss"), fd1 = proc_value(pid, "fds");
	fprintf(stderr, "follower at end: RSS %ld kB, %ld open files (writer: %ld transactions)\n",
		rss1, fd1, w.n);
	assert_true(fd1 <= fd0 + 1);
	assert_true(rss1 <= rss0 + rss0 / 4 + 4096);
	/* then steady state: a minute and a half more under the writer, sampled every 30 s; after
	 * the warm-up above, memory and open files must not keep growing */
	long rss_prev = rss1, grew = 0;
	for (int i = 0; i < 3; i++) {
		sleep(30);
		long r = proc_value(pid, "rss"), f = proc_value(pid, "fds");
		fprintf(stderr, "follower after %d more s: RSS %ld kB, %ld open files (writer: %ld)\n",
			30 * (i + 1), r, f, w.n);
		assert_true(f <= fd0 + 1);
		if (r > rss_prev)
			grew += r - rss_prev;
		rss_prev = r;
	}
	assert_true(grew <= 2048); /* at most 2 MiB over 90 s of steady following */
	writer_stop();
	sleep(2);
	drbt_sh(NULL, 0, NULL, 0, "kill -TERM %s", pid);
	wait_gone(pid);
	char *log = drbt_read_file(logf, NULL);
	assert_non_null(log);
	contains(log, "stopping");
	lacks(log, "REFUSED");
	free(log);
	drbt_write_file(clock, "0\n", 0600);
	drbt_sql(&src, NULL, 0, "SET GLOBAL max_binlog_size = 1073741824");
	char latest[1 << 15];
	fingerprint(&src, latest, sizeof latest);
	expect(run("list"), 0, "list after following");
	lacks(out, "GAP");
	expect(restore_to("latest"), 0, "restore after following");
	expect_target_matches(latest, "restore --to latest after minutes of following");
	expect(run("--repo dr restore --to latest --target-socket %s --target-user root --force",
		   dst.socket),
	       0, "restore from the healed region");
	expect_target_matches(latest, "restore from the healed region");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kill9_in_a_large_transaction, after_test),
		cmocka_unit_test_teardown(test_corrupted_byte_is_refused, after_test),
		cmocka_unit_test_teardown(test_full_and_binlog_race_with_region_down, after_test),
		cmocka_unit_test_teardown(test_heal_three_repositories, after_test),
		cmocka_unit_test_teardown(test_restore_in_place_starts_a_generation, after_test),
		cmocka_unit_test_teardown(test_follower_for_minutes, after_test),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
