/* S3's XML answers: listings (pages, continuation tokens, folders, AWS's namespace and s3rver's,
 * url-encoded keys), errors (clock skew), multipart results, delete results, and hostile
 * documents (DTDs, entities, XXE) that must be refused without expanding anything. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "s3/internal.h"

#define AWS_NS    "http://s3.amazonaws.com/doc/2006-03-01/"
#define S3RVER_NS "http://doc.s3.amazonaws.com/2006-03-01/"

static int parse(const char *xml, drb_s3_list_page *p)
{
	return drb_s3_parse_list(xml, strlen(xml), p);
}

static void aws_page_truncated(void **state)
{
	(void)state;
	drb_s3_list_page p;
	const char *xml =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<ListBucketResult xmlns=\"" AWS_NS "\">"
	    "<Name>bucket</Name><Prefix>db01/</Prefix><KeyCount>2</KeyCount>"
	    "<MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
	    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</"
	    "NextContinuationToken>"
	    "<Contents><Key>db01/a</Key><LastModified>2026-11-25T10:00:00.000Z</LastModified>"
	    "<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>0</Size>"
	    "<StorageClass>STANDARD</StorageClass></Contents>"
	    "<Contents><Key>db01/b &amp; c</Key><LastModified>2026-11-25T10:00:01Z</LastModified>"
	    "<Size>18446744073709551615</Size></Contents>"
	    "</ListBucketResult>";
	assert_int_equal(parse(xml, &p), 0);
	assert_true(p.truncated);
	assert_false(p.url_encoded);
	assert_string_equal(p.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	assert_int_equal(p.n, 2);
	assert_string_equal(p.v[0].key, "db01/a");
	assert_int_equal(p.v[0].size, 0);
	assert_int_equal(p.v[0].mtime, 1795600800);
	assert_false(p.v[0].is_prefix);
	assert_string_equal(p.v[1].key, "db01/b & c");
	assert_true(p.v[1].size == UINT64_MAX);
	assert_int_equal(p.v[1].mtime, 1795600801);
	drb_s3_list_page_free(&p);
}

static void s3rver_page_with_folders(void **state)
{
	(void)state;
	drb_s3_list_page p;
	const char *xml =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	    "<ListBucketResult xmlns=\"" S3RVER_NS "\"><Name>bucket1</Name><Prefix>p/</Prefix>"
	    "<KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter>"
	    "<IsTruncated>false</IsTruncated>"
	    "<Contents><Key>p/file</Key><LastModified>2026-11-25T10:00:00.000Z</LastModified>"
	    "<ETag>&quot;x&quot;</ETag><Size>42</Size><StorageClass>STANDARD</StorageClass></"
	    "Contents>"
	    "<CommonPrefixes><Prefix>p/a/</Prefix></CommonPrefixes>"
	    "<CommonPrefixes><Prefix>p/z/</Prefix></CommonPrefixes>"
	    "</ListBucketResult>";
	assert_int_equal(parse(xml, &p), 0);
	assert_false(p.truncated);
	assert_null(p.next_token);
	assert_int_equal(p.n, 3);
	assert_string_equal(p.v[0].key, "p/file");
	assert_int_equal(p.v[0].size, 42);
	assert_string_equal(p.v[1].key, "p/a/");
	assert_true(p.v[1].is_prefix);
	assert_string_equal(p.v[2].key, "p/z/");
	drb_s3_list_page_free(&p);
}

/* A prefixed namespace, and no namespace at all: matched by local name either way. */
static void other_namespaces(void **state)
{
	(void)state;
	drb_s3_list_page p;
	assert_int_equal(
	    parse("<s3:ListBucketResult xmlns:s3=\"urn:x\"><s3:IsTruncated>false"
	          "</s3:IsTruncated><s3:Contents><s3:Key>k</s3:Key><s3:Size>1</s3:Size>"
	          "<s3:LastModified>2026-11-25T10:00:00Z</s3:LastModified></s3:Contents>"
	          "</s3:ListBucketResult>",
	          &p),
	    0);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.v[0].key, "k");
	drb_s3_list_page_free(&p);
	assert_int_equal(parse("<ListBucketResult><IsTruncated>false</IsTruncated>"
	                       "</ListBucketResult>",
	                       &p),
	                 0);
	assert_int_equal(p.n, 0);
	drb_s3_list_page_free(&p);
}

static void url_encoded_keys(void **state)
{
	(void)state;
	drb_s3_list_page p;
	const char *xml =
	    "<ListBucketResult xmlns=\"" AWS_NS "\"><EncodingType>url</EncodingType>"
	    "<IsTruncated>false</IsTruncated>"
	    "<Contents><Key>a+b%2Bc%C3%A9%25</Key><LastModified>2026-11-25T10:00:00.000Z"
	    "</LastModified><Size>1</Size></Contents>"
	    "<CommonPrefixes><Prefix>dir%20x/</Prefix></CommonPrefixes></ListBucketResult>";
	assert_int_equal(parse(xml, &p), 0);
	assert_true(p.url_encoded);
	assert_string_equal(p.v[0].key, "a b+c\xc3\xa9%");
	assert_string_equal(p.v[1].key, "dir x/");
	drb_s3_list_page_free(&p);
	/* a bad escape, or an encoded NUL, is an error rather than a wrong key */
	assert_int_equal(parse("<ListBucketResult><EncodingType>url</EncodingType>"
	                       "<Contents><Key>a%zz</Key><Size>1</Size><LastModified>"
	                       "2026-11-25T10:00:00Z</LastModified></Contents></ListBucketResult>",
	                       &p),
	                 DRB_ERR_FORMAT);
	assert_int_equal(parse("<ListBucketResult><EncodingType>url</EncodingType>"
	                       "<Contents><Key>a%00b</Key><Size>1</Size><LastModified>"
	                       "2026-11-25T10:00:00Z</LastModified></Contents></ListBucketResult>",
	                       &p),
	                 DRB_ERR_FORMAT);
}

static void bad_listings(void **state)
{
	(void)state;
	drb_s3_list_page p;
	static const char *const bad[] = {
	    "",
	    "not xml",
	    "<ListBucketResult><Contents><Key>a</Key>",
	    "<Error><Code>AccessDenied</Code></Error>",
	    /* entries without what a listing needs */
	    "<ListBucketResult><Contents><Size>1</Size><LastModified>2026-11-25T10:00:00Z"
	    "</LastModified></Contents></ListBucketResult>",
	    "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size><LastModified>"
	    "2026-11-25T10:00:00Z</LastModified></Contents></ListBucketResult>",
	    "<ListBucketResult><Contents><Key>a</Key><Size>18446744073709551616</Size>"
	    "<LastModified>2026-11-25T10:00:00Z</LastModified></Contents></ListBucketResult>",
	    "<ListBucketResult><Contents><Key>a</Key><Size>1</Size><LastModified>yesterday"
	    "</LastModified></Contents></ListBucketResult>",
	    "<ListBucketResult><CommonPrefixes></CommonPrefixes></ListBucketResult>",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(parse(bad[i], &p), DRB_ERR_FORMAT);
		assert_null(p.v);
	}
}

/* DTDs are refused before any entity is declared, let alone expanded or fetched. */
static void hostile(void **state)
{
	(void)state;
	drb_s3_list_page p;
	char code[64], msg[256];
	static const char *const docs[] = {
	    /* billion laughs */
	    "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
	    "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
	    "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
	    "<ListBucketResult><Contents><Key>&lol3;</Key><Size>1</Size><LastModified>"
	    "2026-11-25T10:00:00Z</LastModified></Contents></ListBucketResult>",
	    /* external entity (XXE) */
	    "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
	    "<ListBucketResult><Contents><Key>&x;</Key><Size>1</Size><LastModified>"
	    "2026-11-25T10:00:00Z</LastModified></Contents></ListBucketResult>",
	    /* external DTD over the network */
	    "<?xml version=\"1.0\"?><!DOCTYPE r SYSTEM \"http://127.0.0.1:1/x.dtd\">"
	    "<ListBucketResult/>",
	    /* a parameter entity */
	    "<!DOCTYPE r [<!ENTITY % p SYSTEM \"http://127.0.0.1:1/p\"> %p;]><ListBucketResult/>",
	};
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		drb_error_clear();
		assert_int_equal(parse(docs[i], &p), DRB_ERR_FORMAT);
		assert_non_null(strstr(drb_error_link(drb_error_depth() - 1), "document type"));
		assert_int_equal(drb_s3_parse_error(docs[i], strlen(docs[i]), code, sizeof code,
		                                    msg, sizeof msg, NULL),
		                 DRB_ERR_FORMAT);
	}
	/* an undeclared entity outside a DTD is just malformed */
	assert_int_equal(parse("<ListBucketResult><Name>&undefined;</Name></ListBucketResult>", &p),
	                 DRB_ERR_FORMAT);
}

static void errors(void **state)
{
	(void)state;
	char code[64], msg[256];
	int64_t skew = 0;
	const char *xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
	                  "RequestTimeTooSkewed</Code><Message>The difference between the request "
	                  "time and the current time is too large.</Message><RequestTime>"
	                  "20261125T100000Z</RequestTime><ServerTime>2026-11-25T10:20:00Z"
	                  "</ServerTime><MaxAllowedSkewMilliseconds>900000"
	                  "</MaxAllowedSkewMilliseconds></Error>";
	assert_int_equal(
	    drb_s3_parse_error(xml, strlen(xml), code, sizeof code, msg, sizeof msg, &skew), 0);
	assert_string_equal(code, "RequestTimeTooSkewed");
	assert_int_equal(skew, 1200);
	/* s3rver escapes with HTML entity names, which XML does not know: still read the code */
	xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>"
	      "The specified key does not exist.</Message><Key>a&grave;b&eacute;</Key></Error>";
	assert_int_equal(
	    drb_s3_parse_error(xml, strlen(xml), code, sizeof code, msg, sizeof msg, &skew), 0);
	assert_string_equal(code, "NoSuchKey");
	assert_string_equal(msg, "The specified key does not exist.");
	assert_int_equal(skew, 0);
	xml = "<ListBucketResult/>";
	assert_int_equal(
	    drb_s3_parse_error(xml, strlen(xml), code, sizeof code, msg, sizeof msg, NULL),
	    DRB_ERR_FORMAT);
}

static void multipart_answers(void **state)
{
	(void)state;
	char etag[80], *id = NULL;
	const char *init = "<InitiateMultipartUploadResult xmlns=\"" AWS_NS "\"><Bucket>b</Bucket>"
	                   "<Key>k</Key><UploadId>VXBsb2FkIElE.x-y_z</UploadId>"
	                   "</InitiateMultipartUploadResult>";
	assert_int_equal(drb_s3_parse_upload_id(init, strlen(init), &id), 0);
	assert_string_equal(id, "VXBsb2FkIElE.x-y_z");
	free(id);
	const char *noid =
	    "<InitiateMultipartUploadResult><UploadId/></InitiateMultipartUploadResult>";
	assert_int_equal(drb_s3_parse_upload_id(noid, strlen(noid), &id), DRB_ERR_FORMAT);

	const char *done =
	    "<CompleteMultipartUploadResult xmlns=\"" AWS_NS "\"><Location>x</Location>"
	    "<Bucket>b</Bucket><Key>k</Key><ETag>\"3858f62230ac3c915f300c664312c11f-9"
	    "\"</ETag></CompleteMultipartUploadResult>";
	assert_int_equal(drb_s3_parse_complete(done, strlen(done), etag, sizeof etag), 0);
	assert_string_equal(etag, "3858f62230ac3c915f300c664312c11f-9");
	/* 200 with an error body, or no ETag: never "complete" */
	const char *err = "<Error><Code>InternalError</Code><Message>x</Message></Error>";
	assert_int_equal(drb_s3_parse_complete(err, strlen(err), etag, sizeof etag),
	                 DRB_ERR_FORMAT);
	const char *noetag = "<CompleteMultipartUploadResult><Key>k</Key>"
	                     "</CompleteMultipartUploadResult>";
	assert_int_equal(drb_s3_parse_complete(noetag, strlen(noetag), etag, sizeof etag),
	                 DRB_ERR_FORMAT);
}

static void delete_answers(void **state)
{
	(void)state;
	char key[64], code[64], msg[128];
	const char *ok = "<DeleteResult xmlns=\"" AWS_NS "\"><Deleted><Key>a</Key></Deleted>"
	                 "</DeleteResult>";
	assert_int_equal(drb_s3_parse_delete(ok, strlen(ok), key, sizeof key, code, sizeof code,
	                                     msg, sizeof msg),
	                 0);
	const char *quiet = "<DeleteResult xmlns=\"" AWS_NS "\"/>";
	assert_int_equal(drb_s3_parse_delete(quiet, strlen(quiet), key, sizeof key, code,
	                                     sizeof code, msg, sizeof msg),
	                 0);
	const char *bad =
	    "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>locked/x</Key>"
	    "<Code>AccessDenied</Code><Message>Access Denied because object protected "
	    "by object lock.</Message></Error></DeleteResult>";
	assert_int_equal(drb_s3_parse_delete(bad, strlen(bad), key, sizeof key, code, sizeof code,
	                                     msg, sizeof msg),
	                 DRB_ERR_REMOTE);
	assert_string_equal(key, "locked/x");
	assert_string_equal(code, "AccessDenied");
}

static void request_bodies(void **state)
{
	(void)state;
	char etags[2][80] = {"abc", "def"}, *xml = NULL;
	size_t len = 0;
	assert_int_equal(drb_s3_xml_complete(2, etags, &xml, &len), 0);
	assert_int_equal(strlen(xml), len);
	assert_non_null(strstr(xml, "<CompleteMultipartUpload xmlns=\"" AWS_NS "\">"));
	assert_non_null(strstr(xml, "<Part><PartNumber>1</PartNumber><ETag>\"abc\"</ETag></Part>"
	                            "<Part><PartNumber>2</PartNumber><ETag>\"def\"</ETag></Part>"));
	free(xml);
	const char *keys[] = {"a<b>&c", "d"};
	assert_int_equal(drb_s3_xml_delete(keys, NULL, 2, &xml, &len), 0);
	assert_non_null(strstr(xml,
	                       "<Quiet>true</Quiet><Object><Key>a&lt;b&gt;&amp;c</Key></Object>"
	                       "<Object><Key>d</Key></Object></Delete>"));
	free(xml);
}

/* ListObjectVersions: versions and delete markers in order, the next page's markers, keys
 * url-decoded; RGW's nanosecond dates read to the second. */
static void versions(void **state)
{
	(void)state;
	const char *xml =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListVersionsResult xmlns=\"" AWS_NS
	    "\"><Name>ehr</Name><NextKeyMarker>h/a%2Bb</NextKeyMarker><NextVersionIdMarker>v/2+"
	    "</NextVersionIdMarker><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
	    "<DeleteMarker><Key>h/a%2Bb</Key><VersionId>null</VersionId><IsLatest>true</IsLatest>"
	    "<LastModified>2026-12-01T10:00:00.000Z</LastModified></DeleteMarker><Version><Key>h/"
	    "a%2Bb</Key><VersionId>v/2+</VersionId><IsLatest>false</IsLatest><LastModified>2026-12-"
	    "01T09:00:00.123456789Z</LastModified><Size>434234</Size><StorageClass>STANDARD_IA"
	    "</StorageClass></Version></ListVersionsResult>";
	drb_s3_versions_page page;
	assert_int_equal(drb_s3_parse_versions(xml, strlen(xml), &page), 0);
	assert_int_equal(page.n, 2);
	assert_true(page.truncated);
	assert_string_equal(page.next_key, "h/a+b");
	assert_string_equal(page.next_version, "v/2+");
	assert_true(page.v[0].delete_marker);
	assert_true(page.v[0].is_latest);
	assert_string_equal(page.v[0].key, "h/a+b");
	assert_false(page.v[1].delete_marker);
	assert_int_equal(page.v[1].size, 434234);
	assert_int_equal(page.v[1].mtime, 1796115600); /* 2026-12-01T09:00:00Z */
	assert_string_equal(page.v[1].storage_class, "STANDARD_IA");
	assert_string_equal(page.v[1].version_id, "v/2+");
	drb_s3_versions_page_free(&page);
	/* a version without its id, a listing of another kind, a DTD: refused */
	const char *bad[] = {
	    "<ListVersionsResult><Version><Key>k</Key><LastModified>2026-12-01T00:00:00Z"
	    "</LastModified><Size>1</Size></Version></ListVersionsResult>",
	    "<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>",
	    "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><ListVersionsResult>"
	    "</ListVersionsResult>",
	    "<ListVersionsResult><Version><Key>k</Key><VersionId>v</VersionId><LastModified>"
	    "yesterday</LastModified><Size>1</Size></Version></ListVersionsResult>"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(drb_s3_parse_versions(bad[i], strlen(bad[i]), &page),
		                 DRB_ERR_FORMAT);
		assert_int_equal(page.n, 0);
		drb_error_clear();
	}
}

/* The bodies of PutObjectRetention, PutObjectLegalHold and a DeleteObjects of versions. */
static void lock_bodies(void **state)
{
	(void)state;
	char *xml = NULL;
	size_t len = 0;
	assert_int_equal(drb_s3_xml_retention("COMPLIANCE", 1796115600, &xml, &len), 0);
	assert_int_equal(strlen(xml), len);
	assert_non_null(strstr(xml, "<Retention xmlns=\"" AWS_NS "\"><Mode>COMPLIANCE</Mode>"
	                            "<RetainUntilDate>2026-12-01T09:00:00.000Z</RetainUntilDate>"
	                            "</Retention>"));
	free(xml);
	assert_int_equal(drb_s3_xml_legal_hold(false, &xml, &len), 0);
	assert_non_null(
	    strstr(xml, "<LegalHold xmlns=\"" AWS_NS "\"><Status>OFF</Status></LegalHold>"));
	free(xml);
	const char *keys[] = {"a&b", "a&b"}, *vids[] = {"v1", "v<2>"};
	assert_int_equal(drb_s3_xml_delete(keys, vids, 2, &xml, &len), 0);
	assert_non_null(strstr(xml, "<Object><Key>a&amp;b</Key><VersionId>v1</VersionId></Object>"
	                            "<Object><Key>a&amp;b</Key><VersionId>v&lt;2&gt;</VersionId>"
	                            "</Object></Delete>"));
	free(xml);
}

static void dates(void **state)
{
	(void)state;
	assert_int_equal(drb_s3_parse_iso8601("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(drb_s3_parse_iso8601("2026-11-25T10:00:00.123Z"), 1795600800);
	assert_int_equal(drb_s3_parse_iso8601("20261125T100000Z"), 1795600800);
	assert_int_equal(drb_s3_parse_iso8601("2026-11-25T10:00:00+00:00"), 1795600800);
	assert_int_equal(drb_s3_parse_iso8601("2026-11-25T10:00:00"), -1);
	assert_int_equal(drb_s3_parse_iso8601("2026-13-25T10:00:00Z"), -1);
	assert_int_equal(drb_s3_parse_iso8601(""), -1);
	assert_int_equal(drb_s3_parse_iso8601(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(aws_page_truncated),
	    cmocka_unit_test(s3rver_page_with_folders),
	    cmocka_unit_test(other_namespaces),
	    cmocka_unit_test(url_encoded_keys),
	    cmocka_unit_test(bad_listings),
	    cmocka_unit_test(hostile),
	    cmocka_unit_test(errors),
	    cmocka_unit_test(multipart_answers),
	    cmocka_unit_test(delete_answers),
	    cmocka_unit_test(request_bodies),
	    cmocka_unit_test(versions),
	    cmocka_unit_test(lock_bodies),
	    cmocka_unit_test(dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
