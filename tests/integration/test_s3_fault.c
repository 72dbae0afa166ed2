/* Faults: radosgw (Ceph RGW) killed (kill -9) at exact points of a request, seen by a proxy on
 * the way: 1 MiB into a part, into a single PUT, when CompleteMultipartUpload arrives or answers,
 * 3 MiB into a GET, and the same under the drbackup binary storing and restoring. Either the
 * operation recovers after a restart and the bytes are exact, or it fails with one error that
 * says what happened, nothing half-written is visible, and the next run stores it whole. Then
 * what only a real server shows: a wrong secret, a skewed clock, a tampered presigned URL, a
 * part under 5 MiB, If-None-Match. Last, answers no healthy server gives (SlowDown, 200 with an
 * <Error>, lost ETags, a size that does not match): the proxy serves those itself, with no
 * server behind it. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/repo.h"
#include "common/sink.h"
#include "s3/internal.h"
#include "s3/s3.h"
#include "tests/harness.h"
#include "tests/integration/test_s3_support.h"

#define MIB (1024u * 1024)

static s3t T;
static drb_repo_config cfgs[32];
static int n_cfgs;

/* sign: the configuration's default, the body's SHA-256 signed; false: Content-MD5, which the
 * ETags given are compared with */
static drb_repo *open_repo_signing(const char *endpoint, const char *prefix, long retries,
                                   bool sign)
{
	drb_repo *r = NULL;
	drb_repo_config *c = &cfgs[n_cfgs++ % 32];
	*c = s3t_config(&T, endpoint, prefix);
	c->retries = retries;
	c->sign_payload = sign;
	assert_int_equal(drb_repo_open(c, &r), 0);
	return r;
}

static drb_repo *open_repo(const char *endpoint, const char *prefix, long retries)
{
	return open_repo_signing(endpoint, prefix, retries, true);
}

static drb_repo *open_md5_repo(const char *endpoint, const char *prefix, long retries)
{
	return open_repo_signing(endpoint, prefix, retries, false);
}

static void crash(void *ud)
{
	(void)ud;
	s3t_rgw_kill(&T.rgw, 0);
}

static void crash_and_restart(void *ud)
{
	(void)ud;
	s3t_rgw_kill(&T.rgw, 0);
	if (s3t_rgw_restart(&T.rgw, 0) < 0)
		T.ok = false;
}

static void back_up(void)
{
	if (!T.rgw.pid[0])
		assert_int_equal(s3t_rgw_restart(&T.rgw, 0), 0);
	assert_true(T.ok);
}

/* One line: an error a user can read. */
static void one_clear_line(const char *must_contain)
{
	const char *e = s3t_error();
	if (strchr(e, '\n') || !strstr(e, must_contain))
		fail_msg("error \"%s\" should be one line containing \"%s\"", e, must_contain);
}

/* After a failed store: the object is absent, or visibly not the whole (smaller, or refused by
 * stat and get); never a full-size object with the wrong bytes, never one listed as complete. */
static void not_passed_as_whole(drb_repo *r, const char *path, uint64_t size, const char *sha)
{
	drb_obj_stat st;
	char got[65];
	uint64_t n = 0;
	int rc = drb_repo_stat(r, path, &st);
	if (rc == 0) {
		assert_true(st.size != size);
		rc = s3t_get(r, path, got, &n);
		assert_true(rc < 0 || strcmp(got, sha) != 0);
	} else {
		assert_true(rc == DRB_ERR_NOT_FOUND || rc == DRB_ERR_INTEGRITY);
	}
}

static int count_entries(void *ud, const char *path, const drb_obj_stat *st)
{
	(void)path;
	(void)st;
	(*(int *)ud)++;
	return 0;
}

/* After an upload that failed for good: no object at path, none listed under the prefix; then
 * the next run (straight to the server) stores it whole. */
static void nothing_visible_then_next_run(const char *prefix, const char *path, uint64_t size,
                                          uint64_t seed)
{
	drb_repo *next = open_repo(NULL, prefix, 2);
	drb_obj_stat st;
	char sha[65], got[65];
	uint64_t n;
	int listed = 0;
	assert_int_equal(drb_repo_stat(next, path, &st), DRB_ERR_NOT_FOUND);
	assert_int_equal(drb_repo_list(next, "", true, count_entries, &listed), 0);
	assert_int_equal(listed, 0);
	assert_int_equal(s3t_put(next, path, size, MIB, seed, sha), 0);
	assert_int_equal(s3t_get(next, path, got, &n), 0);
	assert_int_equal(n, size);
	assert_string_equal(got, sha);
	drb_repo_close(next);
}

/* ---------------------------------------------------------------- a body damaged on the way */

/* One bit of a part changes between the host and RGW. RGW refuses the part, against the signed
 * SHA-256 (the default) or the Content-MD5; the part goes again from the buffer the writer
 * keeps, and the object reads back whole. */
static void part_damaged_on_the_way(void **state)
{
	(void)state;
	S3T_NEED(&T);
	for (int md5 = 0; md5 <= 1; md5++) {
		s3p *p = s3p_start(T.rgw.port[0]);
		const char *prefix = md5 ? "fd1" : "fd0";
		drb_repo *r = md5 ? open_md5_repo(s3p_endpoint(p), prefix, 3)
		                  : open_repo(s3p_endpoint(p), prefix, 3);
		char sha[65], got[65], pattern[64];
		uint64_t n;
		snprintf(pattern, sizeof pattern, "/bucket1/%s/obj?partNumber=2&", prefix);
		s3p_flip(p, pattern, 3 * MIB);
		/* the attempts are logged at debug level, on stderr: keep them in a file */
		int saved = dup(2), v = drb_log_verbosity();
		FILE *cap = tmpfile();
		assert_non_null(cap);
		fflush(stderr);
		dup2(fileno(cap), 2);
		drb_log_init(2);
		int rc = s3t_put(r, "obj", 12ull * MIB, MIB, 21, sha);
		fflush(stderr);
		dup2(saved, 2);
		close(saved);
		drb_log_init(v);
		char log[65536] = "";
		rewind(cap);
		log[fread(log, 1, sizeof log - 1, cap)] = 0;
		fclose(cap);
		assert_int_equal(rc, 0);
		assert_true(s3p_flipped(p));
		/* the server's own refusal, then a second attempt that it took */
		if (!strstr(log, md5 ? "BadDigest" : "XAmzContentSHA256Mismatch")) {
			print_error("no refusal of the damaged part in:\n%s\n", log);
			fail();
		}
		assert_int_equal(s3t_get(r, "obj", got, &n), 0);
		assert_int_equal(n, 12ull * MIB);
		assert_string_equal(got, sha);
		drb_repo_close(r);
		s3p_stop(p);
	}
}

/* ---------------------------------------------------------------- kill -9 during uploads */

static void part_killed_then_back(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(T.rgw.port[0]);
	drb_repo *r = open_repo(s3p_endpoint(p), "f1", 8);
	char sha[65], got[65];
	uint64_t n;
	s3p_arm(p, true, "/bucket1/f1/obj?partNumber=3&", MIB, crash_and_restart, NULL);
	assert_int_equal(s3t_put(r, "obj", 24ull * MIB, MIB, 1, sha), 0);
	assert_true(s3p_fired(p));
	assert_int_equal(s3t_get(r, "obj", got, &n), 0);
	assert_int_equal(n, 24ull * MIB);
	assert_string_equal(got, sha);
	drb_repo_close(r);
	s3p_stop(p);
	back_up();
}

static void part_killed_for_good(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(T.rgw.port[0]);
	drb_repo *r = open_repo(s3p_endpoint(p), "f2", 2);
	char sha[65];
	s3p_arm(p, true, "/bucket1/f2/obj?partNumber=3&", MIB, crash, NULL);
	assert_int_equal(s3t_put(r, "obj", 24ull * MIB, MIB, 2, sha), DRB_ERR_NETWORK);
	one_clear_line("attempt");
	one_clear_line("s3://bucket1/f2/obj");
	back_up();
	not_passed_as_whole(r, "obj", 24ull * MIB, sha);
	nothing_visible_then_next_run("f2", "obj", 24ull * MIB, 2);
	drb_repo_close(r);
	s3p_stop(p);
}

static void single_put_killed_then_back(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(T.rgw.port[0]);
	drb_repo *r = open_repo(s3p_endpoint(p), "f3", 8);
	char sha[65], got[65];
	uint64_t n;
	s3p_arm(p, true, "PUT /bucket1/f3/small HTTP", MIB, crash_and_restart, NULL);
	assert_int_equal(s3t_put(r, "small", 3ull * MIB, 65536, 3, sha), 0);
	assert_true(s3p_fired(p));
	assert_int_equal(s3t_get(r, "small", got, &n), 0);
	assert_int_equal(n, 3ull * MIB);
	assert_string_equal(got, sha);
	drb_repo_close(r);
	s3p_stop(p);
	back_up();
}

/* RGW's PUT is atomic: killed mid-body, a new object is not there at all and a replaced one is
 * still the old one, whole. (The driver's size record, x-amz-meta-drb-size, is what keeps a
 * store that is not atomic from handing out a stump; tests/unit covers that path.) */
static void single_put_killed_for_good(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(T.rgw.port[0]);
	drb_repo *r = open_repo(s3p_endpoint(p), "f4", 1);
	drb_repo *direct = open_repo(NULL, "f4", 1);
	char sha[65], old_sha[65], got[65];
	uint64_t n;
	/* a new object, cut short */
	s3p_arm(p, true, "PUT /bucket1/f4/new HTTP", MIB, crash, NULL);
	assert_int_equal(s3t_put(r, "new", 3ull * MIB, 65536, 4, sha), DRB_ERR_NETWORK);
	one_clear_line("storing s3://bucket1/f4/new");
	back_up();
	drb_obj_stat st;
	assert_int_equal(drb_repo_stat(direct, "new", &st), DRB_ERR_NOT_FOUND);
	/* a replacement cut short: the old bytes, all of them */
	assert_int_equal(s3t_put(direct, "old", 2ull * MIB, 65536, 5, old_sha), 0);
	s3p_arm(p, true, "PUT /bucket1/f4/old HTTP", MIB, crash, NULL);
	assert_int_equal(s3t_put(r, "old", 3ull * MIB, 65536, 6, sha), DRB_ERR_NETWORK);
	back_up();
	assert_int_equal(s3t_get(direct, "old", got, &n), 0);
	assert_int_equal(n, 2ull * MIB);
	assert_string_equal(got, old_sha);
	drb_repo_close(direct);
	drb_repo_close(r);
	s3p_stop(p);
}

static void complete_killed_then_back(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(T.rgw.port[0]);
	drb_repo *r = open_repo(s3p_endpoint(p), "f5", 8);
	char sha[65], got[65];
	uint64_t n;
	/* the server dies as the request line of CompleteMultipartUpload reaches it */
	s3p_arm(p, true, "POST /bucket1/f5/obj?uploadId=", 0, crash_and_restart, NULL);
	assert_int_equal(s3t_put(r, "obj", 12ull * MIB, MIB, 7, sha), 0);
	assert_true(s3p_fired(p));
	assert_int_equal(s3t_get(r, "obj", got, &n), 0);
	assert_int_equal(n, 12ull * MIB);
	assert_string_equal(got, sha);
	drb_repo_close(r);
	s3p_stop(p);
	back_up();
}

static void complete_killed_for_good(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(T.rgw.port[0]);
	drb_repo *r = open_repo(s3p_endpoint(p), "f6", 2);
	char sha[65];
	drb_obj_stat st;
	s3p_arm(p, true, "POST /bucket1/f6/obj?uploadId=", 0, crash, NULL);
	assert_int_equal(s3t_put(r, "obj", 12ull * MIB, MIB, 8, sha), DRB_ERR_NETWORK);
	one_clear_line("completing s3://bucket1/f6/obj: attempt");
	back_up();
	assert_int_equal(drb_repo_stat(r, "obj", &st), DRB_ERR_NOT_FOUND);
	nothing_visible_then_next_run("f6", "obj", 12ull * MIB, 8);
	drb_repo_close(r);
	s3p_stop(p);
}

/* The server completes, then dies before its answer leaves: the driver cannot know the object
 * is whole, so it must not say so. (It may fail although the object is there; the reverse, an
 * object reported stored that is not, must never happen.) */
static void complete_answer_lost(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(T.rgw.port[0]);
	drb_repo *r = open_repo(s3p_endpoint(p), "f7", 2);
	char sha[65], got[65];
	uint64_t n;
	s3p_arm(p, false, "<CompleteMultipartUploadResult", 0, crash_and_restart, NULL);
	int rc = s3t_put(r, "obj", 12ull * MIB, MIB, 9, sha);
	assert_true(s3p_fired(p));
	if (rc < 0)
		one_clear_line("completing s3://bucket1/f7/obj");
	/* whatever the driver said, what is there is whole and exact (RGW completed) */
	assert_int_equal(s3t_get(r, "obj", got, &n), 0);
	assert_int_equal(n, 12ull * MIB);
	assert_string_equal(got, sha);
	drb_repo_close(r);
	s3p_stop(p);
	back_up();
}

/* ---------------------------------------------------------------- kill -9 during reads */

static void get_killed_then_back(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(T.rgw.port[0]);
	drb_repo *direct = open_repo(NULL, "f8", 2), *r = open_repo(s3p_endpoint(p), "f8", 8);
	char sha[65], got[65];
	uint64_t n;
	assert_int_equal(s3t_put(direct, "obj", 12ull * MIB, MIB, 10, sha), 0);
	/* 3 MiB of the answer reach the reader, then the server dies and comes back */
	s3p_arm(p, false, "HTTP/1.1 200", 3 * MIB, crash_and_restart, NULL);
	assert_int_equal(s3t_get(r, "obj", got, &n), 0);
	assert_true(s3p_fired(p));
	assert_int_equal(n, 12ull * MIB); /* no byte twice, none missing */
	assert_string_equal(got, sha);
	drb_repo_close(r);
	drb_repo_close(direct);
	s3p_stop(p);
	back_up();
}

static void get_killed_for_good(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(T.rgw.port[0]);
	drb_repo *direct = open_repo(NULL, "f9", 2), *r = open_repo(s3p_endpoint(p), "f9", 2);
	char sha[65], got[65];
	uint64_t n;
	assert_int_equal(s3t_put(direct, "obj", 12ull * MIB, MIB, 11, sha), 0);
	s3p_arm(p, false, "HTTP/1.1 200", 3 * MIB, crash, NULL);
	assert_int_equal(s3t_get(r, "obj", got, &n), DRB_ERR_NETWORK);
	one_clear_line("reading s3://bucket1/f9/obj");
	assert_true(n < 12ull * MIB);
	back_up();
	drb_repo_close(r);
	drb_repo_close(direct);
	s3p_stop(p);
}

static drb_repo *replacer;

/* kill, restart, and put other bytes of the same size under the key being read */
static void crash_restart_replace(void *ud)
{
	char sha[65];
	crash_and_restart(ud);
	if (s3t_put(replacer, "obj", 12ull * MIB, MIB, 99, sha) < 0)
		T.ok = false;
}

static void get_object_replaced(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(T.rgw.port[0]);
	drb_repo *r = open_repo(s3p_endpoint(p), "f10", 8);
	char sha[65], got[65];
	uint64_t n;
	replacer = open_repo(NULL, "f10", 4);
	assert_int_equal(s3t_put(replacer, "obj", 12ull * MIB, MIB, 12, sha), 0);
	s3p_arm(p, false, "HTTP/1.1 200", 3 * MIB, crash_restart_replace, NULL);
	/* RGW refuses the resumed range with 412 (If-Match): the two objects are never stitched */
	assert_int_equal(s3t_get(r, "obj", got, &n), DRB_ERR_INTEGRITY);
	one_clear_line("replaced while being read");
	assert_true(T.ok);
	drb_repo_close(replacer);
	drb_repo_close(r);
	s3p_stop(p);
	back_up();
}

/* ---------------------------------------------------------------- kill -9 under the binary */

typedef struct cli_env {
	char *dir;
	char conf[PATH_MAX + 32], in[PATH_MAX + 16];
} cli_env;

/* A configuration whose repository goes through endpoint, and 40 MiB of random bytes to back up
 * (sealed, still eight 5 MiB parts). */
static void cli_env_new(cli_env *e, const char *endpoint, int retries)
{
	char repos[2048], out[256], err[1024];
	e->dir = drbt_tmpdir("s3kill");
	snprintf(e->conf, sizeof e->conf, "%s/drbackup.conf", e->dir);
	snprintf(e->in, sizeof e->in, "%s/in", e->dir);
	snprintf(repos, sizeof repos,
	         "repo primary {\n  type = \"s3\"\n  endpoint = \"%s\"\n  bucket = \"bucket2\"\n"
	         "  prefix = \"kill\"\n  access_key_id = \"%s\"\n"
	         "  secret_access_key_file = \"%s\"\n  part_size = 5242880\n  retries = %d\n}\n",
	         endpoint, T.rgw.access_key, T.secret, retries);
	assert_int_equal(drbt_keygen(e->dir), 0);
	assert_int_equal(drbt_write_config(e->conf, e->dir, NULL, repos, NULL), 0);
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err,
	                         "head -c 41943040 /dev/urandom > '%s'", e->in),
	                 0);
}

static void cli_env_free(cli_env *e)
{
	drbt_rmtree(e->dir);
	free(e->dir);
}

/* stderr of a failed command: exactly one error line, naming what; other lines only warnings
 * (such as parts that could not be aborted while the server was down) */
static void one_stderr_line(const char *err, const char *what)
{
	unsigned errors = 0;
	bool other = false, named = false;
	char *copy = strdup(err), *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strstr(l, " error: ")) {
			errors++;
			named = strstr(l, what) != NULL;
		} else if (!strstr(l, " warning: ")) {
			other = true;
		}
	}
	free(copy);
	if (errors != 1 || other || !named)
		fail_msg("stderr \"%s\" should have one error line, containing \"%s\"", err, what);
}

/* `repo put` and `repo get` (what every backup and restore does with the repository) while
 * radosgw is killed with -9 and started again: both succeed, and the bytes are exact. */
static void cli_killed_then_back(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(T.rgw.port[0]);
	cli_env e;
	char out[1024], err[4096];
	cli_env_new(&e, s3p_endpoint(p), 8);
	s3p_arm(p, true, "/bucket2/kill/db/dump?partNumber=3&", MIB, crash_and_restart, NULL);
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err,
	                         "'%s' -c '%s' repo put db/dump < '%s'", drbt_bin(), e.conf, e.in),
	                 0);
	assert_true(s3p_fired(p));
	s3p_arm(p, false, "HTTP/1.1 200", 3 * MIB, crash_and_restart, NULL);
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err,
	                         "'%s' -c '%s' repo get db/dump | cmp - '%s' && echo same",
	                         drbt_bin(), e.conf, e.in),
	                 0);
	assert_true(s3p_fired(p));
	assert_string_equal(out, "same\n");
	cli_env_free(&e);
	s3p_stop(p);
	back_up();
}

/* The same with radosgw down for good: exit 1 and one line on stderr; nothing was stored. */
static void cli_killed_for_good(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(T.rgw.port[0]);
	cli_env e;
	char out[1024], err[4096];
	cli_env_new(&e, s3p_endpoint(p), 1);
	s3p_arm(p, true, "/bucket2/kill/db/lost?partNumber=3&", MIB, crash, NULL);
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err,
	                         "'%s' -c '%s' repo put db/lost < '%s'", drbt_bin(), e.conf, e.in),
	                 1);
	one_stderr_line(err, "s3://bucket2/kill/db/lost");
	back_up();
	assert_int_equal(
	    drbt_sh(out, sizeof out, err, sizeof err, "'%s' -c '%s' repo ls", drbt_bin(), e.conf),
	    0);
	assert_null(strstr(out, "db/lost"));
	/* a restore: the server dies 3 MiB into the object and stays down */
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err,
	                         "'%s' -c '%s' repo put db/dump < '%s'", drbt_bin(), e.conf, e.in),
	                 0);
	s3p_arm(p, false, "HTTP/1.1 200", 3 * MIB, crash, NULL);
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err,
	                         "'%s' -c '%s' repo get db/dump > '%s/out'", drbt_bin(), e.conf,
	                         e.dir),
	                 1);
	one_stderr_line(err, "s3://bucket2/kill/db/dump");
	back_up();
	cli_env_free(&e);
	s3p_stop(p);
}

/* ---------------------------------------------------------------- what only a real server shows */

static drb_repo *repo_with_secret(const char *prefix, const char *key, const char *secret)
{
	char path[PATH_MAX + 32], text[256];
	snprintf(path, sizeof path, "%s/%s.secret", T.dir, prefix);
	snprintf(text, sizeof text, "%s\n", secret);
	assert_int_equal(drbt_write_file(path, text, 0600), 0);
	drb_repo_config *c = &cfgs[n_cfgs++ % 32];
	*c = s3t_config(&T, NULL, prefix);
	c->access_key_id = strdup(key); /* lives as long as the test program */
	c->secret_access_key_file = strdup(path);
	c->retries = 3;
	drb_repo *r = NULL;
	assert_int_equal(drb_repo_open(c, &r), 0);
	return r;
}

static void wrong_secret(void **state)
{
	(void)state;
	S3T_NEED(&T);
	drb_repo *r = repo_with_secret("w1", T.rgw.access_key, "not-the-secret-at-all");
	drb_obj_stat st;
	int n = 0;
	assert_int_equal(drb_repo_put_buf(r, "x", "y", 1, NULL), DRB_ERR_PERMISSION);
	one_clear_line("storing s3://bucket1/w1/x: HTTP 403 SignatureDoesNotMatch: the request's "
	               "signature is wrong: the secret key is not the one of this access key");
	one_clear_line("(check access_key_id, secret_access_key_file and region)");
	assert_null(strstr(s3t_error(), "attempt")); /* refused once, not retried */
	/* a HEAD answer has no body: still a line that names the likely causes */
	assert_int_equal(drb_repo_stat(r, "x", &st), DRB_ERR_PERMISSION);
	one_clear_line("HTTP 403 without a reason (a HEAD answer has no body): a wrong secret key");
	assert_int_equal(drb_repo_list(r, "", true, count_entries, &n), DRB_ERR_PERMISSION);
	one_clear_line("SignatureDoesNotMatch");
	drb_repo_close(r);
	/* an access key the server does not know */
	r = repo_with_secret("w1b", "NOSUCHKEY", T.rgw.secret);
	assert_int_equal(drb_repo_put_buf(r, "x", "y", 1, NULL), DRB_ERR_PERMISSION);
	one_clear_line("HTTP 403 InvalidAccessKeyId: the server knows no such access key");
	drb_repo_close(r);
	/* the binary says it in one line too */
	char conf[PATH_MAX + 32], repos[2048], out[1024], err[4096], *dir = drbt_tmpdir("s3secret");
	snprintf(conf, sizeof conf, "%s/drbackup.conf", dir);
	snprintf(repos, sizeof repos,
	         "repo primary {\n  type = \"s3\"\n  endpoint = \"%s\"\n  bucket = \"bucket1\"\n"
	         "  access_key_id = \"%s\"\n  secret_access_key_file = \"%s/w1.secret\"\n}\n",
	         T.rgw.endpoint[0], T.rgw.access_key, T.dir);
	assert_int_equal(drbt_keygen(dir), 0);
	assert_int_equal(drbt_write_config(conf, dir, NULL, repos, NULL), 0);
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err,
	                         "echo hi | '%s' -c '%s' repo put x", drbt_bin(), conf),
	                 1);
	one_stderr_line(err, "SignatureDoesNotMatch: the request's signature is wrong");
	drbt_rmtree(dir);
	free(dir);
}

static time_t an_hour_ahead(time_t *t)
{
	time_t now = time(NULL) + 3600;
	if (t)
		*t = now;
	return now;
}

static time_t two_hours_ago(time_t *t)
{
	time_t now = time(NULL) - 7200;
	if (t)
		*t = now;
	return now;
}

static int clock_back(void **state)
{
	(void)state;
	drb_s3_clock = time;
	return 0;
}

/* This host's clock an hour ahead: RGW refuses every request, and the line says to fix it. */
static void skewed_clock(void **state)
{
	(void)state;
	S3T_NEED(&T);
	drb_repo *r = open_repo(NULL, "w2", 3);
	drb_obj_stat st;
	char *data = NULL;
	size_t len;
	assert_int_equal(drb_repo_put_buf(r, "x", "y", 1, NULL), 0);
	drb_s3_clock = an_hour_ahead;
	assert_int_equal(drb_repo_put_buf(r, "x", "z", 1, NULL), DRB_ERR_REFUSED);
	one_clear_line("storing s3://bucket1/w2/x: HTTP 403 RequestTimeTooSkewed: this host's "
	               "clock is off by");
	one_clear_line("s (ahead of the server's); S3 refuses requests more than 15 minutes off: "
	               "fix the time (NTP)");
	assert_null(strstr(s3t_error(), "attempt")); /* retrying would not help */
	assert_int_equal(drb_repo_stat(r, "x", &st), DRB_ERR_PERMISSION);
	one_clear_line("HTTP 403: this host's clock is off by");
	drb_s3_clock = time;
	/* nothing was replaced */
	assert_int_equal(drb_repo_get_buf(r, "x", 10, &data, &len), 0);
	assert_int_equal(len, 1);
	assert_memory_equal(data, "y", 1);
	free(data);
	drb_repo_close(r);
}

/* curl the URL; the HTTP status, and the answer's error (if any) as the driver describes it */
static long fetch(const char *url, char *line, size_t len, char *body, size_t bodylen)
{
	char out[8192], err[1024];
	drb_s3_resp resp;
	memset(&resp, 0, sizeof resp);
	drb_s3_resp_reset(&resp);
	drbt_sh(out, sizeof out, err, sizeof err,
	        "curl -s --noproxy '*' -w '\\n%%{http_code}' '%s'", url);
	char *nl = strrchr(out, '\n');
	assert_non_null(nl);
	*nl = 0;
	resp.status = atol(nl + 1);
	snprintf(body, bodylen, "%s", out);
	line[0] = 0;
	if (drb_s3_parse_error(out, strlen(out), resp.code, sizeof resp.code, resp.message,
	                       sizeof resp.message, &resp.skew) == 0)
		drb_s3_describe_answer(&resp, line, len);
	drb_error_clear();
	return resp.status;
}

static void tampered_presigned_url(void **state)
{
	(void)state;
	S3T_NEED(&T);
	drb_repo_config cfg = s3t_config(&T, NULL, "w3");
	drb_repo *r = open_repo(NULL, "w3", 2);
	char *url = NULL, line[512], body[8192];
	assert_int_equal(drb_repo_put_buf(r, "exports/a.zip", "zipped!", 7, NULL), 0);
	assert_int_equal(drb_repo_put_buf(r, "exports/b.zip", "other!!", 7, NULL), 0);
	assert_int_equal(drb_s3_presign(&cfg, "exports/a.zip", 600, &url), 0);
	assert_int_equal(fetch(url, line, sizeof line, body, sizeof body), 200);
	assert_string_equal(body, "zipped!");
	/* a longer life, or another object, under the same signature */
	char *t = strdup(url), *at = strstr(t, "X-Amz-Expires=600");
	assert_non_null(at);
	memcpy(at, "X-Amz-Expires=900", 17);
	assert_int_equal(fetch(t, line, sizeof line, body, sizeof body), 403);
	if (strchr(line, '\n') || !strstr(line, "HTTP 403 SignatureDoesNotMatch: the request's "
	                                        "signature is wrong"))
		fail_msg("\"%s\" should name the wrong signature", line);
	free(t);
	t = strdup(url);
	at = strstr(t, "exports/a.zip");
	assert_non_null(at);
	at[8] = 'b';
	assert_int_equal(fetch(t, line, sizeof line, body, sizeof body), 403);
	assert_non_null(strstr(line, "SignatureDoesNotMatch"));
	assert_null(strstr(body, "other!!"));
	free(t);
	free(url);
	/* a link made two hours ago for ten minutes has expired */
	drb_s3_clock = two_hours_ago;
	assert_int_equal(drb_s3_presign(&cfg, "exports/a.zip", 600, &url), 0);
	drb_s3_clock = time;
	assert_int_equal(fetch(url, line, sizeof line, body, sizeof body), 403);
	assert_null(strstr(body, "zipped!"));
	free(url);
	drb_repo_close(r);
}

/* Every part but the last must be 5 MiB: RGW refuses smaller ones at Complete, and the driver's
 * writer never makes them (5 MiB + 1 byte went as two parts in test_s3's part_boundaries). */
static void part_too_small(void **state)
{
	(void)state;
	S3T_NEED(&T);
	drb_repo_config cfg = s3t_config(&T, NULL, "w4");
	drb_s3 *s3 = NULL;
	drb_s3_resp resp = {0};
	char *upload = NULL, etags[2][80], *xml = NULL;
	size_t len;
	static unsigned char part[MIB];
	assert_int_equal(drb_s3_new(&cfg, &s3), 0);
	char *key = drb_s3_key(s3, "small-parts");
	drb_s3_req create = {.method = "POST", .key = key, .what = "starting the upload of"};
	create.query[create.n_query++] = (drb_s3_kv){"uploads", ""};
	assert_int_equal(drb_s3_send(s3, &create, &resp), 0);
	assert_int_equal(drb_s3_parse_upload_id(resp.body, resp.body_len, &upload), 0);
	for (unsigned i = 0; i < 2; i++) {
		char num[8];
		s3t_fill(40 + i, 0, part, sizeof part);
		snprintf(num, sizeof num, "%u", i + 1);
		drb_s3_req put = {.method = "PUT",
		                  .key = key,
		                  .body = part,
		                  .body_len = sizeof part,
		                  .what = "storing a part of"};
		put.query[put.n_query++] = (drb_s3_kv){"partNumber", num};
		put.query[put.n_query++] = (drb_s3_kv){"uploadId", upload};
		drb_s3_resp_free(&resp);
		drb_s3_resp_reset(&resp);
		assert_int_equal(drb_s3_send(s3, &put, &resp), 0);
		snprintf(etags[i], sizeof etags[i], "%s", resp.etag);
	}
	assert_int_equal(drb_s3_xml_complete(2, etags, &xml, &len), 0);
	drb_s3_req done = {.method = "POST",
	                   .key = key,
	                   .body = xml,
	                   .body_len = len,
	                   .what = "completing",
	                   .error_in_200 = true};
	done.query[done.n_query++] = (drb_s3_kv){"uploadId", upload};
	drb_s3_resp_free(&resp);
	drb_s3_resp_reset(&resp);
	assert_true(drb_s3_send(s3, &done, &resp) < 0);
	one_clear_line("completing s3://bucket1/w4/small-parts: HTTP 400 EntityTooSmall: a part "
	               "other than the last is smaller than 5 MiB");
	drb_s3_req abort_req = {.method = "DELETE", .key = key, .what = "aborting"};
	abort_req.query[abort_req.n_query++] = (drb_s3_kv){"uploadId", upload};
	drb_s3_resp_free(&resp);
	drb_s3_resp_reset(&resp);
	assert_int_equal(drb_s3_send(s3, &abort_req, &resp), 0);
	drb_s3_resp_free(&resp);
	free(xml);
	free(upload);
	free(key);
	drb_s3_free(s3);
}

/* If-None-Match: * stores only where nothing is: RGW answers 412 where an object is. */
static void if_none_match(void **state)
{
	(void)state;
	S3T_NEED(&T);
	drb_repo_config cfg = s3t_config(&T, NULL, "w5");
	drb_s3 *s3 = NULL;
	drb_s3_resp resp = {0};
	assert_int_equal(drb_s3_new(&cfg, &s3), 0);
	char *key = drb_s3_key(s3, "once");
	for (int i = 0; i < 2; i++) {
		drb_s3_req put = {
		    .method = "PUT", .key = key, .body = "abc", .body_len = 3, .what = "storing"};
		put.headers[put.n_headers++] = (drb_s3_kv){"If-None-Match", "*"};
		drb_s3_resp_reset(&resp);
		int rc = drb_s3_send(s3, &put, &resp);
		if (i == 0)
			assert_int_equal(rc, 0);
		else
			assert_int_equal(resp.status, 412);
		drb_s3_resp_free(&resp);
	}
	free(key);
	drb_s3_free(s3);
}

/* ---------------------------------------------------------------- canned answers */

#define SLOWDOWN                                                                                   \
	"HTTP/1.1 503 Slow Down\nContent-Type: application/xml\n\n<?xml version=\"1.0\" "          \
	"encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request "   \
	"rate.</Message></Error>"
#define INTERNAL                                                                                   \
	"HTTP/1.1 500 Internal Server Error\n\n<Error><Code>InternalError</Code><Message>We "      \
	"encountered an internal error. Please try again.</Message></Error>"

static void canned_retries_then_ok(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(0);
	drb_repo *r = open_repo(s3p_endpoint(p), "c", 3);
	drb_obj_stat st;
	const char *answers[] = {SLOWDOWN, "HTTP/1.1 429 Too Many Requests\n\n", INTERNAL,
	                         "HTTP/1.1 200 OK\nContent-Length: 42\nETag: \"x\"\n"
	                         "Last-Modified: Wed, 25 Nov 2026 10:00:00 GMT\n\n"};
	s3p_canned(p, answers, 4);
	assert_int_equal(drb_repo_stat(r, "obj", &st), 0);
	assert_int_equal(st.size, 42);
	assert_int_equal(st.mtime, 1795600800);
	assert_int_equal(s3p_requests(p), 4);
	assert_non_null(strstr(s3p_request(p, 0), "HEAD /bucket1/c/obj HTTP/1.1"));
	drb_repo_close(r);
	s3p_stop(p);
}

static void canned_retries_exhausted(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(0);
	drb_repo *r = open_repo(s3p_endpoint(p), "c", 2);
	char sha[65];
	const char *answers[] = {SLOWDOWN, SLOWDOWN, INTERNAL};
	s3p_canned(p, answers, 3);
	assert_int_equal(s3t_get(r, "obj", sha, NULL), DRB_ERR_REMOTE);
	one_clear_line("reading s3://bucket1/c/obj: attempts 1-2: HTTP 503 SlowDown (Please reduce "
	               "your request rate.); attempt 3: HTTP 500 InternalError");
	assert_int_equal(s3p_requests(p), 3);
	drb_repo_close(r);
	s3p_stop(p);
}

static void canned_clock_skew(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(0);
	drb_repo *r = open_repo(s3p_endpoint(p), "c", 3);
	char sha[65];
	const char *answers[] = {
	    "HTTP/1.1 403 Forbidden\n\n<Error><Code>RequestTimeTooSkewed</Code><Message>The "
	    "difference between the request time and the current time is too large."
	    "</Message><RequestTime>20261125T100000Z</RequestTime><ServerTime>"
	    "2026-11-25T10:20:00Z</ServerTime><MaxAllowedSkewMilliseconds>900000"
	    "</MaxAllowedSkewMilliseconds></Error>"};
	s3p_canned(p, answers, 1);
	assert_int_equal(s3t_get(r, "obj", sha, NULL), DRB_ERR_REFUSED);
	one_clear_line("this host's clock is off by 1200 s (behind the server's)");
	one_clear_line("NTP");
	assert_int_equal(s3p_requests(p), 1); /* not retried: it would fail the same way */
	drb_repo_close(r);
	s3p_stop(p);
}

#define CREATED                                                                                    \
	"HTTP/1.1 200 OK\n\n<InitiateMultipartUploadResult><Bucket>bucket1</Bucket><Key>c/obj"     \
	"</Key><UploadId>UP1</UploadId></InitiateMultipartUploadResult>"
#define PART_OK "HTTP/1.1 200 OK\nETag: \"part-etag\"\n\n"
#define ABORTED "HTTP/1.1 204 No Content\n\n"

static const char *last_request(s3p *p)
{
	return s3p_request(p, s3p_requests(p) - 1);
}

/* S3 may answer CompleteMultipartUpload with 200 and an <Error> body: that is a failure. */
static void canned_complete_error_in_200(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(0);
	drb_repo *r = open_repo(s3p_endpoint(p), "c", 1);
	char sha[65];
	const char *answers[] = {
	    CREATED,
	    PART_OK,
	    PART_OK,
	    "HTTP/1.1 200 OK\n\n<Error><Code>InternalError</Code><Message>We "
	    "encountered an internal error.</Message></Error>",
	    "HTTP/1.1 200 OK\n\n<Error><Code>AccessDenied</Code><Message>Access "
	    "Denied</Message></Error>",
	    ABORTED};
	s3p_canned(p, answers, 6);
	assert_int_equal(s3t_put(r, "obj", 6ull * MIB, MIB, 13, sha), DRB_ERR_PERMISSION);
	one_clear_line("completing s3://bucket1/c/obj: attempt 1: HTTP 200 InternalError");
	one_clear_line("attempt 2: HTTP 200 AccessDenied");
	/* the parts are not left behind */
	assert_non_null(strstr(last_request(p), "DELETE /bucket1/c/obj?uploadId=UP1 HTTP/1.1"));
	assert_int_equal(s3p_requests(p), 6);
	drb_repo_close(r);
	s3p_stop(p);
}

static void canned_complete_without_etag(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(0);
	drb_repo *r = open_repo(s3p_endpoint(p), "c", 1);
	char sha[65];
	const char *answers[] = {
	    CREATED, PART_OK, PART_OK,
	    "HTTP/1.1 200 OK\n\n<CompleteMultipartUploadResult><Key>c/obj</Key>"
	    "</CompleteMultipartUploadResult>",
	    ABORTED};
	s3p_canned(p, answers, 5);
	assert_int_equal(s3t_put(r, "obj", 6ull * MIB, MIB, 14, sha), DRB_ERR_FORMAT);
	one_clear_line("without an ETag");
	assert_non_null(strstr(last_request(p), "DELETE /bucket1/c/obj?uploadId=UP1"));
	drb_repo_close(r);
	s3p_stop(p);
}

/* Ceph RGW answers Complete with an empty <ETag></ETag>: the object counts as stored when the
 * HEAD shows the size and the ETag of the very parts sent, and not otherwise. */
static void canned_complete_empty_etag(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(0);
	static unsigned char buf[5 * MIB];
	unsigned char md5s[2][16];
	char sha[65], predicted[48], head_ok[256], hex[2][33], part_md5[2][128];
	s3t_fill(15, 0, buf, 5 * MIB);
	drb_s3_md5(buf, 5 * MIB, md5s[0]);
	s3t_fill(15, 5 * MIB, buf, MIB);
	drb_s3_md5(buf, MIB, md5s[1]);
	drb_s3_multipart_etag((const unsigned char(*)[16])md5s, 2, predicted);
	snprintf(head_ok, sizeof head_ok,
	         "HTTP/1.1 200 OK\nContent-Length: 6291456\nETag: \"%s\"\n\n", predicted);
	for (int i = 0; i < 2; i++) { /* what RGW answers a part: the MD5 of what it got */
		drb_s3_hex(md5s[i], 16, hex[i]);
		snprintf(part_md5[i], sizeof part_md5[i], "HTTP/1.1 200 OK\nETag: \"%s\"\n\n",
		         hex[i]);
	}
#define EMPTY_COMPLETE                                                                             \
	"HTTP/1.1 200 OK\n\n<CompleteMultipartUploadResult><Key>c/obj</Key><ETag></ETag>"          \
	"</CompleteMultipartUploadResult>"
#define OTHER_HEAD                                                                                 \
	"HTTP/1.1 200 OK\nContent-Length: 6291456\nETag: "                                         \
	"\"0123456789abcdef0123456789abcdef-2\"\n\n"
	/* a signed payload (the default): the ETag is predicted from the MD5s the server gave for
	 * the parts, whose bytes it checked against the signed SHA-256s. One part at a time, so the
	 * canned answers meet the parts in order. */
	drb_repo_config *c = &cfgs[n_cfgs++ % 32];
	*c = s3t_config(&T, s3p_endpoint(p), "c");
	c->retries = 1;
	c->upload_parallel = 1;
	drb_repo *r = NULL;
	assert_int_equal(drb_repo_open(c, &r), 0);
	const char *good[] = {CREATED, part_md5[0], part_md5[1], EMPTY_COMPLETE, head_ok};
	s3p_canned(p, good, 5);
	assert_int_equal(s3t_put(r, "obj", 6ull * MIB, MIB, 15, sha), 0);
	assert_non_null(strstr(last_request(p), "HEAD /bucket1/c/obj HTTP/1.1"));
	assert_null(strstr(s3p_request(p, 1), "Content-MD5:"));
	const char *other[] = {CREATED,        part_md5[0], part_md5[1],
	                       EMPTY_COMPLETE, OTHER_HEAD,  ABORTED};
	s3p_canned(p, other, 6);
	assert_int_equal(s3t_put(r, "obj", 6ull * MIB, MIB, 15, sha), DRB_ERR_INTEGRITY);
	one_clear_line("has ETag 0123456789abcdef0123456789abcdef-2, but its parts' MD5s give");
	drb_repo_close(r);
	/* Content-MD5 (sign_payload = false): predicted from the MD5s sent, whatever ETags come */
	r = open_md5_repo(s3p_endpoint(p), "c", 1);
	const char *good_md5[] = {CREATED, PART_OK, PART_OK, EMPTY_COMPLETE, head_ok};
	s3p_canned(p, good_md5, 5);
	assert_int_equal(s3t_put(r, "obj", 6ull * MIB, MIB, 15, sha), 0);
	const char *other_md5[] = {CREATED, PART_OK, PART_OK, EMPTY_COMPLETE, OTHER_HEAD, ABORTED};
	s3p_canned(p, other_md5, 6);
	assert_int_equal(s3t_put(r, "obj", 6ull * MIB, MIB, 15, sha), DRB_ERR_INTEGRITY);
	one_clear_line("has ETag 0123456789abcdef0123456789abcdef-2, but its parts' MD5s give");
	drb_repo_close(r);
	s3p_stop(p);
}

/* Stored means: the HEAD after the upload shows every byte. */
static void canned_size_mismatch(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(0);
	drb_repo *r = open_repo(s3p_endpoint(p), "c", 1);
	const char *answers[] = {"HTTP/1.1 200 OK\nETag: \"e\"\n\n",
	                         "HTTP/1.1 200 OK\nContent-Length: 4\nETag: \"e\"\n\n"};
	s3p_canned(p, answers, 2);
	assert_int_equal(drb_repo_put_buf(r, "obj", "hello", 5, NULL), DRB_ERR_INTEGRITY);
	one_clear_line("s3://bucket1/c/obj holds 4 bytes after 5 were written");
	/* what went out: the body's SHA-256, signed, no Content-MD5, our size record */
	const char *put = s3p_request(p, 0);
	assert_non_null(strstr(put, "PUT /bucket1/c/obj HTTP/1.1"));
	assert_non_null(strstr(put,
	                       "x-amz-content-sha256: "
	                       "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"));
	assert_null(strstr(put, "Content-MD5:"));
	assert_non_null(strstr(put, "SignedHeaders=host;x-amz-content-sha256;x-amz-date;"));
	assert_non_null(strstr(put, "x-amz-meta-drb-size: 5"));
	assert_non_null(strstr(put, "Authorization: AWS4-HMAC-SHA256 Credential=DRBTESTKEY/"));
	assert_null(strstr(put, "Expect:"));
	assert_null(strstr(put, "chunked"));
	drb_repo_close(r);

	/* sign_payload = false: Content-MD5 and an unsigned payload (the header itself signed) */
	r = open_md5_repo(s3p_endpoint(p), "c", 0);
	s3p_canned(p, answers, 2);
	assert_int_equal(drb_repo_put_buf(r, "obj", "hello", 5, NULL), DRB_ERR_INTEGRITY);
	put = s3p_request(p, 0);
	assert_non_null(strstr(put, "Content-MD5: XUFAKrxLKna5cZ2REBfFkg=="));
	assert_non_null(strstr(put, "x-amz-content-sha256: UNSIGNED-PAYLOAD"));
	assert_non_null(strstr(put, "content-md5;host;x-amz-content-sha256;x-amz-date;"));
	drb_repo_close(r);
	s3p_stop(p);
}

/* AWS refuses a body without Content-MD5 in a bucket with default Object Lock retention, which
 * the configuration does not name: the body goes again with it, and so do the next ones. */
static void canned_md5_demanded(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(0);
	drb_repo *r = open_repo(s3p_endpoint(p), "c", 1);
	const char *answers[] = {
	    "HTTP/1.1 400 Bad Request\n\n<Error><Code>InvalidRequest</Code><Message>Content-MD5 OR "
	    "x-amz-checksum- HTTP header is required for Put Object requests with Object Lock "
	    "parameters</Message></Error>",
	    "HTTP/1.1 200 OK\nETag: \"5d41402abc4b2a76b9719d911017c592\"\n\n",
	    "HTTP/1.1 200 OK\nContent-Length: 5\nETag: \"5d41402abc4b2a76b9719d911017c592\"\n\n",
	    "HTTP/1.1 200 OK\nETag: \"5d41402abc4b2a76b9719d911017c592\"\n\n",
	    "HTTP/1.1 200 OK\nContent-Length: 5\nETag: \"5d41402abc4b2a76b9719d911017c592\"\n\n"};
	s3p_canned(p, answers, 5);
	assert_int_equal(drb_repo_put_buf(r, "obj", "hello", 5, NULL), 0);
	assert_int_equal(s3p_requests(p), 3);
	assert_null(strstr(s3p_request(p, 0), "Content-MD5:"));
	assert_non_null(strstr(s3p_request(p, 1), "Content-MD5: XUFAKrxLKna5cZ2REBfFkg=="));
	assert_non_null(strstr(s3p_request(p, 1), "x-amz-content-sha256: 2cf24dba"));
	/* the next body carries it from the start */
	assert_int_equal(drb_repo_put_buf(r, "obj2", "hello", 5, NULL), 0);
	assert_int_equal(s3p_requests(p), 5);
	assert_non_null(strstr(s3p_request(p, 3), "Content-MD5: XUFAKrxLKna5cZ2REBfFkg=="));
	drb_repo_close(r);

	/* the same in a multipart upload: the refused part goes again, the next carries it, and the
	 * object's ETag is predicted from the MD5s sent */
	static unsigned char buf[5 * MIB];
	unsigned char md5s[2][16];
	char sha[65], predicted[48], head_ok[256], part_ok[2][128], hex[33];
	s3t_fill(16, 0, buf, 5 * MIB);
	drb_s3_md5(buf, 5 * MIB, md5s[0]);
	s3t_fill(16, 5 * MIB, buf, MIB);
	drb_s3_md5(buf, MIB, md5s[1]);
	drb_s3_multipart_etag((const unsigned char(*)[16])md5s, 2, predicted);
	snprintf(head_ok, sizeof head_ok,
	         "HTTP/1.1 200 OK\nContent-Length: 6291456\nETag: \"%s\"\n\n", predicted);
	for (int i = 0; i < 2; i++) {
		drb_s3_hex(md5s[i], 16, hex);
		snprintf(part_ok[i], sizeof part_ok[i], "HTTP/1.1 200 OK\nETag: \"%s\"\n\n", hex);
	}
	drb_repo_config *c = &cfgs[n_cfgs++ % 32];
	*c = s3t_config(&T, s3p_endpoint(p), "c");
	c->retries = 1;
	c->upload_parallel = 1; /* the canned answers meet the parts in order */
	r = NULL;
	assert_int_equal(drb_repo_open(c, &r), 0);
	const char *multi[] = {CREATED,    answers[0],     part_ok[0],
	                       part_ok[1], EMPTY_COMPLETE, head_ok};
	s3p_canned(p, multi, 6);
	assert_int_equal(s3t_put(r, "obj", 6ull * MIB, MIB, 16, sha), 0);
	assert_int_equal(s3p_requests(p), 6);
	assert_null(strstr(s3p_request(p, 1), "Content-MD5:"));
	assert_non_null(strstr(s3p_request(p, 2), "?partNumber=1&"));
	assert_non_null(strstr(s3p_request(p, 2), "\r\nContent-MD5: "));
	assert_non_null(strstr(s3p_request(p, 3), "?partNumber=2&"));
	assert_non_null(strstr(s3p_request(p, 3), "\r\nContent-MD5: "));
	drb_repo_close(r);
	s3p_stop(p);
}

/* A server that claims to have stored other bytes (its MD5 ETag differs) gets them again. */
static void canned_part_etag_mismatch(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(0);
	/* only the Content-MD5 mode knows the MD5 sent; a signed payload is checked by the server
	 */
	drb_repo *r = open_md5_repo(s3p_endpoint(p), "c", 1);
	const char *answers[] = {"HTTP/1.1 200 OK\nETag: \"00000000000000000000000000000000\"\n\n",
	                         "HTTP/1.1 200 OK\nETag: \"00000000000000000000000000000000\"\n\n"};
	s3p_canned(p, answers, 2);
	assert_int_equal(drb_repo_put_buf(r, "obj", "hello", 5, NULL), DRB_ERR_INTEGRITY);
	one_clear_line("attempts 1-2: the server stored other bytes than were sent");
	drb_repo_close(r);
	s3p_stop(p);
}

/* The resumed GET asks for the rest, of the same object. */
static void canned_resume_headers(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(0);
	drb_repo *r = open_repo(s3p_endpoint(p), "c", 2);
	char *data = NULL;
	size_t len = 0;
	const char *answers[] = {
	    "HTTP/1.1 200 OK\nContent-Length: 10\nETag: \"abc\"\nConnection: close\n\n0123",
	    "HTTP/1.1 206 Partial Content\nContent-Range: bytes 4-9/10\nETag: \"abc\"\n\n456789"};
	s3p_canned(p, answers, 2);
	assert_int_equal(drb_repo_get_buf(r, "obj", 100, &data, &len), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(data, "0123456789", 10);
	free(data);
	assert_non_null(strstr(s3p_request(p, 1), "Range: bytes=4-"));
	assert_non_null(strstr(s3p_request(p, 1), "If-Match: \"abc\""));
	/* an answer that resumes elsewhere, or a changed object, is refused */
	const char *bad[] = {
	    "HTTP/1.1 200 OK\nContent-Length: 10\nETag: \"abc\"\nConnection: close\n\n0123",
	    "HTTP/1.1 206 Partial Content\nContent-Range: bytes 0-9/10\nETag: "
	    "\"abc\"\n\n0123456789"};
	s3p_canned(p, bad, 2);
	assert_int_equal(drb_repo_get_buf(r, "obj", 100, &data, &len), DRB_ERR_INTEGRITY);
	one_clear_line("asked to resume at byte 4, the server sent from 0");
	const char *changed[] = {
	    "HTTP/1.1 200 OK\nContent-Length: 10\nETag: \"abc\"\nConnection: close\n\n0123",
	    "HTTP/1.1 412 Precondition Failed\n\n<Error><Code>PreconditionFailed</Code></Error>"};
	s3p_canned(p, changed, 2);
	assert_int_equal(drb_repo_get_buf(r, "obj", 100, &data, &len), DRB_ERR_INTEGRITY);
	one_clear_line("replaced while being read");
	drb_repo_close(r);
	s3p_stop(p);
}

/* What goes on the wire: storage class and Object Lock on the object's creation (never on
 * parts), the session token on every request, and all of them signed. */
static bool has_header(const char *head, const char *name, const char *value)
{
	char line[512];
	snprintf(line, sizeof line, "\r\n%s: %s", name, value);
	return strstr(head, line) != NULL;
}

static void canned_object_headers(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(0);
	char token[PATH_MAX];
	drb_repo *r = NULL;
	drb_put_opts locked = {.immutable = true}, plain = {0};
	snprintf(token, sizeof token, "%s/s3.token", T.dir);
	assert_int_equal(drbt_write_file(token, "SESSION/TOKEN+=\n", 0600), 0);
	drb_repo_config *c = &cfgs[n_cfgs++ % 32];
	*c = s3t_config(&T, s3p_endpoint(p), "h");
	c->session_token_file = token;
	c->storage_class = "STANDARD_IA";
	c->object_lock_days = 30;
	c->retries = 0;
	assert_int_equal(drb_repo_open(c, &r), 0);

	const char *single[] = {"HTTP/1.1 200 OK\nETag: \"e\"\n\n",
	                        "HTTP/1.1 200 OK\nContent-Length: 5\nETag: \"e\"\n\n"};
	s3p_canned(p, single, 2);
	assert_int_equal(drb_repo_put_buf(r, "locked", "hello", 5, &locked), 0);
	const char *put = s3p_request(p, 0), *head = s3p_request(p, 1);
	assert_true(has_header(put, "x-amz-storage-class", "STANDARD_IA"));
	assert_true(has_header(put, "x-amz-object-lock-mode", "COMPLIANCE"));
	assert_true(has_header(put, "x-amz-security-token", "SESSION/TOKEN+="));
	assert_true(has_header(head, "x-amz-security-token", "SESSION/TOKEN+="));
	assert_non_null(strstr(put,
	                       "SignedHeaders=content-md5;host;x-amz-content-sha256;x-amz-date;"
	                       "x-amz-meta-drb-size;x-amz-object-lock-mode;"
	                       "x-amz-object-lock-retain-until-date;x-amz-security-token;"
	                       "x-amz-storage-class, "));
	const char *until = strstr(put, "x-amz-object-lock-retain-until-date: ");
	assert_non_null(until);
	char date[32];
	snprintf(date, sizeof date, "%.20s",
	         until + strlen("x-amz-object-lock-retain-until-date: "));
	int64_t t = drb_s3_parse_iso8601(date), want = (int64_t)time(NULL) + 30 * 86400;
	assert_true(t > want - 3600 && t <= want);

	s3p_canned(p, single, 2);
	assert_int_equal(drb_repo_put_buf(r, "plain", "hello", 5, &plain), 0);
	assert_true(has_header(s3p_request(p, 0), "x-amz-storage-class", "STANDARD_IA"));
	assert_null(strstr(s3p_request(p, 0), "x-amz-object-lock"));

	/* multipart: on CreateMultipartUpload only. The answers carry the ETag S3 would give
	 * (MD5 of the parts' MD5s), which the driver checks. */
	unsigned char *buf = calloc(1, 6 * MIB), md5s[2][16];
	char etag[48], complete[256], head_ok[128];
	drb_s3_md5(buf, 5 * MIB, md5s[0]);
	drb_s3_md5(buf, MIB, md5s[1]);
	drb_s3_multipart_etag((const unsigned char(*)[16])md5s, 2, etag);
	snprintf(complete, sizeof complete,
	         "HTTP/1.1 200 OK\n\n<CompleteMultipartUploadResult><ETag>\"%s\"</ETag>"
	         "</CompleteMultipartUploadResult>",
	         etag);
	snprintf(head_ok, sizeof head_ok,
	         "HTTP/1.1 200 OK\nContent-Length: 6291456\nETag: \"%s\"\n\n", etag);
	const char *multi[] = {CREATED, PART_OK, PART_OK, complete, head_ok};
	s3p_canned(p, multi, 5);
	drb_sink *w = NULL;
	assert_int_equal(drb_repo_put(r, "big", &locked, &w), 0);
	assert_int_equal(drb_sink_write(w, buf, 6 * MIB), 0);
	assert_int_equal(drb_sink_finish(w), 0);
	drb_sink_free(w);
	free(buf);
	assert_non_null(strstr(s3p_request(p, 0), "POST /bucket1/h/big?uploads= HTTP/1.1"));
	assert_true(has_header(s3p_request(p, 0), "x-amz-object-lock-mode", "COMPLIANCE"));
	assert_true(has_header(s3p_request(p, 0), "x-amz-storage-class", "STANDARD_IA"));
	for (size_t i = 1; i <= 2; i++) {
		assert_non_null(strstr(s3p_request(p, i), "?partNumber="));
		assert_null(strstr(s3p_request(p, i), "x-amz-object-lock"));
		assert_null(strstr(s3p_request(p, i), "x-amz-storage-class"));
		assert_non_null(strstr(s3p_request(p, i), "\r\nContent-MD5: "));
		assert_true(
		    has_header(s3p_request(p, i), "x-amz-security-token", "SESSION/TOKEN+="));
	}
	assert_non_null(strstr(s3p_request(p, 3), "POST /bucket1/h/big?uploadId=UP1 HTTP/1.1"));

	/* DeleteObjects carries its Content-MD5 */
	const char *deleted[] = {"HTTP/1.1 200 OK\n\n<DeleteResult/>"};
	s3p_canned(p, deleted, 1);
	const char *paths[] = {"a", "b"};
	assert_int_equal(drb_repo_remove(r, paths, 2), 0);
	assert_non_null(strstr(s3p_request(p, 0), "POST /bucket1?delete= HTTP/1.1"));
	assert_non_null(strstr(s3p_request(p, 0), "\r\nContent-MD5: "));
	drb_repo_close(r);
	s3p_stop(p);
}

static int no_op(void *ud, const char *path, const drb_obj_stat *st)
{
	(void)ud, (void)path, (void)st;
	return 0;
}

static void canned_bad_listings(void **state)
{
	(void)state;
	S3T_NEED(&T);
	s3p *p = s3p_start(0);
	drb_repo *r = open_repo(s3p_endpoint(p), "c", 1);
	const char *no_token[] = {"HTTP/1.1 200 OK\n\n<ListBucketResult><IsTruncated>true"
	                          "</IsTruncated></ListBucketResult>"};
	s3p_canned(p, no_token, 1);
	assert_int_equal(drb_repo_list(r, "", true, no_op, NULL), DRB_ERR_REMOTE);
	one_clear_line("truncated but gives no continuation token");
	const char *disorder[] = {
	    "HTTP/1.1 200 OK\n\n<ListBucketResult><IsTruncated>true</IsTruncated>"
	    "<NextContinuationToken>t1</NextContinuationToken><Contents><Key>c/m</Key><Size>1"
	    "</Size><LastModified>2026-11-25T10:00:00Z</LastModified></Contents>"
	    "</ListBucketResult>",
	    "HTTP/1.1 200 OK\n\n<ListBucketResult><IsTruncated>false</IsTruncated><Contents>"
	    "<Key>c/a</Key><Size>1</Size><LastModified>2026-11-25T10:00:00Z</LastModified>"
	    "</Contents></ListBucketResult>"};
	s3p_canned(p, disorder, 2);
	assert_int_equal(drb_repo_list(r, "", true, no_op, NULL), DRB_ERR_REMOTE);
	one_clear_line("out of order");
	assert_non_null(strstr(s3p_request(p, 1), "continuation-token=t1"));
	const char *dtd[] = {"HTTP/1.1 200 OK\n\n<!DOCTYPE x [<!ENTITY a \"b\">]><ListBucketResult>"
	                     "<IsTruncated>false</IsTruncated></ListBucketResult>"};
	s3p_canned(p, dtd, 1);
	assert_int_equal(drb_repo_list(r, "", true, no_op, NULL), DRB_ERR_FORMAT);
	one_clear_line("document type declaration");
	drb_repo_close(r);
	s3p_stop(p);
}

/* Whatever the previous test left (a failed one may leave the server down), start up. */
static int server_up(void **state)
{
	(void)state;
	if (T.ok && !T.rgw.pid[0] && s3t_rgw_restart(&T.rgw, 0) < 0)
		T.ok = false;
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	s3t_setup(&T);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	s3t_teardown(&T);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(part_damaged_on_the_way, server_up),
	    cmocka_unit_test_setup(canned_md5_demanded, server_up),
	    cmocka_unit_test_setup(part_killed_then_back, server_up),
	    cmocka_unit_test_setup(part_killed_for_good, server_up),
	    cmocka_unit_test_setup(single_put_killed_then_back, server_up),
	    cmocka_unit_test_setup(single_put_killed_for_good, server_up),
	    cmocka_unit_test_setup(complete_killed_then_back, server_up),
	    cmocka_unit_test_setup(complete_killed_for_good, server_up),
	    cmocka_unit_test_setup(complete_answer_lost, server_up),
	    cmocka_unit_test_setup(get_killed_then_back, server_up),
	    cmocka_unit_test_setup(get_killed_for_good, server_up),
	    cmocka_unit_test_setup(get_object_replaced, server_up),
	    cmocka_unit_test_setup(cli_killed_then_back, server_up),
	    cmocka_unit_test_setup(cli_killed_for_good, server_up),
	    cmocka_unit_test_setup(wrong_secret, server_up),
	    cmocka_unit_test_setup_teardown(skewed_clock, server_up, clock_back),
	    cmocka_unit_test_setup_teardown(tampered_presigned_url, server_up, clock_back),
	    cmocka_unit_test_setup(part_too_small, server_up),
	    cmocka_unit_test_setup(if_none_match, server_up),
	    cmocka_unit_test_setup(canned_retries_then_ok, server_up),
	    cmocka_unit_test_setup(canned_retries_exhausted, server_up),
	    cmocka_unit_test_setup(canned_clock_skew, server_up),
	    cmocka_unit_test_setup(canned_complete_error_in_200, server_up),
	    cmocka_unit_test_setup(canned_complete_without_etag, server_up),
	    cmocka_unit_test_setup(canned_complete_empty_etag, server_up),
	    cmocka_unit_test_setup(canned_size_mismatch, server_up),
	    cmocka_unit_test_setup(canned_part_etag_mismatch, server_up),
	    cmocka_unit_test_setup(canned_resume_headers, server_up),
	    cmocka_unit_test_setup(canned_bad_listings, server_up),
	    cmocka_unit_test_setup(canned_object_headers, server_up),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
