/* The operator's view against a real server: three host ids in the same two repositories, one
 * healthy, one with a binlog gap, one whose restore-test failed and whose second repository
 * misses a copy. list --all-hosts shows each state and exits non-zero, the timeline draws the gap
 * and the missing copy, the JSON carries the same facts; the textfile metrics pass promtool and
 * every metric the dashboard and the rules name is one drbackup really writes. */
#include "config.h"

#include <jansson.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/harness.h"

static char *dir;
static drbt_mariadb src;
static char out[1 << 18], err[1 << 18];
static char since[32]; /* the timeline starts just before the first backup */

static const char *const hosts[] = {"good", "gap", "failed"};

static int run(const char *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(const char *cfg, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s/%s.conf %s", drbt_bin(), dir,
	                 cfg, cmd);
	if (getenv("DRBT_VERBOSE"))
		fprintf(stderr, "drbackup [%s] %s -> %d\n%s%s", cfg, cmd, rc, out, err);
	return rc;
}

#define expect(got, want, what) drbt_expect(got, want, what, out, err)

#define contains(text, what) drbt_contains(text, what, err)

/* The line of out that starts with prefix (the row of one host, the bar of one repository). */
static const char *line_of(const char *prefix, char *buf, size_t len)
{
	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, prefix, strlen(prefix)) == 0) {
			snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
			return buf;
		}
	print_error("no line starting with '%s' in:\n%s\n", prefix, out);
	fail();
	return NULL;
}

static void write_conf(const char *name, const char *host)
{
	char path[4300], text[16384], trust[4096] = "trust {\n";
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(trust);
		snprintf(trust + n, sizeof trust - n,
		         " host \"%s\" {\n  signing_keys = {\"%s/sign.pub\"}\n }\n", hosts[i], dir);
	}
	strcat(trust, "}\n");
	snprintf(path, sizeof path, "%s/%s.conf", dir, name);
	snprintf(text, sizeof text,
	         "host_id = \"%s\"\nspool_dir = \"%s/spool-%s\"\nmetrics_dir = \"%s/metrics-%s\"\n"
	         "database {\n socket = \"%s\"\n user = \"root\"\n}\n"
	         "encryption {\n public_keys = {\"%s/dr.pub\"}\n secret_keys = {\"%s/dr.key\"}\n}\n"
	         "compression { level = 3 threads = 2 }\n"
	         "repo primary {\n type = \"posix\"\n path = \"%s/r1\"\n}\n"
	         "repo dr {\n type = \"posix\"\n path = \"%s/r2\"\n}\n"
	         "signing {\n key = \"%s/sign.key\"\n}\n%s"
	         "alerts {\n max_full_age_hours = 26\n max_rpo_seconds = 900\n"
	         " max_restore_test_age_days = 8\n}\n",
	         host, dir, name, dir, name, src.socket, dir, dir, dir, dir, dir, trust);
	drbt_write_file(path, text, 0600);
	snprintf(path, sizeof path, "%s/metrics-%s", dir, name);
	mkdir(path, 0700);
}

/* A full backup, then segments two seconds apart. */
static void back_up(const char *host, int segments)
{
	static int tick;
	expect(run(host, "full"), 0, "full");
	for (int i = 0; i < segments; i++) {
		sleep(1);
		/* two commits a second apart: the segment spans seconds, so restore-test's point in
		 * time inside the newest one lies after the full (not in the setup's segment) */
		drbt_sql(&src, NULL, 0, "INSERT INTO practice_a.tick VALUES (%d)", ++tick);
		sleep(1);
		drbt_sql(&src, NULL, 0, "INSERT INTO practice_a.tick VALUES (%d)", ++tick);
		expect(run(host, "binlog"), 0, "binlog");
	}
}

/* The newest (or second newest) shipped segment's description and object in one repository. */
static void remove_segment(const char *repo, const char *host, int from_newest)
{
	char o[256];
	assert_int_equal(
	    drbt_sh(o, sizeof o, err, sizeof err,
	            "cd %s/%s/%s/binlog/* && f=$(ls *.json | sort | tail -%d | head -1) && "
	            "rm -v \"$f\" \"${f%%.json}.drb\" | wc -l",
	            dir, repo, host, from_newest + 1),
	    0);
	assert_int_equal(atoi(o), 2);
}

static int setup(void **state)
{
	(void)state;
	char p[4300];
	dir = drbt_tmpdir("fleet");
	if (!dir || drbt_keygen(dir) != 0 || drbt_mariadb_start(&src, "--sync-binlog=1") != 0)
		return -1;
	for (int i = 1; i <= 2; i++) {
		snprintf(p, sizeof p, "%s/r%d", dir, i);
		mkdir(p, 0700);
	}
	for (size_t i = 0; i < 3; i++)
		write_conf(hosts[i], hosts[i]);
	write_conf("monitor", "monitor");
	drbt_sql(&src, NULL, 0,
	         "CREATE DATABASE practice_a; CREATE TABLE practice_a.tick (n INT PRIMARY KEY); "
	         "CREATE DATABASE practice_b; CREATE TABLE practice_b.visit (id INT PRIMARY KEY, "
	         "note VARCHAR(64)); INSERT INTO practice_b.visit VALUES (1, 'checkup')");
	/* the schema's events a second older than the first full: restore-test's point in time
	 * inside a segment must not fall in the full's own second */
	sleep(2);
	time_t t0 = time(NULL) - 2;
	strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t0));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	drbt_mariadb_stop(&src);
	if (!getenv("DRBT_KEEP"))
		drbt_rmtree(dir);
	free(dir);
	return 0;
}

/* One healthy host alone: every threshold holds, exit 0; a tighter RPO on the command line
 * breaches. */
static void test_healthy_host_passes(void **state)
{
	(void)state;
	back_up("good", 2);
	expect(run("good", "restore-test"), 0, "restore-test of good");
	expect(run("monitor", "list --all-hosts"), 0, "list --all-hosts, one healthy host");
	char row[1024];
	line_of("good ", row, sizeof row);
	contains(row, " ok ");
	contains(row, "passed");
	contains(row, "primary:0 dr:0");
	sleep(3);
	expect(run("monitor", "list --all-hosts --max-rpo-seconds 1"), 1, "an RPO of one second");
	contains(out, "good: BREACH: RPO");
	expect(run("monitor", "list --all-hosts --max-rpo-seconds 0"), 0, "the RPO check off");
}

/* The two others: a segment of "gap" lost in both repositories; a damaged dump of "failed"
 * (its restore-test fails), and its newest segment missing in dr only. */
static void test_three_hosts(void **state)
{
	(void)state;
	back_up("gap", 3);
	remove_segment("r1", "gap", 1);
	remove_segment("r2", "gap", 1);
	back_up("failed", 2);
	sleep(2); /* the restore-test's mark a few columns after the copy that dr will miss */
	drbt_sh(
	    NULL, 0, NULL, 0,
	    /* flip one bit in the middle: writing a fixed byte would leave the object intact when
	     * that byte happened to be there already */
	    "cd %s && for r in r1 r2; do f=$(ls $r/failed/full/*/practice_a.sql.drb | tail -1); "
	    "python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,\"rb\").read()); "
	    "b[len(b)//2]^=1; open(p,\"wb\").write(b)' $f; done",
	    dir);
	expect(run("failed", "restore-test"), 1, "restore-test of a damaged dump");
	remove_segment("r2", "failed", 0);

	expect(run("monitor", "list --all-hosts"), 1, "list --all-hosts with two breaches");
	contains(err, "2 of 3 hosts breach");
	char row[1024];
	line_of("good ", row, sizeof row);
	contains(row, " ok ");
	line_of("gap ", row, sizeof row);
	contains(row, "BREACH");
	contains(row, "never");
	line_of("failed ", row, sizeof row);
	contains(row, "BREACH");
	contains(row, "FAILED");
	contains(row, "primary:0 dr:1");
	contains(out, "gap: BREACH: binlog gap: restorable to");
	contains(out, "gap: BREACH: no restore-test");
	contains(out, "failed: BREACH: last restore-test FAILED");
	contains(out, "failed: degraded: repository dr misses 1 copy");

	/* the same facts in JSON */
	expect(run("monitor", "--json list --all-hosts"), 1, "list --all-hosts --json");
	json_t *j = json_loads(out, 0, NULL), *h;
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "breaching_hosts")), 2);
	size_t i;
	int seen = 0;
	json_array_foreach(json_object_get(j, "hosts"), i, h)
	{
		const char *id = json_string_value(json_object_get(h, "host_id"));
		const char *st = json_string_value(json_object_get(h, "status"));
		json_t *t = json_object_get(h, "last_restore_test");
		json_t *repos = json_object_get(h, "repositories");
		assert_true(json_is_array(json_object_get(h, "holds")));
		assert_int_equal(json_array_size(json_object_get(h, "holds")), 0);
		assert_true(json_integer_value(json_object_get(h, "stored_bytes")) > 0);
		assert_true(json_is_object(json_object_get(h, "newest_full")));
		if (strcmp(id, "good") == 0) {
			seen |= 1;
			assert_string_equal(st, "ok");
			assert_true(json_is_true(json_object_get(t, "ok")));
			assert_true(json_integer_value(json_object_get(h, "rpo_seconds")) < 900);
			assert_int_equal(json_integer_value(json_object_get(h, "missing_copies")),
			                 0);
		} else if (strcmp(id, "gap") == 0) {
			seen |= 2;
			assert_string_equal(st, "breach");
			assert_true(json_is_null(t));
			assert_int_equal(json_integer_value(json_object_get(h, "gaps")), 1);
			/* restorable only up to the gap, while later binlog was shipped */
			assert_true(
			    strcmp(json_string_value(json_object_get(h, "recoverable_until")),
			           json_string_value(json_object_get(h, "shipped_until"))) < 0);
		} else if (strcmp(id, "failed") == 0) {
			seen |= 4;
			assert_string_equal(st, "breach");
			assert_true(json_is_false(json_object_get(t, "ok")));
			assert_int_equal(json_integer_value(json_object_get(h, "missing_copies")),
			                 1);
			json_t *dr = json_array_get(repos, 1);
			assert_string_equal(json_string_value(json_object_get(dr, "name")), "dr");
			assert_int_equal(json_integer_value(json_object_get(dr, "missing_copies")),
			                 1);
			assert_int_equal(json_integer_value(json_object_get(
			                     json_array_get(repos, 0), "missing_copies")),
			                 0);
		}
	}
	assert_int_equal(seen, 7);
	json_decref(j);
}

/* The bar of repository repo in a --timeline output */
static void bar_of(const char *repo, char *buf, size_t len)
{
	char prefix[64];
	snprintf(prefix, sizeof prefix, "  %-10s |", repo);
	line_of(prefix, buf, len);
}

static void test_timeline(void **state)
{
	(void)state;
	char bar[2048];
	/* the gap: lost in both repositories */
	expect(run("monitor", "list --timeline --host gap --since %s --width 120", since), 0,
	       "timeline of gap");
	contains(out, "host gap: what can be restored");
	bar_of("primary", bar, sizeof bar);
	contains(bar, "F");
	contains(bar, "=x");
	bar_of("dr", bar, sizeof bar);
	contains(bar, "=x");
	contains(out, "    gap ");
	assert_null(strstr(out, "    missing copy ")); /* nobody holds the lost part */
	assert_null(strchr(bar, '\033'));              /* not a terminal: plain characters */

	/* the missing copy: dr lacks what primary holds; the failed restore-test is marked */
	expect(run("monitor", "list --timeline --host failed --since %s --width 120", since), 0,
	       "timeline of failed");
	bar_of("primary", bar, sizeof bar);
	assert_null(strchr(bar, '!'));
	assert_null(strchr(bar, 'x'));
	contains(bar, "X");
	bar_of("dr", bar, sizeof bar);
	contains(bar, "!");
	contains(out, "    missing copy ");

	/* one practice: only fulls holding it count; the JSON has the same spans */
	expect(
	    run("monitor", "--json list --timeline --host gap --db practice_b --since %s", since),
	    0, "timeline --json --db");
	json_t *j = json_loads(out, 0, NULL), *r;
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "db")), "practice_b");
	size_t i;
	json_array_foreach(json_object_get(j, "repositories"), i, r)
	{
		assert_int_equal(json_array_size(json_object_get(r, "gaps")), 1);
		assert_int_equal(json_array_size(json_object_get(r, "missing_copies")), 0);
		assert_int_equal(json_array_size(json_object_get(r, "full_backups")), 1);
		assert_non_null(strchr(json_string_value(json_object_get(r, "bar")), 'x'));
	}
	json_decref(j);
	expect(run("monitor", "--json list --timeline --host failed --since %s", since), 0,
	       "timeline --json of failed");
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	json_t *repos = json_object_get(j, "repositories");
	assert_int_equal(
	    json_array_size(json_object_get(json_array_get(repos, 0), "missing_copies")), 0);
	assert_int_equal(
	    json_array_size(json_object_get(json_array_get(repos, 1), "missing_copies")), 1);
	json_t *t = json_array_get(json_object_get(json_array_get(repos, 0), "restore_tests"), 0);
	assert_true(json_is_false(json_object_get(t, "ok")));
	json_decref(j);
	/* a practice no full backup holds: nothing restorable, no gap invented */
	expect(run("monitor", "--json list --timeline --host good --db nosuch --since %s", since),
	       0, "timeline of an unknown practice");
	contains(out, "\"gaps\": []");
	expect(run("monitor", "list --db practice_a"), 2, "--db without --timeline");
	expect(run("monitor", "list --all-hosts --host good"), 2, "--all-hosts with --host");
}

/* Every drbackup_ name in text (rules or dashboard) is one of the written metrics. */
static void names_written(const char *path, const char *written)
{
	size_t len;
	char *text = drbt_read_file(path, &len);
	assert_non_null(text);
	regex_t re;
	assert_int_equal(regcomp(&re, "drbackup_[a-z0-9_]+", REG_EXTENDED), 0);
	regmatch_t m;
	int found = 0, unknown = 0;
	for (const char *p = text; regexec(&re, p, 1, &m, 0) == 0; p += m.rm_eo) {
		char name[256], want[300];
		snprintf(name, sizeof name, "%.*s", (int)(m.rm_eo - m.rm_so), p + m.rm_so);
		snprintf(want, sizeof want, "\n# TYPE %s gauge\n", name);
		if (!strstr(written, want)) {
			print_error("%s names %s, which drbackup does not write\n", path, name);
			unknown++;
		}
		found++;
	}
	regfree(&re);
	free(text);
	assert_int_equal(unknown, 0);
	assert_true(found > 10);
}

static void test_metrics_rules_and_dashboard(void **state)
{
	(void)state;
	char all[1 << 16] = "\n";
	expect(run("monitor", "list --all-hosts"), 1, "fleet metrics");
	const char *names[] = {"good", "gap", "failed", "monitor"};
	for (size_t i = 0; i < 4; i++) {
		char path[4300];
		snprintf(path, sizeof path, "%s/metrics-%s/drbackup.prom", dir, names[i]);
		if (drbt_sh(out, sizeof out, err, sizeof err, "promtool check metrics < %s",
		            path) != 0) {
			print_error("promtool check metrics %s:\n%s%s\n", path, out, err);
			fail();
		}
		size_t len;
		char *text = drbt_read_file(path, &len);
		assert_non_null(text);
		strncat(all, text, sizeof all - strlen(all) - 1);
		free(text);
	}
	/* the fleet series carry the host (and repository) */
	contains(all, "drbackup_fleet_breach{host=\"gap\"} 1");
	contains(all, "drbackup_fleet_breach{host=\"good\"} 0");
	contains(all, "drbackup_fleet_restore_test_ok{host=\"failed\"} 0");
	contains(all, "drbackup_fleet_binlog_unrecoverable{host=\"gap\"} 1");
	contains(all, "drbackup_fleet_repo_missing_copies{host=\"failed\",repo=\"dr\"} 1");
	contains(all, "drbackup_fleet_hosts 3");
	contains(all, "drbackup_binlog_following 0");
	char p[4300];
	snprintf(p, sizeof p, "%s/monitoring/drbackup.rules.yml", drbt_srcdir());
	names_written(p, all);
	snprintf(p, sizeof p, "%s/monitoring/drbackup.rules.test.yml", drbt_srcdir());
	names_written(p, all);
	snprintf(p, sizeof p, "%s/monitoring/drbackup.dashboard.json", drbt_srcdir());
	names_written(p, all);
	/* and the test itself can fail: a name drbackup never writes is not in the set */
	assert_null(strstr(all, "\n# TYPE drbackup_no_such_metric gauge\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_healthy_host_passes),
	    cmocka_unit_test(test_three_hosts),
	    cmocka_unit_test(test_timeline),
	    cmocka_unit_test(test_metrics_rules_and_dashboard),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
