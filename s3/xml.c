/* S3's XML: the answers (listings, errors, multipart results) and the two request bodies
 * (CompleteMultipartUpload, Delete), through libxml2. Answers come from the network, so the
 * parser never loads anything (XML_PARSE_NONET), never substitutes entities (no XML_PARSE_NOENT)
 * and stops at the first document type declaration: S3 never sends one, and a DTD is where
 * entity bombs and external entities live. Elements are matched by local name because servers
 * disagree on the namespace (AWS: s3.amazonaws.com, s3rver: doc.s3.amazonaws.com). */
#include "config.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "s3/internal.h"

#define XML_MAX (32u * 1024 * 1024) /* a listing page of 1000 long keys is well below this */
#define S3_NS   "http://s3.amazonaws.com/doc/2006-03-01/"

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init_once(void)
{
	xmlInitParser();
}

void drb_s3_xml_init(void)
{
	pthread_once(&xml_once, xml_init_once);
}

/* ---------------------------------------------------------------- parsing */

typedef struct parse_state {
	bool dtd;
} parse_state;

static void refuse_dtd(void *ctx, const xmlChar *name, const xmlChar *external_id,
                       const xmlChar *system_id)
{
	xmlParserCtxtPtr c = ctx;
	(void)name, (void)external_id, (void)system_id;
	((parse_state *)c->_private)->dtd = true;
	xmlStopParser(c);
}

/* libxml2 reports some errors (bad encodings) through its generic handler, bypassing
 * XML_PARSE_NOERROR: a bad answer becomes our error, not noise on stderr. */
static void quiet(void *ctx, const char *msg, ...)
{
	(void)ctx, (void)msg;
}

/* recover: keep what parses (error bodies, whose text s3rver escapes with HTML entity names). */
static int parse(const char *xml, size_t len, bool recover, xmlDocPtr *out)
{
	parse_state st = {0};
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc = NULL;
	int rc = 0;
	drb_s3_xml_init();
	if (len > XML_MAX)
		return drb_error(DRB_ERR_FORMAT, "an XML answer of %zu bytes is too large", len);
	if (len == 0)
		return drb_error(DRB_ERR_FORMAT, "an empty answer where XML was expected");
	xmlSetGenericErrorFunc(NULL, quiet); /* per thread */
	if (!(ctxt = xmlNewParserCtxt()))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	ctxt->_private = &st;
	ctxt->sax->internalSubset = refuse_dtd;
	ctxt->sax->externalSubset = refuse_dtd;
	doc = xmlCtxtReadMemory(ctxt, xml, (int)len, "s3-answer.xml", NULL,
	                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
	                            (recover ? XML_PARSE_RECOVER : 0));
	if (st.dtd || (doc && doc->intSubset)) {
		rc = drb_error(DRB_ERR_FORMAT, "an XML answer with a document type declaration "
		                               "was refused (S3 never sends one)");
	} else if (!doc || (!recover && !ctxt->wellFormed)) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		char msg[200] = "";
		if (e && e->message) {
			snprintf(msg, sizeof msg, "%s", e->message);
			msg[strcspn(msg, "\n")] = 0;
		}
		rc =
		    drb_error(DRB_ERR_FORMAT, "an answer that is not well-formed XML (line %d: %s)",
		              e ? e->line : 0, msg[0] ? msg : "unknown error");
	} else if (!xmlDocGetRootElement(doc)) {
		rc = drb_error(DRB_ERR_FORMAT, "an XML answer without a root element");
	}
	if (rc < 0) {
		xmlFreeDoc(doc);
		doc = NULL;
	}
	xmlFreeParserCtxt(ctxt);
	*out = doc;
	return rc;
}

static bool is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *child(const xmlNode *parent, const char *name)
{
	for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

/* The text of parent/name, malloc'd ("" for an empty element), or NULL when absent. */
static char *child_text(const xmlNode *parent, const char *name)
{
	xmlNode *c = child(parent, name);
	if (!c)
		return NULL;
	xmlChar *t = xmlNodeGetContent(c);
	char *s = strdup(t ? (const char *)t : "");
	xmlFree(t);
	return s;
}

static void copy_text(const xmlNode *parent, const char *name, char *out, size_t len)
{
	char *t = child_text(parent, name);
	if (len)
		snprintf(out, len, "%s", t ? t : "");
	free(t);
}

static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!s || !*s)
		return false;
	for (; *s; s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static void strip_quotes(char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = 0;
	}
}

int64_t drb_s3_parse_iso8601(const char *s)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec, n = 0;
	if (!s)
		return -1;
	/* extended (2026-11-25T10:00:00.000Z) or basic (20261125T100000Z) */
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 &&
	    sscanf(s, "%4d%2d%2dT%2d%2d%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
		return -1;
	s += n;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (strcmp(s, "Z") != 0 && strcmp(s, "+00:00") != 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970 ||
	    y > 9999)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return (int64_t)timegm(&tm);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool drb_s3_url_decode(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%') {
			int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			*o++ = (char)(hi * 16 + lo);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
	return true;
}

void drb_s3_list_page_free(drb_s3_list_page *page)
{
	for (size_t i = 0; i < page->n; i++)
		free(page->v[i].key);
	free(page->v);
	free(page->next_token);
	memset(page, 0, sizeof *page);
}

static int add_entry(drb_s3_list_page *page, size_t *cap, char *key, uint64_t size, int64_t mtime,
                     bool is_prefix)
{
	if (page->url_encoded && !drb_s3_url_decode(key)) {
		int rc =
		    drb_error(DRB_ERR_FORMAT, "a listed key has a bad %%-escape: \"%.200s\"", key);
		free(key);
		return rc;
	}
	if (page->n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		drb_s3_entry *v = realloc(page->v, c * sizeof *v);
		if (!v) {
			free(key);
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		}
		page->v = v;
		*cap = c;
	}
	page->v[page->n++] = (drb_s3_entry){key, size, mtime, is_prefix};
	return 0;
}

int drb_s3_parse_list(const char *xml, size_t len, drb_s3_list_page *page)
{
	xmlDocPtr doc = NULL;
	size_t cap = 0;
	char *t = NULL;
	int rc;
	memset(page, 0, sizeof *page);
	if ((rc = parse(xml, len, false, &doc)) < 0)
		return drb_error_wrap(0, "reading a listing");
	xmlNode *root = xmlDocGetRootElement(doc);
	if (!is(root, "ListBucketResult")) {
		rc = drb_error(DRB_ERR_FORMAT,
		               "a listing answer whose root is <%.60s>, not "
		               "<ListBucketResult>",
		               (const char *)root->name);
		goto out;
	}
	t = child_text(root, "EncodingType");
	page->url_encoded = t && strcmp(t, "url") == 0;
	free(t);
	t = child_text(root, "IsTruncated");
	page->truncated = t && strcmp(t, "true") == 0;
	free(t);
	t = NULL;
	page->next_token = child_text(root, "NextContinuationToken");
	if (page->next_token && !*page->next_token) {
		free(page->next_token);
		page->next_token = NULL;
	}
	for (xmlNode *c = root->children; c; c = c->next) {
		if (is(c, "Contents")) {
			char *key = child_text(c, "Key"), *size = child_text(c, "Size"),
			     *mod = child_text(c, "LastModified");
			uint64_t sz = 0;
			int64_t mt = mod ? drb_s3_parse_iso8601(mod) : -1;
			if (!key || !*key || !parse_u64(size, &sz) || mt < 0) {
				rc = drb_error(DRB_ERR_FORMAT,
				               "a listing entry without a usable Key, Size or "
				               "LastModified (key \"%.200s\", size \"%.30s\", "
				               "modified \"%.40s\")",
				               key ? key : "", size ? size : "", mod ? mod : "");
				free(key);
			} else {
				rc = add_entry(page, &cap, key, sz, mt, false);
			}
			free(size);
			free(mod);
		} else if (is(c, "CommonPrefixes")) {
			char *p = child_text(c, "Prefix");
			if (!p || !*p) {
				free(p);
				rc = drb_error(DRB_ERR_FORMAT, "a listing folder without a Prefix");
			} else {
				rc = add_entry(page, &cap, p, 0, 0, true);
			}
		}
		if (rc < 0)
			goto out;
	}
out:
	if (rc < 0)
		drb_s3_list_page_free(page);
	xmlFreeDoc(doc);
	return rc;
}

int drb_s3_parse_error(const char *xml, size_t len, char *code, size_t codelen, char *msg,
                       size_t msglen, int64_t *skew)
{
	xmlDocPtr doc = NULL;
	int rc;
	if (codelen)
		code[0] = 0;
	if (msglen)
		msg[0] = 0;
	if (skew)
		*skew = 0;
	if ((rc = parse(xml, len, true, &doc)) < 0)
		return rc;
	xmlNode *root = xmlDocGetRootElement(doc);
	if (!is(root, "Error")) {
		rc = drb_error(DRB_ERR_FORMAT, "not an <Error> document");
		goto out;
	}
	copy_text(root, "Code", code, codelen);
	copy_text(root, "Message", msg, msglen);
	if (skew) {
		char *req = child_text(root, "RequestTime"), *srv = child_text(root, "ServerTime");
		int64_t a = drb_s3_parse_iso8601(req), b = drb_s3_parse_iso8601(srv);
		if (a >= 0 && b >= 0)
			*skew = b - a;
		free(req);
		free(srv);
	}
out:
	xmlFreeDoc(doc);
	return rc;
}

int drb_s3_parse_upload_id(const char *xml, size_t len, char **upload_id)
{
	xmlDocPtr doc = NULL;
	int rc;
	if ((rc = parse(xml, len, false, &doc)) < 0)
		return drb_error_wrap(0, "reading the answer to CreateMultipartUpload");
	xmlNode *root = xmlDocGetRootElement(doc);
	char *id = is(root, "InitiateMultipartUploadResult") ? child_text(root, "UploadId") : NULL;
	if (!id || !*id) {
		free(id);
		rc =
		    drb_error(DRB_ERR_FORMAT, "CreateMultipartUpload answered without an UploadId");
	} else {
		*upload_id = id;
	}
	xmlFreeDoc(doc);
	return rc;
}

int drb_s3_parse_complete(const char *xml, size_t len, char *etag, size_t etaglen)
{
	xmlDocPtr doc = NULL;
	int rc;
	if ((rc = parse(xml, len, false, &doc)) < 0)
		return drb_error_wrap(0, "reading the answer to CompleteMultipartUpload");
	xmlNode *root = xmlDocGetRootElement(doc);
	char *e = is(root, "CompleteMultipartUploadResult") ? child_text(root, "ETag") : NULL;
	if (e)
		strip_quotes(e);
	/* Ceph RGW answers an empty <ETag></ETag>: that is "" for the caller to check by HEAD;
	 * no <ETag> element at all is not a Complete result */
	if (!e || strlen(e) >= etaglen) {
		rc = drb_error(DRB_ERR_FORMAT,
		               "CompleteMultipartUpload answered <%.60s> without "
		               "an ETag: the object is not known to be whole",
		               (const char *)root->name);
	} else {
		snprintf(etag, etaglen, "%s", e);
	}
	free(e);
	xmlFreeDoc(doc);
	return rc;
}

int drb_s3_parse_delete(const char *xml, size_t len, char *key, size_t keylen, char *code,
                        size_t codelen, char *msg, size_t msglen)
{
	xmlDocPtr doc = NULL;
	int rc;
	if ((rc = parse(xml, len, false, &doc)) < 0)
		return drb_error_wrap(0, "reading the answer to DeleteObjects");
	xmlNode *root = xmlDocGetRootElement(doc), *err = NULL;
	if (is(root, "Error"))
		err = root;
	else if (is(root, "DeleteResult"))
		err = child(root, "Error");
	else
		rc = drb_error(DRB_ERR_FORMAT, "DeleteObjects answered <%.60s>, not <DeleteResult>",
		               (const char *)root->name);
	if (err) {
		copy_text(err, "Key", key, keylen);
		copy_text(err, "Code", code, codelen);
		copy_text(err, "Message", msg, msglen);
		rc = DRB_ERR_REMOTE;
	}
	xmlFreeDoc(doc);
	return rc;
}

/* ---------------------------------------------------------------- request bodies */

static int dump(xmlDocPtr doc, char **xml, size_t *len)
{
	xmlChar *mem = NULL;
	int n = 0;
	xmlDocDumpMemoryEnc(doc, &mem, &n, "UTF-8");
	if (!mem)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	*xml = malloc((size_t)n + 1);
	if (*xml) {
		memcpy(*xml, mem, (size_t)n);
		(*xml)[n] = 0;
		*len = (size_t)n;
	}
	xmlFree(mem);
	return *xml ? 0 : drb_error(DRB_ERR_NOMEM, "out of memory");
}

static xmlDocPtr new_doc(const char *root_name, xmlNodePtr *root)
{
	xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
	if (!doc)
		return NULL;
	*root = xmlNewNode(NULL, BAD_CAST root_name);
	if (!*root) {
		xmlFreeDoc(doc);
		return NULL;
	}
	xmlDocSetRootElement(doc, *root);
	xmlSetNs(*root, xmlNewNs(*root, BAD_CAST S3_NS, NULL));
	return doc;
}

int drb_s3_xml_complete(unsigned n, char (*etags)[80], char **xml, size_t *len)
{
	xmlNodePtr root;
	xmlDocPtr doc;
	int rc = 0;
	drb_s3_xml_init();
	if (!(doc = new_doc("CompleteMultipartUpload", &root)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	for (unsigned i = 0; i < n; i++) {
		char num[16], quoted[84];
		snprintf(num, sizeof num, "%u", i + 1);
		snprintf(quoted, sizeof quoted, "\"%s\"", etags[i]);
		xmlNodePtr p = xmlNewChild(root, NULL, BAD_CAST "Part", NULL);
		if (!p || !xmlNewTextChild(p, NULL, BAD_CAST "PartNumber", BAD_CAST num) ||
		    !xmlNewTextChild(p, NULL, BAD_CAST "ETag", BAD_CAST quoted)) {
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	rc = dump(doc, xml, len);
out:
	xmlFreeDoc(doc);
	return rc;
}

int drb_s3_xml_delete(const char *const *keys, const char *const *versions, size_t n, char **xml,
                      size_t *len)
{
	xmlNodePtr root;
	xmlDocPtr doc;
	int rc = 0;
	drb_s3_xml_init();
	if (!(doc = new_doc("Delete", &root)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	/* Quiet: the answer lists only the keys that failed */
	if (!xmlNewTextChild(root, NULL, BAD_CAST "Quiet", BAD_CAST "true")) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		xmlNodePtr o = xmlNewChild(root, NULL, BAD_CAST "Object", NULL);
		if (!o || !xmlNewTextChild(o, NULL, BAD_CAST "Key", BAD_CAST keys[i]) ||
		    (versions &&
		     !xmlNewTextChild(o, NULL, BAD_CAST "VersionId", BAD_CAST versions[i]))) {
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	rc = dump(doc, xml, len);
out:
	xmlFreeDoc(doc);
	return rc;
}

/* ---------------------------------------------------------------- versions and locks */

void drb_s3_versions_page_free(drb_s3_versions_page *page)
{
	for (size_t i = 0; i < page->n; i++) {
		free(page->v[i].key);
		free(page->v[i].version_id);
	}
	free(page->v);
	free(page->next_key);
	free(page->next_version);
	memset(page, 0, sizeof *page);
}

static char *nonempty(char *s)
{
	if (s && !*s) {
		free(s);
		return NULL;
	}
	return s;
}

/* One <Version> or <DeleteMarker>. */
static int add_version(drb_s3_versions_page *page, size_t *cap, const xmlNode *c, bool marker)
{
	char *key = child_text(c, "Key"), *vid = child_text(c, "VersionId"),
	     *size = child_text(c, "Size"), *mod = child_text(c, "LastModified"),
	     *latest = child_text(c, "IsLatest");
	uint64_t sz = 0;
	int64_t mt = mod ? drb_s3_parse_iso8601(mod) : -1;
	int rc = 0;
	if (!key || !*key || !vid || !*vid || mt < 0 || (!marker && !parse_u64(size, &sz))) {
		rc = drb_error(DRB_ERR_FORMAT,
		               "a version listing entry without a usable Key, VersionId, Size or "
		               "LastModified (key \"%.200s\", version \"%.80s\")",
		               key ? key : "", vid ? vid : "");
		goto out;
	}
	if (page->url_encoded && !drb_s3_url_decode(key)) {
		rc = drb_error(DRB_ERR_FORMAT, "a listed key has a bad %%-escape: \"%.200s\"", key);
		goto out;
	}
	if (page->n == *cap) {
		size_t n = *cap ? *cap * 2 : 64;
		drb_s3_version *v = realloc(page->v, n * sizeof *v);
		if (!v) {
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			goto out;
		}
		page->v = v;
		*cap = n;
	}
	drb_s3_version *v = &page->v[page->n++];
	*v = (drb_s3_version){.key = key,
	                      .version_id = vid,
	                      .size = sz,
	                      .mtime = mt,
	                      .delete_marker = marker,
	                      .is_latest = latest && strcmp(latest, "true") == 0};
	copy_text(c, "StorageClass", v->storage_class, sizeof v->storage_class);
	key = vid = NULL;
out:
	free(key);
	free(vid);
	free(size);
	free(mod);
	free(latest);
	return rc;
}

int drb_s3_parse_versions(const char *xml, size_t len, drb_s3_versions_page *page)
{
	xmlDocPtr doc = NULL;
	size_t cap = 0;
	char *t;
	int rc;
	memset(page, 0, sizeof *page);
	if ((rc = parse(xml, len, false, &doc)) < 0)
		return drb_error_wrap(0, "reading a version listing");
	xmlNode *root = xmlDocGetRootElement(doc);
	if (!is(root, "ListVersionsResult")) {
		rc = drb_error(DRB_ERR_FORMAT,
		               "a version listing whose root is <%.60s>, not <ListVersionsResult>",
		               (const char *)root->name);
		goto out;
	}
	t = child_text(root, "EncodingType");
	page->url_encoded = t && strcmp(t, "url") == 0;
	free(t);
	t = child_text(root, "IsTruncated");
	page->truncated = t && strcmp(t, "true") == 0;
	free(t);
	page->next_key = nonempty(child_text(root, "NextKeyMarker"));
	page->next_version = nonempty(child_text(root, "NextVersionIdMarker"));
	if (page->next_key && page->url_encoded && !drb_s3_url_decode(page->next_key)) {
		rc = drb_error(DRB_ERR_FORMAT, "NextKeyMarker has a bad %%-escape");
		goto out;
	}
	for (xmlNode *c = root->children; c && rc == 0; c = c->next)
		if (is(c, "Version") || is(c, "DeleteMarker"))
			rc = add_version(page, &cap, c, is(c, "DeleteMarker"));
out:
	if (rc < 0)
		drb_s3_versions_page_free(page);
	xmlFreeDoc(doc);
	return rc;
}

int drb_s3_xml_retention(const char *mode, int64_t until, char **xml, size_t *len)
{
	xmlNodePtr root;
	xmlDocPtr doc;
	char date[32];
	time_t t = (time_t)until;
	struct tm tm;
	int rc;
	drb_s3_xml_init();
	if (!gmtime_r(&t, &tm) || !strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S.000Z", &tm))
		return drb_error(DRB_ERR_USAGE, "a retention date out of range");
	if (!(doc = new_doc("Retention", &root)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	if (!xmlNewTextChild(root, NULL, BAD_CAST "Mode", BAD_CAST mode) ||
	    !xmlNewTextChild(root, NULL, BAD_CAST "RetainUntilDate", BAD_CAST date))
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	else
		rc = dump(doc, xml, len);
	xmlFreeDoc(doc);
	return rc;
}

int drb_s3_xml_legal_hold(bool on, char **xml, size_t *len)
{
	xmlNodePtr root;
	xmlDocPtr doc;
	int rc;
	drb_s3_xml_init();
	if (!(doc = new_doc("LegalHold", &root)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	if (!xmlNewTextChild(root, NULL, BAD_CAST "Status", BAD_CAST(on ? "ON" : "OFF")))
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	else
		rc = dump(doc, xml, len);
	xmlFreeDoc(doc);
	return rc;
}
