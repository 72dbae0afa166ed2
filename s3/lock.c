/* Object Lock, legal holds and storage classes: what HEAD says about an object (retention, hold,
 * class, an archive's thaw), PutObjectRetention (?retention) to extend a lock, PutObjectLegalHold
 * (?legal-hold), and CopyObject onto itself to move an object to another class. The XML bodies
 * carry a Content-MD5, which AWS demands for these calls (RGW does not insist). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "s3/internal.h"

void drb_s3_lock_header(drb_s3_resp *r, const char *name, const char *v)
{
	if (strcasecmp(name, "x-amz-object-lock-mode") == 0)
		snprintf(r->lock_mode, sizeof r->lock_mode, "%s", v);
	else if (strcasecmp(name, "x-amz-object-lock-retain-until-date") == 0)
		r->lock_until = drb_s3_parse_iso8601(v) > 0 ? drb_s3_parse_iso8601(v) : 0;
	else if (strcasecmp(name, "x-amz-object-lock-legal-hold") == 0)
		r->legal_hold = strcasecmp(v, "ON") == 0;
	else if (strcasecmp(name, "x-amz-storage-class") == 0)
		snprintf(r->storage_class, sizeof r->storage_class, "%s", v);
	else if (strcasecmp(name, "x-amz-restore") == 0)
		snprintf(r->restore, sizeof r->restore, "%s", v);
	else if (strcasecmp(name, "x-amz-version-id") == 0)
		snprintf(r->version_id, sizeof r->version_id, "%s", v);
}

/* HEAD of key (its version at as_of when reading the past). */
static int head(drb_s3 *s3, const char *key, drb_s3_resp *resp)
{
	char where[600], *vid = NULL;
	int rc;
	drb_s3_req req = {.method = "HEAD", .key = key, .what = "looking up"};
	if (s3->as_of) {
		if ((rc = drb_s3_asof_version(s3, key, &vid)) < 0)
			return rc;
		req.query[req.n_query++] = (drb_s3_kv){"versionId", vid};
	}
	rc = drb_s3_send(s3, &req, resp);
	if (rc == DRB_ERR_NOT_FOUND && resp->status == 404)
		rc = drb_error(DRB_ERR_NOT_FOUND, "%s: no such object",
		               drb_s3_where(s3, key, where, sizeof where));
	free(vid);
	return rc;
}

int drb_s3_info(void *impl, const char *path, drb_obj_info *out)
{
	drb_s3 *s3 = impl;
	drb_s3_resp resp = {0};
	char *key = drb_s3_key(s3, path);
	int rc;
	memset(out, 0, sizeof *out);
	if (!key)
		return drb_error_code();
	if ((rc = head(s3, key, &resp)) == 0) {
		snprintf(out->lock_mode, sizeof out->lock_mode, "%s", resp.lock_mode);
		out->retain_until = resp.lock_until;
		out->legal_hold = resp.legal_hold;
		snprintf(out->storage_class, sizeof out->storage_class, "%s",
		         resp.storage_class[0] ? resp.storage_class : "STANDARD");
		snprintf(out->restore, sizeof out->restore, "%s", resp.restore);
	}
	drb_s3_resp_free(&resp);
	free(key);
	return rc;
}

/* A PUT of a small XML body to key?sub, with its Content-MD5. */
static int put_sub(drb_s3 *s3, const char *key, const char *sub, const char *xml, size_t len,
                   const char *what)
{
	drb_s3_resp resp = {0};
	unsigned char md5[16];
	drb_s3_req req = {.method = "PUT", .key = key, .what = what, .body = xml, .body_len = len};
	req.query[req.n_query++] = (drb_s3_kv){sub, ""};
	drb_s3_md5(xml, len, md5);
	drb_s3_md5_base64(md5, req.body_md5);
	int rc = drb_s3_send(s3, &req, &resp);
	drb_s3_resp_free(&resp);
	return rc;
}

int drb_s3_retain(void *impl, const char *path, int64_t until)
{
	drb_s3 *s3 = impl;
	drb_s3_resp resp = {0};
	char *key = drb_s3_key(s3, path), *xml = NULL, where[600];
	size_t len = 0;
	int rc;
	if (!key)
		return drb_error_code();
	if ((rc = head(s3, key, &resp)) < 0)
		goto out;
	if (resp.lock_until >= until)
		goto out; /* already locked at least that long: never shortened */
	/* a COMPLIANCE lock stays COMPLIANCE; a GOVERNANCE one may become COMPLIANCE */
	const char *mode = strcmp(resp.lock_mode, "COMPLIANCE") == 0 ? "COMPLIANCE" : s3->lock_mode;
	if ((rc = drb_s3_xml_retention(mode, until, &xml, &len)) < 0 ||
	    (rc = put_sub(s3, key, "retention", xml, len, "extending the lock of")) < 0)
		goto out;
	drb_log_debug("%s: locked (%s) until %" PRId64, drb_s3_where(s3, key, where, sizeof where),
	              mode, until);
	rc = 1; /* extended */
out:
	drb_s3_resp_free(&resp);
	free(xml);
	free(key);
	return rc;
}

int drb_s3_legal_hold(void *impl, const char *path, bool on)
{
	drb_s3 *s3 = impl;
	char *key = drb_s3_key(s3, path), *xml = NULL;
	size_t len = 0;
	int rc;
	if (!key)
		return drb_error_code();
	if ((rc = drb_s3_xml_legal_hold(on, &xml, &len)) == 0)
		rc = put_sub(s3, key, "legal-hold", xml, len,
		             on ? "setting the legal hold of" : "releasing the legal hold of");
	free(xml);
	free(key);
	return rc;
}

/* CopyObject onto itself: the same bytes and metadata in another class. On an Object Lock
 * bucket the copy is a new version, so it carries the lock and hold of the one it replaces. */
int drb_s3_set_class(void *impl, const char *path, const char *storage_class)
{
	drb_s3 *s3 = impl;
	drb_s3_resp resp = {0};
	char *key = drb_s3_key(s3, path), *src = NULL, *enc = NULL, until[32], where[600], mode[16];
	int rc;
	if (!key)
		return drb_error_code();
	drb_s3_where(s3, key, where, sizeof where);
	if ((rc = head(s3, key, &resp)) < 0)
		goto out;
	if (strcmp(resp.storage_class[0] ? resp.storage_class : "STANDARD", storage_class) == 0)
		goto out;
	if (resp.length > (int64_t)DRB_S3_PART_MAX) {
		rc = drb_error(DRB_ERR_NOT_IMPLEMENTED,
		               "%s: %" PRId64 " bytes is more than one CopyObject moves (5 GiB): "
		               "use a lifecycle rule for it",
		               where, resp.length);
		goto out;
	}
	if (!(enc = drb_s3_uri_encode(key, true)) ||
	    asprintf(&src, "/%s/%s", s3->bucket, enc) < 0) {
		src = NULL;
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	drb_s3_req req = {
	    .method = "PUT", .key = key, .what = "changing the class of", .error_in_200 = true};
	req.headers[req.n_headers++] = (drb_s3_kv){"x-amz-copy-source", src};
	req.headers[req.n_headers++] = (drb_s3_kv){"x-amz-metadata-directive", "COPY"};
	req.headers[req.n_headers++] = (drb_s3_kv){"x-amz-storage-class", storage_class};
	if (resp.lock_until > 0) {
		time_t t = (time_t)resp.lock_until;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", &tm);
		/* copied: resp is reused for the copy's answer */
		snprintf(mode, sizeof mode, "%s",
		         resp.lock_mode[0] ? resp.lock_mode : s3->lock_mode);
		req.headers[req.n_headers++] = (drb_s3_kv){"x-amz-object-lock-mode", mode};
		req.headers[req.n_headers++] =
		    (drb_s3_kv){"x-amz-object-lock-retain-until-date", until};
	}
	if (resp.legal_hold)
		req.headers[req.n_headers++] = (drb_s3_kv){"x-amz-object-lock-legal-hold", "ON"};
	drb_s3_resp_free(&resp);
	resp = (drb_s3_resp){0};
	if ((rc = drb_s3_send(s3, &req, &resp)) == 0)
		drb_log_info("%s: moved to storage class %s", where, storage_class);
out:
	drb_s3_resp_free(&resp);
	free(src);
	free(enc);
	free(key);
	return rc;
}
