/* Storing objects: a sink that streams into S3 with bounded memory. write() copies into the
 * current part buffer; a full part goes to a queue that a few worker threads of this writer
 * upload (hashing it first: its SHA-256, signed, or with sign_payload = false its MD5) while the
 * caller fills the next one. A writer holds at most upload_parallel part buffers (2 when it is 1),
 * the one being filled included: when all are queued or uploading, the caller waits for one to come
 * back, so upload_parallel parts go at once while the producer is the faster side. Parts grow for
 * streams too long for 10,000 of them, and fewer go in flight at once when they do
 * (drb_s3_parts_in_flight, drb_s3_part_buffers).
 *
 * An object that ends before its first part is full goes as one PUT at finish. Otherwise finish
 * sends CompleteMultipartUpload, which counts only when it answers 200 with an ETag element and
 * no <Error>; then a HEAD must show the size written (and the ETag S3 computes from the parts'
 * MD5s, where it can be predicted; Ceph RGW's Complete gives an empty ETag, and then the HEAD's
 * must be that one). Until then nothing is reported stored. Any failure or abort()
 * sends AbortMultipartUpload so no orphan parts stay behind. */
#include "config.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "s3/internal.h"

#define FIRST_BUFFER (256u * 1024) /* without a size hint; doubles up to a whole part */

/* ---------------------------------------------------------------- sizes and ETags */

uint64_t drb_s3_part_size(uint64_t configured, uint64_t size_hint, unsigned n)
{
	uint64_t base = configured, size;
	unsigned tier;
	if (base < DRB_S3_PART_MIN)
		base = DRB_S3_PART_MIN;
	if (size_hint) {
		/* fit the foreseen size in 8,000 parts; the last 2,000 double every 250, so a
		 * stream may outgrow its hint 16-fold and still fit */
		uint64_t need = size_hint / 8000 + (size_hint % 8000 != 0);
		if (need >= DRB_S3_PART_MAX)
			return DRB_S3_PART_MAX;
		need = (need + DRB_S3_MIB - 1) / DRB_S3_MIB * DRB_S3_MIB;
		if (need > base)
			base = need;
		tier = n <= 8000 ? 0 : (n - 8001) / 250 + 1;
	} else {
		tier = n ? (n - 1) / 1000 : 0;
	}
	if (base >= DRB_S3_PART_MAX || tier >= 31)
		return DRB_S3_PART_MAX;
	size = base << tier;
	return size > DRB_S3_PART_MAX ? DRB_S3_PART_MAX : size;
}

unsigned drb_s3_parts_in_flight(uint64_t configured, unsigned parallel, uint64_t part_size)
{
	uint64_t budget = (uint64_t)parallel * configured;
	unsigned floor = parallel < 2 ? parallel : 2;
	if (part_size <= configured)
		return parallel;
	uint64_t k = budget / part_size;
	return k < floor ? floor : (unsigned)k;
}

unsigned drb_s3_part_buffers(uint64_t configured, unsigned parallel, uint64_t part_size)
{
	unsigned n = drb_s3_parts_in_flight(configured, parallel, part_size);
	return n < 2 ? 2 : n;
}

void drb_s3_multipart_etag(const unsigned char (*md5s)[16], unsigned n, char out[48])
{
	unsigned char d[16];
	drb_s3_md5(md5s, (size_t)n * 16, d);
	drb_s3_hex(d, 16, out);
	snprintf(out + 32, 16, "-%u", n);
}

bool drb_s3_etag_is_md5(const char *etag, const char *sse)
{
	if (strlen(etag) != 32 || strspn(etag, "0123456789abcdefABCDEF") != 32)
		return false;
	/* SSE-KMS and SSE-C objects get ETags that are not the MD5 of their bytes */
	return !sse || !*sse || strcmp(sse, "AES256") == 0;
}

/* ---------------------------------------------------------------- the writer */

typedef struct part {
	unsigned char *buf;
	size_t len, cap;
	unsigned number;
	struct part *next;
} part;

enum wstate { W_OPEN, W_DONE, W_FAILED, W_ABORTED };

typedef struct s3_writer {
	drb_sink base;
	drb_s3 *s3;
	char *key;
	drb_put_opts opts;
	char lock_until[32]; /* Object Lock retain-until date, "" for none */
	enum wstate state;
	uint64_t written;
	uint64_t first; /* size of the first part */
	part *cur;
	unsigned parts;  /* numbered so far */
	unsigned n_bufs; /* part buffers allocated: being filled, queued, uploading, spare */
	char *upload_id;
	char (*etags)[80];         /* per part, from UploadPart */
	unsigned char (*md5s)[16]; /* per part, what we sent (or the server saw, signed) */
	bool unpredicted;          /* a part's MD5 is unknown: no object ETag to predict */

	/* shared with the workers */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	part *queue, *queue_tail;
	part *spare; /* uploaded buffers, for reuse */
	unsigned in_flight;
	unsigned n_threads, idle;
	pthread_t threads[DRB_S3_PARALLEL_MAX];
	bool stop;
	bool abandon; /* abort: queued parts are dropped, not sent */
	bool failed;
	drb_error_state err; /* the first worker's failure */
} s3_writer;

static void where_of(s3_writer *w, char *buf, size_t len)
{
	drb_s3_where(w->s3, w->key, buf, len);
}

static part *part_new(size_t cap)
{
	part *p = calloc(1, sizeof *p);
	if (p && !(p->buf = malloc(cap))) {
		free(p);
		return NULL;
	}
	if (p)
		p->cap = cap;
	return p;
}

static void part_free(part *p)
{
	if (p) {
		free(p->buf);
		free(p);
	}
}

/* Headers of the object itself: on PutObject and CreateMultipartUpload. */
static void object_headers(s3_writer *w, drb_s3_req *req)
{
	if (w->s3->storage_class)
		req->headers[req->n_headers++] =
		    (drb_s3_kv){"x-amz-storage-class", w->s3->storage_class};
	if (w->lock_until[0]) {
		req->headers[req->n_headers++] =
		    (drb_s3_kv){"x-amz-object-lock-mode", w->s3->lock_mode};
		req->headers[req->n_headers++] =
		    (drb_s3_kv){"x-amz-object-lock-retain-until-date", w->lock_until};
	}
}

/* The digest a data body goes with, which the server checks before it keeps a byte: with
 * sign_payload (the default) its SHA-256, signed as x-amz-content-sha256 (S3 and RGW refuse a
 * body that does not match it: 400 XAmzContentSHA256Mismatch); without, Content-MD5 and
 * UNSIGNED-PAYLOAD (400 BadDigest). One digest is enough: the body is a DRB1 object, AEAD chunks
 * whose whole SHA-256 is in signed metadata, so a reader catches a changed byte anyway; this
 * makes the upload itself fail, and be retried, rather than the restore. The SHA-256 costs the
 * host 0.66 s per GiB (the CPU's SHA extensions), MD5 1.6 s. A repository with Object Lock sends
 * Content-MD5 as well, which AWS demands on a locked write, and so does one whose server has
 * asked for it (a bucket with default retention: see send_body). *have_md5 says whether md5
 * holds the body's MD5, which the ETag the server gives is then compared with. */
static int body_checks(s3_writer *w, const void *buf, size_t len, unsigned char md5[16],
                       bool *have_md5, drb_s3_req *req)
{
	int rc = 0;
	*have_md5 = !w->s3->sign_payload || w->lock_until[0] || w->s3->object_lock_days > 0 ||
	            __atomic_load_n(&w->s3->md5_required, __ATOMIC_RELAXED);
	if (w->s3->sign_payload)
		rc = drb_s3_body_digests(buf, len, *have_md5 ? md5 : NULL, req->body_sha256);
	else {
		drb_s3_md5(buf, len, md5);
		snprintf(req->body_sha256, sizeof req->body_sha256, "UNSIGNED-PAYLOAD");
	}
	if (rc == 0 && *have_md5) {
		drb_s3_md5_base64(md5, req->body_md5);
		drb_s3_hex(md5, 16, req->expect_md5);
	}
	return rc;
}

/* Send a data body with its digest. AWS refuses a write without Content-MD5 into a bucket with
 * default Object Lock retention (400 InvalidRequest, "Content-MD5 OR x-amz-checksum- HTTP header
 * is required ..."), which the configuration need not know of: then the repository sends it from
 * now on, and this body goes again with it, once. */
static int send_body(s3_writer *w, const void *buf, size_t len, unsigned char md5[16],
                     bool *have_md5, drb_s3_req *req, drb_s3_resp *resp)
{
	int rc = body_checks(w, buf, len, md5, have_md5, req);
	if (rc < 0)
		return rc;
	rc = drb_s3_send(w->s3, req, resp);
	if (rc >= 0 || *have_md5 || resp->status != 400 ||
	    strcmp(resp->code, "InvalidRequest") != 0 || !strstr(resp->message, "Content-MD5"))
		return rc;
	__atomic_store_n(&w->s3->md5_required, true, __ATOMIC_RELAXED);
	drb_log_info("s3://%s: the server asks for Content-MD5 (a bucket with Object Lock "
	             "retention?): sending it with every body from now on",
	             w->s3->bucket);
	drb_error_clear();
	drb_s3_resp_reset(resp);
	if ((rc = body_checks(w, buf, len, md5, have_md5, req)) < 0)
		return rc;
	return drb_s3_send(w->s3, req, resp);
}

static int upload_part(s3_writer *w, part *p, bool *unpredicted)
{
	drb_s3_resp resp = {0};
	unsigned char md5[16];
	char num[16], what[64], where[600];
	bool have_md5;
	int rc;
	snprintf(num, sizeof num, "%u", p->number);
	snprintf(what, sizeof what, "storing part %u of", p->number);
	drb_s3_req req = {
	    .method = "PUT", .key = w->key, .body = p->buf, .body_len = p->len, .what = what};
	req.query[req.n_query++] = (drb_s3_kv){"partNumber", num};
	req.query[req.n_query++] = (drb_s3_kv){"uploadId", w->upload_id};
	if ((rc = send_body(w, p->buf, p->len, md5, &have_md5, &req, &resp)) < 0)
		goto out;
	if (!resp.etag[0]) {
		where_of(w, where, sizeof where);
		rc = drb_error(DRB_ERR_REMOTE, "storing part %u of %s: the answer has no ETag",
		               p->number, where);
		goto out;
	}
	/* each worker writes only its own part's slots; the caller reads them after joining. The
	 * object's ETag is predicted from the parts' MD5s: ours, or (a signed payload, which the
	 * server checked) the ones it gave; an ETag that is no MD5 leaves it unpredicted */
	snprintf(w->etags[p->number - 1], sizeof w->etags[0], "%s", resp.etag);
	if (have_md5)
		memcpy(w->md5s[p->number - 1], md5, 16);
	else if (!drb_s3_etag_is_md5(resp.etag, resp.sse) ||
	         sodium_hex2bin(w->md5s[p->number - 1], 16, resp.etag, 32, NULL, NULL, NULL) != 0)
		*unpredicted = true;
out:
	drb_s3_resp_free(&resp);
	return rc;
}

static void *worker(void *arg)
{
	s3_writer *w = arg;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->queue && !w->stop) {
			w->idle++;
			pthread_cond_wait(&w->cond, &w->lock);
			w->idle--;
		}
		if (!w->queue)
			break;
		part *p = w->queue;
		w->queue = p->next;
		if (!w->queue)
			w->queue_tail = NULL;
		bool skip = w->failed || w->abandon; /* the upload is lost: drain */
		pthread_mutex_unlock(&w->lock);
		bool unpredicted = false;
		int rc = skip ? 0 : upload_part(w, p, &unpredicted);
		pthread_mutex_lock(&w->lock);
		if (unpredicted)
			w->unpredicted = true;
		if (rc < 0 && !w->failed) {
			w->failed = true;
			drb_error_save(&w->err);
		}
		w->in_flight--;
		p->len = 0;
		p->next = w->spare;
		w->spare = p;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void stop_workers(s3_writer *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->n_threads; i++)
		pthread_join(w->threads[i], NULL);
	w->n_threads = 0;
}

static int create_upload(s3_writer *w)
{
	drb_s3_resp resp = {0};
	int rc;
	drb_s3_req req = {.method = "POST", .key = w->key, .what = "starting the upload of"};
	req.query[req.n_query++] = (drb_s3_kv){"uploads", ""};
	object_headers(w, &req);
	if ((rc = drb_s3_send(w->s3, &req, &resp)) < 0)
		goto out;
	if ((rc = drb_s3_parse_upload_id(resp.body, resp.body_len, &w->upload_id)) < 0) {
		char where[600];
		where_of(w, where, sizeof where);
		rc = drb_error_wrap(0, "starting the upload of %s", where);
		goto out;
	}
	w->etags = calloc(DRB_S3_MAX_PARTS, sizeof *w->etags);
	w->md5s = calloc(DRB_S3_MAX_PARTS, sizeof *w->md5s);
	if (!w->etags || !w->md5s)
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	drb_log_debug("s3://%s/%s: multipart upload %s started", w->s3->bucket, w->key,
	              w->upload_id);
out:
	drb_s3_resp_free(&resp);
	return rc;
}

/* The upload's error, in the calling thread. */
static int worker_error(s3_writer *w)
{
	drb_error_restore(&w->err);
	return drb_error_code() ? drb_error_code() : DRB_ERR_FAILED;
}

/* Queue the current part; when more data follows (next != 0) give the caller a buffer of next
 * bytes, reusing an uploaded one. Blocks while the writer has its share of parts in flight. */
static int hand_off(s3_writer *w, uint64_t next)
{
	part *p = w->cur, *fresh = NULL;
	unsigned limit;
	int rc = 0;
	if (!w->upload_id && (rc = create_upload(w)) < 0)
		return rc;
	if (w->parts == DRB_S3_MAX_PARTS) {
		char where[600];
		where_of(w, where, sizeof where);
		return drb_error(DRB_ERR_USAGE,
		                 "%s: more than %u parts (%" PRIu64 " bytes so far): "
		                 "too large for one S3 object",
		                 where, DRB_S3_MAX_PARTS, w->written);
	}
	p->number = ++w->parts;
	limit = drb_s3_parts_in_flight(w->s3->part_size, w->s3->upload_parallel, p->cap);
	pthread_mutex_lock(&w->lock);
	while (!w->failed && w->in_flight >= limit)
		pthread_cond_wait(&w->cond, &w->lock);
	if (w->failed) {
		pthread_mutex_unlock(&w->lock);
		return worker_error(w);
	}
	p->next = NULL;
	if (w->queue_tail)
		w->queue_tail->next = p;
	else
		w->queue = p;
	w->queue_tail = p;
	w->in_flight++;
	w->cur = NULL;
	if (w->idle == 0 && w->n_threads < w->s3->upload_parallel) {
		if (pthread_create(&w->threads[w->n_threads], NULL, worker, w) == 0)
			w->n_threads++;
		else if (w->n_threads == 0)
			rc = drb_error(DRB_ERR_NOMEM, "cannot start an upload thread");
	}
	pthread_cond_broadcast(&w->cond);
	/* a spare of the right size, else drop spares that parts have outgrown; with none left
	 * and the writer's share of buffers taken, wait for an upload to end: the buffer being
	 * filled counts in the share, so memory stays at drb_s3_part_buffers() parts */
	unsigned budget =
	    next ? drb_s3_part_buffers(w->s3->part_size, w->s3->upload_parallel, next) : 0;
	while (next && !fresh && rc == 0 && !w->failed) {
		part *s = w->spare;
		if (!s) {
			if (w->n_bufs < budget)
				break;
			pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		w->spare = s->next;
		if (s->cap == next) {
			fresh = s;
		} else {
			part_free(s);
			w->n_bufs--;
		}
	}
	bool failed = w->failed && !fresh;
	pthread_mutex_unlock(&w->lock);
	if (rc < 0)
		return rc;
	if (next && failed)
		return worker_error(w);
	if (next && !fresh) {
		if (!(fresh = part_new(next)))
			return drb_error(DRB_ERR_NOMEM, "out of memory for a %" PRIu64 "-byte part",
			                 next);
		w->n_bufs++;
	}
	if (fresh) {
		fresh->len = 0;
		fresh->next = NULL;
	}
	w->cur = fresh;
	return 0;
}

static int state_error(s3_writer *w, const char *what)
{
	char where[600];
	where_of(w, where, sizeof where);
	if (w->state == W_FAILED && w->failed)
		return worker_error(w);
	return drb_error(DRB_ERR_FAILED, "%s %s after it was %s", what, where,
	                 w->state == W_DONE      ? "finished"
	                 : w->state == W_ABORTED ? "aborted"
	                                         : "failed");
}

static int wr_write(drb_sink *s, const void *buf, size_t len)
{
	s3_writer *w = (s3_writer *)s;
	const unsigned char *p = buf;
	int rc;
	if (w->state != W_OPEN)
		return state_error(w, "writing to");
	while (len) {
		if (w->cur->len == w->cur->cap && w->parts == 0 && w->cur->cap < w->first) {
			/* the first buffer starts small (most objects are) and grows to a part */
			size_t cap =
			    w->cur->cap * 2 < w->first ? w->cur->cap * 2 : (size_t)w->first;
			unsigned char *b = realloc(w->cur->buf, cap);
			if (!b) {
				w->state = W_FAILED;
				return drb_error(DRB_ERR_NOMEM, "out of memory for a part buffer");
			}
			w->cur->buf = b;
			w->cur->cap = cap;
		}
		if (w->cur->len == w->cur->cap) {
			/* full, and more follows: this is a multipart object */
			uint64_t next =
			    drb_s3_part_size(w->s3->part_size, w->opts.size_hint, w->parts + 2);
			if ((rc = hand_off(w, next)) < 0) {
				w->state = W_FAILED;
				return rc;
			}
		}
		size_t n = w->cur->cap - w->cur->len;
		if (n > len)
			n = len;
		memcpy(w->cur->buf + w->cur->len, p, n);
		w->cur->len += n;
		w->written += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* HEAD the stored object: the size written, and the ETag the store gave (or S3's rule). */
static int verify_stored(s3_writer *w, const char *etag, const char *predicted)
{
	drb_s3_resp resp = {0};
	char where[600];
	int rc;
	drb_s3_req req = {.method = "HEAD", .key = w->key, .what = "checking"};
	where_of(w, where, sizeof where);
	if ((rc = drb_s3_send(w->s3, &req, &resp)) < 0) {
		rc = drb_error_wrap(0, "%s is not known to be stored", where);
		goto out;
	}
	if (resp.length < 0 || (uint64_t)resp.length != w->written) {
		rc = drb_error(DRB_ERR_INTEGRITY,
		               "%s holds %" PRId64 " bytes after %" PRIu64 " were written", where,
		               resp.length, w->written);
		goto out;
	}
	if (etag && etag[0] && resp.etag[0] && strcmp(etag, resp.etag) != 0) {
		rc = drb_error(DRB_ERR_INTEGRITY,
		               "%s has ETag %s, not the %s its upload was given: another writer "
		               "replaced it",
		               where, resp.etag, etag);
		goto out;
	}
	/* S3's multipart ETag is "md5-of-part-md5s-N" unless SSE-KMS/SSE-C; others (s3rver) give
	 * the MD5 of the whole, which only the Complete ETag above can vouch for */
	bool plain = !resp.sse[0] || strcmp(resp.sse, "AES256") == 0;
	if (predicted && strchr(resp.etag, '-') && plain && strcasecmp(resp.etag, predicted) != 0) {
		rc = drb_error(DRB_ERR_INTEGRITY,
		               "%s has ETag %s, but its parts' MD5s give %s: the store assembled "
		               "other bytes",
		               where, resp.etag, predicted);
		goto out;
	}
	/* Complete gave no ETag (Ceph RGW answers <ETag></ETag>): then the HEAD must show the
	 * ETag of these very parts, or nothing vouches that the object is this upload's */
	if (predicted && etag && !etag[0] && plain && strcasecmp(resp.etag, predicted) != 0) {
		rc = drb_error(DRB_ERR_INTEGRITY,
		               "%s: CompleteMultipartUpload gave no ETag and the object has ETag "
		               "\"%s\", not the %s of the parts sent: not known to be stored",
		               where, resp.etag, predicted);
		goto out;
	}
out:
	drb_s3_resp_free(&resp);
	return rc;
}

static int put_single(s3_writer *w)
{
	drb_s3_resp resp = {0};
	unsigned char md5[16];
	char size[24];
	int rc;
	drb_s3_req req = {.method = "PUT",
	                  .key = w->key,
	                  .body = w->cur->buf,
	                  .body_len = w->cur->len,
	                  .what = "storing"};
	snprintf(size, sizeof size, "%" PRIu64, w->written);
	object_headers(w, &req);
	/* lets stat and get tell a whole object from one a non-atomic server cut short */
	req.headers[req.n_headers++] = (drb_s3_kv){"x-amz-meta-drb-size", size};
	bool have_md5;
	if ((rc = send_body(w, w->cur->buf, w->cur->len, md5, &have_md5, &req, &resp)) == 0)
		rc = verify_stored(w, resp.etag, NULL);
	drb_s3_resp_free(&resp);
	return rc;
}

static int complete_upload(s3_writer *w)
{
	drb_s3_resp resp = {0};
	unsigned char md5[16];
	char etag[80] = "", predicted[48], where[600];
	char *xml = NULL;
	size_t len = 0;
	int rc;
	where_of(w, where, sizeof where);
	if (w->cur && w->cur->len && (rc = hand_off(w, 0)) < 0)
		return rc;
	pthread_mutex_lock(&w->lock);
	while (w->in_flight > 0)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	stop_workers(w);
	if (w->failed)
		return worker_error(w);
	if ((rc = drb_s3_xml_complete(w->parts, w->etags, &xml, &len)) < 0)
		return rc;
	drb_s3_multipart_etag((const unsigned char(*)[16])w->md5s, w->parts, predicted);
	drb_s3_req req = {.method = "POST",
	                  .key = w->key,
	                  .body = xml,
	                  .body_len = len,
	                  .what = "completing",
	                  .error_in_200 = true};
	req.query[req.n_query++] = (drb_s3_kv){"uploadId", w->upload_id};
	drb_s3_md5(xml, len, md5);
	drb_s3_md5_base64(md5, req.body_md5);
	rc = drb_s3_send(w->s3, &req, &resp);
	if (rc == DRB_ERR_NOT_FOUND && strcmp(resp.code, "NoSuchUpload") == 0 && !w->unpredicted) {
		/* An earlier attempt may have completed it and lost the answer. Only an object
		 * whose size and ETag prove it came from these very parts counts. */
		drb_log_debug("%s: NoSuchUpload on completion; checking what is stored", where);
		drb_s3_resp_reset(&resp);
		drb_s3_req head = {.method = "HEAD", .key = w->key, .what = "checking"};
		if (drb_s3_send(w->s3, &head, &resp) == 0 && resp.length >= 0 &&
		    (uint64_t)resp.length == w->written && strcasecmp(resp.etag, predicted) == 0) {
			rc = 0;
			snprintf(etag, sizeof etag, "%s", resp.etag);
		} else {
			rc = drb_error(DRB_ERR_INTEGRITY,
			               "completing %s: the upload is gone (NoSuchUpload) and the "
			               "object there cannot be shown to be this one (size %" PRId64
			               " for %" PRIu64 " written, ETag \"%s\" for %s): not stored",
			               where, resp.length, w->written, resp.etag, predicted);
		}
	} else if (rc == 0) {
		rc = drb_s3_parse_complete(resp.body, resp.body_len, etag, sizeof etag);
		if (rc < 0)
			rc = drb_error_wrap(0, "completing %s", where);
	}
	if (rc == 0)
		rc = verify_stored(w, etag, w->unpredicted ? NULL : predicted);
	if (rc == 0) {
		free(w->upload_id); /* complete: nothing left to abort */
		w->upload_id = NULL;
	}
	drb_s3_resp_free(&resp);
	free(xml);
	return rc;
}

static int wr_finish(drb_sink *s)
{
	s3_writer *w = (s3_writer *)s;
	int rc;
	if (w->state != W_OPEN)
		return state_error(w, "finishing");
	rc = w->upload_id ? complete_upload(w) : put_single(w);
	w->state = rc < 0 ? W_FAILED : W_DONE;
	if (rc == 0)
		drb_log_debug("stored s3://%s/%s: %" PRIu64 " bytes in %u part%s", w->s3->bucket,
		              w->key, w->written, w->parts ? w->parts : 1, w->parts > 1 ? "s" : "");
	return rc;
}

/* AbortMultipartUpload. Keeps the caller's error: abort runs after a failure is reported. */
static void abort_upload(s3_writer *w)
{
	drb_error_state saved;
	drb_s3_resp resp = {0};
	char where[600];
	if (!w->upload_id)
		return;
	drb_error_save(&saved);
	where_of(w, where, sizeof where);
	drb_s3_req req = {.method = "DELETE", .key = w->key, .what = "aborting the upload of"};
	req.query[req.n_query++] = (drb_s3_kv){"uploadId", w->upload_id};
	if (drb_s3_send(w->s3, &req, &resp) == 0 || resp.status == 404)
		drb_log_debug("%s: upload %s aborted", where, w->upload_id);
	else if (resp.status == 405 || resp.status == 501)
		/* s3rver has no AbortMultipartUpload; its parts stay in its upload folder */
		drb_log_debug("%s: the server cannot abort upload %s (HTTP %ld)", where,
		              w->upload_id, resp.status);
	else
		drb_log_warn("%s: upload %s could not be aborted, its parts may remain (a bucket "
		             "lifecycle rule AbortIncompleteMultipartUpload removes them)",
		             where, w->upload_id);
	free(w->upload_id);
	w->upload_id = NULL;
	drb_s3_resp_free(&resp);
	drb_error_restore(&saved);
}

static void wr_abort(drb_sink *s)
{
	s3_writer *w = (s3_writer *)s;
	if (w->state == W_DONE || w->state == W_ABORTED)
		return;
	pthread_mutex_lock(&w->lock);
	w->abandon = true;
	pthread_mutex_unlock(&w->lock);
	stop_workers(w);
	abort_upload(w);
	w->state = W_ABORTED;
}

static void wr_free(drb_sink *s)
{
	s3_writer *w = (s3_writer *)s;
	wr_abort(s);
	part_free(w->cur);
	for (part *p = w->queue, *next; p; p = next) {
		next = p->next;
		part_free(p);
	}
	for (part *p = w->spare, *next; p; p = next) {
		next = p->next;
		part_free(p);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->etags);
	free(w->md5s);
	free(w->upload_id);
	free(w->key);
	free(w);
}

static const drb_sink_ops writer_ops = {"s3", wr_write, wr_finish, wr_abort, wr_free};

int drb_s3_put(void *impl, const char *path, const drb_put_opts *opts, drb_sink **out)
{
	drb_s3 *s3 = impl;
	s3_writer *w = calloc(1, sizeof *w);
	if (!w)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	w->base.ops = &writer_ops;
	w->s3 = s3;
	w->opts = *opts;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (!(w->key = drb_s3_key(s3, path))) {
		int rc = drb_error_code();
		wr_free(&w->base);
		return rc;
	}
	w->first = drb_s3_part_size(s3->part_size, opts->size_hint, 1);
	uint64_t cap = opts->size_hint ? opts->size_hint : FIRST_BUFFER;
	if (!(w->cur = part_new(cap < w->first ? (size_t)cap : (size_t)w->first))) {
		wr_free(&w->base);
		return drb_error(DRB_ERR_NOMEM, "out of memory for a part buffer");
	}
	w->n_bufs = 1;
	if (opts->immutable && s3->object_lock_days > 0) {
		time_t until = time(NULL) + (time_t)s3->object_lock_days * 86400;
		struct tm tm;
		gmtime_r(&until, &tm);
		strftime(w->lock_until, sizeof w->lock_until, "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	*out = &w->base;
	return 0;
}
