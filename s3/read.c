/* Reading objects: HEAD for stat, and a streaming GET that survives dropped connections. A
 * resumed GET asks for "Range: bytes=N-" with "If-Match: <etag>", and every answer is checked
 * against the first one (ETag, size, where its range starts), so bytes of a replaced object are
 * never stitched onto the old ones and no byte reaches the sink twice. Attempts that moved data
 * forward do not use up the retry budget: a long read over a flaky link keeps going. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "s3/internal.h"

#define MAX_ATTEMPTS 1000 /* even with progress each time, give up eventually */

/* An object whose x-amz-meta-drb-size (what drbackup wrote) differs from what the server holds
 * was cut short on a server without atomic PUT (s3rver): never let it pass as whole. */
static int check_meta_size(drb_s3 *s3, const char *key, const drb_s3_resp *r, int64_t size)
{
	char where[600];
	uint64_t want;
	char *end;
	if (!r->meta_size[0])
		return 0;
	want = strtoull(r->meta_size, &end, 10);
	if (*end || size < 0 || want == (uint64_t)size)
		return 0;
	return drb_error(DRB_ERR_INTEGRITY,
	                 "%s holds %" PRId64 " bytes but was written with %" PRIu64
	                 ": an interrupted upload, not a whole object",
	                 drb_s3_where(s3, key, where, sizeof where), size, want);
}

int drb_s3_stat(void *impl, const char *path, drb_obj_stat *st)
{
	drb_s3 *s3 = impl;
	drb_s3_resp resp = {0};
	char where[600];
	char *key = drb_s3_key(s3, path);
	int rc;
	if (!key)
		return drb_error_code();
	drb_s3_req req = {.method = "HEAD", .key = key, .what = "looking up"};
	char *vid = NULL; /* --repo-as-of: the version of then */
	if (s3->as_of && (rc = drb_s3_asof_version(s3, key, &vid)) < 0)
		goto out;
	if (vid)
		req.query[req.n_query++] = (drb_s3_kv){"versionId", vid};
	rc = drb_s3_send(s3, &req, &resp);
	if (rc == DRB_ERR_NOT_FOUND && resp.status == 404) {
		rc = drb_error(DRB_ERR_NOT_FOUND, "%s: no such object",
		               drb_s3_where(s3, key, where, sizeof where));
		goto out;
	}
	if (rc < 0)
		goto out;
	if (resp.length < 0) {
		rc = drb_error(DRB_ERR_REMOTE, "%s: HEAD answered without a Content-Length",
		               drb_s3_where(s3, key, where, sizeof where));
		goto out;
	}
	if ((rc = check_meta_size(s3, key, &resp, resp.length)) < 0)
		goto out;
	st->size = (uint64_t)resp.length;
	st->mtime = resp.last_modified > 0 ? resp.last_modified : 0;
out:
	drb_s3_resp_free(&resp);
	free(vid);
	free(key);
	return rc;
}

typedef struct reader {
	drb_s3 *s3;
	const char *key;
	drb_sink *out;
	uint64_t delivered; /* bytes handed to out */
	int64_t total;      /* the object's size; -1 until the first answer */
	char etag[80];
	uint64_t skip;  /* bytes of this answer already delivered (a server that ignored Range) */
	uint64_t moved; /* bytes delivered by this attempt */
} reader;

static int rd_start(void *ud, const drb_s3_resp *r)
{
	reader *g = ud;
	char where[600];
	int64_t total = r->status == 206 ? r->range_total : r->length;
	drb_s3_where(g->s3, g->key, where, sizeof where);
	g->skip = 0;
	if (r->status == 206 && r->range_start != (int64_t)g->delivered)
		return drb_error(DRB_ERR_INTEGRITY,
		                 "%s: asked to resume at byte %" PRIu64
		                 ", the server sent from %" PRId64,
		                 where, g->delivered, r->range_start);
	if (r->status != 206)
		g->skip = g->delivered;
	if (total < 0)
		return drb_error(DRB_ERR_REMOTE, "%s: the answer gives no size", where);
	if (g->total >= 0 && total != g->total)
		return drb_error(DRB_ERR_INTEGRITY,
		                 "%s changed while being read: %" PRId64 " bytes, then %" PRId64,
		                 where, g->total, total);
	if (g->etag[0] && r->etag[0] && strcmp(g->etag, r->etag) != 0)
		return drb_error(DRB_ERR_INTEGRITY,
		                 "%s was replaced while being read (ETag %s, then %s)", where,
		                 g->etag, r->etag);
	if (!g->etag[0])
		snprintf(g->etag, sizeof g->etag, "%s", r->etag);
	g->total = total;
	return check_meta_size(g->s3, g->key, r, total);
}

static int rd_data(void *ud, const void *buf, size_t len)
{
	reader *g = ud;
	const char *p = buf;
	if (g->skip) {
		size_t s = g->skip < len ? (size_t)g->skip : len;
		p += s;
		len -= s;
		g->skip -= s;
	}
	if (!len)
		return 0;
	if (g->delivered + len > (uint64_t)g->total) {
		char where[600];
		return drb_error(DRB_ERR_INTEGRITY, "%s: more bytes than the %" PRId64 " announced",
		                 drb_s3_where(g->s3, g->key, where, sizeof where), g->total);
	}
	int rc = drb_sink_write(g->out, p, len);
	if (rc < 0)
		return rc;
	g->delivered += len;
	g->moved += len;
	return 0;
}

int drb_s3_get(void *impl, const char *path, drb_sink *out)
{
	drb_s3 *s3 = impl;
	drb_s3_resp resp = {0};
	drb_s3_attempts log = {0};
	char range[48], if_match[90], why[300], line[300], where[600];
	char *key = drb_s3_key(s3, path);
	reader g = {.s3 = s3, .out = out, .total = -1};
	unsigned stalled = 0; /* attempts in a row that moved nothing */
	int rc = 0;
	if (!key)
		return drb_error_code();
	g.key = key;
	drb_s3_where(s3, key, where, sizeof where);
	drb_s3_req req = {.method = "GET",
	                  .key = key,
	                  .what = "reading",
	                  .ud = &g,
	                  .start = rd_start,
	                  .data = rd_data};
	char *vid = NULL; /* --repo-as-of: the version of then */
	if (s3->as_of && (rc = drb_s3_asof_version(s3, key, &vid)) < 0)
		goto out;
	if (vid)
		req.query[req.n_query++] = (drb_s3_kv){"versionId", vid};
	for (unsigned n = 1;; n++) {
		if (n > 1 && !drb_s3_backoff(stalled + 1)) {
			rc = drb_error(DRB_ERR_CANCELLED, "reading %s: stopped on request", where);
			goto out;
		}
		if (g.total >= 0 && (int64_t)g.delivered == g.total)
			goto out; /* the link broke after the last byte */
		req.n_headers = 0;
		if (g.delivered > 0) {
			snprintf(range, sizeof range, "bytes=%" PRIu64 "-", g.delivered);
			req.headers[req.n_headers++] = (drb_s3_kv){"Range", range};
			if (g.etag[0]) {
				snprintf(if_match, sizeof if_match, "\"%s\"", g.etag);
				req.headers[req.n_headers++] = (drb_s3_kv){"If-Match", if_match};
			}
		}
		g.moved = 0;
		drb_s3_outcome o = drb_s3_attempt(s3, &req, &resp, why, sizeof why);
		if (o == DRB_S3_FATAL) {
			rc = drb_error_wrap(0, "reading %s", where);
			goto out;
		}
		if (o == DRB_S3_ANSWER && resp.status >= 200 && resp.status < 300) {
			if ((int64_t)g.delivered == g.total)
				goto out; /* whole */
			snprintf(why, sizeof why,
			         "the answer ended after %" PRIu64 " of %" PRId64 " bytes",
			         g.delivered, g.total);
			o = DRB_S3_TRANSPORT;
		}
		if (o == DRB_S3_ANSWER && resp.status == 416 && g.total >= 0 &&
		    (int64_t)g.delivered == g.total)
			goto out; /* the link broke after the last byte */
		stalled = g.moved ? 0 : stalled + 1;
		if (o == DRB_S3_TRANSPORT) {
			drb_s3_attempts_add(&log, "%s", why);
			drb_log_debug("reading %s: attempt %u broke at byte %" PRIu64 ": %s", where,
			              n, g.delivered, why);
			if (stalled > s3->retries || n >= MAX_ATTEMPTS) {
				rc = drb_s3_fail(s3, &req, NULL, &log, DRB_ERR_NETWORK);
				goto out;
			}
			continue;
		}
		drb_s3_describe_answer(&resp, line, sizeof line);
		drb_s3_attempts_add(&log, "%s", line);
		if (resp.status == 404) {
			rc = drb_error(DRB_ERR_NOT_FOUND, "%s: no such object", where);
			goto out;
		}
		if (resp.status == 412) {
			rc = drb_error(DRB_ERR_INTEGRITY,
			               "%s was replaced while being read (If-Match %s failed after "
			               "%" PRIu64 " bytes)",
			               where, g.etag, g.delivered);
			goto out;
		}
		if (!drb_s3_retryable(&resp) || stalled > s3->retries || n >= MAX_ATTEMPTS) {
			rc = drb_s3_fail(s3, &req, &resp, &log, drb_s3_answer_code(&resp));
			goto out;
		}
	}
out:
	if (rc == 0 && log.n)
		drb_log_debug("read %s (%" PRIu64 " bytes) after %u interruption%s", where,
		              g.delivered, log.n, log.n == 1 ? "" : "s");
	drb_s3_resp_free(&resp);
	free(vid);
	free(key);
	return rc;
}
