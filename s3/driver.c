/* The S3 driver's table, and the repository it works on: the repo section turned into a base URL,
 * a Host header, credentials read from their files into guarded memory, and a connection pool.
 * Nothing is sent at open; the first operation makes the first request. */
#include "config.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <time.h>

#include "common/error.h"
#include "common/secret.h"
#include "s3/internal.h"
#include "s3/s3.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

/* curl_global_init is not thread-safe: run it once, before any handle exists */
static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_ALL);
	if (sodium_init() < 0)
		global_rc = CURLE_FAILED_INIT;
	drb_s3_xml_init();
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* scheme://host[:port] with nothing after it but an optional '/'. */
static int parse_endpoint(drb_s3 *s3, const drb_repo_config *cfg)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
	int rc = 0;
	if (!u)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, cfg->endpoint, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = drb_error(DRB_ERR_CONFIG, "repo %s: endpoint \"%s\" is not a URL", cfg->name,
		               cfg->endpoint);
		goto out;
	}
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
		rc = drb_error(DRB_ERR_CONFIG,
		               "repo %s: endpoint \"%s\": expected http:// or https://", cfg->name,
		               cfg->endpoint);
		goto out;
	}
	(void)curl_url_get(u, CURLUPART_PORT, &port, 0);
	(void)curl_url_get(u, CURLUPART_PATH, &path, 0);
	(void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
	if ((path && strcmp(path, "/") != 0 && *path) || query) {
		rc = drb_error(DRB_ERR_CONFIG,
		               "repo %s: endpoint \"%s\" has a path or query; give only "
		               "scheme://host[:port] (the bucket goes in 'bucket')",
		               cfg->name, cfg->endpoint);
		goto out;
	}
	size_t n = strlen(host) + strlen(cfg->bucket) + (port ? strlen(port) : 0) + 16;
	s3->host = malloc(n);
	s3->base_url = malloc(n + strlen(scheme) + 3);
	if (!s3->host || !s3->base_url) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(s3->host, n, "%s%s%s%s%s", s3->host_style ? cfg->bucket : "",
	         s3->host_style ? "." : "", host, port ? ":" : "", port ? port : "");
	snprintf(s3->base_url, n + strlen(scheme) + 3, "%s://%s", scheme, s3->host);
	for (char *p = s3->base_url; *p && *p != ':'; p++)
		*p = (char)(*p | 0x20); /* scheme in lowercase */
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	return rc;
}

static int64_t mtime_of(const char *path)
{
	struct stat st;
	if (!path || !*path || stat(path, &st) < 0)
		return 0;
	return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static int read_credentials(drb_s3 *s3, const drb_repo_config *cfg)
{
	char *secret = NULL, *token = NULL;
	int rc;
	int64_t secret_mtime = mtime_of(cfg->secret_access_key_file),
		token_mtime = mtime_of(cfg->session_token_file);
	if ((rc = drb_secret_read(cfg->secret_access_key_file, &secret, NULL)) < 0) {
		rc = drb_error_wrap(0, "repo %s: the secret access key", cfg->name);
		goto out;
	}
	if (cfg->session_token_file && *cfg->session_token_file &&
	    (rc = drb_secret_read(cfg->session_token_file, &token, NULL)) < 0) {
		rc = drb_error_wrap(0, "repo %s: the session token", cfg->name);
		goto out;
	}
	if (!*secret) {
		rc = drb_error(DRB_ERR_CONFIG, "repo %s: %s is empty", cfg->name,
		               cfg->secret_access_key_file);
		goto out;
	}
	/* the files read: only now is the old signer replaced (it holds a mutex: not copied) */
	if (s3->signer.access_key_id)
		drb_s3_signer_free(&s3->signer);
	if ((rc = drb_s3_signer_init(&s3->signer, cfg->access_key_id, secret, token, cfg->region,
				     "s3")) < 0)
		goto out;
	s3->cfg = cfg;
	s3->secret_mtime = secret_mtime;
	s3->token_mtime = token_mtime;
	s3->creds_stale = 0;
out:
	drb_secret_free(secret);
	drb_secret_free(token);
	return rc;
}

int drb_s3_refresh(drb_s3 *s3)
{
	const drb_repo_config *cfg = s3->cfg;
	if (!cfg || (!s3->creds_stale && mtime_of(cfg->secret_access_key_file) == s3->secret_mtime &&
		     mtime_of(cfg->session_token_file) == s3->token_mtime))
		return 0;
	return read_credentials(s3, cfg); /* on failure the old signer stays */
}

int drb_s3_new(const drb_repo_config *cfg, drb_s3 **out)
{
	static const char *const need[] = {"endpoint", "bucket", "access_key_id",
	                                   "secret_access_key_file"};
	const char *have[] = {cfg->endpoint, cfg->bucket, cfg->access_key_id,
	                      cfg->secret_access_key_file};
	const char *name = cfg->name ? cfg->name : "(unnamed)";
	drb_s3 *s3 = NULL;
	int rc = 0;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return drb_error(DRB_ERR_FAILED, "libcurl did not initialise: %s",
		                 curl_easy_strerror(global_rc));
	for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
		if (!have[i] || !*have[i])
			return drb_error(DRB_ERR_CONFIG, "repo %s: type \"s3\" needs option '%s'",
			                 name, need[i]);
	if (cfg->uri_style && *cfg->uri_style && strcmp(cfg->uri_style, "path") != 0 &&
	    strcmp(cfg->uri_style, "host") != 0)
		return drb_error(DRB_ERR_CONFIG,
		                 "repo %s: uri_style \"%s\": expected \"path\" or "
		                 "\"host\"",
		                 name, cfg->uri_style);
	if (cfg->part_size && ((uint64_t)cfg->part_size < DRB_S3_PART_MIN ||
	                       (uint64_t)cfg->part_size > DRB_S3_PART_MAX))
		return drb_error(DRB_ERR_CONFIG, "repo %s: part_size %ld: expected 5 MiB to 5 GiB",
		                 name, cfg->part_size);
	if (!(s3 = calloc(1, sizeof *s3)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&s3->asof_lock, NULL);
	if ((rc = drb_s3_conns_init(s3)) < 0)
		goto out;
	s3->host_style = cfg->uri_style && strcmp(cfg->uri_style, "host") == 0;
	s3->name = strdup(name);
	s3->bucket = strdup(cfg->bucket);
	s3->endpoint = strdup(cfg->endpoint);
	/* the prefix is a folder: no slashes at either end, joined to paths by exactly one */
	const char *p = cfg->prefix ? cfg->prefix : "";
	while (*p == '/')
		p++;
	s3->prefix = strdup(p);
	if (s3->prefix)
		for (size_t n = strlen(s3->prefix); n && s3->prefix[n - 1] == '/';)
			s3->prefix[--n] = 0;
	s3->ca_file = dup_or_null(cfg->ca_file);
	s3->storage_class = dup_or_null(cfg->storage_class);
	if (!s3->name || !s3->bucket || !s3->endpoint || !s3->prefix ||
	    (cfg->ca_file && *cfg->ca_file && !s3->ca_file) ||
	    (cfg->storage_class && *cfg->storage_class && !s3->storage_class)) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	s3->object_lock_days = cfg->object_lock_days > 0 ? cfg->object_lock_days : 0;
	snprintf(s3->lock_mode, sizeof s3->lock_mode, "%s",
	         cfg->object_lock_mode && *cfg->object_lock_mode ? cfg->object_lock_mode
	                                                         : "COMPLIANCE");
	s3->delete_versions = cfg->delete_versions;
	s3->part_size = cfg->part_size ? (uint64_t)cfg->part_size : DRB_S3_PART_DEFAULT;
	s3->sign_payload = cfg->sign_payload;
	s3->upload_parallel = cfg->upload_parallel > 0 ? (unsigned)cfg->upload_parallel : 4;
	if (s3->upload_parallel > DRB_S3_PARALLEL_MAX)
		s3->upload_parallel = DRB_S3_PARALLEL_MAX;
	s3->timeout = cfg->timeout > 0 ? cfg->timeout : 0;
	s3->retries = cfg->retries > 0 ? (unsigned)(cfg->retries > 100 ? 100 : cfg->retries) : 0;
	if ((rc = parse_endpoint(s3, cfg)) < 0 || (rc = read_credentials(s3, cfg)) < 0)
		goto out;
	*out = s3;
	s3 = NULL;
out:
	drb_s3_free(s3);
	return rc;
}

void drb_s3_free(drb_s3 *s3)
{
	if (!s3)
		return;
	drb_s3_conns_free(s3);
	if (s3->signer.access_key_id) /* set only by a successful drb_s3_signer_init */
		drb_s3_signer_free(&s3->signer);
	free(s3->name);
	free(s3->bucket);
	free(s3->prefix);
	free(s3->endpoint);
	free(s3->base_url);
	free(s3->host);
	free(s3->ca_file);
	free(s3->storage_class);
	drb_s3_as_of(s3, 0); /* frees the versions resolved */
	pthread_mutex_destroy(&s3->asof_lock);
	free(s3);
}

char *drb_s3_key(drb_s3 *s3, const char *path)
{
	size_t n = strlen(s3->prefix) + strlen(path) + 2;
	char *k;
	if (n - 1 > DRB_S3_KEY_MAX) {
		drb_error(DRB_ERR_USAGE, "s3://%s/%s%s%s: a key is at most %d bytes", s3->bucket,
		          s3->prefix, *s3->prefix ? "/" : "", path, DRB_S3_KEY_MAX);
		return NULL;
	}
	if (!(k = malloc(n))) {
		drb_error(DRB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (snprintf(k, n, "%s%s%s", s3->prefix, *s3->prefix && *path ? "/" : "", path) < 0)
		k[0] = 0;
	return k;
}

const char *drb_s3_where(drb_s3 *s3, const char *key, char *buf, size_t len)
{
	snprintf(buf, len, "s3://%s%s%s", s3->bucket, key ? "/" : "", key ? key : "");
	return buf;
}

/* ---------------------------------------------------------------- the table */

static int s3_open(const drb_repo_config *cfg, void **impl)
{
	drb_s3 *s3 = NULL;
	int rc = drb_s3_new(cfg, &s3);
	if (rc == 0)
		*impl = s3;
	return rc;
}

static int s3_refresh(void *impl)
{
	return drb_s3_refresh(impl);
}

static void s3_close(void *impl)
{
	drb_s3_free(impl);
}

static void s3_describe(void *impl, char *buf, size_t len)
{
	drb_s3 *s3 = impl;
	snprintf(buf, len, "s3://%s%s%s (%s)", s3->bucket, *s3->prefix ? "/" : "", s3->prefix,
	         s3->endpoint);
}

static int s3_presign(void *impl, const char *path, long expires_seconds, char **url_out);

/* Reading the past (--repo-as-of) never writes or deletes. */
static int refuse_as_of(drb_s3 *s3)
{
	return drb_error(DRB_ERR_USAGE,
	                 "s3://%s is opened as it was at a past time (--repo-as-of): nothing is "
	                 "written or deleted",
	                 s3->bucket);
}

static int s3_put(void *impl, const char *path, const drb_put_opts *opts, drb_sink **writer)
{
	drb_s3 *s3 = impl;
	return s3->as_of ? refuse_as_of(s3) : drb_s3_put(impl, path, opts, writer);
}

static int s3_remove(void *impl, const char *const *paths, size_t n)
{
	drb_s3 *s3 = impl;
	return s3->as_of ? refuse_as_of(s3) : drb_s3_remove(impl, paths, n);
}

const drb_repo_driver drb_s3_driver = {
    .type = "s3",
    .open = s3_open,
    .close = s3_close,
    .put = s3_put,
    .get = drb_s3_get,
    .list = drb_s3_list,
    .list_after = drb_s3_list_after,
    .refresh = s3_refresh,
    .stat = drb_s3_stat,
    .remove = s3_remove,
    .describe = s3_describe,
    .presign = s3_presign,
    .info = drb_s3_info,
    .retain = drb_s3_retain,
    .legal_hold = drb_s3_legal_hold,
    .set_class = drb_s3_set_class,
    .as_of = drb_s3_as_of,
};

/* ---------------------------------------------------------------- presigned URLs */

/* A presigned GET of path through an open client. */
static int presign(drb_s3 *s3, const char *path, long expires_seconds, char **url_out)
{
	char *key = NULL, *uri = NULL, amz_date[17];
	int rc;
	if (!drb_repo_path_ok(path))
		return drb_error(DRB_ERR_USAGE, "\"%s\" is not a valid object path",
		                 path ? path : "");
	if (expires_seconds < 1 || expires_seconds > DRB_S3_PRESIGN_MAX)
		return drb_error(DRB_ERR_USAGE,
		                 "a download link lives 1 second to 7 days (%ld s), not %ld s",
		                 DRB_S3_PRESIGN_MAX, expires_seconds);
	if (!(key = drb_s3_key(s3, path))) {
		rc = drb_error_code();
		goto out;
	}
	if (!(uri = drb_s3_canonical_uri(s3, key))) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	drb_s3_amz_date(drb_s3_clock(NULL), amz_date);
	rc = drb_s3_presign_url(&s3->signer, s3->base_url, s3->host, uri, expires_seconds, amz_date,
	                        url_out);
out:
	free(key);
	free(uri);
	return rc;
}

/* The driver op: the repository interface hands out the link (export --url). */
static int s3_presign(void *impl, const char *path, long expires_seconds, char **url_out)
{
	return presign(impl, path, expires_seconds, url_out);
}

int drb_s3_presign(const drb_repo_config *cfg, const char *path, long expires_seconds,
                   char **url_out)
{
	drb_s3 *s3 = NULL;
	int rc = drb_s3_new(cfg, &s3);
	if (rc == 0)
		rc = presign(s3, path, expires_seconds, url_out);
	if (rc < 0)
		drb_error_wrap(0, "repo %s: a download link for %s", cfg->name ? cfg->name : "",
		               path);
	drb_s3_free(s3);
	return rc;
}
