/* Deleting with DeleteObjects: up to 1000 keys a request, in quiet mode so the answer lists only
 * the keys that failed. The body carries a Content-MD5, which S3 demands for this call. A key that
 * does not exist is not an error (S3 reports it deleted). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "s3/internal.h"

static int delete_batch(drb_s3 *s3, const char *const *keys, size_t n)
{
	drb_s3_resp resp = {0};
	unsigned char md5[16];
	char *xml = NULL, key[DRB_S3_KEY_MAX + 1], code[64], msg[256], where[600];
	size_t len = 0;
	int rc;
	if ((rc = drb_s3_xml_delete(keys, NULL, n, &xml, &len)) < 0)
		return rc;
	drb_s3_req req = {.method = "POST", .what = "deleting", .body = xml, .body_len = len};
	req.query[req.n_query++] = (drb_s3_kv){"delete", ""};
	drb_s3_md5(xml, len, md5);
	drb_s3_md5_base64(md5, req.body_md5);
	if ((rc = drb_s3_send(s3, &req, &resp)) < 0)
		goto out;
	rc = drb_s3_parse_delete(resp.body, resp.body_len, key, sizeof key, code, sizeof code, msg,
	                         sizeof msg);
	if (rc == DRB_ERR_REMOTE)
		rc = drb_error(strcmp(code, "AccessDenied") == 0 ? DRB_ERR_PERMISSION
		                                                 : DRB_ERR_REMOTE,
		               "deleting %s: %s (%.150s)%s",
		               drb_s3_where(s3, key[0] ? key : NULL, where, sizeof where), code,
		               msg, n > 1 ? " (other keys of the batch may be gone)" : "");
	else if (rc < 0)
		rc = drb_error_wrap(0, "deleting from s3://%s", s3->bucket);
out:
	drb_s3_resp_free(&resp);
	free(xml);
	return rc;
}

int drb_s3_remove(void *impl, const char *const *paths, size_t n)
{
	drb_s3 *s3 = impl;
	char **keys = calloc(n ? n : 1, sizeof *keys);
	int rc = 0;
	size_t i;
	if (!keys)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++)
		if (!(keys[i] = drb_s3_key(s3, paths[i]))) {
			rc = drb_error_code();
			goto out;
		}
	if (s3->delete_versions) { /* every version, not only a delete marker (versions.c) */
		rc = drb_s3_remove_versions(s3, keys, n);
		goto out;
	}
	for (i = 0; i < n && rc == 0; i += DRB_S3_DELETE_BATCH) {
		size_t batch = n - i < DRB_S3_DELETE_BATCH ? n - i : DRB_S3_DELETE_BATCH;
		rc = delete_batch(s3, (const char *const *)keys + i, batch);
	}
	if (rc == 0)
		drb_log_debug("deleted %zu object%s from s3://%s", n, n == 1 ? "" : "s",
		              s3->bucket);
out:
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	return rc;
}
