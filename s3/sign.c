/* AWS Signature Version 4 for S3, written out rather than left to CURLOPT_AWS_SIGV4 (which, in
 * libcurl 7.88, omits x-amz-content-sha256, signs the query as written and cannot presign).
 * Hashes and HMACs come from libsodium, MD5 (Content-MD5) from libcrypto. The derived signing key
 * depends only on the day, so it is cached and re-derived when the UTC date changes. */
#include "config.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "s3/internal.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

/* ---------------------------------------------------------------- digests */

void drb_s3_hex(const unsigned char *bin, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 15];
	}
	out[2 * len] = 0;
}

void drb_s3_sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(d, buf, len);
	drb_s3_hex(d, sizeof d, out);
}

void drb_s3_md5(const void *buf, size_t len, unsigned char out[16])
{
	unsigned int n = 16;
	/* fails only without memory; a zero digest then fails the upload's check */
	if (EVP_Digest(buf, len, out, &n, EVP_md5(), NULL) != 1)
		memset(out, 0, 16);
}

/* Bodies are hashed with libcrypto, like the stream hash of common/sink.c: its SHA-256 uses the
 * CPU's SHA extensions (1.8 GB/s here, libsodium's 0.35 GB/s), and parts are megabytes. Both
 * digests are fed chunk by chunk so the part is read from memory once. */
#define DIGEST_CHUNK (64 * 1024)

int drb_s3_body_digests(const void *buf, size_t len, unsigned char md5[16], char sha256[65])
{
	EVP_MD_CTX *m = md5 ? EVP_MD_CTX_new() : NULL, *s = EVP_MD_CTX_new();
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int rc = 0;
	if ((md5 && (!m || EVP_DigestInit_ex(m, EVP_md5(), NULL) != 1)) || !s ||
	    EVP_DigestInit_ex(s, EVP_sha256(), NULL) != 1) {
		rc = drb_error(DRB_ERR_NOMEM, "cannot set up MD5 and SHA-256");
		goto out;
	}
	for (size_t off = 0; off < len; off += DIGEST_CHUNK) {
		size_t k = len - off < DIGEST_CHUNK ? len - off : DIGEST_CHUNK;
		if (m)
			EVP_DigestUpdate(m, (const unsigned char *)buf + off, k);
		EVP_DigestUpdate(s, (const unsigned char *)buf + off, k);
	}
	if ((m && (EVP_DigestFinal_ex(m, md5, &n) != 1 || n != 16)) ||
	    EVP_DigestFinal_ex(s, d, &n) != 1 || n != 32) {
		rc = drb_error(DRB_ERR_FAILED, "MD5 or SHA-256 failed");
		goto out;
	}
	drb_s3_hex(d, 32, sha256);
out:
	EVP_MD_CTX_free(m);
	EVP_MD_CTX_free(s);
	return rc;
}

void drb_s3_md5_base64(const unsigned char md5[16], char out[25])
{
	sodium_bin2base64(out, 25, md5, 16, sodium_base64_VARIANT_ORIGINAL);
}

time_t (*drb_s3_clock)(time_t *t) = time;

void drb_s3_amz_date(time_t t, char out[17])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* ---------------------------------------------------------------- encoding */

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

char *drb_s3_uri_encode(const char *in, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(in);
	char *out = malloc(3 * n + 1), *o = out;
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (unreserved(*p) || (keep_slash && *p == '/')) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = 0;
	return out;
}

typedef struct enc_pair {
	char *name, *value;
} enc_pair;

static int by_name_value(const void *a, const void *b)
{
	const enc_pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

char *drb_s3_canonical_query(const drb_s3_kv *q, size_t n)
{
	enc_pair *v = calloc(n ? n : 1, sizeof *v);
	char *out = NULL;
	size_t len = 1, i;
	if (!v)
		return NULL;
	for (i = 0; i < n; i++) {
		v[i].name = drb_s3_uri_encode(q[i].name, false);
		v[i].value = drb_s3_uri_encode(q[i].value ? q[i].value : "", false);
		if (!v[i].name || !v[i].value)
			goto out;
		len += strlen(v[i].name) + strlen(v[i].value) + 2;
	}
	qsort(v, n, sizeof *v, by_name_value);
	if (!(out = malloc(len)))
		goto out;
	out[0] = 0;
	for (i = 0, len = 0; i < n; i++)
		len += (size_t)sprintf(out + len, "%s%s=%s", i ? "&" : "", v[i].name, v[i].value);
out:
	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
	return out;
}

/* ---------------------------------------------------------------- canonical request */

typedef struct canon_header {
	char *name;  /* lowercase */
	char *value; /* trimmed, inner runs of spaces folded */
} canon_header;

static int by_header_name(const void *a, const void *b)
{
	return strcmp(((const canon_header *)a)->name, ((const canon_header *)b)->name);
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s);
	for (char *p = d; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

static char *trim_dup(const char *s)
{
	char *d = malloc(strlen(s) + 1), *o = d;
	if (!d)
		return NULL;
	while (*s == ' ' || *s == '\t')
		s++;
	for (; *s; s++) {
		bool space = *s == ' ' || *s == '\t';
		if (space && (o == d || o[-1] == ' '))
			continue;
		*o++ = space ? ' ' : *s;
	}
	while (o > d && o[-1] == ' ')
		o--;
	*o = 0;
	return d;
}

/* A small growable string: the canonical request is built in one place. */
typedef struct strbuf {
	char *s;
	size_t len, cap;
	bool failed;
} strbuf;

static void sb_add(strbuf *b, const char *s)
{
	size_t n = strlen(s);
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

int drb_s3_canonical_request(const drb_s3_sign_input *in, char **creq, char **signed_headers)
{
	canon_header *h = calloc(in->n_headers ? in->n_headers : 1, sizeof *h);
	strbuf req = {0}, names = {0};
	size_t i, n = 0;
	int rc = 0;
	if (!h)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	for (i = 0; i < in->n_headers; i++) {
		h[i].name = lower_dup(in->headers[i].name);
		h[i].value = trim_dup(in->headers[i].value ? in->headers[i].value : "");
		if (!h[i].name || !h[i].value) {
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	n = in->n_headers;
	qsort(h, n, sizeof *h, by_header_name);
	sb_add(&req, in->method);
	sb_add(&req, "\n");
	sb_add(&req, in->canonical_uri);
	sb_add(&req, "\n");
	sb_add(&req, in->canonical_query ? in->canonical_query : "");
	sb_add(&req, "\n");
	for (i = 0; i < n; i++) {
		/* a header given twice is signed once, its values joined by commas */
		bool repeat = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
		if (repeat) {
			req.len--; /* drop the previous newline */
			sb_add(&req, ",");
		} else {
			sb_add(&req, h[i].name);
			sb_add(&req, ":");
			if (names.len)
				sb_add(&names, ";");
			sb_add(&names, h[i].name);
		}
		sb_add(&req, h[i].value);
		sb_add(&req, "\n");
	}
	sb_add(&req, "\n");
	sb_add(&req, names.s ? names.s : "");
	sb_add(&req, "\n");
	sb_add(&req, in->payload_hash);
	if (req.failed || names.failed || !names.s) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	*creq = req.s;
	*signed_headers = names.s;
	req.s = names.s = NULL;
out:
	for (i = 0; i < in->n_headers; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
	free(req.s);
	free(names.s);
	return rc;
}

/* ---------------------------------------------------------------- keys */

int drb_s3_signer_init(drb_s3_signer *s, const char *access_key_id, const char *secret,
                       const char *token, const char *region, const char *service)
{
	memset(s, 0, sizeof *s);
	if (sodium_init() < 0) /* guarded memory needs it; safe to call again */
		return drb_error(DRB_ERR_FAILED, "libsodium did not initialise");
	pthread_mutex_init(&s->lock, NULL);
	s->access_key_id = strdup(access_key_id);
	s->region = strdup(region && *region ? region : "us-east-1");
	s->service = strdup(service);
	s->secret = sodium_malloc(strlen(secret) + 1);
	s->key = sodium_malloc(crypto_auth_hmacsha256_BYTES);
	if (token && *token && (s->token = sodium_malloc(strlen(token) + 1)))
		memcpy(s->token, token, strlen(token) + 1);
	if (!s->access_key_id || !s->region || !s->service || !s->secret || !s->key ||
	    (token && *token && !s->token)) {
		drb_s3_signer_free(s);
		return drb_error(DRB_ERR_NOMEM, "out of memory for the S3 credentials");
	}
	memcpy(s->secret, secret, strlen(secret) + 1);
	return 0;
}

void drb_s3_signer_free(drb_s3_signer *s)
{
	free(s->access_key_id);
	free(s->region);
	free(s->service);
	if (s->secret)
		sodium_free(s->secret); /* wipes */
	if (s->token)
		sodium_free(s->token);
	if (s->key)
		sodium_free(s->key);
	pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof *s);
}

static void hmac(unsigned char out[32], const unsigned char *key, size_t keylen, const char *msg)
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, strlen(msg));
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof st);
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
 * Called with the lock held. */
static int derive_key(drb_s3_signer *s, const char *date)
{
	size_t n = strlen(s->secret) + 4;
	unsigned char *k = sodium_malloc(n + 1);
	unsigned char t[32];
	if (!k)
		return drb_error(DRB_ERR_NOMEM, "out of memory deriving the S3 signing key");
	memcpy(k, "AWS4", 4);
	memcpy(k + 4, s->secret, n - 4);
	hmac(t, k, n, date);
	hmac(t, t, sizeof t, s->region);
	hmac(t, t, sizeof t, s->service);
	hmac(s->key, t, sizeof t, "aws4_request");
	sodium_memzero(t, sizeof t);
	sodium_free(k);
	memcpy(s->key_date, date, 8);
	s->key_date[8] = 0;
	return 0;
}

/* HMAC of the string to sign with the day's key, deriving it when the day changed. */
static int sign_string(drb_s3_signer *s, const char *date, const char *sts, char sig[65])
{
	unsigned char mac[32];
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	if (strcmp(s->key_date, date) != 0)
		rc = derive_key(s, date);
	if (rc == 0)
		hmac(mac, s->key, 32, sts);
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		drb_s3_hex(mac, sizeof mac, sig);
	return rc;
}

int drb_s3_signature(drb_s3_signer *s, const drb_s3_sign_input *in, char sig[65],
                     char **signed_headers)
{
	char *creq = NULL, *names = NULL, date[9], hash[65], *sts = NULL;
	int rc;
	if (strlen(in->amz_date) != 16)
		return drb_error(DRB_ERR_FAILED, "bad x-amz-date \"%s\"", in->amz_date);
	if ((rc = drb_s3_canonical_request(in, &creq, &names)) < 0)
		return rc;
	memcpy(date, in->amz_date, 8);
	date[8] = 0;
	drb_s3_sha256_hex(creq, strlen(creq), hash);
	size_t n =
	    strlen(ALGORITHM) + strlen(in->amz_date) + strlen(s->region) + strlen(s->service) + 100;
	if (!(sts = malloc(n))) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(sts, n, "%s\n%s\n%s/%s/%s/aws4_request\n%s", ALGORITHM, in->amz_date, date,
	         s->region, s->service, hash);
	if ((rc = sign_string(s, date, sts, sig)) < 0)
		goto out;
	if (signed_headers) {
		*signed_headers = names;
		names = NULL;
	}
out:
	free(creq);
	free(names);
	free(sts);
	return rc;
}

int drb_s3_authorization(drb_s3_signer *s, const drb_s3_sign_input *in, char *out, size_t len)
{
	char sig[65], *names = NULL;
	int rc = drb_s3_signature(s, in, sig, &names);
	if (rc < 0)
		return rc;
	int n =
	    snprintf(out, len,
	             "%s Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, "
	             "Signature=%s",
	             ALGORITHM, s->access_key_id, in->amz_date, s->region, s->service, names, sig);
	free(names);
	if (n < 0 || (size_t)n >= len)
		return drb_error(DRB_ERR_FAILED, "Authorization header too long");
	return 0;
}

int drb_s3_presign_url(drb_s3_signer *s, const char *base_url, const char *host,
                       const char *canonical_uri, long expires, const char *amz_date, char **url)
{
	char credential[512], exp[24], sig[65];
	char *cq = NULL, *out = NULL;
	int rc;
	if (expires < 1 || expires > 604800)
		return drb_error(DRB_ERR_USAGE,
		                 "a presigned URL lives 1 second to 7 days (604800 s), not %ld s",
		                 expires);
	snprintf(credential, sizeof credential, "%s/%.8s/%s/%s/aws4_request", s->access_key_id,
	         amz_date, s->region, s->service);
	snprintf(exp, sizeof exp, "%ld", expires);
	drb_s3_kv q[6] = {{"X-Amz-Algorithm", ALGORITHM},  {"X-Amz-Credential", credential},
	                  {"X-Amz-Date", amz_date},        {"X-Amz-Expires", exp},
	                  {"X-Amz-SignedHeaders", "host"}, {"X-Amz-Security-Token", s->token}};
	drb_s3_kv h[1] = {{"host", host}};
	if (!(cq = drb_s3_canonical_query(q, s->token ? 6 : 5)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	drb_s3_sign_input in = {.method = "GET",
	                        .canonical_uri = canonical_uri,
	                        .canonical_query = cq,
	                        .headers = h,
	                        .n_headers = 1,
	                        .payload_hash = "UNSIGNED-PAYLOAD",
	                        .amz_date = amz_date};
	if ((rc = drb_s3_signature(s, &in, sig, NULL)) < 0)
		goto out;
	size_t n = strlen(base_url) + strlen(canonical_uri) + strlen(cq) + 100;
	if (!(out = malloc(n))) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(out, n, "%s%s?%s&X-Amz-Signature=%s", base_url, canonical_uri, cq, sig);
	*url = out;
out:
	free(cq);
	return rc;
}
