/* The S3 driver against a real S3 server (Ceph RGW on 127.0.0.1, which checks every signature):
 * objects stored, read, listed and deleted through the repository interface and through the
 * drbackup binary; multipart uploads with parts provably in flight together and part sizes the
 * server accepts; listings over more than 1,000 keys; objects exchanged with awscli both ways; a
 * presigned URL fetched with curl, and refused once tampered with; atomic PUTs and conditional
 * requests; errors that say what happened, one line each: a wrong secret, a skewed clock. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/repo.h"
#include "common/sink.h"
#include "s3/s3.h"
#include "tests/harness.h"
#include "tests/integration/test_s3_support.h"

#define MIB (1024u * 1024)
#define AWS "/usr/bin/aws"

static s3t T;

#define NEED_S3() S3T_NEED(&T)

static drb_repo *open_repo(const char *endpoint, const char *prefix)
{
	static drb_repo_config cfgs[16];
	static int n;
	drb_repo *r = NULL;
	cfgs[n % 16] = s3t_config(&T, endpoint, prefix);
	assert_int_equal(drb_repo_open(&cfgs[n++ % 16], &r), 0);
	return r;
}

/* ---------------------------------------------------------------- listing helper */

typedef struct listing {
	char *paths[2048];
	uint64_t sizes[2048];
	bool folder[2048];
	size_t n;
	int stop_after; /* return 7 after this many (0: never) */
} listing;

static int collect(void *ud, const char *path, const drb_obj_stat *st)
{
	listing *l = ud;
	assert_true(l->n < 2048);
	if (l->n) /* ascending byte order, no repeats */
		assert_true(strcmp(l->paths[l->n - 1], path) < 0);
	l->paths[l->n] = strdup(path);
	l->sizes[l->n] = st ? st->size : 0;
	l->folder[l->n] = st == NULL;
	if (st)
		assert_true(st->mtime > 1700000000);
	l->n++;
	return l->stop_after && (int)l->n == l->stop_after ? 7 : 0;
}

static void listing_free(listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	l->n = 0;
}

/* ---------------------------------------------------------------- put, get, stat, list, remove */

static void roundtrip(void **state)
{
	(void)state;
	NEED_S3();
	drb_repo *r = open_repo(NULL, "/t1/");
	drb_obj_stat st;
	listing l = {0};
	char *data = NULL;
	size_t len = 0;
	/* space, +, =, $, ~, é, an emoji: encoded once, as S3 wants */
	const char *odd = "a/odd key+=$~\xc3\xa9\xf0\x9f\x98\x80";

	char where[256];
	snprintf(where, sizeof where, "s3://bucket1/t1 (%s)", T.rgw.endpoint[0]);
	assert_string_equal(r->where, where);

	assert_int_equal(drb_repo_put_buf(r, "a/b/one", "hello", 5, NULL), 0);
	assert_int_equal(drb_repo_put_buf(r, "a/empty", "", 0, NULL), 0);
	assert_int_equal(drb_repo_put_buf(r, odd, "odd", 3, NULL), 0);
	assert_int_equal(drb_repo_put_buf(r, "b", "bee", 3, NULL), 0);

	assert_int_equal(drb_repo_stat(r, "a/b/one", &st), 0);
	assert_int_equal(st.size, 5);
	assert_true(st.mtime > 1700000000);
	assert_int_equal(drb_repo_stat(r, "a/empty", &st), 0);
	assert_int_equal(st.size, 0);
	assert_int_equal(drb_repo_get_buf(r, "a/b/one", 100, &data, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "hello", 5);
	free(data);
	assert_int_equal(drb_repo_get_buf(r, "a/empty", 100, &data, &len), 0);
	assert_int_equal(len, 0);
	free(data);
	assert_int_equal(drb_repo_get_buf(r, odd, 100, &data, &len), 0);
	assert_memory_equal(data, "odd", 3);
	free(data);

	/* replacing an object replaces it whole */
	assert_int_equal(drb_repo_put_buf(r, "b", "second", 6, NULL), 0);
	assert_int_equal(drb_repo_get_buf(r, "b", 100, &data, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(data, "second", 6);
	free(data);

	/* recursive: every object, in byte order, with sizes */
	assert_int_equal(drb_repo_list(r, "", true, collect, &l), 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.paths[0], "a/b/one");
	assert_int_equal(l.sizes[0], 5);
	assert_string_equal(l.paths[1], "a/empty");
	assert_string_equal(l.paths[2], odd);
	assert_int_equal(l.sizes[2], 3);
	assert_string_equal(l.paths[3], "b");
	assert_false(l.folder[3]);
	listing_free(&l);
	/* non-recursive: folders as "x/" without a stat, merged in order with the objects */
	assert_int_equal(drb_repo_list(r, "", false, collect, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.paths[0], "a/");
	assert_true(l.folder[0]);
	assert_string_equal(l.paths[1], "b");
	listing_free(&l);
	assert_int_equal(drb_repo_list(r, "a/", false, collect, &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.paths[0], "a/b/");
	assert_true(l.folder[0]);
	assert_string_equal(l.paths[1], "a/empty");
	assert_string_equal(l.paths[2], odd);
	listing_free(&l);
	/* a prefix that is not a folder, and the caller stopping early */
	assert_int_equal(drb_repo_list(r, "a/e", true, collect, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.paths[0], "a/empty");
	listing_free(&l);
	l.stop_after = 2;
	assert_int_equal(drb_repo_list(r, "", true, collect, &l), 7);
	assert_int_equal(l.n, 2);
	listing_free(&l);
	l.stop_after = 0;
	assert_int_equal(drb_repo_list(r, "nothing/", true, collect, &l), 0);
	assert_int_equal(l.n, 0);

	/* missing objects: NOT_FOUND, with the bucket and the key in the message */
	assert_int_equal(drb_repo_stat(r, "a/none", &st), DRB_ERR_NOT_FOUND);
	assert_non_null(strstr(s3t_error(), "s3://bucket1/t1/a/none"));
	assert_int_equal(drb_repo_get_buf(r, "a/none", 100, &data, &len), DRB_ERR_NOT_FOUND);
	assert_non_null(strstr(s3t_error(), "no such object"));

	/* remove: batched, a missing key is not an error */
	const char *gone[] = {"a/b/one", "a/not-there", odd};
	assert_int_equal(drb_repo_remove(r, gone, 3), 0);
	assert_int_equal(drb_repo_stat(r, "a/b/one", &st), DRB_ERR_NOT_FOUND);
	assert_int_equal(drb_repo_stat(r, odd, &st), DRB_ERR_NOT_FOUND);
	assert_int_equal(drb_repo_list(r, "", true, collect, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.paths[0], "a/empty");
	assert_string_equal(l.paths[1], "b");
	listing_free(&l);
	assert_int_equal(drb_repo_remove(r, NULL, 0), 0);

	/* a second repository on another prefix sees nothing of the first */
	drb_repo *r2 = open_repo(NULL, "t1b");
	assert_int_equal(drb_repo_list(r2, "", true, collect, &l), 0);
	assert_int_equal(l.n, 0);
	drb_repo_close(r2);
	drb_repo_close(r);
}

/* ---------------------------------------------------------------- multipart */

/* 72 MiB in 5 MiB parts, written in odd-sized pieces; the proxy holds the answers to part
 * uploads until 4 are open at once, so this passes only if parts really travel in parallel. */
static void multipart_parallel(void **state)
{
	(void)state;
	NEED_S3();
	s3p *p = s3p_start(T.rgw.port[0]);
	drb_repo *r = open_repo(s3p_endpoint(p), "t2");
	char put_sha[65], got_sha[65];
	uint64_t size = 72ull * MIB + 12345, got = 0;
	drb_obj_stat st;
	s3p_gate(p, "?partNumber=", 4);
	assert_int_equal(s3t_put(r, "big/object.bin", size, MIB + 7, 2, put_sha), 0);
	assert_true(s3p_gate_reached(p));
	assert_int_equal(drb_repo_stat(r, "big/object.bin", &st), 0);
	assert_int_equal(st.size, size);
	assert_int_equal(s3t_get(r, "big/object.bin", got_sha, &got), 0);
	assert_int_equal(got, size);
	assert_string_equal(got_sha, put_sha);
	drb_repo_close(r);
	s3p_stop(p);
}

/* An object of exactly one part goes as a single PUT; one byte more makes two parts. */
static void part_boundaries(void **state)
{
	(void)state;
	NEED_S3();
	drb_repo *r = open_repo(NULL, "t2b");
	char a[65], b[65];
	uint64_t sizes[] = {5ull * MIB, 5ull * MIB + 1, 10ull * MIB, 3};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char path[32];
		uint64_t got;
		snprintf(path, sizeof path, "edge/%zu", i);
		assert_int_equal(s3t_put(r, path, sizes[i], 65536, 10 + i, a), 0);
		assert_int_equal(s3t_get(r, path, b, &got), 0);
		assert_int_equal(got, sizes[i]);
		assert_string_equal(a, b);
	}
	drb_repo_close(r);
}

/* ---------------------------------------------------------------- many keys, many threads */

typedef struct batch {
	drb_repo *r;
	int from, to;
	int rc;
} batch;

static void *put_many(void *arg)
{
	batch *b = arg;
	for (int i = b->from; i < b->to && b->rc == 0; i++) {
		char path[64];
		snprintf(path, sizeof path, "k/%05d", i);
		b->rc = drb_repo_put_buf(b->r, path, "x", 1, NULL);
	}
	return NULL;
}

static void pagination(void **state)
{
	(void)state;
	NEED_S3();
	enum { N = 1100, THREADS = 8 };
	drb_repo *r = open_repo(NULL, "t3");
	pthread_t th[THREADS];
	batch b[THREADS];
	listing l = {0};
	/* the same repository from 8 threads at once */
	for (int i = 0; i < THREADS; i++) {
		b[i] = (batch){r, i * N / THREADS, (i + 1) * N / THREADS, 0};
		pthread_create(&th[i], NULL, put_many, &b[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(b[i].rc, 0);
	}
	assert_int_equal(drb_repo_list(r, "k/", true, collect, &l), 0);
	assert_int_equal(l.n, N); /* two pages: 1000 + 100 */
	for (int i = 0; i < N; i++) {
		char path[64];
		snprintf(path, sizeof path, "k/%05d", i);
		assert_string_equal(l.paths[i], path);
		assert_int_equal(l.sizes[i], 1);
	}
	/* only what comes after a key, in one request (start-after), across the page edge */
	listing_free(&l);
	assert_int_equal(drb_repo_list_after(r, "k/", "k/00994", collect, &l), 0);
	assert_int_equal(l.n, N - 995);
	assert_string_equal(l.paths[0], "k/00995");
	assert_string_equal(l.paths[l.n - 1], "k/01099");
	/* stop on the second page */
	listing_free(&l);
	l.stop_after = 1050;
	assert_int_equal(drb_repo_list(r, "", true, collect, &l), 7);
	listing_free(&l);
	l.stop_after = 0;
	/* one call removes them all: two DeleteObjects of at most 1000 keys */
	const char **paths = calloc(N, sizeof *paths);
	char(*names)[64] = calloc(N, 64);
	for (int i = 0; i < N; i++) {
		snprintf(names[i], 64, "k/%05d", i);
		paths[i] = names[i];
	}
	assert_int_equal(drb_repo_remove(r, paths, N), 0);
	assert_int_equal(drb_repo_list(r, "", true, collect, &l), 0);
	assert_int_equal(l.n, 0);
	free(paths);
	free(names);
	drb_repo_close(r);
}

typedef struct writer_job {
	drb_repo *r;
	int i;
	int rc;
	char sha[65];
} writer_job;

static void *write_one(void *arg)
{
	writer_job *j = arg;
	char path[32];
	snprintf(path, sizeof path, "w/%d", j->i);
	j->rc =
	    s3t_put(j->r, path, 11ull * MIB + (uint64_t)j->i, 300000, 100 + (uint64_t)j->i, j->sha);
	return NULL;
}

/* Parallel jobs storing different multipart objects through one repository. */
static void parallel_writers(void **state)
{
	(void)state;
	NEED_S3();
	enum { W = 4 };
	drb_repo *r = open_repo(NULL, "t3b");
	pthread_t th[W];
	writer_job j[W];
	for (int i = 0; i < W; i++) {
		j[i] = (writer_job){.r = r, .i = i};
		pthread_create(&th[i], NULL, write_one, &j[i]);
	}
	for (int i = 0; i < W; i++) {
		char path[32], sha[65];
		uint64_t got;
		pthread_join(th[i], NULL);
		assert_int_equal(j[i].rc, 0);
		snprintf(path, sizeof path, "w/%d", i);
		assert_int_equal(s3t_get(r, path, sha, &got), 0);
		assert_int_equal(got, 11ull * MIB + (uint64_t)i);
		assert_string_equal(sha, j[i].sha);
	}
	drb_repo_close(r);
}

/* ---------------------------------------------------------------- interop */

static int aws(char *out, size_t outlen, char *err, size_t errlen, const char *args)
{
	return drbt_sh(out, outlen, err, errlen,
	               "env -u AWS_CA_BUNDLE -u AWS_PROFILE AWS_ACCESS_KEY_ID=%s "
	               "AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=us-east-1 "
	               "AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null "
	               "AWS_EC2_METADATA_DISABLED=true " AWS " --endpoint-url %s %s",
	               T.rgw.access_key, T.rgw.secret, T.rgw.endpoint[0], args);
}

static void interop_awscli(void **state)
{
	(void)state;
	NEED_S3();
	char out[4096], err[4096], sha[65], cmd[PATH_MAX * 2], file[PATH_MAX];
	uint64_t got;
	assert_int_equal(access(AWS, X_OK), 0);
	drb_repo *r = open_repo(NULL, "t4");

	/* drbackup writes (multipart), awscli reads */
	assert_int_equal(s3t_put(r, "from-drb/data.bin", 13ull * MIB + 5, 1 << 20, 4, sha), 0);
	assert_int_equal(aws(out, sizeof out, err, sizeof err,
	                     "s3 cp s3://bucket1/t4/from-drb/data.bin - | sha256sum"),
	                 0);
	assert_memory_equal(out, sha, 64);
	/* a small single-PUT object with an odd key */
	assert_int_equal(drb_repo_put_buf(r, "from-drb/a b+c=d.txt", "small", 5, NULL), 0);
	assert_int_equal(
	    aws(out, sizeof out, err, sizeof err, "s3 cp 's3://bucket1/t4/from-drb/a b+c=d.txt' -"),
	    0);
	assert_string_equal(out, "small");

	/* awscli writes (its own multipart: 20 MiB > its 8 MiB threshold), drbackup lists and reads
	 */
	snprintf(file, sizeof file, "%s/aws-upload.bin", T.dir);
	snprintf(cmd, sizeof cmd, "head -c %u /dev/urandom > '%s' && sha256sum '%s'", 20 * MIB,
	         file, file);
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err, "%s", cmd), 0);
	char want[65];
	snprintf(want, sizeof want, "%.64s", out);
	snprintf(cmd, sizeof cmd, "s3 cp '%s' 's3://bucket1/t4/from-aws/up load.bin'", file);
	assert_int_equal(aws(out, sizeof out, err, sizeof err, cmd), 0);
	listing l = {0};
	assert_int_equal(drb_repo_list(r, "from-aws/", true, collect, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.paths[0], "from-aws/up load.bin");
	assert_int_equal(l.sizes[0], 20 * MIB);
	listing_free(&l);
	assert_int_equal(s3t_get(r, "from-aws/up load.bin", sha, &got), 0);
	assert_int_equal(got, 20 * MIB);
	assert_string_equal(sha, want);
	/* and awscli's listing agrees with ours */
	assert_int_equal(
	    aws(out, sizeof out, err, sizeof err, "s3 ls --recursive s3://bucket1/t4/"), 0);
	assert_non_null(strstr(out, "t4/from-drb/data.bin"));
	assert_non_null(strstr(out, "t4/from-aws/up load.bin"));
	drb_repo_close(r);
}

static void presigned_curl(void **state)
{
	(void)state;
	NEED_S3();
	char *url = NULL, out[256], err[1024];
	drb_repo_config cfg = s3t_config(&T, NULL, "t5");
	drb_repo *r = open_repo(NULL, "t5");
	assert_int_equal(drb_repo_put_buf(r, "exports/p\xc3\xa9 1/x y.zip", "zipped!", 7, NULL), 0);
	assert_int_equal(drb_s3_presign(&cfg, "exports/p\xc3\xa9 1/x y.zip", 600, &url), 0);
	assert_non_null(strstr(url, "X-Amz-Expires=600"));
	assert_int_equal(
	    drbt_sh(out, sizeof out, err, sizeof err, "curl -sf --noproxy '*' '%s'", url), 0);
	assert_string_equal(out, "zipped!");
	free(url);
	drb_repo_close(r);
}

/* ---------------------------------------------------------------- the binary */

/* RGW checks every signature, every signed SHA-256 and every Content-MD5: objects stored with
 * the payload signed (the default) and unsigned with Content-MD5 (sign_payload = false) read
 * back the same, single PUT and multipart. */
static void payload_signing(void **state)
{
	(void)state;
	NEED_S3();
	for (int sign = 0; sign <= 1; sign++) {
		drb_repo_config c = s3t_config(&T, NULL, sign ? "ps1" : "ps0");
		drb_repo *r = NULL;
		c.sign_payload = sign;
		assert_int_equal(drb_repo_open(&c, &r), 0);
		const uint64_t sizes[] = {1000, 17ull * MIB + 3};
		for (int i = 0; i < 2; i++) {
			char path[32], put[65], got[65];
			uint64_t len = 0;
			snprintf(path, sizeof path, "obj%d", i);
			assert_int_equal(s3t_put(r, path, sizes[i], 300001, 40 + (uint64_t)i, put), 0);
			assert_int_equal(s3t_get(r, path, got, &len), 0);
			assert_int_equal(len, sizes[i]);
			assert_string_equal(got, put);
		}
		drb_repo_close(r);
	}
}

static void cli(void **state)
{
	(void)state;
	NEED_S3();
	char *dir = drbt_tmpdir("s3cli"), conf[PATH_MAX], repos[2048], out[8192], err[8192];
	snprintf(conf, sizeof conf, "%s/drbackup.conf", dir);
	snprintf(repos, sizeof repos,
	         "repo primary {\n  type = \"s3\"\n  endpoint = \"%s\"\n  bucket = \"bucket2\"\n"
	         "  prefix = \"cli\"\n  access_key_id = \"%s\"\n"
	         "  secret_access_key_file = \"%s\"\n  part_size = 5242880\n  retries = 2\n}\n",
	         T.rgw.endpoint[0], T.rgw.access_key, T.secret);
	assert_int_equal(drbt_keygen(dir), 0);
	assert_int_equal(drbt_write_config(conf, dir, NULL, repos, NULL), 0);
	/* 12 MiB of random bytes: sealed, it still needs three parts */
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err,
	                         "head -c 12582912 /dev/urandom > '%s/in' && '%s' -c '%s' repo put "
	                         "db/dump.sql < '%s/in' && echo 'small' | '%s' -c '%s' repo put "
	                         "db/small.txt",
	                         dir, drbt_bin(), conf, dir, drbt_bin(), conf),
	                 0);
	assert_int_equal(
	    drbt_sh(out, sizeof out, err, sizeof err, "'%s' -c '%s' repo ls", drbt_bin(), conf), 0);
	assert_non_null(strstr(out, "db/dump.sql"));
	assert_non_null(strstr(out, "db/small.txt"));
	assert_int_equal(
	    drbt_sh(out, sizeof out, err, sizeof err,
	            "'%s' -c '%s' repo get db/dump.sql | cmp - '%s/in' && '%s' -c '%s' "
	            "repo get db/small.txt",
	            drbt_bin(), conf, dir, drbt_bin(), conf),
	    0);
	assert_string_equal(out, "small\n");
	/* a missing object: exit 1 and one line naming it */
	assert_int_equal(drbt_sh(out, sizeof out, err, sizeof err, "'%s' -c '%s' repo get db/none",
	                         drbt_bin(), conf),
	                 1);
	assert_non_null(strstr(err, "db/none"));
	drbt_rmtree(dir);
	free(dir);
}

/* ---------------------------------------------------------------- host-style URLs */

/* The bucket in the host name: bucket1.s3.localhost, which RGW routes by its rgw_dns_name (curl
 * resolves *.localhost to loopback by itself). */
static void host_style(void **state)
{
	(void)state;
	NEED_S3();
	char endpoint[128], sha[65], got[65];
	uint64_t n;
	listing l = {0};
	snprintf(endpoint, sizeof endpoint, "http://s3.localhost:%d", T.rgw.port[0]);
	drb_repo_config cfg = s3t_config(&T, endpoint, "hs");
	drb_repo *r = NULL;
	cfg.uri_style = "host";
	assert_int_equal(drb_repo_open(&cfg, &r), 0);
	assert_int_equal(drb_repo_put_buf(r, "dir/a b", "host", 4, NULL), 0);
	assert_int_equal(s3t_put(r, "dir/multi", 11ull * MIB, MIB, 21, sha), 0);
	assert_int_equal(drb_repo_list(r, "dir/", true, collect, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.paths[0], "dir/a b");
	assert_string_equal(l.paths[1], "dir/multi");
	listing_free(&l);
	assert_int_equal(s3t_get(r, "dir/multi", got, &n), 0);
	assert_string_equal(got, sha);
	const char *both[] = {"dir/a b", "dir/multi"};
	assert_int_equal(drb_repo_remove(r, both, 2), 0);
	assert_int_equal(drb_repo_list(r, "", true, collect, &l), 0);
	assert_int_equal(l.n, 0);
	drb_repo_close(r);
}

/* ---------------------------------------------------------------- errors */

/* A long-running process (the follower) re-reads rotated credentials: a secret file replaced
 * on disk is taken at the next refresh, without reopening the repository. Against RGW, which
 * checks every signature: the stale secret is refused, the rotated one accepted. */
static void credentials_rotate(void **state)
{
	(void)state;
	NEED_S3();
	char path[PATH_MAX], text[256];
	snprintf(path, sizeof path, "%s/rotating.secret", T.dir);
	assert_int_equal(drbt_write_file(path, "not-the-secret\n", 0600), 0);
	drb_repo_config cfg = s3t_config(&T, NULL, "t7");
	cfg.secret_access_key_file = path;
	cfg.retries = 0;
	drb_repo *r = NULL;
	assert_int_equal(drb_repo_open(&cfg, &r), 0);
	assert_true(drb_repo_put_buf(r, "rot", "x", 1, NULL) < 0);
	assert_non_null(strstr(s3t_error(), "SignatureDoesNotMatch"));
	/* nothing changed on disk: a refresh keeps what it has */
	assert_int_equal(drb_repo_refresh(r), 0);
	assert_true(drb_repo_put_buf(r, "rot", "x", 1, NULL) < 0);
	/* the operator rotates the secret into the file (a new mtime) */
	sleep(1);
	snprintf(text, sizeof text, "%s\n", T.rgw.secret);
	assert_int_equal(drbt_write_file(path, text, 0600), 0);
	assert_int_equal(drb_repo_refresh(r), 0);
	assert_int_equal(drb_repo_put_buf(r, "rot", "x", 1, NULL), 0);
	/* a rotation to an unreadable file keeps the working secret, with a warning */
	sleep(1);
	assert_int_equal(drbt_write_file(path, "loose\n", 0644), 0);
	drb_repo_refresh(r);
	drb_error_clear();
	assert_int_equal(drb_repo_put_buf(r, "rot2", "y", 1, NULL), 0);
	drb_repo_close(r);
}

static void errors(void **state)
{
	(void)state;
	NEED_S3();
	drb_repo_config cfg = s3t_config(&T, NULL, "t6");
	drb_repo *r = NULL;
	drb_obj_stat st;
	listing l = {0};

	/* a bucket that does not exist: a configuration error that says so */
	cfg.bucket = "no-such-bucket";
	assert_int_equal(drb_repo_open(&cfg, &r), 0);
	assert_int_equal(drb_repo_put_buf(r, "x", "y", 1, NULL), DRB_ERR_CONFIG);
	assert_non_null(strstr(s3t_error(), "NoSuchBucket"));
	assert_non_null(strstr(s3t_error(), "s3://no-such-bucket/t6/x"));
	assert_int_equal(drb_repo_list(r, "", true, collect, &l), DRB_ERR_CONFIG);
	drb_repo_close(r);

	/* nobody listening: every attempt is in the one error */
	char closed[64];
	s3p *p = s3p_start(0); /* a port that was just free and is closed again */
	snprintf(closed, sizeof closed, "%s", s3p_endpoint(p));
	s3p_stop(p);
	cfg = s3t_config(&T, closed, "t6");
	cfg.retries = 2;
	assert_int_equal(drb_repo_open(&cfg, &r), 0);
	assert_int_equal(drb_repo_stat(r, "x", &st), DRB_ERR_NETWORK);
	assert_non_null(strstr(s3t_error(), "attempts 1-3: "));
	assert_non_null(strstr(s3t_error(), "(curl 7"));
	drb_repo_close(r);

	/* a secret file others may read is refused at open, naming the fix */
	char bad[PATH_MAX];
	snprintf(bad, sizeof bad, "%s/loose.secret", T.dir);
	assert_int_equal(drbt_write_file(bad, "loose\n", 0644), 0);
	cfg = s3t_config(&T, NULL, "t6");
	cfg.secret_access_key_file = bad;
	assert_int_equal(drb_repo_open(&cfg, &r), DRB_ERR_PERMISSION);
	assert_non_null(strstr(s3t_error(), "chmod 600"));
	/* configuration a hand-made section may get wrong */
	cfg = s3t_config(&T, "ftp://127.0.0.1", "t6");
	assert_int_equal(drb_repo_open(&cfg, &r), DRB_ERR_CONFIG);
	cfg = s3t_config(&T, "http://127.0.0.1:9/bucket1", "t6");
	assert_int_equal(drb_repo_open(&cfg, &r), DRB_ERR_CONFIG);
	cfg = s3t_config(&T, NULL, "t6");
	cfg.part_size = 1024;
	assert_int_equal(drb_repo_open(&cfg, &r), DRB_ERR_CONFIG);
	cfg = s3t_config(&T, NULL, "t6");
	cfg.access_key_id = "";
	assert_int_equal(drb_repo_open(&cfg, &r), DRB_ERR_CONFIG);
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
	    cmocka_unit_test(roundtrip),
	    cmocka_unit_test(multipart_parallel),
	    cmocka_unit_test(part_boundaries),
	    cmocka_unit_test(pagination),
	    cmocka_unit_test(parallel_writers),
	    cmocka_unit_test(interop_awscli),
	    cmocka_unit_test(presigned_curl),
	    cmocka_unit_test(host_style),
	    cmocka_unit_test(payload_signing),
	    cmocka_unit_test(cli),
	    cmocka_unit_test(errors),
	    cmocka_unit_test(credentials_rotate),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
