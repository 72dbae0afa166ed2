/* Object Lock, legal holds, versions and storage classes against Ceph RGW, which enforces them: a
 * bucket made with Object Lock enabled (versioned for good) and the STANDARD_IA and GLACIER
 * classes in the cluster (tests/rgw.sh). Three full backups of a real MariaDB with binlog cycles
 * between them, practice_a with BLOBs (its dumps and segments are MBs), practice_b small.
 *   - the request bodies of PutObjectRetention and PutObjectLegalHold carry the Content-MD5 of
 *     what is sent (seen on the wire through a recording proxy; RGW checks it when present);
 *   - a COMPLIANCE-locked backup survives expire (kept, and why, in text and JSON) and a delete
 *     of its versions with the host's own credentials;
 *   - expire extends the lock of a backup promoted to a weekly keep (HEAD shows the date);
 *   - GOVERNANCE: refused without the bypass header, deleted with it; COMPLIANCE refuses both;
 *   - hold puts S3 legal holds on the practice's dumps and manifests; release turns them off;
 *   - delete_versions removes every version; without it a delete only adds a marker;
 *   - restore --repo-as-of gets past an overwritten manifest and a deleted dump and restores the
 *     exact data; list --repo-as-of shows the backups of then; posix refuses in one line;
 *   - tier { } moves the large dumps to STANDARD_IA (list shows it), the small stays, and the
 *     tiered backup restores exactly; an object in GLACIER stops a restore before the target
 *     is touched, saying how to thaw it. */
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

#include "common/error.h"
#include "common/layout.h"
#include "s3/internal.h"
#include "s3/s3.h"
#include "tests/harness.h"
#include "tests/integration/test_s3_support.h"

#define BUCKET "ehr-lock"
#define DAY    86400

static char *dir;
static s3t_rgw rgw;
static bool rgw_ok;
static drbt_mariadb src, dst;
static char conf[4300];
static char out[1 << 18], err[1 << 18];

typedef struct moment {
	time_t t;
	char when[32];
	char fp[1 << 15];
} moment;

static moment m[4]; /* after each of the three full backups and its writes */
static char ids[4][32];
static time_t before_attack; /* --repo-as-of: everything written, nothing overwritten yet */

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
#define contains(text, what)    drbt_contains(text, what, err)

#define NEED()                                                                                     \
	do {                                                                                       \
		if (!rgw_ok)                                                                       \
			fail_msg("Ceph RGW did not start (apt-get install radosgw ceph-mon "       \
			         "ceph-osd ceph-common); see the messages above");                 \
	} while (0)

/* The repository of most cases: prefix drbackup, everything locked a day at upload. */
static const char *repo_prefix = "drbackup";
static const char *repo_lock = " object_lock_days = 1\n object_lock_mode = \"COMPLIANCE\"\n"
                               " legal_hold = true\n";

static void write_conf(const char *retention, const char *repo_extra)
{
	char repos[4096], extra[2048];
	snprintf(repos, sizeof repos,
	         "repo s3 {\n type = \"s3\"\n endpoint = \"%s\"\n bucket = \"" BUCKET "\"\n"
	         " prefix = \"%s\"\n access_key_id = \"%s\"\n secret_access_key_file = \"%s\"\n"
	         " retries = 1\n timeout = 20\n%s%s}\n",
	         rgw.endpoint[0], repo_prefix, rgw.access_key, rgw.secret_file, repo_lock,
	         repo_extra ? repo_extra : "");
	snprintf(extra, sizeof extra, "binlog { segment_seconds = 1 }\nretention {\n%s\n}\n",
	         retention);
	drbt_write_config(conf, dir, &src, repos, extra);
}

#define KEEP_ALL "keep_daily = 30 keep_weekly = 0 keep_monthly = 0 keep_yearly = 0 pitr_days = 30"
#define KEEP_NEWEST                                                                                \
	"keep_daily = 0 keep_weekly = 0 keep_monthly = 0 keep_yearly = 0 pitr_days = 0 "           \
	"keep_min_days = 0"

/* A repository opened directly (as an attacker with this host's credentials would). */
static drb_repo *open_repo(const char *prefix, const char *mode, long lock_days,
                           bool delete_versions, const char *endpoint)
{
	static drb_repo_config cfgs[16];
	static int n;
	drb_repo_config *c = &cfgs[n++ % 16];
	*c = (drb_repo_config){.name = "direct",
	                       .type = "s3",
	                       .endpoint = endpoint ? endpoint : rgw.endpoint[0],
	                       .region = "us-east-1",
	                       .bucket = BUCKET,
	                       .prefix = prefix,
	                       .access_key_id = rgw.access_key,
	                       .secret_access_key_file = rgw.secret_file,
	                       .uri_style = "path",
	                       .part_size = 5L * 1024 * 1024,
	                       .upload_parallel = 4,
	                       .timeout = 20,
	                       .retries = 0,
	                       .object_lock_days = lock_days,
	                       .object_lock_mode = mode,
	                       .delete_versions = delete_versions};
	drb_repo *r = NULL;
	if (drb_repo_open(c, &r) != 0) {
		print_error("opening the repository: %s\n", s3t_error());
		fail();
	}
	return r;
}

typedef struct paths_t {
	char **v;
	size_t n;
} paths_t;

static int collect_path(void *ud, const char *path, const drb_obj_stat *st)
{
	paths_t *p = ud;
	(void)st;
	p->v = realloc(p->v, (p->n + 1) * sizeof *p->v);
	p->v[p->n++] = strdup(path);
	return 0;
}

static void paths_t_free(paths_t *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
}

/* Every version (and delete marker) of key, through the driver's own request path. */
static size_t versions_of(drb_repo *r, const char *path, size_t *markers)
{
	drb_s3 *s3 = r->impl;
	char *key = drb_s3_key(s3, path);
	drb_s3_resp resp = {0};
	drb_s3_versions_page page;
	drb_s3_req req = {.method = "GET", .what = "listing versions"};
	req.query[req.n_query++] = (drb_s3_kv){"versions", ""};
	req.query[req.n_query++] = (drb_s3_kv){"prefix", key};
	assert_int_equal(drb_s3_send(s3, &req, &resp), 0);
	assert_int_equal(drb_s3_parse_versions(resp.body, resp.body_len, &page), 0);
	size_t n = 0;
	*markers = 0;
	for (size_t i = 0; i < page.n; i++)
		if (strcmp(page.v[i].key, key) == 0) {
			n++;
			*markers += page.v[i].delete_marker;
		}
	drb_s3_versions_page_free(&page);
	drb_s3_resp_free(&resp);
	free(key);
	return n;
}

/* DELETE key?versionId=V of the newest version that is not a delete marker, with or without the
 * governance bypass. */
static long delete_version(drb_repo *r, const char *path, bool bypass)
{
	drb_s3 *s3 = r->impl;
	char *key = drb_s3_key(s3, path);
	drb_s3_resp resp = {0};
	drb_s3_versions_page page;
	drb_s3_req list = {.method = "GET", .what = "listing versions"};
	list.query[list.n_query++] = (drb_s3_kv){"versions", ""};
	list.query[list.n_query++] = (drb_s3_kv){"prefix", key};
	assert_int_equal(drb_s3_send(s3, &list, &resp), 0);
	assert_int_equal(drb_s3_parse_versions(resp.body, resp.body_len, &page), 0);
	char vid[128] = ""; /* the newest version that is not a delete marker */
	for (size_t i = 0; i < page.n && !vid[0]; i++)
		if (strcmp(page.v[i].key, key) == 0 && !page.v[i].delete_marker)
			snprintf(vid, sizeof vid, "%s", page.v[i].version_id);
	drb_s3_versions_page_free(&page);
	assert_true(vid[0] != 0);
	drb_s3_resp_free(&resp);
	resp = (drb_s3_resp){0};
	drb_s3_req del = {.method = "DELETE", .key = key, .what = "deleting a version"};
	del.query[del.n_query++] = (drb_s3_kv){"versionId", vid};
	if (bypass)
		del.headers[del.n_headers++] =
		    (drb_s3_kv){"x-amz-bypass-governance-retention", "true"};
	(void)drb_s3_send(s3, &del, &resp);
	drb_error_clear();
	long status = resp.status;
	drb_s3_resp_free(&resp);
	free(key);
	return status;
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

static void restore_matches(const moment *mo, const char *opts, const char *what)
{
	char got[1 << 15];
	expect(run("restore --to '%s' %s --target-socket %s --target-user root --force", mo->when,
	           opts, dst.socket),
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
	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	dir = drbt_tmpdir("s3lock");
	if (!dir || drbt_keygen(dir) != 0 || drbt_mariadb_start(&src, "--sync-binlog=1") != 0 ||
	    drbt_mariadb_start(&dst, NULL) != 0)
		return -1;
	drb_repo_register(&drb_s3_driver);
	/* rgw.sh: the Object Lock bucket and the classes besides STANDARD */
	setenv("RGW_LOCK_BUCKETS", BUCKET, 1);
	setenv("RGW_STORAGE_CLASSES", "STANDARD_IA GLACIER", 1);
	rgw_ok = s3t_rgw_start(&rgw, "plain") == 0;
	unsetenv("RGW_LOCK_BUCKETS");
	unsetenv("RGW_STORAGE_CLASSES");
	snprintf(conf, sizeof conf, "%s/drbackup.conf", dir);
	for (int i = 0; i < 2; i++) {
		const char *db = i ? "practice_b" : "practice_a";
		if (drbt_sql(
		        &src, NULL, 0,
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
	s3t_rgw_stop(&rgw);
	drbt_mariadb_stop(&src);
	drbt_mariadb_stop(&dst);
	if (!getenv("DRBT_KEEP"))
		drbt_rmtree(dir);
	free(dir);
	return 0;
}

/* The id of the newest full backup, from list --json. */
static void newest_id(char id_out[32])
{
	expect(run("--json list"), 0, "list");
	const char *id = strstr(out, "\"backup_id\": \"");
	assert_non_null(id);
	for (const char *p = id; (p = strstr(p + 1, "\"backup_id\": \"")) != NULL;)
		id = p; /* the newest is listed last */
	snprintf(id_out, 32, "%.16s", id + strlen("\"backup_id\": \""));
}

static void test_fixture(void **state)
{
	(void)state;
	NEED();
	write_conf(KEEP_ALL, NULL);
	for (int i = 1; i <= 3; i++) {
		/* practice_a: scans of 200 kB and long notes (MBs a cycle); practice_b: a few rows
		 */
		for (int k = 0; k < 12; k++)
			assert_int_equal(
			    drbt_sql(
			        &src, NULL, 0,
			        "SET SESSION group_concat_max_len = 16777216; INSERT INTO "
			        "practice_a.notes (body, scan) SELECT REPEAT('visit %d note %d ', "
			        "2000), GROUP_CONCAT(RANDOM_BYTES(1024) SEPARATOR '') FROM "
			        "practice_a.seq_1_to_200; INSERT INTO practice_b.notes (body) "
			        "VALUES ('b %d')",
			        i, k, k),
			    0);
		expect(run("full"), 0, "full");
		newest_id(ids[i]);
		assert_int_equal(
		    drbt_sql(&src, NULL, 0,
		             "SET SESSION group_concat_max_len = 16777216; INSERT INTO "
		             "practice_a.notes (body, scan) SELECT 'after full %d', "
		             "GROUP_CONCAT(RANDOM_BYTES(1024) SEPARATOR '') FROM "
		             "practice_a.seq_1_to_300",
		             i),
		    0);
		capture(&m[i]);
		expect(run("binlog"), 0, "binlog");
	}
	assert_string_not_equal(ids[1], ids[3]);
}

/* PutObjectRetention and PutObjectLegalHold through a recording proxy: each body's Content-MD5
 * on the wire is the MD5 of the body drbackup builds, and it is signed. */
static void test_wire_content_md5(void **state)
{
	(void)state;
	NEED();
	s3p *p = s3p_start(0);
	drb_repo *r = open_repo("wire", "GOVERNANCE", 1, false, s3p_endpoint(p));
	time_t until = time(NULL) + 10 * DAY;
	const char *answers[] = {
	    "HTTP/1.1 200 OK\nContent-Length: 5\nx-amz-object-lock-mode: GOVERNANCE\n"
	    "x-amz-object-lock-retain-until-date: 2026-01-01T00:00:00.000Z\n\n",
	    "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"};
	s3p_canned(p, answers, 3);
	assert_int_equal(drb_repo_retain(r, "h/obj", until), 1); /* extended */
	assert_int_equal(drb_repo_legal_hold(r, "h/obj", true), 0);
	assert_int_equal(s3p_requests(p), 3);
	for (int i = 1; i <= 2; i++) {
		const char *head = s3p_request(p, (size_t)i);
		char *body = NULL, md5b64[25], want[64], sha[65];
		size_t len = 0;
		unsigned char md5[16];
		if (i == 1) {
			assert_non_null(
			    strstr(head, "PUT /" BUCKET "/wire/h/obj?retention= HTTP/1.1"));
			assert_int_equal(drb_s3_xml_retention("GOVERNANCE", until, &body, &len), 0);
			assert_non_null(strstr(body, "<Mode>GOVERNANCE</Mode>"));
		} else {
			assert_non_null(
			    strstr(head, "PUT /" BUCKET "/wire/h/obj?legal-hold= HTTP/1.1"));
			assert_int_equal(drb_s3_xml_legal_hold(true, &body, &len), 0);
			assert_non_null(strstr(body, "<Status>ON</Status>"));
		}
		drb_s3_body_digests(body, len, md5, sha);
		drb_s3_md5_base64(md5, md5b64);
		snprintf(want, sizeof want, "\r\nContent-MD5: %s\r\n", md5b64);
		if (!strstr(head, want)) {
			print_error("request %d lacks %s:\n%s\n", i, want + 2, head);
			fail();
		}
		snprintf(want, sizeof want, "\r\nx-amz-content-sha256: %s\r\n", sha);
		assert_non_null(strstr(head, want));
		assert_non_null(strstr(head, "SignedHeaders=content-md5;"));
		free(body);
	}
	drb_repo_close(r);
	s3p_stop(p);
	/* RGW refuses a Content-MD5 that does not match (400 BadDigest): through it, the same
	 * calls succeed on a real locked object */
	r = open_repo("wire", "GOVERNANCE", 1, false, NULL);
	drb_put_opts locked = {.immutable = true};
	assert_int_equal(drb_repo_put_buf(r, "h/obj", "hello", 5, &locked), 0);
	assert_int_equal(drb_repo_retain(r, "h/obj", until), 1);
	drb_obj_info info;
	assert_int_equal(drb_repo_info(r, "h/obj", &info), 0);
	assert_string_equal(info.lock_mode, "GOVERNANCE");
	assert_int_equal(info.retain_until, until);
	drb_repo_close(r);
}

/* Everything is locked for a day at upload: an expire that wants the two older fulls gone keeps
 * them and says why; deleting their versions with the host's own credentials is refused. */
static void test_compliance_survives_expire_and_delete(void **state)
{
	(void)state;
	NEED();
	write_conf(KEEP_NEWEST, NULL);
	expect(run("expire --dry-run"), 0, "dry run");
	contains(out, "locked: Object Lock COMPLIANCE until");
	expect(run("--json expire"), 0, "expire");
	contains(out, "\"locked\": true");
	contains(out, "\"retain_until\"");
	expect(run("list"), 0, "list");
	for (int i = 1; i <= 3; i++)
		contains(out, ids[i]);
	/* the host's own credentials: every version of the oldest manifest refused, even with the
	 * bypass; the delete hides it (a marker), the locked version stays and restores */
	time_t before_delete = time(NULL);
	sleep(1);
	drb_repo *r = open_repo("drbackup", "COMPLIANCE", 1, true, NULL);
	char *manifest = drb_path_manifest("testhost", ids[1]);
	const char *v[1] = {manifest};
	size_t markers;
	assert_int_equal(delete_version(r, manifest, true), 403);
	assert_int_equal(drb_repo_remove(r, v, 1), DRB_ERR_PERMISSION);
	drb_error_clear();
	assert_int_equal(versions_of(r, manifest, &markers), 2);
	assert_int_equal(markers, 1);
	drb_obj_stat st;
	assert_int_equal(drb_repo_stat(r, manifest, &st), DRB_ERR_NOT_FOUND);
	drb_error_clear();
	char opt[64], when[32];
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime(&before_delete));
	snprintf(opt, sizeof opt, "--repo-as-of '%s'", when);
	restore_matches(&m[1], opt, "the oldest backup, locked, restores from before the delete");
	/* put it back for what follows: the version of then, copied forward (locked again) */
	drb_repo *past = open_repo("drbackup", "COMPLIANCE", 1, false, NULL);
	assert_int_equal(drb_repo_as_of(past, before_delete), 0);
	drb_put_opts locked = {.immutable = true};
	assert_int_equal(drb_repo_copy(past, r, manifest, &locked, NULL), 0);
	drb_repo_close(past);
	free(manifest);
	drb_repo_close(r);
	restore_matches(&m[1], "", "the oldest backup, put back");
}

/* keep_weekly = 2 seen from next week: the newest full is the newest of a finished ISO week and
 * stays kept until the week after next begins: its lock goes there. */
static void test_promotion_extends_the_lock(void **state)
{
	(void)state;
	NEED();
	time_t now = time(NULL), later = now + 7 * DAY;
	struct tm tm;
	gmtime_r(&now, &tm);
	time_t monday = now - now % DAY - (time_t)((tm.tm_wday + 6) % 7) * DAY;
	time_t want = monday + 14 * DAY;
	char later_arg[32];
	strftime(later_arg, sizeof later_arg, "%Y-%m-%d %H:%M:%S", gmtime(&later));
	write_conf("keep_daily = 0 keep_weekly = 2 keep_monthly = 0 keep_yearly = 0 pitr_days = 0 "
	           "keep_min_days = 0",
	           NULL);
	expect(run("expire --now '%s'", later_arg), 0, "expire next week");
	contains(out, "lock extended to");
	contains(err, "is locked until");
	/* the next run finds the locks extended already: no request changes them */
	expect(run("expire --now '%s'", later_arg), 0, "expire next week, again");
	assert_null(strstr(err, "is locked until"));
	drb_repo *r = open_repo("drbackup", "COMPLIANCE", 1, false, NULL);
	drb_obj_info info;
	char *manifest = drb_path_manifest("testhost", ids[3]);
	char *dump = drb_path_dump("testhost", ids[3], "practice_a");
	assert_int_equal(drb_repo_info(r, manifest, &info), 0);
	assert_string_equal(info.lock_mode, "COMPLIANCE");
	assert_int_equal(info.retain_until, want);
	assert_int_equal(drb_repo_info(r, dump, &info), 0);
	assert_int_equal(info.retain_until, want);
	free(manifest);
	free(dump);
	/* the older fulls were not promoted: their upload lock stands */
	manifest = drb_path_manifest("testhost", ids[1]);
	assert_int_equal(drb_repo_info(r, manifest, &info), 0);
	assert_true(info.retain_until < now + 2 * DAY);
	free(manifest);
	drb_repo_close(r);
}

static void test_governance(void **state)
{
	(void)state;
	NEED();
	drb_repo *r = open_repo("gov", "GOVERNANCE", 1, true, NULL);
	drb_put_opts locked = {.immutable = true};
	static char blob[300000];
	s3t_fill(7, 0, blob, sizeof blob);
	assert_int_equal(drb_repo_put_buf(r, "h/scan.drb", blob, sizeof blob, &locked), 0);
	drb_obj_info info;
	assert_int_equal(drb_repo_info(r, "h/scan.drb", &info), 0);
	assert_string_equal(info.lock_mode, "GOVERNANCE");
	const char *v[1] = {"h/scan.drb"};
	assert_int_equal(delete_version(r, "h/scan.drb", false), 403);
	assert_int_equal(drb_repo_remove(r, v, 1), DRB_ERR_PERMISSION);
	drb_error_clear();
	assert_int_equal(delete_version(r, "h/scan.drb", true), 204);
	size_t markers;
	assert_int_equal(versions_of(r, "h/scan.drb", &markers), 1); /* the marker */
	assert_int_equal(markers, 1);
	assert_int_equal(drb_repo_remove(r, v, 1), 0); /* nothing locked is left: all goes */
	assert_int_equal(versions_of(r, "h/scan.drb", &markers), 0);
	drb_repo_close(r);
}

static void test_legal_hold(void **state)
{
	(void)state;
	NEED();
	write_conf(KEEP_ALL, NULL);
	expect(run("hold --practice practice_b --reason 'subpoena 2026-117'"), 0, "hold");
	contains(err, "S3 legal hold ON");
	drb_repo *r = open_repo("drbackup", "COMPLIANCE", 1, true, NULL);
	drb_obj_info info;
	for (int i = 1; i <= 3; i++) {
		char *b = drb_path_dump("testhost", ids[i], "practice_b");
		char *a = drb_path_dump("testhost", ids[i], "practice_a");
		char *mf = drb_path_manifest("testhost", ids[i]);
		assert_int_equal(drb_repo_info(r, b, &info), 0);
		assert_true(info.legal_hold);
		assert_int_equal(drb_repo_info(r, mf, &info), 0);
		assert_true(info.legal_hold);
		assert_int_equal(drb_repo_info(r, a, &info), 0);
		assert_false(info.legal_hold);
		free(a);
		free(b);
		free(mf);
	}
	/* a backup taken under the hold gets its legal hold from the next expire */
	char fourth[32];
	expect(run("full"), 0, "a full under the hold");
	newest_id(fourth);
	char *nb = drb_path_dump("testhost", fourth, "practice_b");
	assert_int_equal(drb_repo_info(r, nb, &info), 0);
	assert_false(info.legal_hold);
	expect(run("expire"), 0, "expire under the hold");
	contains(err, "of backups taken since the hold");
	assert_int_equal(drb_repo_info(r, nb, &info), 0);
	assert_true(info.legal_hold);
	expect(run("hold --release --practice practice_b"), 0, "release");
	assert_int_equal(drb_repo_info(r, nb, &info), 0);
	assert_false(info.legal_hold);
	free(nb);
	contains(err, "S3 legal hold OFF");
	for (int i = 1; i <= 3; i++) {
		char *b = drb_path_dump("testhost", ids[i], "practice_b");
		char *mf = drb_path_manifest("testhost", ids[i]);
		assert_int_equal(drb_repo_info(r, b, &info), 0);
		assert_false(info.legal_hold);
		assert_int_equal(drb_repo_info(r, mf, &info), 0);
		assert_false(info.legal_hold);
		free(b);
		free(mf);
	}
	/* a legal hold alone (no retention) blocks a version's delete, even with the bypass */
	drb_repo *g = open_repo("held", "GOVERNANCE", 0, true, NULL);
	assert_int_equal(drb_repo_put_buf(g, "h/x", "x", 1, NULL), 0);
	assert_int_equal(drb_repo_legal_hold(g, "h/x", true), 0);
	assert_int_equal(delete_version(g, "h/x", true), 403);
	assert_int_equal(drb_repo_legal_hold(g, "h/x", false), 0);
	assert_int_equal(delete_version(g, "h/x", true), 204);
	drb_repo_close(g);
	drb_repo_close(r);
}

/* Without a lock: delete_versions removes every version; a plain delete adds a marker. */
static void test_versioned_delete(void **state)
{
	(void)state;
	NEED();
	drb_repo *all = open_repo("ver", "COMPLIANCE", 0, true, NULL);
	drb_repo *marker = open_repo("ver", "COMPLIANCE", 0, false, NULL);
	size_t markers;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(drb_repo_put_buf(all, "h/a", "one", 3, NULL), 0);
		assert_int_equal(drb_repo_put_buf(all, "h/b", "two", 3, NULL), 0);
	}
	assert_int_equal(versions_of(all, "h/a", &markers), 3);
	const char *a[1] = {"h/a"}, *b[1] = {"h/b"};
	assert_int_equal(drb_repo_remove(all, a, 1), 0);
	assert_int_equal(versions_of(all, "h/a", &markers), 0);
	assert_int_equal(drb_repo_remove(marker, b, 1), 0);
	assert_int_equal(versions_of(all, "h/b", &markers), 4);
	assert_int_equal(markers, 1);
	drb_obj_stat st;
	assert_int_equal(drb_repo_stat(all, "h/b", &st), DRB_ERR_NOT_FOUND);
	drb_error_clear();
	/* the marker and the versions under it go too */
	assert_int_equal(drb_repo_remove(all, b, 1), 0);
	assert_int_equal(versions_of(all, "h/b", &markers), 0);
	drb_repo_close(all);
	drb_repo_close(marker);
}

/* expire with delete_versions on a bucket with versions (no lock in this repository): the old
 * backup's manifest and dumps leave no version and no marker behind. */
static void test_expire_removes_versions(void **state)
{
	(void)state;
	NEED();
	char old_id[32], new_id[32];
	repo_prefix = "unlocked";
	repo_lock = " delete_versions = true\n";
	write_conf(KEEP_NEWEST, NULL);
	expect(run("full"), 0, "a full in the unlocked repository");
	newest_id(old_id);
	sleep(1);
	expect(run("full"), 0, "a second full");
	newest_id(new_id);
	assert_string_not_equal(old_id, new_id);
	expect(run("expire"), 0, "expire");
	contains(out, "DELETE full");
	drb_repo *r = open_repo("unlocked", "COMPLIANCE", 0, false, NULL);
	char *paths[3] = {drb_path_manifest("testhost", old_id),
	                  drb_path_dump("testhost", old_id, "practice_a"),
	                  drb_path_dump("testhost", old_id, "practice_b")};
	size_t markers;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(versions_of(r, paths[i], &markers), 0);
		free(paths[i]);
	}
	char *kept = drb_path_manifest("testhost", new_id);
	assert_int_equal(versions_of(r, kept, &markers), 1);
	free(kept);
	drb_repo_close(r);
	repo_prefix = "drbackup";
	repo_lock =
	    " object_lock_days = 1\n object_lock_mode = \"COMPLIANCE\"\n legal_hold = true\n";
}

/* tier { after_days = 1 }: seen two days later, every full is old enough; the large dumps move
 * to STANDARD_IA, practice_b's small ones stay; list shows it; the backups restore exactly. */
static void test_tiering(void **state)
{
	(void)state;
	NEED();
	write_conf(KEEP_ALL, " tier {\n  after_days = 1\n  storage_class = \"STANDARD_IA\"\n }\n");
	time_t later = time(NULL) + 2 * DAY;
	char later_arg[32];
	strftime(later_arg, sizeof later_arg, "%Y-%m-%d %H:%M:%S", gmtime(&later));
	expect(run("expire --now '%s'", later_arg), 0, "expire with tiering");
	contains(out, "to STANDARD_IA");
	drb_repo *r = open_repo("drbackup", "COMPLIANCE", 1, false, NULL);
	drb_obj_info info;
	for (int i = 1; i <= 3; i++) {
		char *a = drb_path_dump("testhost", ids[i], "practice_a");
		char *b = drb_path_dump("testhost", ids[i], "practice_b");
		assert_int_equal(drb_repo_info(r, a, &info), 0);
		assert_string_equal(info.storage_class, "STANDARD_IA");
		assert_true(info.retain_until > time(NULL)); /* the copy keeps its lock */
		assert_int_equal(drb_repo_info(r, b, &info), 0);
		assert_string_equal(info.storage_class, "STANDARD");
		free(a);
		free(b);
	}
	drb_repo_close(r);
	expect(run("list"), 0, "list");
	contains(out, "class STANDARD_IA");
	restore_matches(&m[2], "", "a tiered backup");
}

/* An object in an archive class that is not thawed: refused before the target is touched. */
static void test_archived_needs_thaw(void **state)
{
	(void)state;
	NEED();
	drb_repo *r = open_repo("drbackup", "COMPLIANCE", 1, false, NULL);
	char *b = drb_path_dump("testhost", ids[3], "practice_b");
	if (drb_repo_set_class(r, b, "GLACIER") != 0) {
		print_error("%s\n", s3t_error());
		fail();
	}
	drb_obj_info info;
	assert_int_equal(drb_repo_info(r, b, &info), 0);
	assert_string_equal(info.storage_class, "GLACIER");
	char before[1 << 15], after[1 << 15];
	drbt_sql(&dst, NULL, 0,
	         "CREATE DATABASE practice_sentinel; CREATE TABLE "
	         "practice_sentinel.t (a INT); INSERT INTO practice_sentinel.t VALUES (42)");
	drbt_fingerprint(&dst, before, sizeof before, NULL);
	expect(run("restore --to '%s' --target-socket %s --target-user root --force", m[3].when,
	           dst.socket),
	       1, "restore of an archived backup");
	contains(err, "archive storage and not thawed");
	contains(err, "GLACIER");
	contains(err, "restore-object");
	drbt_fingerprint(&dst, after, sizeof after, NULL);
	assert_string_equal(before, after);
	/* back to STANDARD (a thaw, as far as this test goes): it restores */
	assert_int_equal(drb_repo_set_class(r, b, "STANDARD"), 0);
	free(b);
	drb_repo_close(r);
	drbt_sql(&dst, NULL, 0, "DROP DATABASE practice_sentinel");
	restore_matches(&m[3], "", "after the thaw");
}

/* Ransomware with this host's credentials: practice_a's newest dump overwritten, every object
 * deleted (delete markers), the newest manifest written again as garbage. Today's repository
 * restores nothing; the one of before restores exactly. Last: it leaves the repository so. */
static void test_repo_as_of(void **state)
{
	(void)state;
	NEED();
	write_conf(KEEP_ALL, NULL);
	before_attack = time(NULL);
	sleep(2);
	drb_repo *r = open_repo("drbackup", "COMPLIANCE", 0, false, NULL);
	char *manifest = drb_path_manifest("testhost", ids[3]);
	char *dump = drb_path_dump("testhost", ids[3], "practice_a");
	assert_int_equal(drb_repo_put_buf(r, dump, "encrypted by ransomware\n", 24, NULL), 0);
	/* every object deleted (delete markers: Object Lock cannot stop that) */
	paths_t all = {0};
	assert_int_equal(drb_repo_list(r, "testhost/", true, collect_path, &all), 0);
	assert_true(all.n > 10);
	assert_int_equal(drb_repo_remove(r, (const char *const *)all.v, all.n), 0);
	paths_t_free(&all);
	assert_int_equal(drb_repo_put_buf(r, manifest, "{\"ransom\": true}\n", 17, NULL), 0);
	drb_repo_close(r);
	free(manifest);
	free(dump);
	expect(run("restore --to '%s' --target-socket %s --target-user root --force", m[3].when,
	           dst.socket),
	       1, "today's repository");
	char as_of[32], opt[64];
	strftime(as_of, sizeof as_of, "%Y-%m-%d %H:%M:%S", gmtime(&before_attack));
	snprintf(opt, sizeof opt, "--repo-as-of '%s'", as_of);
	restore_matches(&m[3], opt, "restore --repo-as-of");
	expect(run("--json restore-test --repo-as-of '%s'", as_of), 0, "restore-test --repo-as-of");
	contains(out, "\"repo_as_of\"");
	contains(out, "\"ok\": true");
	expect(run("list --repo-as-of '%s'", as_of), 0, "list --repo-as-of");
	for (int i = 1; i <= 3; i++)
		contains(out, ids[i]);
	/* posix keeps no versions: one clear line */
	char posix_conf[4400], text[8192];
	snprintf(posix_conf, sizeof posix_conf, "%s/posix.conf", dir);
	snprintf(text, sizeof text, "repo p {\n type = \"posix\"\n path = \"%s/posix\"\n}\n", dir);
	snprintf(opt, sizeof opt, "%s/posix", dir);
	mkdir(opt, 0700);
	drbt_write_config(posix_conf, dir, &src, text, NULL);
	int rc = drbt_sh(out, sizeof out, err, sizeof err,
	                 "%s -c %s restore --to latest --repo-as-of '%s' --target-socket %s",
	                 drbt_bin(), posix_conf, as_of, dst.socket);
	assert_int_equal(rc, 2);
	contains(err, "keeps no versions");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixture),
	    cmocka_unit_test(test_wire_content_md5),
	    cmocka_unit_test(test_compliance_survives_expire_and_delete),
	    cmocka_unit_test(test_promotion_extends_the_lock),
	    cmocka_unit_test(test_governance),
	    cmocka_unit_test(test_legal_hold),
	    cmocka_unit_test(test_versioned_delete),
	    cmocka_unit_test(test_expire_removes_versions),
	    cmocka_unit_test(test_tiering),
	    cmocka_unit_test(test_archived_needs_thaw),
	    cmocka_unit_test(test_repo_as_of),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
