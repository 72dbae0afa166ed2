/* SigV4 for S3: AWS's published examples reproduced exactly, and more cases whose expected
 * signatures come from an independent implementation (botocore 1.43, fixed clock): keys with
 * characters S3 encodes, listings with a session token, a part upload, a presigned URL (whose
 * parameters botocore orders differently on the URL; the signature, over the sorted ones, is
 * the same). */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "s3/internal.h"
#include "s3/s3.h"
#include "tests/harness.h"

#define AKID   "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define HOST   "examplebucket.s3.amazonaws.com"
#define DATE   "20130524T000000Z"

static drb_s3_signer signer;

static int setup(void **state)
{
	(void)state;
	return drb_s3_signer_init(&signer, AKID, SECRET, NULL, "us-east-1", "s3");
}

static int teardown(void **state)
{
	(void)state;
	drb_s3_signer_free(&signer);
	return 0;
}

static void sign(drb_s3_signer *s, const char *method, const char *uri, const drb_s3_kv *q,
                 size_t nq, const drb_s3_kv *h, size_t nh, const char *payload, char sig[65])
{
	char *cq = drb_s3_canonical_query(q, nq);
	assert_non_null(cq);
	drb_s3_sign_input in = {.method = method,
	                        .canonical_uri = uri,
	                        .canonical_query = cq,
	                        .headers = h,
	                        .n_headers = nh,
	                        .payload_hash = payload,
	                        .amz_date = DATE};
	assert_int_equal(drb_s3_signature(s, &in, sig, NULL), 0);
	free(cq);
}

/* ---------------------------------------------------------------- AWS's examples */

static void aws_get_object(void **state)
{
	(void)state;
	drb_s3_kv h[] = {{"Host", HOST},
	                 {"Range", "bytes=0-9"},
	                 {"x-amz-content-sha256", DRB_S3_EMPTY_SHA256},
	                 {"x-amz-date", DATE}};
	char *creq = NULL, *names = NULL, auth[512];
	drb_s3_sign_input in = {.method = "GET",
	                        .canonical_uri = "/test.txt",
	                        .canonical_query = "",
	                        .headers = h,
	                        .n_headers = 4,
	                        .payload_hash = DRB_S3_EMPTY_SHA256,
	                        .amz_date = DATE};
	assert_int_equal(drb_s3_canonical_request(&in, &creq, &names), 0);
	assert_string_equal(creq,
	                    "GET\n/test.txt\n\n"
	                    "host:examplebucket.s3.amazonaws.com\n"
	                    "range:bytes=0-9\n"
	                    "x-amz-content-sha256:" DRB_S3_EMPTY_SHA256 "\n"
	                    "x-amz-date:20130524T000000Z\n"
	                    "\n"
	                    "host;range;x-amz-content-sha256;x-amz-date\n" DRB_S3_EMPTY_SHA256);
	assert_string_equal(names, "host;range;x-amz-content-sha256;x-amz-date");
	assert_int_equal(drb_s3_authorization(&signer, &in, auth, sizeof auth), 0);
	assert_string_equal(
	    auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
	          "us-east-1/s3/aws4_request, "
	          "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
	          "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	free(creq);
	free(names);
}

static void aws_put_object(void **state)
{
	(void)state;
	char sha[65], sig[65];
	char *uri = drb_s3_uri_encode("/test$file.text", true);
	const char *body = "Welcome to Amazon S3.";
	drb_s3_sha256_hex(body, strlen(body), sha);
	assert_string_equal(sha,
	                    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	assert_string_equal(uri, "/test%24file.text");
	drb_s3_kv h[] = {{"Host", HOST},
	                 {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
	                 {"x-amz-date", DATE},
	                 {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
	                 {"x-amz-content-sha256", sha}};
	sign(&signer, "PUT", uri, NULL, 0, h, 5, sha, sig);
	assert_string_equal(sig,
	                    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	free(uri);
}

static void aws_get_lifecycle(void **state)
{
	(void)state;
	char sig[65];
	drb_s3_kv q[] = {{"lifecycle", NULL}};
	drb_s3_kv h[] = {
	    {"Host", HOST}, {"x-amz-date", DATE}, {"x-amz-content-sha256", DRB_S3_EMPTY_SHA256}};
	char *cq = drb_s3_canonical_query(q, 1);
	assert_string_equal(cq, "lifecycle=");
	free(cq);
	sign(&signer, "GET", "/", q, 1, h, 3, DRB_S3_EMPTY_SHA256, sig);
	assert_string_equal(sig,
	                    "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

static void aws_list_objects(void **state)
{
	(void)state;
	char sig[65];
	drb_s3_kv q[] = {{"prefix", "J"}, {"max-keys", "2"}}; /* given unsorted on purpose */
	drb_s3_kv h[] = {
	    {"Host", HOST}, {"x-amz-date", DATE}, {"x-amz-content-sha256", DRB_S3_EMPTY_SHA256}};
	char *cq = drb_s3_canonical_query(q, 2);
	assert_string_equal(cq, "max-keys=2&prefix=J");
	free(cq);
	sign(&signer, "GET", "/", q, 2, h, 3, DRB_S3_EMPTY_SHA256, sig);
	assert_string_equal(sig,
	                    "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

static void aws_presigned(void **state)
{
	(void)state;
	char *url = NULL;
	assert_int_equal(
	    drb_s3_presign_url(&signer, "https://" HOST, HOST, "/test.txt", 86400, DATE, &url), 0);
	assert_string_equal(
	    url,
	    "https://examplebucket.s3.amazonaws.com/test.txt"
	    "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
	    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
	    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
	    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	free(url);
	assert_int_equal(
	    drb_s3_presign_url(&signer, "https://" HOST, HOST, "/test.txt", 604801, DATE, &url),
	    DRB_ERR_USAGE);
	assert_int_equal(
	    drb_s3_presign_url(&signer, "https://" HOST, HOST, "/test.txt", 0, DATE, &url),
	    DRB_ERR_USAGE);
}

/* ---------------------------------------------------------------- against botocore */

static void botocore_odd_key(void **state)
{
	(void)state;
	char sig[65];
	/* space, '+', '=', '$', '~', é (2 bytes), 😀 (4 bytes), and folders */
	char *enc = drb_s3_uri_encode("/dir/a b+c=d$e~f\xc3\xa9g\xf0\x9f\x98\x80h", true);
	assert_string_equal(enc, "/dir/a%20b%2Bc%3Dd%24e~f%C3%A9g%F0%9F%98%80h");
	drb_s3_kv h[] = {
	    {"host", HOST}, {"x-amz-content-sha256", DRB_S3_EMPTY_SHA256}, {"x-amz-date", DATE}};
	sign(&signer, "GET", enc, NULL, 0, h, 3, DRB_S3_EMPTY_SHA256, sig);
	assert_string_equal(sig,
	                    "2aadecde9f7906d61f7fe19b6376aa90afbf0473908da78164cabf977ee88631");
	free(enc);
}

static void botocore_listing_with_token(void **state)
{
	(void)state;
	drb_s3_signer s;
	char sig[65];
	assert_int_equal(
	    drb_s3_signer_init(&s, AKID, SECRET, "TOKEN/with+chars=", "us-east-1", "s3"), 0);
	drb_s3_kv q[] = {{"list-type", "2"},
	                 {"prefix", "a/b c"},
	                 {"continuation-token", "x+y=="},
	                 {"encoding-type", "url"},
	                 {"delimiter", "/"}};
	char *cq = drb_s3_canonical_query(q, 5);
	assert_string_equal(cq, "continuation-token=x%2By%3D%3D&delimiter=%2F&encoding-type=url&"
	                        "list-type=2&prefix=a%2Fb%20c");
	free(cq);
	drb_s3_kv h[] = {{"host", HOST},
	                 {"x-amz-content-sha256", DRB_S3_EMPTY_SHA256},
	                 {"x-amz-date", DATE},
	                 {"x-amz-security-token", s.token}};
	sign(&s, "GET", "/", q, 5, h, 4, DRB_S3_EMPTY_SHA256, sig);
	assert_string_equal(sig,
	                    "d7c5a10a1d78fe68a66d21563a5da03c1802b29fffd2324883af53163190bd63");
	drb_s3_signer_free(&s);
}

static void botocore_part_upload(void **state)
{
	(void)state;
	char body[1000], sha[65], b64[25], sig[65];
	unsigned char md5[16];
	memset(body, 'x', sizeof body);
	drb_s3_sha256_hex(body, sizeof body, sha);
	drb_s3_md5(body, sizeof body, md5);
	drb_s3_md5_base64(md5, b64);
	assert_string_equal(sha,
	                    "44f8354494a5ba03ba1792a8d3e9c534c47a9181980fde7a3f44b06ef2ae7c7f");
	assert_string_equal(b64, "OYUz1IER6fZksfZMsQxLYw==");
	drb_s3_kv q[] = {{"uploadId", "VXBsb2FkIElE+ab"}, {"partNumber", "3"}};
	drb_s3_kv h[] = {{"host", HOST},
	                 {"x-amz-date", DATE},
	                 {"x-amz-content-sha256", sha},
	                 {"Content-MD5", b64},
	                 {"x-amz-storage-class", "STANDARD_IA"}};
	sign(&signer, "PUT", "/drbackup/db01/full/x.sql.drb", q, 2, h, 5, sha, sig);
	assert_string_equal(sig,
	                    "a69896834589181ba554ed54570c0287a3559ae155fbbc4cd2e223455307674b");
}

static void botocore_presigned_token(void **state)
{
	(void)state;
	drb_s3_signer s;
	char *url = NULL, *uri = drb_s3_uri_encode("/bucket1/exports/p\xc3\xa9/x y.zip", true);
	assert_int_equal(
	    drb_s3_signer_init(&s, AKID, SECRET, "SESSION+TOKEN/==", "eu-west-3", "s3"), 0);
	assert_int_equal(drb_s3_presign_url(&s, "http://127.0.0.1:9000", "127.0.0.1:9000", uri,
	                                    3600, "20261125T100000Z", &url),
	                 0);
	assert_string_equal(
	    url,
	    "http://127.0.0.1:9000/bucket1/exports/p%C3%A9/x%20y.zip"
	    "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
	    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261125%2Feu-west-3%2Fs3%2Faws4_request"
	    "&X-Amz-Date=20261125T100000Z&X-Amz-Expires=3600"
	    "&X-Amz-Security-Token=SESSION%2BTOKEN%2F%3D%3D&X-Amz-SignedHeaders=host"
	    "&X-Amz-Signature=f387b7b8f9f8ce7d033fa8b41e718e763618b3560919a00b1020d6f22b10aadf");
	free(url);
	free(uri);
	drb_s3_signer_free(&s);
}

/* ---------------------------------------------------------------- encoding rules */

static void uri_encoding(void **state)
{
	(void)state;
	static const struct {
		const char *in, *path, *query;
	} cases[] = {
	    {"a b", "a%20b", "a%20b"},
	    {"a+b", "a%2Bb", "a%2Bb"},
	    {"k=v", "k%3Dv", "k%3Dv"},
	    {"x$y", "x%24y", "x%24y"},
	    {"~tilde-_.", "~tilde-_.", "~tilde-_."},
	    {"d/e/f", "d/e/f", "d%2Fe%2Ff"},
	    {"\xc3\xa9", "%C3%A9", "%C3%A9"},
	    {"*'()!", "%2A%27%28%29%21", "%2A%27%28%29%21"},
	    {"%2F", "%252F", "%252F"}, /* encoded once: a '%' in a key is a '%' */
	    {"a//b/./../c", "a//b/./../c", "a%2F%2Fb%2F.%2F..%2Fc"}, /* never normalised */
	    {"", "", ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *p = drb_s3_uri_encode(cases[i].in, true),
		     *q = drb_s3_uri_encode(cases[i].in, false);
		assert_string_equal(p, cases[i].path);
		assert_string_equal(q, cases[i].query);
		for (char *c = p; *c; c++)
			if (*c == '%') /* uppercase hex, always */
				assert_true(!(c[1] >= 'a' && c[1] <= 'f') &&
				            !(c[2] >= 'a' && c[2] <= 'f'));
		free(p);
		free(q);
	}
}

static void query_canonical(void **state)
{
	(void)state;
	drb_s3_kv q[] = {{"uploads", NULL}, {"b", "2"}, {"a", "z"},
	                 {"a", "y"},        {"A", ""},  {"c d", "e/f"}};
	char *cq = drb_s3_canonical_query(q, 6);
	/* sorted by encoded name (uppercase before lowercase), then value; valueless as name= */
	assert_string_equal(cq, "A=&a=y&a=z&b=2&c%20d=e%2Ff&uploads=");
	free(cq);
	cq = drb_s3_canonical_query(NULL, 0);
	assert_string_equal(cq, "");
	free(cq);
}

static void header_canonical(void **state)
{
	(void)state;
	drb_s3_kv h[] = {{"X-Amz-Meta-B", "  two   spaces\tand tab  "},
	                 {"host", HOST},
	                 {"x-amz-meta-a", "1"},
	                 {"X-AMZ-META-A", "2"}};
	char *creq = NULL, *names = NULL;
	drb_s3_sign_input in = {.method = "PUT",
	                        .canonical_uri = "/k",
	                        .canonical_query = "",
	                        .headers = h,
	                        .n_headers = 4,
	                        .payload_hash = "UNSIGNED-PAYLOAD",
	                        .amz_date = DATE};
	assert_int_equal(drb_s3_canonical_request(&in, &creq, &names), 0);
	assert_string_equal(creq,
	                    "PUT\n/k\n\nhost:" HOST "\nx-amz-meta-a:1,2\n"
	                    "x-amz-meta-b:two spaces and tab\n\nhost;x-amz-meta-a;x-amz-meta-b\n"
	                    "UNSIGNED-PAYLOAD");
	free(creq);
	free(names);
}

/* The day's key is derived once and replaced when the date changes. */
static void key_cache(void **state)
{
	(void)state;
	drb_s3_signer a, b;
	char s1[65], s2[65], s3[65], s4[65], *cq = strdup("");
	drb_s3_kv h[] = {{"host", HOST}};
	drb_s3_sign_input in = {.method = "GET",
	                        .canonical_uri = "/",
	                        .canonical_query = cq,
	                        .headers = h,
	                        .n_headers = 1,
	                        .payload_hash = DRB_S3_EMPTY_SHA256,
	                        .amz_date = "20261124T235959Z"};
	assert_int_equal(drb_s3_signer_init(&a, AKID, SECRET, NULL, "us-east-1", "s3"), 0);
	assert_int_equal(drb_s3_signer_init(&b, AKID, SECRET, NULL, "us-east-1", "s3"), 0);
	assert_int_equal(drb_s3_signature(&a, &in, s1, NULL), 0);
	assert_string_equal(a.key_date, "20261124");
	in.amz_date = "20261125T000001Z";
	assert_int_equal(drb_s3_signature(&a, &in, s2, NULL), 0);
	assert_string_equal(a.key_date, "20261125");
	assert_int_equal(drb_s3_signature(&b, &in, s3, NULL), 0); /* fresh signer, same day */
	assert_string_equal(s2, s3);
	in.amz_date = "20261124T235959Z";
	assert_int_equal(drb_s3_signature(&b, &in, s4, NULL), 0);
	assert_string_equal(s1, s4);
	assert_string_not_equal(s1, s2);
	drb_s3_signer_free(&a);
	drb_s3_signer_free(&b);
	free(cq);
}

static void digests(void **state)
{
	(void)state;
	unsigned char md5[16];
	char b64[25], hex[33], date[17];
	drb_s3_md5("", 0, md5);
	drb_s3_md5_base64(md5, b64);
	drb_s3_hex(md5, 16, hex);
	assert_string_equal(b64, "1B2M2Y8AsgTpgAmY7PhCfg==");
	assert_string_equal(hex, "d41d8cd98f00b204e9800998ecf8427e");
	drb_s3_amz_date(1369353600, date);
	assert_string_equal(date, DATE);
	/* the one-pass digests of a body agree with the separate ones, across chunk boundaries */
	size_t len = 3 * 65536 + 17;
	unsigned char *body = malloc(len), md5b[16];
	char sha_a[65], sha_b[65];
	for (size_t i = 0; i < len; i++)
		body[i] = (unsigned char)(i * 131 + 7);
	assert_int_equal(drb_s3_body_digests(body, len, md5b, sha_a), 0);
	drb_s3_md5(body, len, md5);
	drb_s3_sha256_hex(body, len, sha_b);
	assert_memory_equal(md5, md5b, 16);
	assert_string_equal(sha_a, sha_b);
	memset(sha_a, 0, sizeof sha_a);
	assert_int_equal(drb_s3_body_digests(body, len, NULL, sha_a), 0); /* the SHA-256 alone */
	assert_string_equal(sha_a, sha_b);
	assert_int_equal(drb_s3_body_digests("", 0, md5b, sha_a), 0);
	assert_string_equal(sha_a, DRB_S3_EMPTY_SHA256);
	free(body);
}

/* ---------------------------------------------------------------- the public presign */

static void public_presign(void **state)
{
	(void)state;
	char *dir = drbt_tmpdir("s3sign"), secret[512], *url = NULL;
	snprintf(secret, sizeof secret, "%s/secret", dir);
	assert_int_equal(drbt_write_file(secret, "S3RVER\n", 0600), 0);
	drb_repo_config cfg = {.name = "primary",
	                       .type = "s3",
	                       .endpoint = "http://127.0.0.1:9000/",
	                       .region = "us-east-1",
	                       .bucket = "bucket1",
	                       .prefix = "/pre/fix/",
	                       .access_key_id = "S3RVER",
	                       .secret_access_key_file = secret,
	                       .uri_style = "path"};
	assert_int_equal(drb_s3_presign(&cfg, "exports/p1/a b.zip", 3600, &url), 0);
	assert_non_null(strstr(url, "http://127.0.0.1:9000/bucket1/pre/fix/exports/p1/a%20b.zip?"));
	assert_non_null(strstr(url, "&X-Amz-Expires=3600&"));
	assert_non_null(strstr(url, "X-Amz-Credential=S3RVER%2F"));
	free(url);
	cfg.uri_style = "host";
	cfg.endpoint = "https://s3.eu-west-3.amazonaws.com";
	assert_int_equal(drb_s3_presign(&cfg, "x", 60, &url), 0);
	assert_non_null(strstr(url, "https://bucket1.s3.eu-west-3.amazonaws.com/pre/fix/x?"));
	free(url);
	assert_int_equal(drb_s3_presign(&cfg, "x", 0, &url), DRB_ERR_USAGE);
	assert_int_equal(drb_s3_presign(&cfg, "x", 604801, &url), DRB_ERR_USAGE);
	assert_int_equal(drb_s3_presign(&cfg, "../x", 60, &url), DRB_ERR_USAGE);
	/* a secret readable by others is refused */
	chmod(secret, 0644);
	assert_int_equal(drb_s3_presign(&cfg, "x", 60, &url), DRB_ERR_PERMISSION);
	drbt_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(aws_get_object),
	    cmocka_unit_test(aws_put_object),
	    cmocka_unit_test(aws_get_lifecycle),
	    cmocka_unit_test(aws_list_objects),
	    cmocka_unit_test(aws_presigned),
	    cmocka_unit_test(botocore_odd_key),
	    cmocka_unit_test(botocore_listing_with_token),
	    cmocka_unit_test(botocore_part_upload),
	    cmocka_unit_test(botocore_presigned_token),
	    cmocka_unit_test(uri_encoding),
	    cmocka_unit_test(query_canonical),
	    cmocka_unit_test(header_canonical),
	    cmocka_unit_test(key_cache),
	    cmocka_unit_test(digests),
	    cmocka_unit_test(public_presign),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
