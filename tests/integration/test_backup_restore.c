/* The core loop against real servers: full backups and binlog shipping under a live write load,
 * point-in-time restores checked against table checksums taken at those moments, the refusals,
 * two regions with one down, gaps, killed dumps, --follow across a server restart, and
 * restore-test. One source server, one target server, two posix repositories. */
#include "config.h"

#include <jansson.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/harness.h"
#include "tests/integration/test_s3_support.h"

static char *dir;
static drbt_mariadb src, dst;
static char conf[4300], repos[9000];
static char out[1 << 18], err[1 << 18];
static const char *practices[] = {"practice_a", "practice_b", "practice_c"};
#define N_PRACTICES 3

/* ------------------------------------------------------------------ helpers */

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

static void fingerprint(drbt_mariadb *m, char *buf, size_t len, const char *only)
{
	drbt_fingerprint(m, buf, len, only);
}

/* Start cmd in the background; its pid, without the newline. */
static void background(char *pid, size_t len, const char *cmd)
{
	drbt_sh(pid, len, NULL, 0, "%s & echo $!", cmd);
	pid[strcspn(pid, "\n")] = 0;
}

static void wait_gone(const char *pid)
{
	drbt_sh(NULL, 0, NULL, 0, "while kill -0 %s 2>/dev/null; do sleep 0.05; done", pid);
}

/* Until a background drbackup's log says what it is doing (10 s at most). */
static void wait_for_line(const char *logf, const char *what)
{
	for (int i = 0; i < 200; i++) {
		char *l = drbt_read_file(logf, NULL);
		bool seen = l && strstr(l, what);
		free(l);
		if (seen)
			return;
		usleep(50000);
	}
}

static void gtid_pos(drbt_mariadb *m, char *buf, size_t len)
{
	drbt_sql(m, buf, len, "SELECT @@gtid_binlog_pos");
}

/* ------------------------------------------------------------------ the writer */

typedef struct writer {
	pthread_t t;
	volatile int stop, pause, paused;
	volatile long n;
	int cross_db; /* one transaction touching every practice */
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
	char sql[2048];
	while (!wr->stop) {
		if (wr->pause) {
			wr->paused = 1;
			usleep(2000);
			continue;
		}
		wr->paused = 0;
		long n = ++wr->n;
		if (wr->cross_db) {
			mysql_query(m, "BEGIN");
			for (int p = 0; p < N_PRACTICES; p++) {
				snprintf(sql, sizeof sql, "INSERT INTO %s.tick VALUES (%ld)", practices[p], n);
				mysql_query(m, sql);
			}
			mysql_query(m, "COMMIT");
		} else {
			const char *p = practices[n % N_PRACTICES];
			snprintf(sql, sizeof sql,
				 "INSERT INTO %s.patient_data (fname, lname, dob, ss, notes, photo, flags, "
				 "balance, meta) VALUES ('Zoë%ld', 'O''Brien\\\\%ld', '1980-02-29', "
				 "'123-45-%04ld', 'line1\\nline2;\\tend %ld', UNHEX(SHA2('%ld', 256)), b'1010', "
				 "%ld.25, JSON_OBJECT('n', %ld))",
				 p, n, n, n % 10000, n, n, n, n);
			if (mysql_query(m, sql) != 0)
				fprintf(stderr, "writer: %s\n", mysql_error(m));
			if (n % 7 == 0) {
				snprintf(sql, sizeof sql,
					 "UPDATE %s.patient_data SET notes = CONCAT(notes, '+') WHERE pid = %ld",
					 p, n / 2 + 1);
				mysql_query(m, sql);
			}
		}
		usleep(1000);
	}
	mysql_close(m);
	return NULL;
}

static void writer_start(int cross_db)
{
	memset(&w, 0, sizeof w);
	w.cross_db = cross_db;
	pthread_create(&w.t, NULL, write_loop, &w);
	while (w.n < 20)
		usleep(10000);
}

static void writer_stop(void)
{
	w.stop = 1;
	pthread_join(w.t, NULL);
}

static void writer_pause(void)
{
	w.pause = 1;
	while (!w.paused)
		usleep(1000);
}

static void writer_resume(void)
{
	w.pause = 0;
}

/* A moment to restore to: writes paused over a whole second S; returns S (UTC). */
typedef struct moment {
	time_t t;
	char when[32];
	char gtid[256];
	char fp[1 << 15];
} moment;

static void capture(moment *mo)
{
	struct timeval tv;
	writer_pause();
	gettimeofday(&tv, NULL);
	usleep((useconds_t)(1000000 - tv.tv_usec) + 20000); /* into the next second */
	mo->t = time(NULL);
	struct tm tm;
	gmtime_r(&mo->t, &tm);
	strftime(mo->when, sizeof mo->when, "%Y-%m-%d %H:%M:%S", &tm);
	gtid_pos(&src, mo->gtid, sizeof mo->gtid);
	fingerprint(&src, mo->fp, sizeof mo->fp, NULL);
	while (time(NULL) <= mo->t) /* nothing happens during second t */
		usleep(20000);
	writer_resume();
}

static void drop_target_practices(void)
{
	for (int p = 0; p < N_PRACTICES; p++)
		drbt_sql(&dst, NULL, 0, "DROP DATABASE IF EXISTS %s", practices[p]);
}

static void expect_target_matches(const char *fp, const char *what)
{
	char got[1 << 15];
	fingerprint(&dst, got, sizeof got, NULL);
	if (strcmp(got, fp) != 0) {
		print_error("%s: the restored data differs\nexpected:\n%s\ngot:\n%s\n", what, fp, got);
		fail();
	}
}

static int restore_to(const char *to, const char *extra)
{
	return run("restore --to '%s' --target-socket %s --target-user root --force %s", to,
		   dst.socket, extra ? extra : "");
}

/* ------------------------------------------------------------------ setup */

static const char schema[] =
	"CREATE TABLE patient_data (pid INT PRIMARY KEY AUTO_INCREMENT, fname VARCHAR(64), "
	"lname VARCHAR(64) CHARACTER SET latin1, dob DATE, ss CHAR(11), notes TEXT, photo LONGBLOB, "
	"flags BIT(8), balance DECIMAL(10,2), meta JSON, updated TIMESTAMP NOT NULL DEFAULT "
	"'2026-01-01 00:00:00', full_name VARCHAR(130) AS (CONCAT(fname, ' ', lname)) VIRTUAL, "
	"secret_note VARCHAR(20) INVISIBLE DEFAULT 'hidden', INDEX (lname)) ENGINE=InnoDB;\n"
	"CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, pid INT, action VARCHAR(20));\n"
	"CREATE TABLE tick (n BIGINT PRIMARY KEY);\n"
	"CREATE TABLE forms (id INT PRIMARY KEY, pid INT, body MEDIUMBLOB, FOREIGN KEY (pid) "
	"REFERENCES patient_data (pid));\n"
	"CREATE TRIGGER patient_ins AFTER INSERT ON patient_data FOR EACH ROW INSERT INTO audit "
	"(pid, action) VALUES (NEW.pid, 'insert');\n"
	"CREATE VIEW v_names AS SELECT pid, full_name FROM patient_data;\n"
	"CREATE VIEW v_count AS SELECT COUNT(*) AS c FROM v_names;\n"
	"CREATE SEQUENCE encounter_seq START WITH 100;\n"
	"DELIMITER ;;\n"
	"CREATE PROCEDURE add_note(IN p INT, IN t TEXT) BEGIN UPDATE patient_data SET notes = "
	"CONCAT(IFNULL(notes, ''), t) WHERE pid = p; END;;\n"
	"CREATE FUNCTION initials(f VARCHAR(64), l VARCHAR(64)) RETURNS VARCHAR(4) DETERMINISTIC "
	"RETURN CONCAT(LEFT(f, 1), LEFT(l, 1));;\n"
	"DELIMITER ;\n"
	"INSERT INTO patient_data (fname, lname, dob, ss, notes, photo, flags, balance, meta) "
	"VALUES ('Ada', 'Lovelace', '1815-12-10', '000-00-0001', 'first \\\\ note ''quoted'' "
	"\\0 nul', 0x00FF10, b'00000001', -1.50, '{\"a\": [1, 2]}'), ('李', 'Wang', NULL, NULL, "
	"NULL, '', NULL, 0, NULL), ('Zero', 'Date', '0000-00-00', 'x', REPEAT('long ', 2000), "
	"RANDOM_BYTES(1024), b'11111111', 99999999.99, '[]');\n"
	"INSERT INTO forms VALUES (1, 1, RANDOM_BYTES(4000)), (2, 3, NULL);\n"
	"DO NEXTVAL(encounter_seq);\n";

static int setup(void **state)
{
	(void)state;
	dir = drbt_tmpdir("br");
	if (!dir || drbt_keygen(dir) != 0 || drbt_mariadb_start(&src, "--sync-binlog=1") != 0 ||
	    drbt_mariadb_start(&dst, NULL) != 0)
		return -1;
	char p[4300];
	snprintf(p, sizeof p, "%s/r1", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/r2", dir);
	mkdir(p, 0700);
	snprintf(repos, sizeof repos,
		 "repo primary {\n type = \"posix\"\n path = \"%s/r1\"\n}\n"
		 "repo dr {\n type = \"posix\"\n path = \"%s/r2\"\n}\n",
		 dir, dir);
	snprintf(conf, sizeof conf, "%s/drbackup.conf", dir);
	drbt_write_config(conf, dir, &src, repos, "binlog { segment_seconds = 1 }\n");
	for (int i = 0; i < N_PRACTICES; i++) {
		char path[4300];
		snprintf(path, sizeof path, "%s/schema.sql", src.dir);
		char *text = malloc(sizeof schema + 200);
		snprintf(text, sizeof schema + 200, "CREATE DATABASE %s CHARACTER SET utf8mb4;\nUSE %s;\n%s", practices[i],
			 practices[i], schema);
		drbt_write_file(path, text, 0600);
		free(text);
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

/* ------------------------------------------------------------------ the tests */

static moment m1, m2, m3;

static void test_full_and_binlog_under_load(void **state)
{
	(void)state;
	writer_start(0);
	expect(run("full --jobs 2"), 0, "full under load");
	contains(err, "full backup ");
	expect(run("binlog"), 0, "binlog");
	capture(&m1);
	/* DDL between the points */
	writer_pause();
	drbt_sql(&src, NULL, 0,
		 "USE practice_a; ALTER TABLE patient_data ADD COLUMN allergy VARCHAR(40) DEFAULT "
		 "'none'; USE practice_b;"
		 "CREATE TABLE practice_b.lists (id INT PRIMARY KEY, pid INT, title VARCHAR(80));"
		 "INSERT INTO practice_b.lists VALUES (1, 1, 'penicillin'), (2, 2, 'latex');"
		 "CALL practice_a.add_note(1, ' called');");
	writer_resume();
	expect(run("binlog"), 0, "binlog after DDL");
	usleep(300000);
	expect(run("binlog"), 0, "binlog again");
	capture(&m2);
	drbt_sql(&src, NULL, 0, "DROP TABLE practice_c.forms; FLUSH BINARY LOGS;");
	usleep(300000);
	writer_stop();
	expect(run("binlog"), 0, "last binlog");
	/* m3: everything, after the writer stopped */
	moment *m = &m3;
	m->t = 0;
	gtid_pos(&src, m->gtid, sizeof m->gtid);
	fingerprint(&src, m->fp, sizeof m->fp, NULL);
	/* the catalog says so too */
	expect(run("--json list"), 0, "list");
	contains(out, "\"full_backups\"");
	contains(out, "\"recoverable\"");
	char want[300];
	snprintf(want, sizeof want, "\"end_gtid\": \"%s\"", m3.gtid);
	contains(out, want);
}

static void test_restore_to_points_in_time(void **state)
{
	(void)state;
	drop_target_practices();
	expect(restore_to(m1.when, NULL), 0, "restore to the first moment");
	expect_target_matches(m1.fp, "restore --to m1 (time)");
	expect(restore_to(m2.gtid, NULL), 0, "restore to the second moment's GTID");
	expect_target_matches(m2.fp, "restore --to m2 (GTID)");
	expect(restore_to(m2.when, NULL), 0, "restore to the second moment by time");
	expect_target_matches(m2.fp, "restore --to m2 (time)");
	expect(restore_to("latest", NULL), 0, "restore to latest");
	expect_target_matches(m3.fp, "restore --to latest");
	contains(out, "point reached");
}

static void test_dry_run_changes_nothing(void **state)
{
	char before[1 << 15], after[1 << 15];
	(void)state;
	drbt_sql(&dst, NULL, 0, "INSERT INTO practice_a.tick VALUES (999999)");
	fingerprint(&dst, before, sizeof before, NULL);
	expect(run("restore --to latest --dry-run --target-socket %s", dst.socket), 0, "dry run");
	contains(out, "plan: restore");
	contains(out, "full backup");
	fingerprint(&dst, after, sizeof after, NULL);
	assert_string_equal(before, after);
	expect(run("--json restore --to latest --dry-run"), 0, "dry run json");
	contains(out, "\"dry_run\": true");
}

static void test_single_practice(void **state)
{
	char fp_b_before[1 << 15], fp_b_after[1 << 15], one[1 << 15], want[1 << 15];
	(void)state;
	drop_target_practices();
	/* practice_b exists on the target with other content; it must stay as it is */
	drbt_sql(&dst, NULL, 0, "CREATE DATABASE practice_b; CREATE TABLE practice_b.other (x INT); "
				"INSERT INTO practice_b.other VALUES (7)");
	fingerprint(&dst, fp_b_before, sizeof fp_b_before, "practice_b");
	expect(run("restore --to latest --db practice_a --target-socket %s --target-user root",
		   dst.socket),
	       0, "single practice");
	fingerprint(&dst, fp_b_after, sizeof fp_b_after, "practice_b");
	assert_string_equal(fp_b_before, fp_b_after);
	char c[64];
	drbt_sql(&dst, c, sizeof c,
		 "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'practice_c'");
	assert_string_equal(c, "0"); /* not created */
	fingerprint(&dst, one, sizeof one, "practice_a");
	fingerprint(&src, want, sizeof want, "practice_a");
	assert_string_equal(one, want);
	drbt_sql(&dst, NULL, 0, "DROP DATABASE practice_b");
}

static void test_refusals(void **state)
{
	(void)state;
	/* a non-empty target without --force */
	expect(run("restore --to latest --target-socket %s --target-user root", dst.socket), 1,
	       "non-empty target");
	contains(err, "only with --force");
	/* beyond the end of coverage */
	expect(run("restore --to '2099-01-01 00:00:00' --target-socket %s", dst.socket), 1,
	       "future target");
	contains(err, "beyond the end of coverage");
	contains(err, "the last shipped event is");
	/* before the first backup */
	expect(run("restore --to '2001-01-01 00:00:00' --target-socket %s", dst.socket), 1,
	       "past target");
	contains(err, "no full backup");
	/* a bad --to */
	expect(run("restore --to yesterday"), 2, "bad --to");
	/* without a secret key */
	char nokey[4300], text[20000];
	snprintf(nokey, sizeof nokey, "%s/nokey.conf", dir);
	snprintf(text, sizeof text,
		 "host_id = \"testhost\"\nspool_dir = \"%s/spool\"\nencryption {\n public_keys = "
		 "{\"%s/dr.pub\"}\n}\n%s",
		 dir, dir, repos);
	drbt_write_file(nokey, text, 0600);
	int rc = drbt_sh(out, sizeof out, err, sizeof err,
			 "%s -c %s restore --to latest --target-socket %s --force", drbt_bin(), nokey,
			 dst.socket);
	expect(rc, 2, "no secret key");
	contains(err, "secret_keys");
	/* with the wrong secret key: every object refuses to open, nothing is applied */
	char other[4300];
	snprintf(other, sizeof other, "%s/other", dir);
	mkdir(other, 0700);
	drbt_keygen(other);
	snprintf(text, sizeof text,
		 "host_id = \"testhost\"\nspool_dir = \"%s/spool\"\nencryption {\n public_keys = "
		 "{\"%s/dr.pub\"}\n secret_keys = {\"%s/dr.key\"}\n}\n%s%s",
		 dir, dir, other, repos, drbt_signing(dir, "testhost"));
	snprintf(nokey, sizeof nokey, "%s/wrongkey.conf", dir);
	drbt_write_file(nokey, text, 0600);
	char before[1 << 15], after[1 << 15];
	fingerprint(&dst, before, sizeof before, NULL);
	rc = drbt_sh(out, sizeof out, err, sizeof err,
		     "%s -c %s restore --to latest --target-socket %s --target-user root --force",
		     drbt_bin(), nokey, dst.socket);
	expect(rc, 1, "wrong key");
	contains(err, "is a recipient");
	contains(err, "nothing was restored");
	fingerprint(&dst, after, sizeof after, NULL);
	assert_string_equal(before, after);
}

static void test_damaged_object_falls_back_then_refuses(void **state)
{
	char seg[8192], path[9000];
	(void)state;
	/* damage one segment in the primary: the dr copy serves */
	drbt_sh(seg, sizeof seg, NULL, 0,
		"cd %s/r1 && ls testhost/binlog/*/*.drb | tail -1 | tr -d '\\n'", dir);
	assert_true(seg[0] != 0);
	snprintf(path, sizeof path, "%s/r1/%s", dir, seg);
	drbt_sh(NULL, 0, NULL, 0, "cp %s %s.good && printf 'X' | dd of=%s bs=1 seek=200 conv=notrunc "
				  "2>/dev/null",
		path, path, path);
	drop_target_practices();
	expect(restore_to("latest", NULL), 0, "restore with one damaged copy");
	contains(err, "trying the next repository");
	expect_target_matches(m3.fp, "restore from the intact copy");
	/* the same damage in both: refused, naming the object, and the target untouched */
	char path2[9000], before[1 << 15], after[1 << 15];
	snprintf(path2, sizeof path2, "%s/r2/%s", dir, seg);
	drbt_sh(NULL, 0, NULL, 0, "cp %s %s.good && cp %s %s", path2, path2, path, path2);
	fingerprint(&dst, before, sizeof before, NULL);
	expect(restore_to("latest", NULL), 1, "restore with no intact copy");
	contains(err, seg);
	contains(err, "nothing was restored");
	fingerprint(&dst, after, sizeof after, NULL);
	assert_string_equal(before, after);
	drbt_sh(NULL, 0, NULL, 0, "mv %s.good %s && mv %s.good %s", path, path, path2, path2);
}

static void test_second_region_alone(void **state)
{
	(void)state;
	drop_target_practices();
	/* the primary is gone entirely */
	drbt_sh(NULL, 0, NULL, 0, "mv %s/r1 %s/r1.gone", dir, dir);
	int rc = run("--repo dr restore --to latest --target-socket %s --target-user root --force",
		     dst.socket);
	drbt_sh(NULL, 0, NULL, 0, "mv %s/r1.gone %s/r1", dir, dir);
	expect(rc, 0, "restore from dr alone");
	contains(out, "repository dr");
	expect_target_matches(m3.fp, "restore from the second region");
}

static int count_objects(void)
{
	char n[64];
	drbt_sh(n, sizeof n, NULL, 0, "find %s/r1 %s/r2 -type f | wc -l", dir, dir);
	return atoi(n);
}

static void test_idle_cycles_create_nothing(void **state)
{
	(void)state;
	expect(run("binlog"), 0, "settle");
	int before = count_objects();
	for (int i = 0; i < 3; i++)
		expect(run("binlog"), 0, "idle binlog");
	contains(err, "nothing new to ship");
	assert_int_equal(count_objects(), before);
}

static void test_cross_db_snapshot_is_one_point(void **state)
{
	char id[64], a[64], b[64], c[64];
	(void)state;
	writer_start(1);
	expect(run("full --jobs 3"), 0, "full with 3 jobs under a cross-database writer");
	writer_stop();
	drbt_sh(id, sizeof id, NULL, 0, "ls %s/r1/testhost/full | tail -1 | tr -d '\\n'", dir);
	/* one coordinate in the manifest, and every practice at the same last transaction */
	char m[4300];
	snprintf(m, sizeof m, "%s/r1/testhost/full/%s/manifest.json", dir, id);
	char *text = drbt_read_file(m, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"binlog_file\""));
	assert_non_null(strstr(text, "\"jobs\": 3"));
	free(text);
	char gtid[300];
	drbt_sh(gtid, sizeof gtid, NULL, 0,
		"sed -n 's/.*\"gtid\": \"\\(.*\\)\".*/\\1/p' %s | head -1 | tr -d '\\n'", m);
	drop_target_practices();
	/* the backup alone: restore to its own snapshot */
	expect(restore_to(gtid, NULL), 0, "restore to the snapshot");
	drbt_sql(&dst, a, sizeof a, "SELECT IFNULL(MAX(n), 0) FROM practice_a.tick");
	drbt_sql(&dst, b, sizeof b, "SELECT IFNULL(MAX(n), 0) FROM practice_b.tick");
	drbt_sql(&dst, c, sizeof c, "SELECT IFNULL(MAX(n), 0) FROM practice_c.tick");
	if (strcmp(a, b) != 0 || strcmp(b, c) != 0) {
		print_error("last transaction differs: %s %s %s\n", a, b, c);
		fail();
	}
	assert_true(atol(a) > 0);
}

static void test_snapshot_skew_fails_without_manifest(void **state)
{
	char before[64], after[64];
	(void)state;
	drbt_sh(before, sizeof before, NULL, 0, "ls %s/r1/testhost/full/*/manifest.json | wc -l", dir);
	int rc = drbt_sh(out, sizeof out, err, sizeof err,
			 "DRBACKUP_FAULTS=snapshot-skew %s -c %s full --jobs 2", drbt_bin(), conf);
	expect(rc, 1, "skewed snapshots");
	contains(err, "different snapshots");
	drbt_sh(after, sizeof after, NULL, 0, "ls %s/r1/testhost/full/*/manifest.json | wc -l", dir);
	assert_string_equal(before, after);
	sleep(1); /* backup ids are seconds */
}

static void test_killed_dump_leaves_nothing(void **state)
{
	char before[64], after[64], cont[4300];
	(void)state;
	snprintf(cont, sizeof cont, "%s/spool/fault-continue", dir);
	drbt_sh(before, sizeof before, NULL, 0, "ls %s/r1/testhost/full/*/manifest.json | wc -l", dir);
	/* 1. the server dies in the middle: exit 1, one clear error, no manifest */
	char logf[4300];
	snprintf(logf, sizeof logf, "%s/killed.log", dir);
	char cmd[9000];
	snprintf(cmd, sizeof cmd, "DRBACKUP_FAULTS=full-wait-after-first %s -c %s full --jobs 1 >%s 2>&1",
		 drbt_bin(), conf, logf);
	char pidtxt[64];
	background(pidtxt, sizeof pidtxt, cmd);
	/* wait until it holds at the fault point, then kill the server under it */
	wait_for_line(logf, "fault: waiting");
	drbt_mariadb_kill(&src);
	drbt_write_file(cont, "", 0600);
	wait_gone(pidtxt);
	char *log = drbt_read_file(logf, NULL);
	assert_non_null(log);
	if (!strstr(log, "failed; nothing was recorded")) {
		print_error("log:\n%s\n", log);
		fail();
	}
	free(log);
	drbt_sh(after, sizeof after, NULL, 0, "ls %s/r1/testhost/full/*/manifest.json | wc -l", dir);
	assert_string_equal(before, after);
	assert_int_equal(drbt_mariadb_restart(&src, "--sync-binlog=1"), 0);
	/* 2. drbackup itself killed -9 mid-way: nothing listed as a backup */
	unlink(logf);
	background(pidtxt, sizeof pidtxt, cmd);
	wait_for_line(logf, "fault: waiting");
	drbt_sh(NULL, 0, NULL, 0, "kill -9 %s", pidtxt);
	wait_gone(pidtxt);
	unlink(cont);
	expect(run("--json list"), 0, "list after a killed backup");
	contains(out, "\"incomplete_backups\": [\n    \"");
	drbt_sh(after, sizeof after, NULL, 0, "ls %s/r1/testhost/full/*/manifest.json | wc -l", dir);
	assert_string_equal(before, after);
	/* 3. the next run starts clean */
	sleep(1);
	expect(run("full"), 0, "full after the failures");
}

static void test_degraded_then_healed(void **state)
{
	char down[4300], text[20000], c2[4300];
	(void)state;
	/* dr "down": its folder replaced by a file */
	snprintf(down, sizeof down, "%s/r2", dir);
	drbt_sh(NULL, 0, NULL, 0, "mv %s %s.away && touch %s", down, down, down);
	drbt_sql(&src, NULL, 0, "INSERT INTO practice_a.tick VALUES (424242); FLUSH BINARY LOGS");
	expect(run("full"), 3, "full with dr down");
	contains(err, "missing in dr");
	drbt_sql(&src, NULL, 0, "INSERT INTO practice_a.tick VALUES (424243)");
	expect(run("binlog"), 3, "binlog with dr down");
	/* dr back: the next run copies what it missed, before new work */
	drbt_sh(NULL, 0, NULL, 0, "rm %s && mv %s.away %s", down, down, down);
	expect(run("binlog"), 0, "binlog with dr back");
	contains(err, "healed");
	/* dr alone now holds everything: its listing has no missing copies */
	expect(run("--json --repo dr list"), 0, "list dr");
	char id[64];
	drbt_sh(id, sizeof id, NULL, 0, "ls %s/r1/testhost/full | tail -1 | tr -d '\\n'", dir);
	contains(out, id);
	snprintf(c2, sizeof c2, "%s/r2/testhost/full/%s/manifest.json", dir, id);
	assert_int_equal(access(c2, F_OK), 0);
	(void)text;
	drop_target_practices();
	expect(run("--repo dr restore --to latest --target-socket %s --target-user root --force",
		   dst.socket),
	       0, "restore from the healed region");
	char v[64];
	drbt_sql(&dst, v, sizeof v, "SELECT COUNT(*) FROM practice_a.tick WHERE n >= 424242");
	assert_string_equal(v, "2");
}

static void test_gap_is_reported_and_refused(void **state)
{
	(void)state;
	/* a closed file purged before anyone shipped it */
	drbt_sql(&src, NULL, 0,
		 "INSERT INTO practice_a.tick VALUES (515151); FLUSH BINARY LOGS; "
		 "INSERT INTO practice_a.tick VALUES (515152); FLUSH BINARY LOGS;");
	char last[256];
	drbt_sql(&src, last, sizeof last, "SHOW MASTER STATUS");
	char *tab = strchr(last, '\t');
	if (tab)
		*tab = 0;
	drbt_sql(&src, NULL, 0, "PURGE BINARY LOGS TO '%s'", last);
	expect(run("binlog"), 1, "binlog over a gap");
	contains(err, "GAP");
	contains(err, "purged");
	expect(run("list"), 0, "list shows the gap");
	contains(out, "GAP after");
	/* latest is past the gap from the newest full: refused, saying where the chain ends */
	expect(restore_to("latest", NULL), 1, "restore across the gap");
	contains(err, "gap in the binlog chain");
	contains(err, "the last point reachable");
	/* a new full backup covers it again */
	sleep(1);
	expect(run("full"), 0, "full after the gap");
	drbt_sql(&src, NULL, 0, "INSERT INTO practice_a.tick VALUES (515153)");
	expect(run("binlog"), 0, "binlog after the new full");
	drop_target_practices();
	expect(restore_to("latest", NULL), 0, "restore after the new full");
	char v[64];
	drbt_sql(&dst, v, sizeof v, "SELECT COUNT(*) FROM practice_a.tick WHERE n >= 515151");
	assert_string_equal(v, "3");
}

static void test_binlog_lock(void **state)
{
	char logf[4300];
	(void)state;
	snprintf(logf, sizeof logf, "%s/follow-lock.log", dir);
	char pid[64], cmd[9000];
	snprintf(cmd, sizeof cmd, "%s -c %s binlog --follow >%s 2>&1", drbt_bin(), conf, logf);
	background(pid, sizeof pid, cmd);
	wait_for_line(logf, "following");
	expect(run("binlog"), 0, "a second binlog while one follows");
	contains(err, "another drbackup binlog is running");
	drbt_sh(NULL, 0, NULL, 0, "kill -TERM %s", pid);
	wait_gone(pid);
}

static void test_follow_survives_restart(void **state)
{
	char logf[4300], pid[64], cmd[9000];
	(void)state;
	snprintf(logf, sizeof logf, "%s/follow.log", dir);
	snprintf(cmd, sizeof cmd, "%s -c %s binlog --follow >%s 2>&1", drbt_bin(), conf, logf);
	background(pid, sizeof pid, cmd);
	usleep(500000);
	drbt_sql(&src, NULL, 0, "INSERT INTO practice_c.tick VALUES (700001)");
	sleep(2);
	/* shipped within the segment time, without rotation */
	expect(run("--json list"), 0, "list while following");
	char gtid[256], want[300];
	gtid_pos(&src, gtid, sizeof gtid);
	snprintf(want, sizeof want, "\"end_gtid\": \"%s\"", gtid);
	contains(out, want);
	/* the server restarts under the follower */
	assert_int_equal(drbt_mariadb_restart(&src, "--sync-binlog=1"), 0);
	drbt_sql(&src, NULL, 0, "INSERT INTO practice_c.tick VALUES (700002)");
	sleep(2);
	drbt_sql(&src, NULL, 0, "INSERT INTO practice_c.tick VALUES (700003)");
	/* SIGTERM ships the last complete transaction before leaving */
	drbt_sh(NULL, 0, NULL, 0, "kill -TERM %s", pid);
	wait_gone(pid);
	char *log = drbt_read_file(logf, NULL);
	assert_non_null(log);
	contains(log, "stopping");
	free(log);
	drop_target_practices();
	expect(restore_to("latest", NULL), 0, "restore after following");
	char v[64];
	drbt_sql(&dst, v, sizeof v, "SELECT COUNT(*) FROM practice_c.tick WHERE n >= 700001");
	assert_string_equal(v, "3");
}

static void test_restore_test_command(void **state)
{
	(void)state;
	expect(run("restore-test"), 0, "restore-test");
	contains(err, "restore-test passed");
	expect(run("list"), 0, "list shows the restore-test");
	contains(out, "last restore-test:");
	contains(out, "passed");
	char n[64];
	drbt_sh(n, sizeof n, NULL, 0, "ls %s/r1/testhost/restore-tests/*.json %s/r2/testhost/restore-tests/*.json | wc -l",
		dir, dir);
	assert_int_equal(atoi(n), 2);
	/* a damaged newest dump: the test fails, records it, exits 1 */
	char obj[8192];
	drbt_sh(obj, sizeof obj, NULL, 0,
		"cd %s && for r in r1 r2; do f=$(ls $r/testhost/full/*/practice_a.sql.drb | tail -1); "
		"cp $f $f.good; printf 'Y' | dd of=$f bs=1 seek=300 conv=notrunc 2>/dev/null; done",
		dir);
	expect(run("restore-test"), 1, "restore-test on damage");
	contains(err, "restore-test of testhost failed");
	drbt_sh(NULL, 0, NULL, 0,
		"cd %s && for f in r1/testhost/full/*/*.good r2/testhost/full/*/*.good; do mv $f "
		"${f%%.good}; done",
		dir);
	expect(run("list"), 0, "list shows the failure");
	contains(out, "FAILED");
}

/* Anyone with the public key can seal a dump: a restore runs only what the dumper writes. */
static void test_forged_dump_is_refused(void **state)
{
	char id[64], mpath[4300], text_path[4300], obj[4300], before[256], after[256];
	(void)state;
	drbt_sh(id, sizeof id, NULL, 0, "ls %s/r1/testhost/full | tail -1 | tr -d '\\n'", dir);
	snprintf(mpath, sizeof mpath, "%s/r1/testhost/full/%s/manifest.json", dir, id);
	json_t *m = json_load_file(mpath, JSON_DISABLE_EOF_CHECK, NULL); /* before its signature */
	assert_non_null(m);
	/* a "dump" of practice_a that reaches for the server's settings */
	snprintf(text_path, sizeof text_path, "%s/forged.sql", dir);
	drbt_write_file(text_path,
			"CREATE DATABASE IF NOT EXISTS `practice_a`;\nUSE `practice_a`;\n"
			"SET GLOBAL general_log_file = '/tmp/drbackup-forged.log';\n"
			"CREATE TABLE `t` (a int);\n",
			0600);
	/* newer than every real backup, and not in the future (those are ignored) */
	char fid[32];
	time_t soon = time(NULL) + 60;
	strftime(fid, sizeof fid, "%Y%m%dT%H%M%SZ", gmtime(&soon));
	assert_int_equal(run("repo put testhost/full/%s/practice_a.sql.drb < %s", fid, text_path), 0);
	snprintf(obj, sizeof obj, "%s/r1/testhost/full/%s/practice_a.sql.drb", dir, fid);
	char sha[128];
	drbt_sh(sha, sizeof sha, NULL, 0, "sha256sum %s | cut -c1-64 | tr -d '\\n'", obj);
	char size[64];
	drbt_sh(size, sizeof size, NULL, 0, "stat -c %%s %s | tr -d '\\n'", obj);
	json_object_set_new(m, "backup_id", json_string(fid));
	json_t *dbs = json_array();
	json_array_append_new(dbs, json_pack("{s:s, s:s, s:I, s:I, s:s, s:o, s:I, s:I}", "name",
					     "practice_a", "object", "practice_a.sql.drb",
					     "plain_bytes", (json_int_t)100, "stored_bytes",
					     (json_int_t)atoll(size), "sha256", sha, "tables", json_object(),
					     "rows", (json_int_t)0, "millis", (json_int_t)1));
	json_object_set_new(m, "databases", dbs);
	for (int r = 1; r <= 2; r++) {
		char p[4300];
		snprintf(p, sizeof p, "%s/r%d/testhost/full/%s/manifest.json", dir, r, fid);
		assert_int_equal(json_dump_file(m, p, JSON_SORT_KEYS), 0);
	}
	json_decref(m);
	drbt_sql(&dst, before, sizeof before, "SELECT @@general_log_file");
	/* the forged manifest carries no signature: planning ignores it, and even with
	 * --allow-unsigned (as for backups from before signing) the loader's fence refuses it */
	expect(run("restore --to latest --db practice_a --target-socket %s --target-user root --force "
		   "--dry-run",
		   dst.socket),
	       0, "a forged manifest is not planned from");
	contains(err, "has no signature");
	expect(run("restore --to latest --db practice_a --target-socket %s --target-user root --force "
		   "--allow-unsigned",
		   dst.socket),
	       1, "a forged dump");
	contains(err, "never writes");
	contains(err, "SET GLOBAL");
	drbt_sql(&dst, after, sizeof after, "SELECT @@general_log_file");
	assert_string_equal(before, after);
	drbt_sh(NULL, 0, NULL, 0, "rm -rf %s/r1/testhost/full/%s %s/r2/testhost/full/%s", dir, fid,
		dir, fid);
}

/* Two S3 regions (two servers) written in the same pass; one dies mid-way and heals. */
static void test_two_s3_regions(void **state)
{
	/* two gateways of one Ceph RGW cluster, one bucket each: killing one leaves the other */
	static s3t_rgw g;
	char s3conf[4300], text[20000], saved[4300];
	(void)state;
	assert_int_equal(s3t_rgw_start(&g, "ehr-east ehr-west"), 0);
	snprintf(text, sizeof text,
		 "host_id = \"s3host\"\nspool_dir = \"%s/spool-s3\"\n"
		 "database {\n socket = \"%s\"\n user = \"root\"\n}\n"
		 "encryption {\n public_keys = {\"%s/dr.pub\"}\n secret_keys = {\"%s/dr.key\"}\n}\n"
		 "repo east {\n type = \"s3\"\n endpoint = \"%s\"\n bucket = \"ehr-east\"\n"
		 " prefix = \"drbackup\"\n access_key_id = \"%s\"\n secret_access_key_file = \"%s\"\n"
		 " retries = 1\n timeout = 5\n}\n"
		 "repo west {\n type = \"s3\"\n endpoint = \"%s\"\n bucket = \"ehr-west\"\n"
		 " prefix = \"drbackup\"\n access_key_id = \"%s\"\n secret_access_key_file = \"%s\"\n"
		 " retries = 1\n timeout = 5\n}\n%s",
		 dir, src.socket, dir, dir, g.endpoint[0], g.access_key, g.secret_file, g.endpoint[1],
		 g.access_key, g.secret_file, drbt_signing(dir, "s3host"));
	snprintf(s3conf, sizeof s3conf, "%s/s3.conf", dir);
	drbt_write_file(s3conf, text, 0600);
	snprintf(saved, sizeof saved, "%s", conf);
	snprintf(conf, sizeof conf, "%s", s3conf);
	/* both regions in one pass */
	expect(run("full"), 0, "full to two S3 regions");
	drbt_sql(&src, NULL, 0, "INSERT INTO practice_b.tick VALUES (880001)");
	expect(run("binlog"), 0, "binlog to two S3 regions");
	/* west goes down: exit 3, and east still gets everything */
	s3t_rgw_kill(&g, 1);
	drbt_sql(&src, NULL, 0, "INSERT INTO practice_b.tick VALUES (880002)");
	expect(run("binlog"), 3, "binlog with west down");
	contains(err, "west");
	/* west is back: the next run copies what it missed before new work */
	assert_int_equal(s3t_rgw_restart(&g, 1), 0);
	drbt_sql(&src, NULL, 0, "INSERT INTO practice_b.tick VALUES (880003)");
	expect(run("binlog"), 0, "binlog with west back");
	contains(err, "healed");
	/* west alone restores everything */
	s3t_rgw_kill(&g, 0);
	drop_target_practices();
	expect(run("--repo west restore --to latest --target-socket %s --target-user root --force",
		   dst.socket),
	       0, "restore from the west region alone");
	char v[64];
	drbt_sql(&dst, v, sizeof v, "SELECT COUNT(*) FROM practice_b.tick WHERE n >= 880001");
	assert_string_equal(v, "3");
	snprintf(conf, sizeof conf, "%s", saved);
	s3t_rgw_stop(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_and_binlog_under_load),
		cmocka_unit_test(test_restore_to_points_in_time),
		cmocka_unit_test(test_dry_run_changes_nothing),
		cmocka_unit_test(test_single_practice),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_damaged_object_falls_back_then_refuses),
		cmocka_unit_test(test_second_region_alone),
		cmocka_unit_test(test_idle_cycles_create_nothing),
		cmocka_unit_test(test_cross_db_snapshot_is_one_point),
		cmocka_unit_test(test_snapshot_skew_fails_without_manifest),
		cmocka_unit_test(test_killed_dump_leaves_nothing),
		cmocka_unit_test(test_degraded_then_healed),
		cmocka_unit_test(test_gap_is_reported_and_refused),
		cmocka_unit_test(test_binlog_lock),
		cmocka_unit_test(test_follow_survives_restart),
		cmocka_unit_test(test_restore_test_command),
		cmocka_unit_test(test_forged_dump_is_refused),
		cmocka_unit_test(test_two_s3_regions),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
