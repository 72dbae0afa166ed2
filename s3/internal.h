/* What the files of s3/ share: the repository state, SigV4 signing (sign.c), one HTTP exchange
 * and the retry loop around it (request.c), the parsers of S3's XML answers (xml.c), and the
 * operations that driver.c puts in the table (read.c, write.c, list.c, remove.c). Nothing here
 * leaves the folder except through s3.h; tests include it to reach the pieces. */
#ifndef DRB_S3_INTERNAL_H
#define DRB_S3_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/repo.h"

#define DRB_S3_MIB          (1024u * 1024u)
#define DRB_S3_PART_MIN     (5ull * DRB_S3_MIB)        /* S3: every part but the last */
#define DRB_S3_PART_MAX     (5ull * 1024 * DRB_S3_MIB) /* S3: the largest part */
#define DRB_S3_PART_DEFAULT (8ull * DRB_S3_MIB)
#define DRB_S3_MAX_PARTS    10000u
#define DRB_S3_PARALLEL_MAX 64
#define DRB_S3_DELETE_BATCH 1000 /* DeleteObjects takes at most 1000 keys */
#define DRB_S3_KEY_MAX      1024 /* bytes of UTF-8 in a key */
#define DRB_S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---------------------------------------------------------------- SigV4 (sign.c) */

typedef struct drb_s3_kv {
	const char *name;
	const char *value; /* NULL or "": a valueless query parameter ("uploads") */
} drb_s3_kv;

/* Credentials and the derived signing key, which is cached for its day. Secrets live in
 * guarded memory. Safe to use from several threads. */
typedef struct drb_s3_signer {
	char *access_key_id;
	char *secret; /* guarded */
	char *token;  /* guarded; NULL without a session token */
	char *region;
	char *service;
	pthread_mutex_t lock;
	char key_date[9];   /* YYYYMMDD the cached key is for; "" = none */
	unsigned char *key; /* 32 bytes, guarded */
} drb_s3_signer;

int drb_s3_signer_init(drb_s3_signer *s, const char *access_key_id, const char *secret,
                       const char *token, const char *region, const char *service);
void drb_s3_signer_free(drb_s3_signer *s);

/* Percent-encode as SigV4 asks: everything but A-Z a-z 0-9 - _ . ~ becomes %XX (uppercase hex,
 * per UTF-8 byte); '/' is kept when keep_slash (paths) and encoded otherwise (query). */
char *drb_s3_uri_encode(const char *in, bool keep_slash);
/* "a=1&b=&c=x%2Fy": names and values encoded, sorted by name then value. NULL on no memory. */
char *drb_s3_canonical_query(const drb_s3_kv *q, size_t n);

typedef struct drb_s3_sign_input {
	const char *method;
	const char *canonical_uri; /* already encoded, as it goes on the wire */
	const char *canonical_query;
	const drb_s3_kv *headers; /* every header to sign, host and x-amz-date included */
	size_t n_headers;
	const char *payload_hash; /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
	const char *amz_date;     /* YYYYMMDDTHHMMSSZ */
} drb_s3_sign_input;

/* The canonical request and the "a;b;c" list of signed headers (both malloc'd). */
int drb_s3_canonical_request(const drb_s3_sign_input *in, char **creq, char **signed_headers);
/* The signature (64 hex characters + NUL) of the input. */
int drb_s3_signature(drb_s3_signer *s, const drb_s3_sign_input *in, char sig[65],
                     char **signed_headers);
/* The value of the Authorization header. */
int drb_s3_authorization(drb_s3_signer *s, const drb_s3_sign_input *in, char *out, size_t len);
/* A presigned GET: base_url is scheme://authority, host what the Host header will be. */
int drb_s3_presign_url(drb_s3_signer *s, const char *base_url, const char *host,
                       const char *canonical_uri, long expires, const char *amz_date, char **url);

void drb_s3_amz_date(time_t t, char out[17]);
/* The clock requests and presigned URLs are dated by: time(), which tests replace to show what
 * a host with a wrong clock sees. */
extern time_t (*drb_s3_clock)(time_t *t);
void drb_s3_sha256_hex(const void *buf, size_t len, char out[65]);
/* Hex SHA-256 (x-amz-content-sha256) of a request body and, unless md5 is NULL, its MD5 (for
 * Content-MD5), in one pass. */
int drb_s3_body_digests(const void *buf, size_t len, unsigned char md5[16], char sha256[65]);
/* Content-MD5: base64 of the digest; hex for comparing with ETags. */
void drb_s3_md5(const void *buf, size_t len, unsigned char out[16]);
void drb_s3_md5_base64(const unsigned char md5[16], char out[25]);
void drb_s3_hex(const unsigned char *bin, size_t len, char *out);

/* ---------------------------------------------------------------- the repository (driver.c) */

#define DRB_S3_POOL_MAX 32

typedef struct drb_s3 {
	char *name; /* repository name, for messages */
	char *bucket;
	char *prefix;   /* no leading or trailing '/'; "" for the bucket root */
	char *endpoint; /* as configured */
	char *base_url; /* scheme://authority the requests go to (host style: bucket.host) */
	char *host;     /* the Host header, signed */
	bool host_style;
	char *ca_file; /* NULL: the system's trust store */
	char *storage_class;
	long object_lock_days;
	char lock_mode[16]; /* COMPLIANCE or GOVERNANCE */
	bool delete_versions;
	/* --repo-as-of: read the bucket as it was at as_of (versions.c); 0: as it is */
	int64_t as_of;
	pthread_mutex_t asof_lock;
	struct drb_s3_version *asof_v; /* resolved keys, sorted */
	size_t asof_n, asof_cap;
	uint64_t part_size;
	bool sign_payload; /* data bodies signed by their SHA-256, not UNSIGNED-PAYLOAD */
	bool md5_required; /* the server asked for Content-MD5 (__atomic: upload threads set it) */
	unsigned upload_parallel;
	long timeout; /* seconds without progress; 0: none */
	unsigned retries;
	drb_s3_signer signer;
	/* where the credentials come from, to re-read them when they rotate */
	const drb_repo_config *cfg;
	int64_t secret_mtime, token_mtime;
	volatile int creds_stale; /* the store said the token expired */

	/* Idle easy handles, each keeping its connection alive for the next request. */
	pthread_mutex_t pool_lock;
	CURL *idle[DRB_S3_POOL_MAX];
	size_t n_idle;
	/* DNS and TLS sessions shared between the handles. */
	CURLSH *share;
	pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
} drb_s3;

int drb_s3_new(const drb_repo_config *cfg, drb_s3 **out);
/* Re-read secret_access_key_file and session_token_file when they changed or expired. */
int drb_s3_refresh(drb_s3 *s3);
/* The connection pool (request.c). */
int drb_s3_conns_init(drb_s3 *s3);
void drb_s3_conns_free(drb_s3 *s3);
void drb_s3_free(drb_s3 *s3);
/* The full key of path: prefix + '/' + path. NULL when too long (error set). */
char *drb_s3_key(drb_s3 *s3, const char *path);
/* "s3://bucket/key" for messages, into buf. */
const char *drb_s3_where(drb_s3 *s3, const char *key, char *buf, size_t len);

/* ---------------------------------------------------------------- requests (request.c) */

typedef struct drb_s3_resp {
	long status;         /* 0: no answer */
	char etag[80];       /* without quotes */
	char sse[32];        /* x-amz-server-side-encryption */
	char meta_size[24];  /* x-amz-meta-drb-size */
	int64_t length;      /* Content-Length, -1 unknown */
	int64_t range_start; /* Content-Range, -1 when absent */
	int64_t range_total;
	int64_t last_modified; /* -1 unknown */
	int64_t server_date;   /* Date, -1 unknown */
	char request_id[64];
	char *body; /* what came back when not streamed, NUL-terminated */
	size_t body_len, body_cap;
	char code[64]; /* from an <Error> body */
	char message[256];
	int64_t skew; /* RequestTimeTooSkewed: server time - request time, seconds; 0 unknown */
	/* Object Lock, storage class and versions (HEAD, GET; lock.c reads the headers) */
	char lock_mode[16];
	int64_t lock_until; /* 0: none */
	bool legal_hold;
	char storage_class[32];
	char restore[160];
	char version_id[128];
} drb_s3_resp;

/* One x-amz-* answer header of the above into resp (lock.c). */
void drb_s3_lock_header(drb_s3_resp *resp, const char *name, const char *value);

typedef struct drb_s3_req drb_s3_req;
struct drb_s3_req {
	const char *method;
	const char *key; /* full key; NULL for the bucket */
	drb_s3_kv query[8];
	size_t n_query;
	drb_s3_kv headers[12]; /* besides host, x-amz-date, x-amz-content-sha256, token */
	size_t n_headers;
	const void *body;
	size_t body_len;
	char body_sha256[65]; /* filled when empty */
	char body_md5[25];    /* Content-MD5 (base64) when set */
	const char *what;     /* "storing part 3", for messages */
	size_t body_max;      /* cap on a buffered answer (default 1 MiB) */
	bool error_in_200;    /* the answer may be an <Error> with status 200 (Complete) */
	char expect_md5[33];  /* a 2xx must carry this ETag when the server uses MD5 ETags */
	/* Streaming: a 2xx body goes through these instead of resp.body. start is called once
	 * per answer before its first byte (and for an empty body). */
	void *ud;
	int (*start)(void *ud, const drb_s3_resp *resp);
	int (*data)(void *ud, const void *buf, size_t len);
};

/* What one attempt produced. */
typedef enum drb_s3_outcome {
	DRB_S3_ANSWER,    /* an HTTP answer, good or bad: look at resp */
	DRB_S3_TRANSPORT, /* no (whole) answer: the connection failed; retryable */
	DRB_S3_FATAL,     /* a local failure (sink, memory, TLS trust): the error is set */
} drb_s3_outcome;

/* Attempts of one operation, for the final error ("attempt 1: ...; attempt 2: ..."). */
typedef struct drb_s3_attempts {
	unsigned n;
	char text[440];
	char last[200];
	unsigned last_from; /* the attempt the run of identical messages started at */
} drb_s3_attempts;

/* "/bucket/encoded%20key" (path style) or "/encoded%20key" (host style); NULL: no memory. */
char *drb_s3_canonical_uri(drb_s3 *s3, const char *key);
void drb_s3_resp_reset(drb_s3_resp *r);
void drb_s3_resp_free(drb_s3_resp *r);
/* One exchange. Fills resp; on DRB_S3_TRANSPORT, why says what broke. */
drb_s3_outcome drb_s3_attempt(drb_s3 *s3, drb_s3_req *req, drb_s3_resp *resp, char *why,
                              size_t whylen);
/* Does this answer deserve another attempt (5xx, 408, 429, SlowDown, RequestTimeout)? */
bool drb_s3_retryable(const drb_s3_resp *resp);
/* Sleep before attempt n (2, 3, ...): exponential with jitter. false when asked to stop. */
bool drb_s3_backoff(unsigned n);
void drb_s3_attempts_add(drb_s3_attempts *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One line for an HTTP answer that is an error: "HTTP 403 AccessDenied (Access Denied)". */
void drb_s3_describe_answer(const drb_s3_resp *resp, char *buf, size_t len);
/* The drb_err for a final error answer. */
int drb_s3_answer_code(const drb_s3_resp *resp);
/* Set the error for a failed operation: what, the key, and every attempt. */
int drb_s3_fail(drb_s3 *s3, const drb_s3_req *req, const drb_s3_resp *resp,
                const drb_s3_attempts *a, int code);

/* Send with retries until an answer that is not retryable. Returns 0 with a 2xx answer in
 * resp, or a negative drb_err with the error set (resp holds the last answer, if any). */
int drb_s3_send(drb_s3 *s3, drb_s3_req *req, drb_s3_resp *resp);

/* ---------------------------------------------------------------- XML answers (xml.c) */

typedef struct drb_s3_entry {
	char *key;
	uint64_t size;
	int64_t mtime;
	bool is_prefix; /* a CommonPrefixes/Prefix */
} drb_s3_entry;

typedef struct drb_s3_list_page {
	drb_s3_entry *v;
	size_t n;
	bool truncated;
	char *next_token;
	bool url_encoded; /* EncodingType url: keys arrive percent-encoded */
} drb_s3_list_page;

/* ListObjectsV2 result (ListBucketResult). Elements are matched by local name, whatever the
 * namespace; a document with a DTD is refused, entities are never expanded. */
int drb_s3_parse_list(const char *xml, size_t len, drb_s3_list_page *page);
void drb_s3_list_page_free(drb_s3_list_page *page);
/* An <Error>: code, message, and for RequestTimeTooSkewed the skew in seconds. Returns 0 when
 * the document is an <Error>, DRB_ERR_FORMAT otherwise. */
int drb_s3_parse_error(const char *xml, size_t len, char *code, size_t codelen, char *msg,
                       size_t msglen, int64_t *skew);
/* InitiateMultipartUploadResult/UploadId (malloc'd). */
int drb_s3_parse_upload_id(const char *xml, size_t len, char **upload_id);
/* CompleteMultipartUploadResult/ETag, without quotes; "" when the element is empty (Ceph RGW). */
int drb_s3_parse_complete(const char *xml, size_t len, char *etag, size_t etaglen);
/* DeleteResult: the first <Error> (key, code, message) or 0 when every key went. */
int drb_s3_parse_delete(const char *xml, size_t len, char *key, size_t keylen, char *code,
                        size_t codelen, char *msg, size_t msglen);
/* The request bodies, built with libxml2 (malloc'd, NUL-terminated). */
int drb_s3_xml_complete(unsigned n, char (*etags)[80], char **xml, size_t *len);
/* <Delete> of keys, each of its version when versions is not NULL. */
int drb_s3_xml_delete(const char *const *keys, const char *const *versions, size_t n, char **xml,
		      size_t *len);
/* ISO 8601 "2026-11-25T10:00:00.000Z" to seconds since the epoch; -1 when it does not parse. */
int64_t drb_s3_parse_iso8601(const char *s);
/* EncodingType url: %XX and '+' (space) decoded in place. false on a bad escape. */
bool drb_s3_url_decode(char *s);
void drb_s3_xml_init(void);

/* ListObjectVersions (ListVersionsResult): versions and delete markers, in the order given (by
 * key, newest first within a key). */
typedef struct drb_s3_version {
	char *key;
	char *version_id;
	uint64_t size;
	int64_t mtime;
	bool delete_marker;
	bool is_latest;
	char storage_class[32];
} drb_s3_version;

typedef struct drb_s3_versions_page {
	drb_s3_version *v;
	size_t n;
	bool truncated;
	char *next_key, *next_version; /* NextKeyMarker, NextVersionIdMarker */
	bool url_encoded;
} drb_s3_versions_page;

int drb_s3_parse_versions(const char *xml, size_t len, drb_s3_versions_page *page);
void drb_s3_versions_page_free(drb_s3_versions_page *page);
/* Bodies: <Retention> (mode, retain-until) and <LegalHold> (ON/OFF). */
int drb_s3_xml_retention(const char *mode, int64_t until, char **xml, size_t *len);
int drb_s3_xml_legal_hold(bool on, char **xml, size_t *len);

/* ---------------------------------------------------------------- operations */

int drb_s3_put(void *impl, const char *path, const drb_put_opts *opts, drb_sink **writer);
int drb_s3_get(void *impl, const char *path, drb_sink *out);
int drb_s3_stat(void *impl, const char *path, drb_obj_stat *st);
int drb_s3_list(void *impl, const char *prefix, bool recursive, drb_repo_list_fn fn, void *ud);
int drb_s3_list_after(void *impl, const char *prefix, const char *after, drb_repo_list_fn fn,
		      void *ud);
int drb_s3_remove(void *impl, const char *const *paths, size_t n);
/* lock.c: HEAD for lock/class, PutObjectRetention, PutObjectLegalHold, CopyObject to a class */
int drb_s3_info(void *impl, const char *path, drb_obj_info *out);
int drb_s3_retain(void *impl, const char *path, int64_t until);
int drb_s3_legal_hold(void *impl, const char *path, bool on);
int drb_s3_set_class(void *impl, const char *path, const char *storage_class);
/* versions.c: every version of each key (delete_versions), and the bucket as it was */
int drb_s3_remove_versions(drb_s3 *s3, char *const *keys, size_t n);
int drb_s3_as_of(void *impl, int64_t t);
/* The version of key to read at s3->as_of: 0 with *vid set (malloc'd), DRB_ERR_NOT_FOUND when
 * the key had no version then (or a delete marker). */
int drb_s3_asof_version(drb_s3 *s3, const char *key, char **vid);
int drb_s3_asof_list(drb_s3 *s3, const char *prefix, bool recursive, const char *after,
                     drb_repo_list_fn fn, void *ud);

/* Multipart: the size of part number n (1-based) of a stream, given the configured part size
 * and the expected size (0: unknown). Without a hint parts keep the configured size for 1,000
 * parts, then double every 1,000 (8 MiB reaches 7.8 TiB, beyond S3's 5 TiB object limit). A hint
 * sizes them so 8,000 parts hold the stream; the last 2,000 double every 250, so a stream that
 * outgrows its hint 16-fold still fits. Never above 5 GiB. */
uint64_t drb_s3_part_size(uint64_t configured, uint64_t size_hint, unsigned n);
/* Parts of part_size bytes a writer may have uploading at once: parallel while parts have the
 * configured size, then as many as fit in parallel x configured (at least 2). With the buffer
 * being filled, a writer holds at most max(parallel x configured, 2 x part) + part bytes:
 * (parallel + 1) x configured for the first 1,000 parts. */
unsigned drb_s3_parts_in_flight(uint64_t configured, unsigned parallel, uint64_t part_size);
/* Part buffers of part_size bytes a writer may hold, the one being filled included:
 * drb_s3_parts_in_flight, at least 2 (one uploading while the next fills). */
unsigned drb_s3_part_buffers(uint64_t configured, unsigned parallel, uint64_t part_size);
/* The ETag S3 gives a multipart object: MD5 of the parts' MD5s, "-", the part count. */
void drb_s3_multipart_etag(const unsigned char (*md5s)[16], unsigned n, char out[48]);
/* "ETag a7f2..." can be compared with an MD5: 32 hex digits, no SSE-KMS or SSE-C. */
bool drb_s3_etag_is_md5(const char *etag, const char *sse);

#endif
