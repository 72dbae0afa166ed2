/* Point-in-time restore on data shaped like a busy practice's: binlog segments of several MB
 * (BLOB and long TEXT rows), and targets inside segments (by time, by GTID, one practice, into a
 * binlogging gtid_strict_mode target, from S3), at an idle second after a segment's last write
 * but before it was shipped, and just before a gap. Each restore is compared with CHECKSUM
 * TABLE ... EXTENDED taken at that moment. Then what happens when the newest full backup is
 * damaged everywhere, when the primary repository lags, when names continue but GTIDs do not,
 * and what restore-test proves. The fixture is made once; the restores reuse it. */
#include "config.h"

#include <mysql.h>
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

#define SEGMENT_MIN (4u << 20) /* the fixture's segments are at least this big */

static char *dir;
static drbt_mariadb src, dst, strict;
static s3t_rgw s3; /* a real S3 (Ceph RGW), which checks signatures and part sizes */
static char conf[4300];
static char out[1 << 18], err[1 << 18];
static MYSQL *writer;

typedef struct moment {
	time_t t;
	char when[32];
	char gtid[256];
	char fp[1 << 15];
	char fp_a[1 << 14]; /* practice_a alone */
} moment;

/* inside S1 (time, GTID), an idle second after S1's last write, inside S2 (one practice,
 * strict target), an idle second just before a gap, and the end */
static moment in_s1, gtid_s1, idle_s1, in_s2, before_gap, end_s3;
static char f1_id[32], f2_id[32];
static int n_before_gap; /* segment descriptions up to S3, before the gap */

/* ------------------------------------------------------------------ helpers */

static int run_with(const char *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_with(const char *cfg, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s %s", drbt_bin(), cfg, cmd);
	if (getenv("DRBT_VERBOSE"))
		fprintf(stderr, "drbackup %s -> %d\n%s%s", cmd, rc, out, err);
	return rc;
}
#define run(...) run_with(conf, __VA_ARGS__)

#define expect(got, want, what) drbt_expect(got, want, what, out, err)

#define contains(text, what) drbt_contains(text, what, err)

static void sql(const char *q)
{
	if (mysql_query(writer, q) != 0) {
		print_error("writer: %s\n", mysql_error(writer));
		fail();
	}
}

/* n rows into practice p spread over about secs seconds: 60 KB of random bytes (as a scanned
 * document), 20 KB of text, and every fifth row an update of an older one. */
static void write_rows(const char *p, int n, double secs)
{
	char q[1024];
	for (int i = 0; i < n; i++) {
		/* RANDOM_BYTES tops out at 1024: build the 60 KB document in the server */
		snprintf(q, sizeof q,
			 "INSERT INTO %s.documents (pid, title, notes, scan) SELECT %d, 'Consult note "
			 "— Zoë %d', REPEAT('Patient reports improvement; continue plan. ', 450), "
			 "GROUP_CONCAT(RANDOM_BYTES(1024) SEPARATOR '') FROM %s.seq_1_to_60",
			 p, i % 50, i, p);
		sql(q);
		if (i % 5 == 4) {
			snprintf(q, sizeof q,
				 "UPDATE %s.patients SET visits = visits + 1, notes = CONCAT(notes, "
				 "' seen') WHERE pid = %d",
				 p, i % 20 + 1);
			sql(q);
		}
		usleep((useconds_t)(secs * 1e6 / n));
	}
}

/* Writes stopped over a whole second S: the state restored "--to S". */
static void capture(moment *m)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	usleep((useconds_t)(1000000 - tv.tv_usec) + 20000);
	m->t = time(NULL);
	strftime(m->when, sizeof m->when, "%Y-%m-%d %H:%M:%S", gmtime(&m->t));
	drbt_sql(&src, m->gtid, sizeof m->gtid, "SELECT @@gtid_binlog_pos");
	m->gtid[strcspn(m->gtid, "\n")] = 0;
	drbt_fingerprint(&src, m->fp, sizeof m->fp, NULL);
	drbt_fingerprint(&src, m->fp_a, sizeof m->fp_a, "practice_a");
	while (time(NULL) <= m->t)
		usleep(20000);
}

static void expect_matches(drbt_mariadb *m, const char *want, const char *only, const char *what)
{
	static char got[1 << 15];
	drbt_fingerprint(m, got, sizeof got, only);
	if (strcmp(got, want) != 0) {
		print_error("%s: the restored data differs\nexpected:\n%.2000s\ngot:\n%.2000s\n", what,
			    want, got);
		fail();
	}
}

static void drop_practices(drbt_mariadb *m)
{
	drbt_sql(m, NULL, 0, "DROP DATABASE IF EXISTS practice_a; DROP DATABASE IF EXISTS practice_b");
}

static int restore_to(const char *cfg, const char *to, drbt_mariadb *target, const char *extra)
{
	return run_with(cfg, "restore --to '%s' --target-socket %s --target-user root --force %s", to,
			target->socket, extra ? extra : "");
}

/* The newest binlog segment object of the fixture, and its size. */
static long long newest_segment(char *path, size_t len)
{
	char line[4300];
	drbt_sh(line, sizeof line, NULL, 0,
		"ls %s/r1/pitrhost/binlog/*/*.drb | sort | tail -1 | tr -d '\\n'", dir);
	snprintf(path, len, "%s", line);
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* A copy of both posix repositories and a configuration reading only them, for tests that
 * damage or remove what they hold. */
static void copy_repos(const char *tag, char *cfg, size_t len)
{
	char repos[9000];
	drbt_sh(NULL, 0, NULL, 0, "rm -rf %s/%s-1 %s/%s-2; cp -a %s/r1 %s/%s-1; cp -a %s/r2 %s/%s-2",
		dir, tag, dir, tag, dir, dir, tag, dir, dir, tag);
	snprintf(repos, sizeof repos,
		 "repo primary {\n type = \"posix\"\n path = \"%s/%s-1\"\n}\n"
		 "repo dr {\n type = \"posix\"\n path = \"%s/%s-2\"\n}\n",
		 dir, tag, dir, tag);
	snprintf(cfg, len, "%s/%s.conf", dir, tag);
	char text[16384];
	snprintf(text, sizeof text,
		 "host_id = \"pitrhost\"\nspool_dir = \"%s/spool-%s\"\n"
		 "database {\n socket = \"%s\"\n user = \"root\"\n}\n"
		 "encryption {\n public_keys = {\"%s/dr.pub\"}\n secret_keys = {\"%s/dr.key\"}\n}\n%s%s",
		 dir, tag, src.socket, dir, dir, repos, drbt_signing(dir, "pitrhost"));
	drbt_write_file(cfg, text, 0600);
}

/* In copy tag-N (N = 1, 2; 0: both): remove the segments after the first keep ones. */
static void keep_segments(const char *tag, int keep, int which)
{
	for (int r = 1; r <= 2; r++)
		if (!which || which == r)
			drbt_sh(NULL, 0, NULL, 0,
				"cd %s/%s-%d && ls pitrhost/binlog/*/*.json | sort | tail -n +%d | "
				"sed 's/json$//' | while read p; do rm -f ${p}json ${p}drb; done",
				dir, tag, r, keep + 1);
}

/* ------------------------------------------------------------------ the fixture */

static const char schema[] =
	"CREATE TABLE patients (pid INT PRIMARY KEY, name VARCHAR(80), dob DATE, visits INT NOT "
	"NULL DEFAULT 0, notes TEXT) ENGINE=InnoDB;\n"
	"CREATE TABLE documents (id INT AUTO_INCREMENT PRIMARY KEY, pid INT, title VARCHAR(200), "
	"notes LONGTEXT, scan LONGBLOB, created TIMESTAMP NOT NULL DEFAULT '2026-01-01 00:00:00', "
	"INDEX (pid)) ENGINE=InnoDB;\n"
	"INSERT INTO patients (pid, name, dob, notes) SELECT seq, CONCAT('Patient ', seq), "
	"'1970-01-01' + INTERVAL seq DAY, 'intake' FROM seq_1_to_50;\n";

static int setup(void **state)
{
	(void)state;
	char p[4300], repos[9000];
	dir = drbt_tmpdir("pitr");
	if (!dir || drbt_keygen(dir) != 0 || drbt_mariadb_start(&src, "--sync-binlog=1") != 0 ||
	    drbt_mariadb_start(&dst, NULL) != 0 ||
	    drbt_mariadb_start(&strict, "--gtid-strict-mode=1 --server-id=7") != 0)
		return -1;
	if (s3t_rgw_start(&s3, "ehr-pitr") != 0) {
		fprintf(stderr, "Ceph RGW did not start (./quickstart test installs it)\n");
		return -1;
	}
	snprintf(p, sizeof p, "%s/r1", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/r2", dir);
	mkdir(p, 0700);
	snprintf(repos, sizeof repos,
		 "repo primary {\n type = \"posix\"\n path = \"%s/r1\"\n}\n"
		 "repo dr {\n type = \"posix\"\n path = \"%s/r2\"\n}\n"
		 "repo s3 {\n type = \"s3\"\n endpoint = \"%s\"\n bucket = \"ehr-pitr\"\n"
		 " prefix = \"drbackup\"\n access_key_id = \"%s\"\n secret_access_key_file = \"%s\"\n"
		 " retries = 1\n timeout = 10\n}\n",
		 dir, dir, s3.endpoint[0], s3.access_key, s3.secret_file);
	snprintf(conf, sizeof conf, "%s/drbackup.conf", dir);
	char text[16384];
	snprintf(text, sizeof text,
		 "host_id = \"pitrhost\"\nspool_dir = \"%s/spool\"\n"
		 "database {\n socket = \"%s\"\n user = \"root\"\n}\n"
		 "encryption {\n public_keys = {\"%s/dr.pub\"}\n secret_keys = {\"%s/dr.key\"}\n}\n"
		 "compression { level = 3 threads = 2 }\n%s%s",
		 dir, src.socket, dir, dir, repos, drbt_signing(dir, "pitrhost"));
	drbt_write_file(conf, text, 0600);
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "practice_b" : "practice_a";
		char q[8192];
		snprintf(q, sizeof q, "CREATE DATABASE %s CHARACTER SET utf8mb4; USE %s; %s", name, name,
			 schema);
		if (drbt_sql(&src, NULL, 0, "%s", q) != 0)
			return -1;
	}
	/* the strict target has a binlog history of its own */
	drbt_sql(&strict, NULL, 0,
		 "CREATE DATABASE own; CREATE TABLE own.t (a INT); INSERT INTO own.t VALUES (1); "
		 "INSERT INTO own.t VALUES (2)");
	writer = mysql_init(NULL);
	if (!mysql_real_connect(writer, NULL, "root", NULL, NULL, 0, src.socket, 0))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mysql_close(writer);
	s3t_rgw_stop(&s3);
	drbt_mariadb_stop(&src);
	drbt_mariadb_stop(&dst);
	drbt_mariadb_stop(&strict);
	if (!getenv("DRBT_KEEP"))
		drbt_rmtree(dir);
	free(dir);
	return 0;
}

/* Two full backups and three multi-MB segments, the moments to restore to, and a gap. */
static void test_fixture(void **state)
{
	char seg[4300];
	(void)state;
	write_rows("practice_a", 20, 1);
	expect(run("full"), 0, "first full");
	drbt_sh(f1_id, sizeof f1_id, NULL, 0, "ls %s/r1/pitrhost/full | tail -1 | tr -d '\\n'", dir);
	/* S1: both practices, with moments inside it and an idle second after its last write */
	write_rows("practice_a", 40, 2);
	write_rows("practice_b", 20, 1);
	capture(&in_s1);
	write_rows("practice_a", 20, 1);
	capture(&gtid_s1);
	write_rows("practice_b", 20, 1);
	capture(&idle_s1); /* nothing is written from here until the rotation */
	sleep(1);
	expect(run("binlog"), 0, "binlog S1");
	assert_true(newest_segment(seg, sizeof seg) >= SEGMENT_MIN);
	/* S2, after a second full backup */
	expect(run("full"), 0, "second full");
	drbt_sh(f2_id, sizeof f2_id, NULL, 0, "ls %s/r1/pitrhost/full | tail -1 | tr -d '\\n'", dir);
	assert_string_not_equal(f1_id, f2_id);
	write_rows("practice_a", 50, 2);
	capture(&in_s2);
	write_rows("practice_b", 40, 2);
	expect(run("binlog"), 0, "binlog S2");
	assert_true(newest_segment(seg, sizeof seg) >= SEGMENT_MIN);
	/* S3, whose last write is followed by an idle second and then a file the server purges
	 * before it is shipped: a gap */
	write_rows("practice_a", 40, 1);
	write_rows("practice_b", 40, 1);
	capture(&before_gap);
	sleep(1);
	expect(run("binlog"), 0, "binlog S3");
	assert_true(newest_segment(seg, sizeof seg) >= SEGMENT_MIN);
	end_s3 = before_gap;
	char n[32];
	drbt_sh(n, sizeof n, NULL, 0, "ls %s/r1/pitrhost/binlog/*/*.json | wc -l", dir);
	n_before_gap = atoi(n);
	drbt_sql(&src, NULL, 0,
		 "INSERT INTO practice_a.patients (pid, name) VALUES (9001, 'lost in the gap'); "
		 "FLUSH BINARY LOGS; INSERT INTO practice_a.patients (pid, name) VALUES (9002, "
		 "'lost too'); FLUSH BINARY LOGS;");
	char last[300];
	drbt_sql(&src, last, sizeof last, "SHOW MASTER STATUS");
	last[strcspn(last, "\t")] = 0;
	drbt_sql(&src, NULL, 0, "PURGE BINARY LOGS TO '%s'", last);
	sql("INSERT INTO practice_a.patients (pid, name) VALUES (9003, 'after the gap')");
	expect(run("binlog"), 1, "binlog after the purge: a gap");
	contains(err, "GAP");
	expect(run("--json list"), 0, "list");
	contains(out, "\"gaps\"");
	contains(out, "after_file");
}

static void test_time_inside_a_segment(void **state)
{
	(void)state;
	drop_practices(&dst);
	expect(restore_to(conf, in_s1.when, &dst, NULL), 0, "restore to a time inside S1");
	expect_matches(&dst, in_s1.fp, NULL, "time inside S1");
	expect(restore_to(conf, in_s2.when, &dst, NULL), 0, "restore to a time inside S2");
	expect_matches(&dst, in_s2.fp, NULL, "time inside S2");
}

static void test_gtid_inside_a_segment(void **state)
{
	(void)state;
	expect(restore_to(conf, gtid_s1.gtid, &dst, NULL), 0, "restore to a GTID inside S1");
	expect_matches(&dst, gtid_s1.fp, NULL, "GTID inside S1");
}

/* After the segment's last write, before the rotation shipped it: nothing happened between, so
 * the point is reached (the state after the last event), not refused as beyond coverage. */
static void test_idle_second_before_shipping(void **state)
{
	(void)state;
	expect(restore_to(conf, idle_s1.when, &dst, NULL), 0, "restore to an idle second of S1");
	expect_matches(&dst, idle_s1.fp, NULL, "idle second after S1's last write");
	expect(run("restore --to '%s' --dry-run", idle_s1.when), 0, "dry run");
	contains(out, "point reached");
}

static void test_just_before_a_gap(void **state)
{
	(void)state;
	expect(restore_to(conf, before_gap.when, &dst, NULL), 0, "restore just before the gap");
	expect_matches(&dst, before_gap.fp, NULL, "just before the gap");
	/* a point past the gap is refused, and says where the chain ends */
	expect(restore_to(conf, "latest", &dst, NULL), 1, "latest is past the gap");
	contains(err, "gap in the binlog chain");
}

static void test_one_practice_inside_a_segment(void **state)
{
	(void)state;
	drop_practices(&dst);
	expect(restore_to(conf, in_s2.when, &dst, "--db practice_a"), 0, "--db inside S2");
	expect_matches(&dst, in_s2.fp_a, "practice_a", "practice_a inside S2");
	char n[64];
	drbt_sql(&dst, n, sizeof n,
		 "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'practice_b'");
	assert_string_equal(n, "0");
}

/* A target that logs and runs gtid_strict_mode with GTIDs of its own (ERROR 1950 without the
 * gtid_seq_no filter), to a time inside a segment; its own GTID position stays as it was. */
static void test_strict_mode_target(void **state)
{
	char before[256], after[256];
	(void)state;
	drbt_sql(&strict, before, sizeof before, "SELECT @@gtid_binlog_pos");
	expect(restore_to(conf, in_s2.when, &strict, NULL), 0, "restore into a strict-mode target");
	expect_matches(&strict, in_s2.fp, NULL, "strict-mode target inside S2");
	drbt_sql(&strict, after, sizeof after, "SELECT @@gtid_binlog_pos");
	assert_string_equal(before, after);
}

static void test_from_s3_inside_a_segment(void **state)
{
	(void)state;
	drop_practices(&dst);
	expect(run("--repo s3 restore --to '%s' --target-socket %s --target-user root --force",
		   gtid_s1.when, dst.socket),
	       0, "restore from S3 to a time inside S1");
	expect_matches(&dst, gtid_s1.fp, NULL, "from S3, inside S1");
	contains(out, "repository s3");
}

/* The newest full backup damaged in every repository: the older one and the longer chain. */
static void test_damaged_newest_full_falls_back(void **state)
{
	char cfg[4300];
	(void)state;
	copy_repos("damaged", cfg, sizeof cfg);
	for (int r = 1; r <= 2; r++)
		drbt_sh(NULL, 0, NULL, 0,
			"f=%s/damaged-%d/pitrhost/full/%s/practice_a.sql.drb; "
			"printf 'XXXX' | dd of=$f bs=1 seek=200 conv=notrunc 2>/dev/null",
			dir, r, f2_id);
	drop_practices(&dst);
	expect(restore_to(cfg, in_s2.when, &dst, NULL), 0, "restore with the newest full damaged");
	expect_matches(&dst, in_s2.fp, NULL, "from the older full");
	contains(err, f2_id);
	contains(err, "is skipped");
	contains(out, f1_id);
	/* with the older one damaged too, nothing can reach the target */
	for (int r = 1; r <= 2; r++)
		drbt_sh(NULL, 0, NULL, 0, "rm -f %s/damaged-%d/pitrhost/full/%s/practice_b.sql.drb", dir,
			r, f1_id);
	expect(restore_to(cfg, in_s2.when, &dst, NULL), 1, "both fulls unusable");
	contains(err, "no older full backup");
}

/* The primary misses the newest segments: latest comes from the region that has them. */
static void test_lagging_primary(void **state)
{
	char cfg[4300], want[300];
	(void)state;
	copy_repos("lag", cfg, sizeof cfg);
	/* drop the gap's far side in both, then S3 from the primary only */
	keep_segments("lag", n_before_gap, 0);
	keep_segments("lag", n_before_gap - 1, 1);
	expect(run_with(cfg, "restore --to latest --dry-run"), 0, "plan latest");
	contains(out, "repository dr");
	contains(err, "lags");
	snprintf(want, sizeof want, "GTID %s", end_s3.gtid);
	contains(out, want);
	drop_practices(&dst);
	expect(restore_to(cfg, "latest", &dst, NULL), 0, "restore latest from the region ahead");
	expect_matches(&dst, end_s3.fp, NULL, "latest with a lagging primary");
	/* a point both reach still comes from the primary */
	expect(run_with(cfg, "restore --to '%s' --dry-run", in_s1.when), 0, "plan a point");
	contains(out, "repository primary");
}

/* Names and offsets continue, GTIDs do not: a gap, named as one. A future-dated backup is
 * ignored with a warning, not taken for the newest. Both as unsigned metadata (a backup from
 * before signing, --allow-unsigned): signed, the edits would not verify at all. */
static void test_gtid_discontinuity_and_future_backup(void **state)
{
	char cfg[4300];
	(void)state;
	copy_repos("break", cfg, sizeof cfg);
	drbt_sh(NULL, 0, NULL, 0,
		"cd %s && for r in break-1 break-2; do f=$(ls $r/pitrhost/binlog/*/*.json | sort | "
		"sed -n 3p); sed -i -e 's/\"start_gtid\": \"0-1-[0-9]*\"/\"start_gtid\": \"0-1-5\"/' "
		"-e '/^#drbackup-signature/d' $f; "
		/* an agent from before signing wrote no catalog for the current day either */
		"for c in $r/pitrhost/catalog/*/*.json; do grep -q '\"open\"' $c && rm $c; done; done",
		dir);
	expect(run_with(cfg, "restore --to '%s' --dry-run --allow-unsigned", before_gap.when), 1,
	       "a GTID break");
	contains(err, "GTID state does not continue");
	expect(run_with(cfg, "list --allow-unsigned"), 0, "list");
	contains(out, "GAP after");
	/* a manifest dated 2999 in both repositories */
	copy_repos("future", cfg, sizeof cfg);
	drbt_sh(NULL, 0, NULL, 0,
		"cd %s && for r in future-1 future-2; do cp -a $r/pitrhost/full/%s "
		"$r/pitrhost/full/29991231T000000Z && sed -i "
		"-e 's/\"backup_id\": \"%s\"/\"backup_id\": \"29991231T000000Z\"/' "
		"-e '/^#drbackup-signature/d' $r/pitrhost/full/29991231T000000Z/manifest.json; done",
		dir, f2_id, f2_id);
	expect(run_with(cfg, "restore --to '%s' --dry-run --allow-unsigned", in_s2.when), 0,
	       "a future backup");
	contains(err, "dated in the future");
	contains(out, f2_id);
}

/* restore-test restores the newest point and a point inside the newest segment. */
static void test_restore_test_proves_pitr(void **state)
{
	char cfg[4300];
	(void)state;
	/* without the gap: the chain after the second full, in a copy */
	copy_repos("rt", cfg, sizeof cfg);
	keep_segments("rt", n_before_gap, 0);
	expect(run_with(cfg, "--json restore-test"), 0, "restore-test");
	contains(out, "\"point_in_time\": {");
	contains(out, "\"ok\": true");
	expect(run_with(cfg, "list"), 0, "list");
	contains(out, "last restore-test:");
	contains(out, "point in time inside segment mysql-bin.");
	contains(out, ": passed (to ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture),
		cmocka_unit_test(test_time_inside_a_segment),
		cmocka_unit_test(test_gtid_inside_a_segment),
		cmocka_unit_test(test_idle_second_before_shipping),
		cmocka_unit_test(test_just_before_a_gap),
		cmocka_unit_test(test_one_practice_inside_a_segment),
		cmocka_unit_test(test_strict_mode_target),
		cmocka_unit_test(test_from_s3_inside_a_segment),
		cmocka_unit_test(test_damaged_newest_full_falls_back),
		cmocka_unit_test(test_lagging_primary),
		cmocka_unit_test(test_gtid_discontinuity_and_future_backup),
		cmocka_unit_test(test_restore_test_proves_pitr),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
