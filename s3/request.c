/* Requests to S3 through libcurl: one signed exchange (drb_s3_attempt) and the retry loop around
 * it (drb_s3_send). Easy handles wait in a per-repository pool between requests, so each keeps
 * its connection alive for the next one; any thread may take one. Connection failures, 5xx, 408,
 * 429 and SlowDown are retried with exponential backoff and jitter, and the final error names
 * every attempt. The curl code is looked at before the HTTP status: a server killed during an
 * upload leaves curl 55 with the status of its "100 Continue". */
#include "config.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/context.h"
#include "common/error.h"
#include "common/log.h"
#include "s3/internal.h"

#define BODY_MAX_DEFAULT (1u << 20)
#define BACKOFF_BASE_MS  250
#define BACKOFF_CAP_MS   20000
/* curl's buffers, per handle and per transfer, allocated anew by each: 256 KiB to receive a GET's
 * body (fewer, larger writes into the caller's sink), 16 KiB for the short answers to the rest;
 * 256 KiB to send. Against Ceph RGW on loopback a 1 MiB send buffer was no faster than 256 KiB
 * and cost each upload thread about 1.5 MiB more resident memory (6 MiB of a repo put's 57). */
#define RECV_BUFFER_GET (256 * 1024)
#define RECV_BUFFER     (16 * 1024)
#define SEND_BUFFER     (256 * 1024)

/* ---------------------------------------------------------------- the pool */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
	drb_s3 *s3 = ud;
	(void)h, (void)access;
	pthread_mutex_lock(&s3->share_lock[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	drb_s3 *s3 = ud;
	(void)h;
	pthread_mutex_unlock(&s3->share_lock[data]);
}

int drb_s3_conns_init(drb_s3 *s3)
{
	pthread_mutex_init(&s3->pool_lock, NULL);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&s3->share_lock[i], NULL);
	if (!(s3->share = curl_share_init()))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	curl_share_setopt(s3->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(s3->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(s3->share, CURLSHOPT_USERDATA, s3);
	curl_share_setopt(s3->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(s3->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	return 0;
}

void drb_s3_conns_free(drb_s3 *s3)
{
	for (size_t i = 0; i < s3->n_idle; i++)
		curl_easy_cleanup(s3->idle[i]);
	s3->n_idle = 0;
	if (s3->share)
		curl_share_cleanup(s3->share);
	s3->share = NULL;
	pthread_mutex_destroy(&s3->pool_lock);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&s3->share_lock[i]);
}

static CURL *pool_get(drb_s3 *s3)
{
	CURL *h = NULL;
	pthread_mutex_lock(&s3->pool_lock);
	if (s3->n_idle)
		h = s3->idle[--s3->n_idle];
	pthread_mutex_unlock(&s3->pool_lock);
	return h ? h : curl_easy_init();
}

/* keep: the exchange ended cleanly, so its connection may serve the next request */
static void pool_put(drb_s3 *s3, CURL *h, bool keep)
{
	if (keep) {
		pthread_mutex_lock(&s3->pool_lock);
		if (s3->n_idle < DRB_S3_POOL_MAX) {
			s3->idle[s3->n_idle++] = h;
			h = NULL;
		}
		pthread_mutex_unlock(&s3->pool_lock);
	}
	if (h)
		curl_easy_cleanup(h);
}

/* ---------------------------------------------------------------- answers */

void drb_s3_resp_reset(drb_s3_resp *r)
{
	char *body = r->body;
	size_t cap = r->body_cap;
	memset(r, 0, sizeof *r);
	r->body = body;
	r->body_cap = cap;
	if (body)
		body[0] = 0;
	r->length = r->range_start = r->range_total = r->last_modified = r->server_date = -1;
}

void drb_s3_resp_free(drb_s3_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = r->body_cap = 0;
}

/* New status line: forget the headers of an interim answer (100 Continue). */
static void new_answer(drb_s3_resp *r, long status)
{
	drb_s3_resp_reset(r);
	r->status = status;
}

static void header_value(char *dst, size_t len, const char *v)
{
	snprintf(dst, len, "%s", v);
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	drb_s3_resp *r = ud;
	size_t len = size * nmemb;
	char line[1024], *colon, *v;
	size_t n = len < sizeof line - 1 ? len : sizeof line - 1;
	memcpy(line, p, n);
	line[n] = 0;
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = 0;
	if (strncmp(line, "HTTP/", 5) == 0) {
		char *sp = strchr(line, ' ');
		new_answer(r, sp ? strtol(sp + 1, NULL, 10) : 0);
		return len;
	}
	if (!(colon = strchr(line, ':')))
		return len;
	*colon = 0;
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (strcasecmp(line, "etag") == 0) {
		if (strncmp(v, "W/", 2) == 0)
			v += 2;
		header_value(r->etag, sizeof r->etag, v);
		size_t e = strlen(r->etag);
		if (e >= 2 && r->etag[0] == '"' && r->etag[e - 1] == '"') {
			memmove(r->etag, r->etag + 1, e - 2);
			r->etag[e - 2] = 0;
		}
	} else if (strcasecmp(line, "content-length") == 0) {
		r->length = strtoll(v, NULL, 10);
	} else if (strcasecmp(line, "content-range") == 0) {
		long long a, b, t;
		if (sscanf(v, "bytes %lld-%lld/%lld", &a, &b, &t) == 3) {
			r->range_start = a;
			r->range_total = t;
		}
	} else if (strcasecmp(line, "last-modified") == 0) {
		time_t t = curl_getdate(v, NULL);
		r->last_modified = t;
	} else if (strcasecmp(line, "date") == 0) {
		time_t t = curl_getdate(v, NULL);
		r->server_date = t;
	} else if (strcasecmp(line, "x-amz-request-id") == 0) {
		header_value(r->request_id, sizeof r->request_id, v);
	} else if (strcasecmp(line, "x-amz-server-side-encryption") == 0 ||
	           strcasecmp(line, "x-amz-server-side-encryption-customer-algorithm") == 0) {
		header_value(r->sse, sizeof r->sse, v);
	} else if (strcasecmp(line, "x-amz-meta-drb-size") == 0) {
		header_value(r->meta_size, sizeof r->meta_size, v);
	} else if (strncasecmp(line, "x-amz-", 6) == 0) {
		drb_s3_lock_header(r, line, v); /* lock, legal hold, class, version (lock.c) */
	}
	return len;
}

typedef struct attempt_ctx {
	drb_s3_req *req;
	drb_s3_resp *resp;
	size_t sent;
	size_t body_max;
	bool started;
	bool streaming;
	bool cb_failed; /* start/data refused: their error is set */
	bool too_big;
} attempt_ctx;

static bool ok_status(long status)
{
	return status >= 200 && status < 300;
}

/* The first byte (or the end) of an answer: route its body. */
static int begin_body(attempt_ctx *a)
{
	a->started = true;
	a->streaming = ok_status(a->resp->status) && a->req->data;
	if (a->streaming && a->req->start && a->req->start(a->req->ud, a->resp) < 0) {
		a->cb_failed = true;
		return -1;
	}
	return 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	attempt_ctx *a = ud;
	drb_s3_resp *r = a->resp;
	size_t len = size * nmemb;
	if (!a->started && begin_body(a) < 0)
		return 0;
	if (a->streaming) {
		if (a->req->data(a->req->ud, p, len) < 0) {
			a->cb_failed = true;
			return 0;
		}
		return len;
	}
	if (r->body_len + len > a->body_max) {
		a->too_big = true;
		return 0;
	}
	if (r->body_len + len + 1 > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 4096;
		while (cap < r->body_len + len + 1)
			cap *= 2;
		char *b = realloc(r->body, cap);
		if (!b) {
			a->too_big = true;
			return 0;
		}
		r->body = b;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, p, len);
	r->body_len += len;
	r->body[r->body_len] = 0;
	return len;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *ud)
{
	attempt_ctx *a = ud;
	size_t n = size * nmemb, left = a->req->body_len - a->sent;
	if (n > left)
		n = left;
	memcpy(p, (const char *)a->req->body + a->sent, n);
	a->sent += n;
	return n;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
	attempt_ctx *a = ud;
	if (origin != SEEK_SET || offset < 0 || (size_t)offset > a->req->body_len)
		return CURL_SEEKFUNC_FAIL;
	a->sent = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)ud, (void)dt, (void)dn, (void)ut, (void)un;
	return drb_stop_requested() ? 1 : 0;
}

/* ---------------------------------------------------------------- one exchange */

char *drb_s3_canonical_uri(drb_s3 *s3, const char *key)
{
	char *k = key ? drb_s3_uri_encode(key, true) : NULL,
	     *b = drb_s3_uri_encode(s3->bucket, false);
	size_t n = (k ? strlen(k) : 0) + strlen(b) + 4;
	char *out = (key && !k) || !b ? NULL : malloc(n);
	if (out) {
		if (s3->host_style)
			snprintf(out, n, "/%s", k ? k : "");
		else
			snprintf(out, n, "/%s%s%s", b, k ? "/" : "", k ? k : "");
	}
	free(k);
	free(b);
	return out;
}

static struct curl_slist *add_header(struct curl_slist *l, const char *name, const char *value,
                                     bool *failed)
{
	char line[2048];
	snprintf(line, sizeof line, "%s: %s", name, value);
	struct curl_slist *n = curl_slist_append(l, line);
	if (!n)
		*failed = true;
	return n ? n : l;
}

/* Fatal curl errors: retrying cannot help, and the user must act. */
static bool fatal_curl(CURLcode c)
{
	switch (c) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_UNKNOWN_OPTION:
		return true;
	default:
		return false;
	}
}

drb_s3_outcome drb_s3_attempt(drb_s3 *s3, drb_s3_req *req, drb_s3_resp *resp, char *why,
                              size_t whylen)
{
	char amz_date[17], auth[1024], errbuf[CURL_ERROR_SIZE] = "";
	char *uri = NULL, *cq = NULL, *url = NULL;
	struct curl_slist *hl = NULL;
	drb_s3_kv hv[20];
	size_t nh = 0;
	bool failed = false;
	attempt_ctx a = {.req = req, .resp = resp};
	drb_s3_outcome o = DRB_S3_FATAL;
	CURL *h = NULL;
	CURLcode cc;

	drb_s3_resp_reset(resp);
	why[0] = 0;
	a.body_max = req->body_max ? req->body_max : BODY_MAX_DEFAULT;
	if (!req->body_sha256[0])
		drb_s3_sha256_hex(req->body ? req->body : "", req->body_len, req->body_sha256);
	if (!(uri = drb_s3_canonical_uri(s3, req->key)) ||
	    !(cq = drb_s3_canonical_query(req->query, req->n_query))) {
		drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	size_t ulen = strlen(s3->base_url) + strlen(uri) + strlen(cq) + 2;
	if (!(url = malloc(ulen))) {
		drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(url, ulen, "%s%s%s%s", s3->base_url, uri, *cq ? "?" : "", cq);

	/* every header we send is signed, so a proxy cannot alter one unnoticed */
	drb_s3_amz_date(drb_s3_clock(NULL), amz_date);
	hv[nh++] = (drb_s3_kv){"Host", s3->host};
	hv[nh++] = (drb_s3_kv){"x-amz-date", amz_date};
	hv[nh++] = (drb_s3_kv){"x-amz-content-sha256", req->body_sha256};
	if (s3->signer.token)
		hv[nh++] = (drb_s3_kv){"x-amz-security-token", s3->signer.token};
	if (req->body_md5[0])
		hv[nh++] = (drb_s3_kv){"Content-MD5", req->body_md5};
	for (size_t i = 0; i < req->n_headers && nh < sizeof hv / sizeof hv[0]; i++)
		hv[nh++] = req->headers[i];
	drb_s3_sign_input in = {.method = req->method,
	                        .canonical_uri = uri,
	                        .canonical_query = cq,
	                        .headers = hv,
	                        .n_headers = nh,
	                        .payload_hash = req->body_sha256,
	                        .amz_date = amz_date};
	if (drb_s3_authorization(&s3->signer, &in, auth, sizeof auth) < 0)
		goto out;
	for (size_t i = 0; i < nh; i++)
		hl = add_header(hl, hv[i].name, hv[i].value, &failed);
	hl = add_header(hl, "Authorization", auth, &failed);
	sodium_memzero(auth, sizeof auth);
	/* no "Expect: 100-continue": a part goes in one go, and S3 answers errors early anyway */
	if (!(hl = curl_slist_append(hl, "Expect:")) || failed) {
		drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}

	if (!(h = pool_get(s3))) {
		drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	/* one request per connection at a time; parallelism comes from several connections */
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SHARE, s3->share);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (s3->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, s3->ca_file);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	bool get = strcmp(req->method, "GET") == 0;
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, get ? (long)RECV_BUFFER_GET : (long)RECV_BUFFER);
	if (req->body_len)
		curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, (long)SEND_BUFFER);
	if (s3->timeout > 0) {
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, s3->timeout);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s3->timeout);
	}
	if (get) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "DELETE") == 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	} else {
		/* PUT and POST: the body from memory, its length known (never chunked) */
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &a);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, &a);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
		if (strcmp(req->method, "PUT") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}

	cc = curl_easy_perform(h);
	if (cc == CURLE_OK && !a.started && begin_body(&a) < 0)
		cc = CURLE_WRITE_ERROR;
	if (a.cb_failed) {
		o = DRB_S3_FATAL; /* the sink's own error stands */
	} else if (a.too_big) {
		drb_error(DRB_ERR_FORMAT, "the answer (HTTP %ld) is larger than %zu bytes",
		          resp->status, a.body_max);
	} else if (cc == CURLE_ABORTED_BY_CALLBACK) {
		drb_error(DRB_ERR_CANCELLED, "stopped on request");
	} else if (cc == CURLE_PEER_FAILED_VERIFICATION) {
		drb_error(DRB_ERR_PERMISSION,
		          "the TLS certificate of %s is not trusted (%s); set ca_file in the repo "
		          "section to the CA that signed it",
		          s3->endpoint, errbuf[0] ? errbuf : curl_easy_strerror(cc));
	} else if (fatal_curl(cc)) {
		drb_error(DRB_ERR_NETWORK, "%s (curl %d: %s)", curl_easy_strerror(cc), (int)cc,
		          errbuf[0] ? errbuf : "no detail");
	} else if (cc != CURLE_OK) {
		snprintf(why, whylen, "%s (curl %d%s%.150s)", curl_easy_strerror(cc), (int)cc,
		         errbuf[0] ? ": " : "", errbuf);
		o = DRB_S3_TRANSPORT;
	} else {
		o = DRB_S3_ANSWER;
		if (!ok_status(resp->status) && resp->body_len)
			(void)drb_s3_parse_error(resp->body, resp->body_len, resp->code,
			                         sizeof resp->code, resp->message,
			                         sizeof resp->message, &resp->skew);
		drb_error_clear();
	}
out:
	if (h) {
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(h, CURLOPT_SHARE, NULL);
		pool_put(s3, h, o == DRB_S3_ANSWER);
	}
	curl_slist_free_all(hl);
	free(uri);
	free(cq);
	free(url);
	return o;
}

/* ---------------------------------------------------------------- retries */

bool drb_s3_retryable(const drb_s3_resp *r)
{
	static const char *const codes[] = {
	    "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling",
	    "ThrottlingException", "RequestLimitExceeded",
	    /* the body changed on the way (it is sent again from the same buffer) */
	    "BadDigest", "XAmzContentSHA256Mismatch", NULL};
	if (r->status >= 500 || r->status == 408 || r->status == 429)
		return true;
	for (int i = 0; codes[i]; i++)
		if (strcmp(r->code, codes[i]) == 0)
			return true;
	return false;
}

bool drb_s3_backoff(unsigned n)
{
	unsigned shift = n < 2 ? 0 : n - 2;
	uint64_t ms = (uint64_t)BACKOFF_BASE_MS << (shift > 16 ? 16 : shift);
	if (ms > BACKOFF_CAP_MS)
		ms = BACKOFF_CAP_MS;
	/* jitter: a random point in the upper half, so parallel writers do not retry in step */
	ms = ms / 2 + randombytes_uniform((uint32_t)(ms / 2 + 1));
	while (ms > 0) {
		if (drb_stop_requested())
			return false;
		uint64_t step = ms < 100 ? ms : 100;
		usleep((useconds_t)(step * 1000));
		ms -= step;
	}
	return !drb_stop_requested();
}

static void attempts_commit(drb_s3_attempts *a)
{
	size_t used = strlen(a->text);
	if (!a->last[0])
		return;
	if (a->last_from == a->n)
		snprintf(a->text + used, sizeof a->text - used, "%sattempt %u: %s",
		         used ? "; " : "", a->n, a->last);
	else
		snprintf(a->text + used, sizeof a->text - used, "%sattempts %u-%u: %s",
		         used ? "; " : "", a->last_from, a->n, a->last);
}

void drb_s3_attempts_add(drb_s3_attempts *a, const char *fmt, ...)
{
	char msg[sizeof a->last];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (a->n && strcmp(msg, a->last) == 0) {
		a->n++;
		return;
	}
	attempts_commit(a);
	a->n++;
	a->last_from = a->n;
	snprintf(a->last, sizeof a->last, "%s", msg);
}

static void attempts_render(const drb_s3_attempts *a, char *buf, size_t len)
{
	drb_s3_attempts copy = *a;
	attempts_commit(&copy);
	snprintf(buf, len, "%s", copy.text);
}

void drb_s3_describe_answer(const drb_s3_resp *r, char *buf, size_t len)
{
	if (strcmp(r->code, "RequestTimeTooSkewed") == 0) {
		int64_t skew = r->skew;
		if (!skew && r->server_date > 0)
			skew = r->server_date - (int64_t)drb_s3_clock(NULL);
		if (skew)
			snprintf(
			    buf, len,
			    "HTTP %ld RequestTimeTooSkewed: this host's clock is off by %lld s "
			    "(%s the server's); S3 refuses requests more than 15 minutes off: "
			    "fix the time (NTP)",
			    r->status, (long long)(skew < 0 ? -skew : skew),
			    skew < 0 ? "ahead of" : "behind");
		else
			snprintf(buf, len,
			         "HTTP %ld RequestTimeTooSkewed: this host's clock is off from the "
			         "server's by more than 15 minutes: fix the time (NTP)",
			         r->status);
		return;
	}
	/* Ceph RGW sends an empty <Message>: say what the common codes mean instead */
	static const char *const causes[][2] = {
	    {"SignatureDoesNotMatch",
	     "the request's signature is wrong: the secret key is not the one of this access key"},
	    {"InvalidAccessKeyId", "the server knows no such access key"},
	    {"AccessDenied", "access denied: this user may not do that here"},
	    {"EntityTooSmall", "a part other than the last is smaller than 5 MiB"},
	    {"InvalidPart", "a part is missing or its ETag does not match"},
	    {"NoSuchBucket", "there is no such bucket"},
	    {"NoSuchUpload", "the multipart upload is gone (completed or aborted)"},
	};
	if (!r->code[0] && r->status == 403) {
		/* a HEAD answer has no body to say why: the Date header still shows a clock off */
		int64_t skew =
		    r->server_date > 0 ? r->server_date - (int64_t)drb_s3_clock(NULL) : 0;
		if (skew > 900 || skew < -900)
			snprintf(
			    buf, len,
			    "HTTP 403: this host's clock is off by %lld s (%s the server's); S3 "
			    "refuses requests more than 15 minutes off: fix the time (NTP)",
			    (long long)(skew < 0 ? -skew : skew), skew < 0 ? "ahead of" : "behind");
		else
			snprintf(buf, len,
			         "HTTP 403 without a reason (a HEAD answer has no body): a wrong "
			         "secret key or access key, or no permission");
		return;
	}
	if (r->code[0] && r->message[0]) {
		snprintf(buf, len, "HTTP %ld %s (%.120s)", r->status, r->code, r->message);
		return;
	}
	for (size_t i = 0; r->code[0] && i < sizeof causes / sizeof causes[0]; i++)
		if (strcmp(r->code, causes[i][0]) == 0) {
			snprintf(buf, len, "HTTP %ld %s: %s", r->status, r->code, causes[i][1]);
			return;
		}
	if (r->code[0])
		snprintf(buf, len, "HTTP %ld %s", r->status, r->code);
	else
		snprintf(buf, len, "HTTP %ld", r->status);
}

int drb_s3_answer_code(const drb_s3_resp *r)
{
	static const char *const denied[] = {
	    "AccessDenied", "InvalidAccessKeyId",   "SignatureDoesNotMatch", "ExpiredToken",
	    "InvalidToken", "TokenRefreshRequired", "AccountProblem",        NULL};
	if (strcmp(r->code, "NoSuchBucket") == 0)
		return DRB_ERR_CONFIG;
	if (strcmp(r->code, "RequestTimeTooSkewed") == 0)
		return DRB_ERR_REFUSED;
	for (int i = 0; denied[i]; i++)
		if (strcmp(r->code, denied[i]) == 0)
			return DRB_ERR_PERMISSION;
	if (r->status == 404 || strcmp(r->code, "NoSuchKey") == 0 ||
	    strcmp(r->code, "NoSuchUpload") == 0)
		return DRB_ERR_NOT_FOUND;
	if (r->status == 401 || r->status == 403)
		return DRB_ERR_PERMISSION;
	return DRB_ERR_REMOTE;
}

int drb_s3_fail(drb_s3 *s3, const drb_s3_req *req, const drb_s3_resp *resp,
                const drb_s3_attempts *a, int code)
{
	char where[600], what[600], hint[160] = "";
	drb_s3_where(s3, req->key, where, sizeof where);
	if (resp && (strcmp(resp->code, "ExpiredToken") == 0 ||
		     strcmp(resp->code, "TokenRefreshRequired") == 0))
		s3->creds_stale = 1; /* the next refresh re-reads them, changed or not */
	if (a && a->n > 1)
		attempts_render(a, what, sizeof what);
	else if (a && a->n == 1)
		snprintf(what, sizeof what, "%s", a->last);
	else if (resp)
		drb_s3_describe_answer(resp, what, sizeof what);
	else
		snprintf(what, sizeof what, "failed");
	if (resp && (strcmp(resp->code, "NoSuchBucket") == 0 ||
	             strcmp(resp->code, "PermanentRedirect") == 0 ||
	             strcmp(resp->code, "AuthorizationHeaderMalformed") == 0 ||
	             strcmp(resp->code, "IllegalLocationConstraintException") == 0))
		snprintf(hint, sizeof hint, " (check bucket, endpoint and region)");
	else if (resp && (strcmp(resp->code, "SignatureDoesNotMatch") == 0 ||
	                  strcmp(resp->code, "InvalidAccessKeyId") == 0))
		snprintf(hint, sizeof hint,
		         " (check access_key_id, secret_access_key_file and region)");
	if (resp && resp->request_id[0] && strlen(hint) < sizeof hint - 100)
		snprintf(hint + strlen(hint), sizeof hint - strlen(hint), " [request id %.64s]",
		         resp->request_id);
	return drb_error(code, "%s %s: %s%s", req->what ? req->what : req->method, where, what,
	                 hint);
}

/* An <Error> document in a 200 answer (S3 does this for CompleteMultipartUpload). */
static bool error_in_body(drb_s3_resp *r)
{
	if (!r->body_len || !strstr(r->body, "Error>"))
		return false;
	bool is_error = drb_s3_parse_error(r->body, r->body_len, r->code, sizeof r->code,
	                                   r->message, sizeof r->message, &r->skew) == 0;
	drb_error_clear();
	return is_error;
}

int drb_s3_send(drb_s3 *s3, drb_s3_req *req, drb_s3_resp *resp)
{
	drb_s3_attempts log = {0};
	char why[300], line[300], where[600];
	unsigned max = s3->retries + 1;
	for (unsigned n = 1;; n++) {
		if (n > 1 && !drb_s3_backoff(n))
			return drb_error(DRB_ERR_CANCELLED, "%s: stopped on request",
			                 req->what ? req->what : req->method);
		drb_s3_outcome o = drb_s3_attempt(s3, req, resp, why, sizeof why);
		if (o == DRB_S3_FATAL)
			return drb_error_wrap(0, "%s %s", req->what ? req->what : req->method,
			                      drb_s3_where(s3, req->key, where, sizeof where));
		if (o == DRB_S3_TRANSPORT) {
			drb_s3_attempts_add(&log, "%s", why);
			drb_log_debug("%s %s: attempt %u of %u: %s",
			              req->what ? req->what : req->method,
			              drb_s3_where(s3, req->key, where, sizeof where), n, max, why);
			if (n >= max)
				return drb_s3_fail(s3, req, NULL, &log, DRB_ERR_NETWORK);
			continue;
		}
		if (ok_status(resp->status) && !(req->error_in_200 && error_in_body(resp))) {
			if (req->expect_md5[0] && drb_s3_etag_is_md5(resp->etag, resp->sse) &&
			    strcasecmp(resp->etag, req->expect_md5) != 0) {
				/* the server stored other bytes than we sent: send them again */
				drb_s3_attempts_add(&log,
				                    "the server stored other bytes than were "
				                    "sent (ETag %.40s, MD5 sent %s)",
				                    resp->etag, req->expect_md5);
				if (n >= max)
					return drb_s3_fail(s3, req, NULL, &log, DRB_ERR_INTEGRITY);
				continue;
			}
			return 0;
		}
		drb_s3_describe_answer(resp, line, sizeof line);
		drb_s3_attempts_add(&log, "%s", line);
		if (drb_s3_retryable(resp) && n < max) {
			drb_log_debug(
			    "%s %s: attempt %u of %u: %s", req->what ? req->what : req->method,
			    drb_s3_where(s3, req->key, where, sizeof where), n, max, line);
			continue;
		}
		return drb_s3_fail(s3, req, resp, &log, drb_s3_answer_code(resp));
	}
}
