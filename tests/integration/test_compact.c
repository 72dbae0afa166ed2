/* Compaction from the source: a follower cutting one-second segments under a steady writer
 * (BLOB and long TEXT rows), with test-only level spans of 10 and 30 seconds, in two regions
 * (a posix repository and a Ceph RGW bucket). The small segments are replaced by compacted ones
 * in both; point-in-time restores to moments inside compacted and not yet compacted ranges are
 * exact (CHECKSUM TABLE at that moment); a follower killed (SIGKILL) between the upload of a
 * compacted segment and the deletion of the small ones leaves a chain that restores, and the
 * next run deletes them. */
#include "config.h"

#include <mysql.h>
#include <pthread.h>
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
#include "tests/integration/test_s3_support.h"

#define HOST "cmphost"

static char *dir;
static drbt_mariadb src, dst;
static s3t_rgw s3;
static char conf[4400];
static char out[1 << 20], err[1 << 18];

typedef struct moment {
	time_t t;
	char when[32];
	char fp[1 << 15];
} moment;

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
		fprintf(stderr, "drbackup %s -> %d\n%.4000s%.4000s", cmd, rc, out, err);
	return rc;
}

#define expect(got, want, what) drbt_expect(got, want, what, out, err)

/* ------------------------------------------------------------------ the writer */

typedef struct writer {
	pthread_t t;
	volatile int stop, pause, paused;
	volatile long n;
} writer;

static writer w;

/* About 15 transactions a second: a document of 16 KB of random bytes (a scan) and 4 KB of
 * text, every fifth an update of a patient's notes. */
static void *write_loop(void *arg)
{
	writer *wr = arg;
	MYSQL *m = mysql_init(NULL);
	if (!mysql_real_connect(m, NULL, "root", NULL, NULL, 0, src.socket, 0)) {
		fprintf(stderr, "writer: %s\n", mysql_error(m));
		return NULL;
	}
	char q[1024];
	while (!wr->stop) {
		if (wr->pause) {
			wr->paused = 1;
			usleep(2000);
			continue;
		}
		wr->paused = 0;
		long n = ++wr->n;
		snprintf(q, sizeof q,
			 "INSERT INTO practice_%c.documents (pid, title, notes, scan) SELECT %ld, "
			 "'Befund %ld — Zoë', REPEAT('Blutdruck stabil, Therapie fortsetzen. ', 100), "
			 "GROUP_CONCAT(RANDOM_BYTES(1024) SEPARATOR '') FROM practice_a.seq_1_to_16",
			 n % 2 ? 'a' : 'b', n % 50, n);
		if (mysql_query(m, q) != 0)
			fprintf(stderr, "writer: %s\n", mysql_error(m));
		if (n % 5 == 0) {
			snprintf(q, sizeof q,
				 "UPDATE practice_a.patients SET visits = visits + 1, notes = "
				 "CONCAT(notes, ' v%ld') WHERE pid = %ld",
				 n, n % 20 + 1);
			if (mysql_query(m, q) != 0)
				fprintf(stderr, "writer: %s\n", mysql_error(m));
		}
		usleep(60000);
	}
	mysql_close(m);
	return NULL;
}

static void writer_start(void)
{
	memset(&w, 0, sizeof w);
	pthread_create(&w.t, NULL, write_loop, &w);
}

static void writer_stop(void)
{
	w.stop = 1;
	pthread_join(w.t, NULL);
	w.t = 0;
}

/* The writer paused over a whole second S: the state "--to S" restores. */
static void capture(moment *m)
{
	struct timeval tv;
	bool writing = w.t && !w.stop;
	w.pause = 1;
	while (writing && !w.paused)
		usleep(1000);
	gettimeofday(&tv, NULL);
	usleep((useconds_t)(1000000 - tv.tv_usec) + 20000);
	m->t = time(NULL);
	strftime(m->when, sizeof m->when, "%Y-%m-%d %H:%M:%S", gmtime(&m->t));
	drbt_fingerprint(&src, m->fp, sizeof m->fp, NULL);
	while (time(NULL) <= m->t)
		usleep(20000);
	w.pause = 0;
}

static void expect_matches(const char *want, const char *what)
{
	static char got[1 << 15];
	drbt_fingerprint(&dst, got, sizeof got, NULL);
	if (strcmp(got, want) != 0) {
		print_error("%s: the restored data differs\nexpected:\n%.2000s\ngot:\n%.2000s\n", what,
			    want, got);
		fail();
	}
}

static void restore_to(const char *repo, const moment *m, const char *what)
{
	int rc = run("%s%s restore --to '%s' --target-socket %s --target-user root --force",
		     repo ? "--repo " : "", repo ? repo : "", m ? m->when : "latest", dst.socket);
	expect(rc, 0, what);
}

/* ------------------------------------------------------------------ the repositories */

typedef struct seg {
	char file[64];
	unsigned long long start, end;
	int level;
} seg;

/* The segment descriptions a repository holds (drbackup repo ls), parsed from their names. */
static size_t segments(const char *repo, seg *v, size_t max)
{
	expect(run("--repo %s repo ls %s/binlog/", repo, HOST), 0, "repo ls");
	size_t n = 0;
	for (char *line = strtok(out, "\n"); line && n < max; line = strtok(NULL, "\n")) {
		char *name = strrchr(line, '/');
		size_t len = strlen(line);
		if (!name || len < 5 || strcmp(line + len - 5, ".json") != 0)
			continue;
		name++;
		seg s = {0};
		char *dash = NULL;
		/* <file>-<start>.json or <file>-<start>-<end>-L<level>.json */
		char *lvl = strstr(name, "-L");
		if (lvl) {
			s.level = atoi(lvl + 2);
			*lvl = 0;
			dash = strrchr(name, '-');
			s.end = strtoull(dash + 1, NULL, 10);
			*dash = 0;
		}
		dash = strrchr(name, '-');
		if (!dash)
			continue;
		s.start = strtoull(dash + 1, NULL, 10);
		*dash = 0;
		snprintf(s.file, sizeof s.file, "%s", name);
		v[n++] = s;
	}
	return n;
}

typedef struct census {
	size_t level[3];
	size_t overlapping; /* smaller segments inside a compacted one */
	seg covered;        /* one of them */
} census;

static census count(const char *repo)
{
	static seg v[20000];
	census c = {0};
	size_t n = segments(repo, v, 20000);
	for (size_t i = 0; i < n; i++) {
		c.level[v[i].level < 3 ? v[i].level : 2]++;
		if (!v[i].level)
			continue;
		for (size_t k = 0; k < n; k++)
			if (k != i && v[k].level < v[i].level && strcmp(v[k].file, v[i].file) == 0 &&
			    v[k].start >= v[i].start && v[k].start < v[i].end) {
				c.overlapping++;
				if (!v[k].level)
					c.covered = v[k];
			}
	}
	fprintf(stderr, "repository %s: %zu segments as cut, %zu of level 1, %zu of level 2, %zu "
			"covered by a larger one\n",
		repo, c.level[0], c.level[1], c.level[2], c.overlapping);
	return c;
}

/* ------------------------------------------------------------------ the follower */

static void follower_start(char *pid, size_t len, const char *logf, const char *faults)
{
	char cmd[12000];
	snprintf(cmd, sizeof cmd, "DRBACKUP_FAULTS=%s exec %s -v -c %s binlog --follow >%s 2>&1 & "
				  "echo $!",
		 faults, drbt_bin(), conf, logf);
	drbt_sh(pid, len, NULL, 0, "%s", cmd);
	pid[strcspn(pid, "\n")] = 0;
}

static bool gone(const char *pid, int seconds)
{
	char o[64];
	drbt_sh(o, sizeof o, NULL, 0,
		"for i in $(seq %d); do kill -0 %s 2>/dev/null || { echo gone; exit; }; sleep 0.1; "
		"done",
		seconds * 10, pid);
	return strstr(o, "gone") != NULL;
}

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

/* ------------------------------------------------------------------ setup */

static const char schema[] =
	"CREATE TABLE patients (pid INT PRIMARY KEY, name VARCHAR(80), visits INT NOT NULL "
	"DEFAULT 0, notes TEXT) ENGINE=InnoDB;\n"
	"CREATE TABLE documents (id INT AUTO_INCREMENT PRIMARY KEY, pid INT, title VARCHAR(200), "
	"notes LONGTEXT, scan LONGBLOB, INDEX (pid)) ENGINE=InnoDB;\n"
	"INSERT INTO patients (pid, name, notes) SELECT seq, CONCAT('Patient ', seq), 'intake' "
	"FROM seq_1_to_50;\n";

static int setup(void **state)
{
	(void)state;
	char p[4300], repos[9000], text[16384];
	dir = drbt_tmpdir("compact");
	if (!dir || drbt_keygen(dir) != 0 || drbt_mariadb_start(&src, "--sync-binlog=1") != 0 ||
	    drbt_mariadb_start(&dst, NULL) != 0)
		return -1;
	if (s3t_rgw_start(&s3, "ehr-compact") != 0) {
		fprintf(stderr, "Ceph RGW did not start (./quickstart test installs it)\n");
		return -1;
	}
	snprintf(p, sizeof p, "%s/r1", dir);
	mkdir(p, 0700);
	snprintf(repos, sizeof repos,
		 "repo primary {\n type = \"posix\"\n path = \"%s/r1\"\n}\n"
		 "repo s3 {\n type = \"s3\"\n endpoint = \"%s\"\n bucket = \"ehr-compact\"\n"
		 " prefix = \"drbackup\"\n access_key_id = \"%s\"\n secret_access_key_file = \"%s\"\n"
		 " retries = 1\n timeout = 10\n}\n",
		 dir, s3.endpoint[0], s3.access_key, s3.secret_file);
	/* a second configuration, the same but for its spool_dir: the kill test starts with a
	 * record of its own (nothing left due from the first test) */
	for (int k = 1; k >= 0; k--) {
		snprintf(conf, sizeof conf, "%s/drbackup%s.conf", dir, k ? "-kill" : "");
		snprintf(
		    text, sizeof text,
		    "host_id = \"" HOST "\"\nspool_dir = \"%s/spool%s\"\n"
		    "database {\n socket = \"%s\"\n user = \"root\"\n}\n"
		    "encryption {\n public_keys = {\"%s/dr.pub\"}\n secret_keys = "
		    "{\"%s/dr.key\"}\n}\n"
		    "compression { level = 1 }\n"
		    "binlog {\n segment_seconds = 1\n compact_levels = {10, 30}\n compact_grace = "
		    "2\n catalog_seconds = 5\n}\n"
		    "%s%s",
		    dir, k ? "-kill" : "", src.socket, dir, dir, repos, drbt_signing(dir, HOST));
		drbt_write_file(conf, text, 0600);
	}
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "practice_b" : "practice_a";
		char q[8192];
		snprintf(q, sizeof q, "CREATE DATABASE %s CHARACTER SET utf8mb4; USE %s; %s", name, name,
			 schema);
		if (drbt_sql(&src, NULL, 0, "%s", q) != 0)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	s3t_rgw_stop(&s3);
	drbt_mariadb_stop(&src);
	drbt_mariadb_stop(&dst);
	if (!getenv("DRBT_KEEP"))
		drbt_rmtree(dir);
	free(dir);
	return 0;
}

/* ------------------------------------------------------------------ the tests */

static void test_follow_and_compact(void **state)
{
	static moment m1, m2, m3, recent, end;
	char pid[64], logf[4400];
	(void)state;
	expect(run("full"), 0, "full before following");
	snprintf(logf, sizeof logf, "%s/follow.log", dir);
	writer_start();
	follower_start(pid, sizeof pid, logf, "");
	assert_true(wait_for_text(logf, "following", 10));
	sleep(6);
	capture(&m1);
	sleep(9);
	capture(&m2);
	sleep(6);
	/* a rotation: a compacted segment never spans two files */
	drbt_sql(&src, NULL, 0, "FLUSH BINARY LOGS");
	sleep(10);
	capture(&m3);
	sleep(27);
	capture(&recent); /* shipped, not compacted yet */
	sleep(2);
	writer_stop();
	capture(&end);
	sleep(2);
	drbt_sh(NULL, 0, NULL, 0, "kill -TERM %s", pid);
	assert_true(gone(pid, 20));
	char *log = drbt_read_file(logf, NULL);
	assert_non_null(log);
	drbt_contains(log, "compacted segment", log);
	if (strstr(log, "REFUSED") || strstr(log, "GAP")) {
		print_error("the follower's log:\n%.8000s\n", log);
		fail();
	}
	free(log);
	fprintf(stderr, "writer: %ld transactions\n", w.n);
	/* small segments replaced in both regions: the windows that are over hold one segment. A
	 * deletion that the stop interrupted (S3 requests end on SIGTERM), or one still in its
	 * grace, is finished by the next runs */
	census c1 = count("primary"), c2 = count("s3");
	for (int i = 0; i < 4 && (c1.overlapping || c2.overlapping); i++) {
		sleep(3);
		expect(run("binlog"), 0, "binlog after the follower");
		c1 = count("primary");
		c2 = count("s3");
	}
	assert_true(c1.level[2] >= 1 && c2.level[2] >= 1);
	assert_true(c1.level[1] >= 1 && c2.level[1] >= 1);
	/* about 60 one-second segments were cut; the older half went into compacted ones */
	assert_true(c1.level[0] < 40 && c2.level[0] < 40);
	assert_int_equal(c1.overlapping, 0);
	assert_int_equal(c2.overlapping, 0);
	expect(run("-v list"), 0, "list after compaction");
	if (strstr(out, "GAP")) {
		print_error("%s\n", out);
		fail();
	}
	/* today's catalog, kept open by the follower (catalog_seconds = 5) and the runs after it,
	 * in both regions: the listing reads one by one only the descriptions of the last
	 * seconds (a follower stopped by SIGTERM may end before its last rewrite reaches S3) */
	int lists = 0;
	for (const char *q = err; (q = strstr(q, ": read ")); q++) {
		unsigned long days = 0, n = 999;
		const char *and = strstr(q, " and ");
		if (sscanf(q, ": read %lu day catalog", &days) != 1 || !and ||
		    sscanf(and, " and %lu segment", &n) != 1)
			continue;
		if (days < 1 || n > 12) {
			print_error("%s\n", err);
			fail();
		}
		lists++;
	}
	assert_int_equal(lists, 2);
	char open_flag[64] = "";
	drbt_sh(open_flag, sizeof open_flag, NULL, 0,
	        "f=$(ls %s/r1/" HOST
	        "/catalog/*/*.json | sort | tail -1); grep -c '\"open\": *true' $f",
	        dir);
	assert_int_equal(atol(open_flag), 1);
	/* inside compacted ranges (level 2, then level 1), and not yet compacted */
	restore_to(NULL, &m1, "restore inside a level-2 segment");
	expect_matches(m1.fp, "restore inside a level-2 segment");
	restore_to(NULL, &m3, "restore inside a compacted segment after the rotation");
	expect_matches(m3.fp, "restore after the rotation");
	restore_to(NULL, &recent, "restore inside the small segments");
	expect_matches(recent.fp, "restore inside the small segments");
	restore_to(NULL, NULL, "restore to latest");
	expect_matches(end.fp, "restore to latest");
	/* the other region alone */
	restore_to("s3", &m2, "restore from S3 inside a compacted segment");
	expect_matches(m2.fp, "restore from S3 inside a compacted segment");
}

/* Killed between the upload of a compacted segment and the deletion of the small ones. */
static void test_kill_before_delete(void **state)
{
	static moment mid, end;
	char pid[64], logf[4400];
	(void)state;
	snprintf(logf, sizeof logf, "%s/follow-kill.log", dir);
	snprintf(conf, sizeof conf, "%s/drbackup-kill.conf", dir);
	writer_start();
	follower_start(pid, sizeof pid, logf, "compact-die-before-delete");
	assert_true(wait_for_text(logf, "following", 10));
	sleep(3);
	capture(&mid); /* shipped well before the first deletion is due */
	assert_true(wait_for_text(logf, "fault injected", 60));
	assert_true(gone(pid, 10));
	writer_stop();
	/* both are there: the chain the loader plans from holds the compacted one only */
	census c = count("primary");
	assert_true(c.overlapping > 0);
	expect(run("list"), 0, "list after the kill");
	if (strstr(out, "GAP")) {
		print_error("%s\n", out);
		fail();
	}
	restore_to(NULL, &mid, "restore after a kill between upload and deletion");
	expect_matches(mid.fp, "restore after a kill between upload and deletion");
	restore_to(NULL, NULL, "restore to latest after the kill");
	/* as if the deletion had been done in the posix region only: heal must not copy the small
	 * segment back from the other one */
	assert_true(c.covered.file[0]);
	drbt_sh(NULL, 0, NULL, 0, "rm -f %s/r1/" HOST "/binlog/*/%s-%012llu.json %s/r1/" HOST
				  "/binlog/*/%s-%012llu.drb %s/spool-kill/heal-last",
		dir, c.covered.file, c.covered.start, dir, c.covered.file, c.covered.start, dir);
	/* the next run cleans up (in both regions) and ships the rest */
	expect(run("-v binlog"), 0, "binlog after the kill");
	drbt_contains(err, "small ones deleted", err);
	if (strstr(err, "healed")) {
		print_error("heal copied a replaced segment back:\n%.4000s\n", err);
		fail();
	}
	capture(&end);
	census a = count("primary"), b = count("s3");
	/* that run may have compacted a window that ended meanwhile: its grace, then deleted */
	for (int i = 0; i < 4 && (a.overlapping || b.overlapping); i++) {
		sleep(3);
		expect(run("binlog"), 0, "binlog after the kill, again");
		a = count("primary");
		b = count("s3");
	}
	assert_int_equal(a.overlapping, 0);
	assert_int_equal(b.overlapping, 0);
	restore_to("s3", NULL, "restore from S3 after the clean-up");
	expect_matches(end.fp, "restore from S3 after the clean-up");
	restore_to("primary", &mid, "restore after the clean-up");
	expect_matches(mid.fp, "restore after the clean-up");
	/* idle: a run with nothing new writes nothing (the clock two windows on, so that no
	 * window ends between the two looks) */
	char clock[4400];
	snprintf(clock, sizeof clock, "%s/clock", dir);
	drbt_write_file(clock, "120\n", 0600);
	setenv("DRB_TEST_CLOCK_FILE", clock, 1);
	expect(run("binlog"), 0, "binlog again");
	char o1[256], o2[256];
	drbt_sh(o1, sizeof o1, NULL, 0, "find %s/r1 -type f | wc -l; cat %s/spool-kill/compact-record.jsonl "
					 "| md5sum",
		dir, dir);
	expect(run("binlog"), 0, "binlog idle");
	drbt_sh(o2, sizeof o2, NULL, 0, "find %s/r1 -type f | wc -l; cat %s/spool-kill/compact-record.jsonl "
					 "| md5sum",
		dir, dir);
	unsetenv("DRB_TEST_CLOCK_FILE");
	assert_string_equal(o1, o2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_follow_and_compact),
		cmocka_unit_test(test_kill_before_delete),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
