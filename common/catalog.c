#include "config.h"
#include "common/catalog.h"
#include "common/error.h"
#include "common/log.h"
#include "common/layout.h"
#include "common/pool.h"
#include "common/sign.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JSON_FLAGS (JSON_SORT_KEYS | JSON_INDENT(1))

/* ------------------------------------------------------------------ names and times */

void drb_time_id(int64_t t, char out[17])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void drb_time_iso(int64_t t, char out[21])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int drb_time_parse(const char *s, int64_t *t)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end) {
		memset(&tm, 0, sizeof tm);
		end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
	}
	if (!end || *end)
		return drb_error(DRB_ERR_FORMAT, "\"%s\" is not a UTC time", s);
	*t = (int64_t)timegm(&tm);
	return 0;
}

/* ------------------------------------------------------------------ JSON helpers */

static json_t *jtime(int64_t t)
{
	char iso[21];
	if (t <= 0)
		return json_null();
	drb_time_iso(t, iso);
	return json_string(iso);
}

static int get_time(json_t *o, const char *key, int64_t *t)
{
	json_t *v = json_object_get(o, key);
	*t = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	return drb_time_parse(json_string_value(v), t) < 0 ? -1 : 0;
}

static char *get_str(json_t *o, const char *key, bool required, int *bad)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) {
		if (required)
			*bad = 1;
		return required ? NULL : strdup("");
	}
	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	return strdup(json_string_value(v));
}

static uint64_t get_u64(json_t *o, const char *key, int *bad)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		*bad = 1;
		return 0;
	}
	return (uint64_t)json_integer_value(v);
}

static int dump_json(json_t *j, char **text)
{
	*text = json_dumps(j, JSON_FLAGS);
	json_decref(j);
	return *text ? 0 : drb_error(DRB_ERR_NOMEM, "out of memory");
}

static json_t *load_json(const char *text, size_t len, const char *what)
{
	json_error_t e;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
	if (!j)
		drb_error(DRB_ERR_FORMAT, "%s: invalid JSON at line %d: %s", what, e.line, e.text);
	else if (!json_is_object(j)) {
		json_decref(j);
		j = NULL;
		drb_error(DRB_ERR_FORMAT, "%s: not a JSON object", what);
	}
	return j;
}

/* ------------------------------------------------------------------ signed metadata */

int drb_meta_put(drb_repo *r, const char *path, const char *kind, const char *json)
{
	size_t len = strlen(json);
	char *body = malloc(len + 2), *signed_text = NULL;
	/* metadata is locked like data where the repository locks (Object Lock) */
	const drb_put_opts locked = {.immutable = true};
	int rc = 0;
	if (!body)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	memcpy(body, json, len);
	body[len++] = '\n';
	body[len] = 0;
	if (r->signer) {
		size_t slen = 0;
		if ((rc = drb_meta_sign(r->signer, path, kind, body, len, &signed_text, &slen)) == 0)
			rc = drb_repo_put_buf(r, path, signed_text, slen, &locked);
	} else {
		rc = drb_repo_put_buf(r, path, body, len, &locked);
	}
	free(body);
	free(signed_text);
	return rc;
}

/* Check a metadata object of this catalog's host: the length of its JSON body when planning may
 * use it, else 0 with the reason kept for list. */
static size_t meta_note(drb_repo *r, drb_catalog *c, const char *path, const drb_meta_check *cp);

static size_t meta_accept(drb_repo *r, drb_catalog *c, const char *path, const char *kind,
			  const char *text, size_t len)
{
	drb_meta_check chk;
	drb_meta_verify(r->trust, c->host_id, path, kind, text, len, &chk);
	return meta_note(r, c, path, &chk);
}

/* The bookkeeping of a check made (possibly in another thread): what meta_accept returns. */
static size_t meta_note(drb_repo *r, drb_catalog *c, const char *path, const drb_meta_check *cp)
{
	drb_meta_check chk = *cp;
	if (drb_meta_usable(r->trust, &chk)) {
		if (chk.status == DRB_META_UNSIGNED)
			c->n_unsigned++;
		return chk.body_len ? chk.body_len : 1;
	}
	drb_untrusted *v = realloc(c->untrusted, (c->n_untrusted + 1) * sizeof *v);
	if (v) {
		c->untrusted = v;
		v[c->n_untrusted].path = strdup(path);
		v[c->n_untrusted].why = strdup(chk.why);
		v[c->n_untrusted].unsigned_only = chk.status == DRB_META_UNSIGNED;
		c->n_untrusted++;
	}
	if (chk.status == DRB_META_BAD)
		drb_log_warn("repository %s: %s: ignored", r->name, chk.why);
	return 0;
}

/* ------------------------------------------------------------------ manifest */

int drb_manifest_to_json(const drb_manifest *m, char **text)
{
	json_t *dbs = json_array(), *keys = json_array();
	for (size_t i = 0; i < m->n_dbs; i++) {
		const drb_db_entry *d = &m->dbs[i];
		json_t *tables = json_object();
		for (size_t k = 0; k < d->n_tables; k++)
			json_object_set_new(tables, d->tables[k].name,
					    json_integer((json_int_t)d->tables[k].rows));
		json_array_append_new(
			dbs, json_pack("{s:s, s:s, s:I, s:I, s:s, s:o, s:I, s:I}", "name", d->name,
				       "object", d->object, "plain_bytes", (json_int_t)d->plain_bytes,
				       "stored_bytes", (json_int_t)d->stored_bytes, "sha256", d->sha256,
				       "tables", tables, "rows", (json_int_t)d->rows, "millis",
				       (json_int_t)d->millis));
	}
	for (size_t i = 0; i < m->n_key_ids; i++)
		json_array_append_new(keys, json_string(m->key_ids[i]));
	json_t *j = json_pack(
		"{s:i, s:s, s:s, s:s, s:o, s:o, s:o, s:{s:s, s:I}, s:{s:s, s:I, s:s, s:s, s:o}, s:i, "
		"s:I, s:o, s:o}",
		"format", DRB_META_FORMAT, "kind", "full", "host_id", m->host_id, "backup_id",
		m->backup_id, "started", jtime(m->started), "finished", jtime(m->finished),
		"snapshot_time", jtime(m->snapshot_time), "server", "version",
		m->server_version ? m->server_version : "", "server_id", (json_int_t)m->server_id,
		"snapshot", "binlog_file", m->binlog_file, "binlog_pos", (json_int_t)m->binlog_pos,
		"gtid", m->gtid ? m->gtid : "", "generation", m->generation ? m->generation : "",
		"binlog_file_created", jtime(m->binlog_file_created), "jobs", m->jobs, "block_micros", (json_int_t)m->block_micros, "databases", dbs,
		"recipients", keys);
	if (!j)
		return drb_error(DRB_ERR_NOMEM, "cannot build the manifest");
	return dump_json(j, text);
}

void drb_manifest_free(drb_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_dbs; i++) {
		drb_db_entry *d = &m->dbs[i];
		free(d->name);
		free(d->object);
		free(d->expired_why);
		for (size_t k = 0; k < d->n_tables; k++)
			free(d->tables[k].name);
		free(d->tables);
	}
	for (size_t i = 0; i < m->n_key_ids; i++)
		free(m->key_ids[i]);
	free(m->key_ids);
	free(m->dbs);
	free(m->host_id);
	free(m->backup_id);
	free(m->server_version);
	free(m->binlog_file);
	free(m->gtid);
	free(m->generation);
	free(m);
}

int drb_manifest_from_json(const char *text, size_t len, const char *what, drb_manifest **out)
{
	json_t *j = load_json(text, len, what);
	int bad = 0;
	if (!j)
		return drb_error_code();
	drb_manifest *m = calloc(1, sizeof *m);
	if (!m) {
		json_decref(j);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	json_t *kind = json_object_get(j, "kind"), *server = json_object_get(j, "server"),
	       *snap = json_object_get(j, "snapshot"), *dbs = json_object_get(j, "databases"),
	       *keys = json_object_get(j, "recipients");
	if (json_integer_value(json_object_get(j, "format")) != DRB_META_FORMAT ||
	    !json_is_string(kind) || strcmp(json_string_value(kind), "full") != 0 ||
	    !json_is_object(snap) || !json_is_array(dbs)) {
		bad = 1;
		goto out;
	}
	m->host_id = get_str(j, "host_id", true, &bad);
	m->backup_id = get_str(j, "backup_id", true, &bad);
	if (get_time(j, "started", &m->started) < 0 || get_time(j, "finished", &m->finished) < 0 ||
	    get_time(j, "snapshot_time", &m->snapshot_time) < 0)
		bad = 1;
	if (json_is_object(server)) {
		m->server_version = get_str(server, "version", false, &bad);
		m->server_id = (long)get_u64(server, "server_id", &bad);
	}
	m->binlog_file = get_str(snap, "binlog_file", true, &bad);
	m->binlog_pos = get_u64(snap, "binlog_pos", &bad);
	m->gtid = get_str(snap, "gtid", false, &bad);
	m->generation = get_str(snap, "generation", false, &bad);
	if (get_time(snap, "binlog_file_created", &m->binlog_file_created) < 0)
		bad = 1;
	m->jobs = (int)get_u64(j, "jobs", &bad);
	m->block_micros = get_u64(j, "block_micros", &bad);
	m->n_dbs = json_array_size(dbs);
	m->dbs = calloc(m->n_dbs ? m->n_dbs : 1, sizeof *m->dbs);
	if (!m->dbs) {
		bad = 1;
		goto out;
	}
	for (size_t i = 0; i < m->n_dbs && !bad; i++) {
		json_t *d = json_array_get(dbs, i), *tables = json_object_get(d, "tables");
		drb_db_entry *e = &m->dbs[i];
		if (!json_is_object(d)) {
			bad = 1;
			break;
		}
		e->name = get_str(d, "name", true, &bad);
		e->object = get_str(d, "object", true, &bad);
		e->plain_bytes = get_u64(d, "plain_bytes", &bad);
		e->stored_bytes = get_u64(d, "stored_bytes", &bad);
		e->rows = get_u64(d, "rows", &bad);
		e->millis = (int64_t)get_u64(d, "millis", &bad);
		json_t *sha = json_object_get(d, "sha256");
		if (!json_is_string(sha) || strlen(json_string_value(sha)) != 64)
			bad = 1;
		else
			memcpy(e->sha256, json_string_value(sha), 65);
		if (e->object && (strchr(e->object, '/') || e->object[0] == '.'))
			bad = 1; /* an object name is one path component */
		if (json_is_object(tables)) {
			const char *k;
			json_t *v;
			e->tables = calloc(json_object_size(tables) + 1, sizeof *e->tables);
			json_object_foreach(tables, k, v)
			{
				if (!json_is_integer(v)) {
					bad = 1;
					break;
				}
				e->tables[e->n_tables].name = strdup(k);
				e->tables[e->n_tables].rows = (uint64_t)json_integer_value(v);
				e->n_tables++;
			}
		}
	}
	if (json_is_array(keys)) {
		m->key_ids = calloc(json_array_size(keys) + 1, sizeof *m->key_ids);
		for (size_t i = 0; m->key_ids && i < json_array_size(keys); i++)
			if (json_is_string(json_array_get(keys, i)))
				m->key_ids[m->n_key_ids++] =
					strdup(json_string_value(json_array_get(keys, i)));
	}
out:
	json_decref(j);
	if (bad) {
		drb_manifest_free(m);
		return drb_error(DRB_ERR_FORMAT, "%s: not a valid drbackup manifest", what);
	}
	*out = m;
	return 0;
}

drb_manifest *drb_manifest_copy(const drb_manifest *m)
{
	char *text = NULL;
	drb_manifest *c = NULL;
	if (drb_manifest_to_json(m, &text) == 0 &&
	    drb_manifest_from_json(text, strlen(text), "manifest", &c) < 0)
		c = NULL;
	free(text);
	return c;
}

const drb_db_entry *drb_manifest_db(const drb_manifest *m, const char *name)
{
	for (size_t i = 0; i < m->n_dbs; i++)
		if (strcmp(m->dbs[i].name, name) == 0)
			return &m->dbs[i];
	return NULL;
}

int drb_manifest_put(drb_repo *r, const drb_manifest *m)
{
	char *text = NULL, *path = drb_path_manifest(m->host_id, m->backup_id);
	drb_manifest *back = NULL;
	int rc = drb_manifest_to_json(m, &text);
	/* what a restore will read must read: a manifest that does not parse back is a failure
	 * now, not a backup that silently is not there later */
	if (rc == 0 && (rc = drb_manifest_from_json(text, strlen(text), "the new manifest", &back)) < 0)
		drb_error_wrap(0, "full backup %s", m->backup_id);
	drb_manifest_free(back);
	if (rc == 0 && !path)
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	if (rc == 0)
		rc = drb_meta_put(r, path, "full", text);
	free(text);
	free(path);
	return rc;
}

/* ------------------------------------------------------------------ segments */

static json_t *segment_json(const drb_segment *s)
{
	char *obj = drb_segment_path("x", s, "drb");
	const char *name = obj ? strrchr(obj, '/') + 1 : "";
	json_t *j = json_pack(
		"{s:i, s:s, s:s, s:s, s:I, s:I, s:b, s:s, s:I, s:s, s:o, s:o, s:s, s:s, s:I, s:o, "
		"s:I, s:o, s:o}",
		"format", DRB_META_FORMAT, "kind", "binlog", "generation", s->generation, "file",
		s->file, "start", (json_int_t)s->start, "end", (json_int_t)s->end, "closed", s->closed,
		"object", name, "stored_bytes", (json_int_t)s->stored_bytes, "sha256", s->sha256,
		"first_event", jtime(s->first_event), "last_event", jtime(s->last_event), "start_gtid",
		s->start_gtid ? s->start_gtid : "", "end_gtid", s->end_gtid ? s->end_gtid : "",
		"server_id", (json_int_t)s->server_id, "file_created", jtime(s->file_created), "events",
		(json_int_t)s->events, "shipped", jtime(s->shipped), "complete_until",
		jtime(s->complete_until));
	if (j && s->level > 0) { /* absent in a segment as cut: its description stays as it was */
		json_object_set_new(j, "level", json_integer(s->level));
		json_object_set_new(j, "compacted", jtime(s->compacted));
	}
	free(obj);
	return j;
}

int drb_segment_to_json(const drb_segment *s, char **text)
{
	json_t *j = segment_json(s);
	if (!j)
		return drb_error(DRB_ERR_NOMEM, "cannot describe segment %s", s->file);
	return dump_json(j, text);
}

void drb_segment_clear(drb_segment *s)
{
	free(s->generation);
	free(s->file);
	free(s->start_gtid);
	free(s->end_gtid);
	free(s->end_file);
	memset(s, 0, sizeof *s);
}

int drb_segment_copy(drb_segment *d, const drb_segment *s)
{
	*d = *s;
	d->generation = strdup(s->generation);
	d->file = strdup(s->file);
	d->start_gtid = strdup(s->start_gtid ? s->start_gtid : "");
	d->end_gtid = strdup(s->end_gtid ? s->end_gtid : "");
	d->end_file = s->end_file ? strdup(s->end_file) : NULL;
	if (!d->generation || !d->file || !d->start_gtid || !d->end_gtid ||
	    (s->end_file && !d->end_file)) {
		drb_segment_clear(d);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	return 0;
}

static int segment_from(json_t *j, const char *what, drb_segment *s)
{
	int bad = 0;
	memset(s, 0, sizeof *s);
	json_t *kind = json_object_get(j, "kind"), *sha = json_object_get(j, "sha256");
	if (!json_is_object(j) || json_integer_value(json_object_get(j, "format")) != DRB_META_FORMAT ||
	    !json_is_string(kind) || strcmp(json_string_value(kind), "binlog") != 0)
		bad = 1;
	if (!bad) {
		s->generation = get_str(j, "generation", true, &bad);
		s->file = get_str(j, "file", true, &bad);
		s->start = get_u64(j, "start", &bad);
		s->end = get_u64(j, "end", &bad);
		s->closed = json_is_true(json_object_get(j, "closed"));
		s->stored_bytes = get_u64(j, "stored_bytes", &bad);
		s->start_gtid = get_str(j, "start_gtid", false, &bad);
		s->end_gtid = get_str(j, "end_gtid", false, &bad);
		s->server_id = (long)get_u64(j, "server_id", &bad);
		s->events = get_u64(j, "events", &bad);
		if (get_time(j, "first_event", &s->first_event) < 0 ||
		    get_time(j, "last_event", &s->last_event) < 0 ||
		    get_time(j, "file_created", &s->file_created) < 0 ||
		    get_time(j, "shipped", &s->shipped) < 0 ||
		    get_time(j, "complete_until", &s->complete_until) < 0)
			bad = 1;
		if (!json_is_string(sha) || strlen(json_string_value(sha)) != 64)
			bad = 1;
		else
			memcpy(s->sha256, json_string_value(sha), 65);
		json_t *level = json_object_get(j, "level");
		if (level && (!json_is_integer(level) || json_integer_value(level) < 0 ||
			      json_integer_value(level) > 64))
			bad = 1;
		s->level = level ? (int)json_integer_value(level) : 0;
		if (get_time(j, "compacted", &s->compacted) < 0)
			bad = 1;
		if (s->end < s->start || (s->level > 0 && s->end == s->start))
			bad = 1;
	}
	if (bad) {
		drb_segment_clear(s);
		return drb_error(DRB_ERR_FORMAT, "%s: not a valid segment description", what);
	}
	return 0;
}

int64_t drb_segment_covered_until(const drb_segment *s)
{
	return s->complete_until > s->last_event ? s->complete_until : s->last_event;
}

long drb_binlog_number(const char *name)
{
	const char *dot = strrchr(name, '.');
	char *end = NULL;
	if (!dot || !dot[1])
		return -1;
	long n = strtol(dot + 1, &end, 10);
	return *end ? -1 : n;
}

bool drb_segment_gtids_continue(const drb_segment *a, const drb_segment *b)
{
	/* names can line up across a history that was reset or rebuilt: the GTIDs cannot */
	if (a->end_gtid && a->end_gtid[0] && b->start_gtid && b->start_gtid[0])
		return drb_gtid_equal(a->end_gtid, b->start_gtid);
	return true;
}

const char *drb_segment_end_file(const drb_segment *s)
{
	return s->end_file ? s->end_file : s->file;
}

size_t drb_segment_count(const drb_segment *s)
{
	return s->run ? s->run : 1;
}

bool drb_segment_continues(const drb_segment *a, const drb_segment *b)
{
	const char *af = drb_segment_end_file(a);
	if (strcmp(af, b->file) == 0) {
		if (b->start != a->end)
			return false;
	} else {
		long na = drb_binlog_number(af), nb = drb_binlog_number(b->file);
		if (!a->closed || b->start != 0 || na < 0 || nb != na + 1)
			return false;
	}
	return drb_segment_gtids_continue(a, b);
}

int drb_segment_from_json(const char *text, size_t len, const char *what, drb_segment *out)
{
	json_t *j = load_json(text, len, what);
	if (!j)
		return drb_error_code();
	int rc = segment_from(j, what, out);
	json_decref(j);
	return rc;
}

int drb_segment_put(drb_repo *r, const char *host, const drb_segment *s)
{
	char *text = NULL, *path = drb_segment_path(host, s, "json");
	int rc = path ? drb_segment_to_json(s, &text) : drb_error(DRB_ERR_NOMEM, "out of memory");
	if (rc == 0)
		rc = drb_meta_put(r, path, "binlog", text);
	free(text);
	free(path);
	return rc;
}

/* ------------------------------------------------------------------ restore tests */

int drb_restore_test_from_json(const char *text, size_t len, drb_restore_test *t)
{
	json_t *j = load_json(text, len, "restore-test report");
	int bad = 0;
	memset(t, 0, sizeof *t);
	if (!j)
		return drb_error_code();
	t->ok = json_is_true(json_object_get(j, "ok"));
	t->backup_id = get_str(j, "backup_id", false, &bad);
	t->rto_seconds = (int64_t)get_u64(j, "rto_seconds", &bad);
	t->reached_gtid = get_str(j, "reached_gtid", false, &bad);
	t->error = get_str(j, "error", false, &bad);
	if (get_time(j, "finished", &t->finished) < 0 || get_time(j, "reached", &t->reached) < 0)
		bad = 1;
	json_t *pitr = json_object_get(j, "point_in_time");
	if (json_is_object(pitr)) {
		t->pitr_tested = true;
		t->pitr_ok = json_is_true(json_object_get(pitr, "ok"));
		t->pitr_segment = get_str(pitr, "segment", false, &bad);
		if (get_time(pitr, "target", &t->pitr_target) < 0)
			bad = 1;
	}
	json_decref(j);
	if (bad) {
		drb_restore_test_clear(t);
		return drb_error(DRB_ERR_FORMAT, "not a valid restore-test report");
	}
	return 0;
}

void drb_restore_test_clear(drb_restore_test *t)
{
	free(t->name);
	free(t->backup_id);
	free(t->reached_gtid);
	free(t->error);
	free(t->pitr_segment);
	memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------ loading */

typedef struct names {
	char **v;
	size_t n;
} names;

static int collect(void *ud, const char *path, const drb_obj_stat *st)
{
	names *s = ud;
	(void)st;
	char **v = realloc(s->v, (s->n + 1) * sizeof *v);
	if (!v)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	s->v = v;
	if (!(s->v[s->n] = strdup(path)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	s->n++;
	return 0;
}

static void names_free(names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A manifest must name the folder it lies in and a time that has come: a copied or mis-dated
 * one would otherwise be taken for the newest backup and hide every real one. */
#define FUTURE_SLACK 900 /* seconds of clock difference tolerated, as S3 does */

static bool backup_id_sane(drb_repo *r, const char *folder /* "<id>/" */, const drb_manifest *m)
{
	int64_t t = 0;
	size_t n = strlen(m->backup_id);
	if (strncmp(folder, m->backup_id, n) != 0 || folder[n] != '/') {
		drb_log_warn("repository %s: the manifest in %s/full/%.*s names backup %s: ignored",
			     r->name, m->host_id, (int)strcspn(folder, "/"), folder, m->backup_id);
		return false;
	}
	if (drb_time_parse(m->backup_id, &t) < 0 || t > (int64_t)time(NULL) + FUTURE_SLACK ||
	    m->snapshot_time > (int64_t)time(NULL) + FUTURE_SLACK) {
		drb_error_clear();
		drb_log_warn("repository %s: full backup %s of %s is dated in the future (or not "
			     "dated): ignored; check the clock of the host that wrote it",
			     r->name, m->backup_id, m->host_id);
		return false;
	}
	return true;
}

static int load_fulls(drb_repo *r, drb_catalog *c)
{
	names dirs = {0};
	char prefix[512];
	snprintf(prefix, sizeof prefix, "%s/full/", c->host_id);
	int rc = drb_repo_list(r, prefix, false, collect, &dirs);
	for (size_t i = 0; i < dirs.n && rc == 0; i++) {
		char *path = NULL, *text = NULL;
		size_t len = 0;
		drb_manifest *m = NULL;
		if (asprintf(&path, "%smanifest.json", dirs.v[i]) < 0) {
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			break;
		}
		int got = drb_repo_get_buf(r, path, DRB_META_MAX, &text, &len);
		if (got == DRB_ERR_NOT_FOUND) {
			/* objects without a manifest: a backup that never finished */
			char id[64];
			snprintf(id, sizeof id, "%.*s", (int)(strlen(dirs.v[i]) - strlen(prefix) - 1),
				 dirs.v[i] + strlen(prefix));
			char **v = realloc(c->incomplete, (c->n_incomplete + 1) * sizeof *v);
			if (v) {
				c->incomplete = v;
				c->incomplete[c->n_incomplete++] = strdup(id);
			}
			drb_error_clear();
		} else if (got < 0) {
			rc = got;
		} else if (!(len = meta_accept(r, c, path, "full", text, len))) {
			/* not signed by a key pinned for this host: not a backup to plan from */
		} else if (drb_manifest_from_json(text, len, path, &m) < 0) {
			drb_log_warn("repository %s: %s is damaged and is ignored", r->name, path);
			drb_error_clear();
		} else if (!backup_id_sane(r, dirs.v[i] + strlen(prefix), m) ||
			   strcmp(m->host_id, c->host_id) != 0) {
			if (strcmp(m->host_id, c->host_id) != 0)
				drb_log_warn("repository %s: %s names host %s: ignored", r->name, path,
					     m->host_id);
			drb_manifest_free(m);
		} else {
			drb_manifest **v = realloc(c->fulls, (c->n_fulls + 1) * sizeof *v);
			if (!v) {
				drb_manifest_free(m);
				rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			} else {
				c->fulls = v;
				c->fulls[c->n_fulls++] = m;
			}
		}
		free(path);
		free(text);
	}
	names_free(&dirs);
	return rc;
}

static int gen_add(drb_generation *g, drb_segment *s)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;
		drb_segment *v = realloc(g->segs, cap * sizeof *v);
		if (!v)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		g->segs = v;
		g->cap = cap;
	}
	g->segs[g->n++] = *s;
	memset(s, 0, sizeof *s);
	return 0;
}

static int by_segment_key(const void *a, const void *b)
{
	const drb_segment *x = a, *y = b;
	int c = strcmp(x->file, y->file);
	if (c)
		return c;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	/* a compacted segment before the small ones it covers */
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1;
	return y->level - x->level;
}

char *drb_segment_path(const char *host, const drb_segment *s, const char *ext)
{
	return drb_path_segment_level(host, s->generation, s->file, s->start, s->end, s->level, ext);
}

bool drb_segment_supersedes(const drb_segment *big, const drb_segment *small)
{
	const char *gb = big->generation ? big->generation : "";
	const char *gs = small->generation ? small->generation : "";
	/* a summary entry stands for many segments, possibly across files: never compared */
	if (big == small || big->run || small->run || strcmp(big->file, small->file) != 0 ||
	    strcmp(gb, gs) != 0 || big->file_created != small->file_created)
		return false;
	/* an empty segment closes a file after the range shipped before it: never inside one */
	if (small->start < big->start || small->end > big->end || small->start >= big->end ||
	    small->end == small->start)
		return false;
	return big->level > small->level ||
	       (big->level == small->level && big->end - big->start > small->end - small->start);
}

size_t drb_generation_drop_superseded(drb_generation *g)
{
	size_t kept = 0, below = 0, cover = SIZE_MAX;
	for (size_t k = 0; k < g->n; k++) {
		/* sorted by file, start, longest first: a covering segment comes before what it
		 * covers, and the kept one reaching furthest in the file is the only candidate */
		if (cover != SIZE_MAX && drb_segment_supersedes(&g->segs[cover], &g->segs[k])) {
			below += k < g->compacted;
			drb_segment_clear(&g->segs[k]);
			continue;
		}
		g->segs[kept] = g->segs[k];
		if (cover == SIZE_MAX || g->segs[kept].end > g->segs[cover].end ||
		    strcmp(g->segs[kept].file, g->segs[cover].file) != 0)
			cover = kept;
		kept++;
	}
	size_t dropped = g->n - kept;
	g->n = kept;
	g->compacted -= below;
	return dropped;
}

/* Fetch many small metadata objects with a few requests in flight: over S3 each is a round
 * trip, and a year holds 365 day catalogs, a day 288 segment descriptions. */
#define FETCHERS 4

typedef struct fetch_set {
	drb_repo *r;
	names *paths;
	size_t end; /* fetch paths[next..end) */
	size_t max;
	char **texts;
	size_t *lens;
	int *rcs;
	size_t next;
	pthread_mutex_t lock;
} fetch_set;

static void *fetcher(void *arg)
{
	fetch_set *f = arg;
	for (;;) {
		pthread_mutex_lock(&f->lock);
		size_t i = f->next < f->end ? f->next++ : SIZE_MAX;
		pthread_mutex_unlock(&f->lock);
		if (i == SIZE_MAX)
			return NULL;
		if (!ends_with(f->paths->v[i], ".json"))
			continue;
		f->rcs[i] = drb_repo_get_buf(f->r, f->paths->v[i], f->max, &f->texts[i], &f->lens[i]);
		if (f->rcs[i] < 0)
			drb_error_clear();
	}
}

#define FETCH_BATCH 32 /* texts held at once: a day catalog is ~200 KB */

/* Fetch paths[from, from + batch) into the arrays (sized for every path) with up to threads
 * requests in flight. */
static void fetch_batch_n(drb_repo *r, names *paths, size_t from, size_t batch, int threads,
                          size_t max, char **texts, size_t *lens, int *rcs)
{
	size_t end = from + batch < paths->n ? from + batch : paths->n;
	fetch_set f = {.r = r, .paths = paths, .end = end, .max = max, .texts = texts,
		       .lens = lens, .rcs = rcs, .next = from, .lock = PTHREAD_MUTEX_INITIALIZER};
	drb_pool_run(end - from < (size_t)threads ? (int)(end - from) : threads, fetcher, &f);
}

static void fetch_batch(drb_repo *r, names *paths, size_t from, size_t max, char **texts,
                        size_t *lens, int *rcs)
{
	fetch_batch_n(r, paths, from, FETCH_BATCH, FETCHERS, max, texts, lens, rcs);
}

/* Today's descriptions: small objects, each a round trip; more of them in flight (an S3
 * request is mostly waiting), a few KB each held at once. */
#define TAIL_FETCHERS 16
#define TAIL_BATCH    256

static int fetch_all(drb_repo *r, names *paths, size_t max, char ***texts, size_t **lens, int **rcs)
{
	(void)r, (void)max;
	*texts = calloc(paths->n + 1, sizeof **texts);
	*lens = calloc(paths->n + 1, sizeof **lens);
	*rcs = calloc(paths->n + 1, sizeof **rcs);
	if (!*texts || !*lens || !*rcs) {
		free(*texts);
		free(*lens);
		free(*rcs);
		*texts = NULL;
		*lens = NULL;
		*rcs = NULL;
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	return 0; /* the texts themselves come batch by batch, as the parsing reaches them */
}

static void fetched_free(names *paths, char **texts, size_t *lens, int *rcs)
{
	for (size_t i = 0; texts && i < paths->n; i++)
		free(texts[i]);
	free(texts);
	free(lens);
	free(rcs);
}

static int open_day_check(drb_repo *r, drb_catalog *c, drb_generation *g, const char *first,
                          const char *last_key, drb_segment *v, size_t *n, names *after);

/* Day catalogs first; then the descriptions the newest day catalog does not cover. */
static int load_generation(drb_repo *r, drb_catalog *c, drb_generation *g)
{
	names days = {0}, segs = {0};
	char prefix[600];
	int rc;
	char last_key[1200] = "", first_key[1200] = "";
	size_t newest_from = 0; /* where the newest day's segments begin in g */
	char **texts = NULL;
	size_t *lens = NULL;
	int *rcs = NULL;
	snprintf(prefix, sizeof prefix, "%s/catalog/%s/", c->host_id, g->name);
	rc = drb_repo_list(r, prefix, true, collect, &days);
	if (rc == 0)
		rc = fetch_all(r, &days, DRB_META_MAX, &texts, &lens, &rcs);
	for (size_t i = 0; i < days.n && rc == 0; i++) {
		if (i % FETCH_BATCH == 0)
			fetch_batch(r, &days, i, DRB_META_MAX, texts, lens, rcs);
		char *text = texts[i];
		size_t len = lens[i];
		json_t *j = NULL;
		texts[i] = NULL;
		if (!ends_with(days.v[i], ".json"))
			continue;
		if (rcs[i] == 0 && !(len = meta_accept(r, c, days.v[i], "catalog", text, len)))
			rcs[i] = DRB_ERR_CRYPTO;
		if (rcs[i] < 0 || !(j = load_json(text, len, days.v[i])) ||
		    !json_is_array(json_object_get(j, "segments"))) {
			/* a damaged day: read its segments one by one below */
			drb_log_warn("repository %s: day catalog %s is unreadable; reading its segments "
				     "one by one",
				     r->name, days.v[i]);
			drb_error_clear();
			free(text);
			json_decref(j);
			break;
		}
		json_t *arr = json_object_get(j, "segments"), *item;
		size_t k;
		newest_from = g->n;
		json_array_foreach(arr, k, item)
		{
			drb_segment s;
			if (segment_from(item, days.v[i], &s) < 0 || (rc = gen_add(g, &s)) < 0) {
				if (rc == 0)
					drb_error_clear();
				continue;
			}
		}
		json_t *last = json_object_get(j, "last");
		if (json_is_string(last))
			snprintf(last_key, sizeof last_key, "%s", json_string_value(last));
		g->last_open = json_is_true(json_object_get(j, "open"));
		g->last_writes = json_integer_value(json_object_get(j, "writes"));
		json_t *first = json_object_get(j, "first");
		snprintf(first_key, sizeof first_key, "%s",
		         json_is_string(first) ? json_string_value(first) : "");
		const char *slash = strrchr(days.v[i], '/');
		free(g->last_day);
		g->last_day = strndup(slash + 1, 8);
		c->n_day_catalogs++;
		g->compacted = g->n;
		free(text);
		json_decref(j);
	}
	fetched_free(&days, texts, lens, rcs);
	texts = NULL;
	lens = NULL;
	rcs = NULL;
	snprintf(prefix, sizeof prefix, "%s/binlog/%s/", c->host_id, g->name);
	if (rc == 0 && g->last_open && first_key[0]) {
		/* the open day as the repository bears it out; its tail from the same listing */
		size_t n = g->n - newest_from;
		rc = open_day_check(r, c, g, first_key, last_key, g->segs + newest_from, &n, &segs);
		if (rc == 0)
			g->n = g->compacted = newest_from + n;
	} else if (rc == 0) {
		rc = drb_repo_list_after(r, prefix, last_key, collect, &segs);
	}
	if (rc == 0)
		rc = fetch_all(r, &segs, 1 << 20, &texts, &lens, &rcs);
	for (size_t i = 0; i < segs.n && rc == 0; i++) {
		if (i % FETCH_BATCH == 0)
			fetch_batch(r, &segs, i, 1 << 20, texts, lens, rcs);
		char *text = texts[i];
		size_t len = lens[i];
		drb_segment s;
		texts[i] = NULL;
		if (!ends_with(segs.v[i], ".json") || (last_key[0] && strcmp(segs.v[i], last_key) <= 0)) {
			free(text);
			continue;
		}
		c->n_segment_reads++;
		if ((rc = rcs[i]) < 0) {
			free(text);
			rc = drb_error(rc, "repository %s: %s could not be read", r->name, segs.v[i]);
			break;
		}
		if (!(len = meta_accept(r, c, segs.v[i], "binlog", text, len))) {
			/* untrusted: kept out of the chain, which then shows a gap */
		} else if (drb_segment_from_json(text, len, segs.v[i], &s) < 0) {
			drb_log_warn("repository %s: %s is damaged and is ignored", r->name, segs.v[i]);
			drb_error_clear();
		} else {
			rc = gen_add(g, &s);
		}
		free(text);
	}
	fetched_free(&segs, texts, lens, rcs);
	if (rc == 0 && g->n) {
		qsort(g->segs, g->n, sizeof *g->segs, by_segment_key);
		drb_generation_drop_superseded(g);
	}
	names_free(&days);
	names_free(&segs);
	return rc;
}

/* ------------------------------------------------------------------ summary loading */

/* Does big make small redundant: the same file (name and creation), small's non-empty range
 * inside big's, and big of a higher level or longer; an identical range and level counts as a
 * copy, which the later one read replaces. */
static bool sum_supersedes(const drb_segment *big, const drb_segment *small)
{
	if (strcmp(big->file, small->file) != 0 || big->file_created != small->file_created)
		return false;
	if (small->start < big->start || small->end > big->end)
		return false;
	if (small->start == small->end)
		return big->start == small->start && big->end == small->end &&
		       big->level == small->level && big->closed == small->closed;
	return big->level > small->level || big->end - big->start > small->end - small->start ||
	       (big->level == small->level && big->start == small->start && big->end == small->end);
}

/* The compacted segments (level >= 1) seen so far in a generation, by file name: what a later
 * day may hold that supersedes segments of an earlier day. */
typedef struct big_set {
	drb_segment **slots; /* open addressing over file names; each a list in `lists` */
	size_t *lens, *caps;
	size_t cap, used;
} big_set;

static size_t name_hash(const char *s)
{
	size_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void bigs_free(big_set *b)
{
	for (size_t i = 0; i < b->cap; i++) {
		for (size_t k = 0; b->slots[i] && k < b->lens[i]; k++)
			drb_segment_clear(&b->slots[i][k]);
		free(b->slots[i]);
	}
	free(b->slots);
	free(b->lens);
	free(b->caps);
	memset(b, 0, sizeof *b);
}

static size_t bigs_find(const big_set *b, const char *file)
{
	size_t i = name_hash(file) & (b->cap - 1);
	while (b->slots[i] && strcmp(b->slots[i][0].file, file) != 0)
		i = (i + 1) & (b->cap - 1);
	return i;
}

static int bigs_add(big_set *b, const drb_segment *s)
{
	if ((b->used + 1) * 2 > b->cap) {
		big_set n = {.cap = b->cap ? b->cap * 2 : 64};
		n.slots = calloc(n.cap, sizeof *n.slots);
		n.lens = calloc(n.cap, sizeof *n.lens);
		n.caps = calloc(n.cap, sizeof *n.caps);
		if (!n.slots || !n.lens || !n.caps) {
			free(n.slots), free(n.lens), free(n.caps);
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		}
		for (size_t i = 0; i < b->cap; i++) {
			if (!b->slots[i])
				continue;
			size_t k = bigs_find(&n, b->slots[i][0].file);
			n.slots[k] = b->slots[i];
			n.lens[k] = b->lens[i];
			n.caps[k] = b->caps[i];
		}
		n.used = b->used;
		free(b->slots), free(b->lens), free(b->caps);
		*b = n;
	}
	size_t i = bigs_find(b, s->file);
	if (b->lens[i] == b->caps[i]) {
		size_t cap = b->caps[i] ? b->caps[i] * 2 : 2;
		drb_segment *v = realloc(b->slots[i], cap * sizeof *v);
		if (!v)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		if (!b->slots[i])
			b->used++;
		b->slots[i] = v;
		b->caps[i] = cap;
	}
	drb_segment *d = &b->slots[i][b->lens[i]];
	memset(d, 0, sizeof *d);
	/* what the rule needs: file, creation, range, level */
	d->file = strdup(s->file);
	d->generation = strdup("");
	d->start_gtid = strdup("");
	d->end_gtid = strdup("");
	if (!d->file || !d->generation || !d->start_gtid || !d->end_gtid) {
		drb_segment_clear(d);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	d->file_created = s->file_created;
	d->start = s->start;
	d->end = s->end;
	d->level = s->level;
	d->closed = s->closed;
	b->lens[i]++;
	return 0;
}

static bool bigs_supersede(const big_set *b, const drb_segment *s)
{
	if (!b->cap)
		return false;
	size_t i = bigs_find(b, s->file);
	for (size_t k = 0; b->slots[i] && k < b->lens[i]; k++)
		if (sum_supersedes(&b->slots[i][k], s))
			return true;
	return false;
}

/* Drop from v[0..*n) (sorted by key) what another of them supersedes, or a big one of a later
 * day (bigs); then count them and remember its own big ones. */
static size_t drop_superseded(drb_segment *v, size_t n, const big_set *bigs)
{
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		bool gone = bigs && bigs_supersede(bigs, &v[i]);
		/* the candidates of the same file lie near it in key order */
		for (size_t k = kept; !gone && k-- > 0 && strcmp(v[k].file, v[i].file) == 0;)
			gone = v[k].level > 0 && sum_supersedes(&v[k], &v[i]) &&
			       !(v[k].level == v[i].level && v[k].start == v[i].start &&
			         v[k].end == v[i].end);
		for (size_t k = i + 1; !gone && k < n && strcmp(v[k].file, v[i].file) == 0; k++)
			gone = v[k].level > 0 && sum_supersedes(&v[k], &v[i]);
		if (gone) {
			drb_segment_clear(&v[i]);
			continue;
		}
		v[kept++] = v[i];
	}
	return kept;
}

/* Segments of files a full backup's snapshot lies in (or the file after it) stay real
 * entries: planning finds the first segment of a chain by them and checks their identity. */
static bool keep_real(const drb_catalog *c, const drb_segment *s)
{
	long no = drb_binlog_number(s->file);
	for (size_t i = 0; i < c->n_fulls; i++) {
		long f = drb_binlog_number(c->fulls[i]->binlog_file);
		if (strcmp(s->file, c->fulls[i]->binlog_file) == 0 ||
		    (no >= 0 && (no == f || no == f + 1)))
			return true;
	}
	return false;
}

static int level_of(const drb_segment *s)
{
	return s->level < 0 ? 0 : s->level >= DRB_LEVELS ? DRB_LEVELS - 1 : s->level;
}

static void budget_segment(drb_catalog *c, const drb_segment *s)
{
	c->budget.level_objects[level_of(s)]++;
	c->budget.level_bytes[level_of(s)] += s->stored_bytes;
	c->budget.descriptions++;
	if (s->shipped > c->loaded_at - 86400 && s->shipped <= c->loaded_at + FUTURE_SLACK) {
		c->budget.segments_last_day++;
		c->budget.puts_last_day += 2; /* the object and its description */
	}
}

/* Is s at or after the tombstone's boundary of generation g (not deleted by expire)? */
static bool not_expired(const drb_catalog *c, const drb_generation *g, const drb_segment *s)
{
	for (size_t t = 0; t < c->n_tombstones; t++) {
		const drb_tombstone *ts = &c->tombstones[t];
		if (!ts->generation || strcmp(ts->generation, g->name) != 0)
			continue;
		char *key = drb_segment_path(c->host_id, s, "json");
		bool gone = key && strcmp(key, ts->before) < 0;
		free(key);
		if (gone)
			return false;
	}
	return true;
}

/* The position of a byte in the history: file name, then offset (names sort in binlog order). */
static int pos_cmp(const char *fa, uint64_t a, const char *fb, uint64_t b)
{
	int c = strcmp(fa, fb);
	return c ? c : a < b ? -1 : a > b;
}

/* Append s to the run r (which it continues). */
static void run_extend(drb_segment *r, drb_segment *s)
{
	if (!r->run) {
		r->run = 1;
		memset(r->sha256, 0, sizeof r->sha256);
	}
	r->run++;
	r->end = s->end;
	r->closed = s->closed;
	free(r->end_gtid);
	r->end_gtid = s->end_gtid;
	s->end_gtid = NULL;
	if (strcmp(s->file, r->file) != 0) {
		free(r->end_file);
		r->end_file = s->file;
		s->file = NULL;
	}
	if (s->first_event && (!r->first_event || s->first_event < r->first_event))
		r->first_event = s->first_event;
	if (s->last_event > r->last_event)
		r->last_event = s->last_event;
	r->complete_until = s->complete_until;
	r->stored_bytes += s->stored_bytes;
	r->events += s->events;
	r->shipped = s->shipped;
	if (s->level > r->level)
		r->level = s->level;
	drb_segment_clear(s);
}

/* One day catalog's segments (sorted, superseded ones dropped) into summary entries of out:
 * runs of segments that continue each other, cut at a gap, at a segment planning needs to see
 * (keep_real) and before the day's last segment, which stays real. */
static int summarise_day(drb_catalog *c, drb_day_summary *d, int day, drb_generation *out,
                         drb_segment *v, size_t n)
{
	drb_segment run = {0};
	bool open = false;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		drb_segment *s = &v[i];
		d->segments++;
		d->bytes += s->stored_bytes;
		d->events += s->events;
		d->level_objects[level_of(s)]++;
		d->level_bytes[level_of(s)] += s->stored_bytes;
		if (s->first_event && (!d->first_event || s->first_event < d->first_event))
			d->first_event = s->first_event;
		if (s->last_event > d->last_event)
			d->last_event = s->last_event;
		if (drb_segment_covered_until(s) > d->covered_until)
			d->covered_until = drb_segment_covered_until(s);
		if (i && !drb_segment_continues(&v[i - 1], s))
			d->gaps++;
		budget_segment(c, s);
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		drb_segment *s = &v[i];
		s->day = day;
		bool real = i == n - 1 || keep_real(c, s);
		if (open && (real || !drb_segment_continues(&run, s))) {
			if (run.run == 1)
				run.run = 0;
			rc = gen_add(out, &run);
			open = false;
		}
		if (rc < 0)
			break;
		if (real) {
			rc = gen_add(out, s);
		} else if (open) {
			run_extend(&run, s);
		} else {
			run = *s;
			memset(s, 0, sizeof *s);
			open = true;
		}
	}
	if (open && rc == 0)
		rc = gen_add(out, &run);
	if (open && rc < 0)
		drb_segment_clear(&run);
	for (size_t i = 0; i < n; i++)
		drb_segment_clear(&v[i]);
	return rc;
}

/* Parse one day catalog's segments into tmp (emptied first); dropped: how many superseded. */
static int day_segments(drb_catalog *c, drb_generation *g, const char *path, json_t *j,
                        const big_set *bigs, drb_generation *tmp, size_t *dropped)
{
	json_t *arr = json_object_get(j, "segments"), *item;
	size_t k;
	int rc = 0;
	tmp->n = 0;
	json_array_foreach(arr, k, item)
	{
		drb_segment s;
		if (segment_from(item, path, &s) < 0) {
			drb_error_clear();
			continue;
		}
		if (!not_expired(c, g, &s)) {
			drb_segment_clear(&s);
			continue;
		}
		if ((rc = gen_add(tmp, &s)) < 0) {
			drb_segment_clear(&s);
			return rc;
		}
	}
	if (tmp->n)
		qsort(tmp->segs, tmp->n, sizeof *tmp->segs, by_segment_key);
	size_t before = tmp->n;
	tmp->n = drop_superseded(tmp->segs, tmp->n, bigs);
	*dropped = before - tmp->n;
	return 0;
}

static void gen_clear(drb_generation *g)
{
	for (size_t k = 0; k < g->n; k++)
		drb_segment_clear(&g->segs[k]);
	free(g->segs);
	free(g->last_day);
	for (size_t d = 0; d < g->n_days; d++)
		free(g->days[d].path);
	free(g->days);
	char *name = g->name;
	memset(g, 0, sizeof *g);
	g->name = name;
}

/* The names of generation g's objects after last_key, into segs. */
static int list_tail(drb_repo *r, drb_catalog *c, drb_generation *g, const char *last_key,
                     names *segs)
{
	char prefix[600];
	snprintf(prefix, sizeof prefix, "%s/binlog/%s/", c->host_id, g->name);
	return drb_repo_list_after(r, prefix, last_key, collect, segs);
}

/* The descriptions among segs (listed by list_tail) into tail; segs is freed. */
static int load_tail_names(drb_repo *r, drb_catalog *c, drb_generation *g, const char *last_key,
                           names *segs_in, drb_generation *tail)
{
	names segs = *segs_in;
	char **texts = NULL;
	size_t *lens = NULL;
	int *rcs = NULL;
	int rc = fetch_all(r, &segs, 1 << 20, &texts, &lens, &rcs);
	memset(segs_in, 0, sizeof *segs_in);
	for (size_t i = 0; i < segs.n && rc == 0; i++) {
		if (i % TAIL_BATCH == 0)
			fetch_batch_n(r, &segs, i, TAIL_BATCH, TAIL_FETCHERS, 1 << 20, texts, lens,
			              rcs);
		char *text = texts[i];
		size_t len = lens[i];
		drb_segment s;
		texts[i] = NULL;
		if (!ends_with(segs.v[i], ".json") ||
		    (last_key[0] && strcmp(segs.v[i], last_key) <= 0)) {
			free(text);
			continue;
		}
		c->n_segment_reads++;
		if ((rc = rcs[i]) < 0) {
			free(text);
			rc = drb_error(rc, "repository %s: %s could not be read", r->name,
			               segs.v[i]);
			break;
		}
		if (!(len = meta_accept(r, c, segs.v[i], "binlog", text, len))) {
			/* untrusted: kept out of the chain, which then shows a gap */
		} else if (drb_segment_from_json(text, len, segs.v[i], &s) < 0) {
			drb_log_warn("repository %s: %s is damaged and is ignored", r->name,
			             segs.v[i]);
			drb_error_clear();
		} else if (!not_expired(c, g, &s)) {
			drb_segment_clear(&s);
		} else if ((rc = gen_add(tail, &s)) < 0) {
			drb_segment_clear(&s);
		}
		free(text);
	}
	fetched_free(&segs, texts, lens, rcs);
	names_free(&segs);
	if (rc == 0 && tail->n)
		qsort(tail->segs, tail->n, sizeof *tail->segs, by_segment_key);
	tail->n = drop_superseded(tail->segs, tail->n, NULL);
	for (size_t k = 0; k < tail->n; k++)
		tail->segs[k].day = -1;
	return rc;
}

/* The descriptions written since the newest day catalog (keys after last_key), into tail. */
static int load_tail(drb_repo *r, drb_catalog *c, drb_generation *g, const char *last_key,
                     drb_generation *tail)
{
	names segs = {0};
	int rc = list_tail(r, c, g, last_key, &segs);
	if (rc == 0)
		return load_tail_names(r, c, g, last_key, &segs, tail);
	names_free(&segs);
	return rc;
}

/* Day catalogs fetched, checked and parsed into segments by a few threads at once (parsing
 * is most of a listing's time); the bookkeeping of the checks stays with the caller. */
typedef struct day_out {
	drb_generation segs; /* sorted, what the day itself supersedes dropped */
	drb_meta_check chk;
	int got;    /* the fetch */
	bool ok;    /* checked and parsed */
	char *last; /* its "last" key */
	char *first; /* and "first" */
	bool open;  /* written while its day was still growing */
	int64_t writes;
} day_out;

typedef struct day_job {
	drb_repo *r;
	drb_catalog *c;
	drb_generation *g;
	names *paths;
	day_out *out;
	size_t next, end;
	size_t limit; /* a stream's window: workers take days below it */
	bool *done;   /* a stream's: day i is ready */
	pthread_mutex_t lock;
	pthread_cond_t cv; /* a day done, or the window moved */
} day_job;

/* Fetch, check and parse day i into f->out[i]. */
static void day_work(day_job *f, size_t i)
{
	day_out *o = &f->out[i];
	const char *path = f->paths->v[i];
	char *text = NULL;
	size_t len = 0, dropped = 0;
	memset(o, 0, sizeof *o);
	o->got = drb_repo_get_buf(f->r, path, DRB_META_MAX, &text, &len);
	if (o->got == 0) {
		drb_meta_verify(f->r->trust, f->c->host_id, path, "catalog", text, len, &o->chk);
		json_t *j = NULL;
		if (drb_meta_usable(f->r->trust, &o->chk) &&
		    (j = load_json(text, o->chk.body_len ? o->chk.body_len : 1, path)) &&
		    json_is_array(json_object_get(j, "segments")) &&
		    day_segments(f->c, f->g, path, j, NULL, &o->segs, &dropped) == 0) {
			json_t *last = json_object_get(j, "last");
			o->ok = true;
			o->last = json_is_string(last) ? strdup(json_string_value(last)) : NULL;
			json_t *first = json_object_get(j, "first");
			o->first = json_is_string(first) ? strdup(json_string_value(first)) : NULL;
			o->open = json_is_true(json_object_get(j, "open"));
			o->writes = json_integer_value(json_object_get(j, "writes"));
		}
		json_decref(j);
	}
	drb_error_clear();
	free(text);
}

static void *day_worker(void *arg)
{
	day_job *f = arg;
	pthread_mutex_lock(&f->lock);
	for (;;) {
		while (f->done && f->next < f->end && f->next >= f->limit)
			pthread_cond_wait(&f->cv, &f->lock);
		if (f->next >= f->end)
			break;
		size_t i = f->next++;
		pthread_mutex_unlock(&f->lock);
		day_work(f, i);
		pthread_mutex_lock(&f->lock);
		if (f->done) {
			f->done[i] = true;
			pthread_cond_broadcast(&f->cv);
		}
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

/* Day catalogs parsed ahead (a day of 5-minute segments is ~100 KB parsed), by up to
 * DAY_FETCHERS threads: on S3 a fetch is mostly waiting. */
#define DAY_BATCH 16
#ifndef DAY_FETCHERS
#define DAY_FETCHERS 8
#endif
/* A stream keeps up to DAY_WINDOW days fetched and parsed ahead of the one consumed, so that
 * over S3 the requests never wait for the parsing (a year is 365 round trips). */
#define DAY_WINDOW 32

static void day_batch(drb_repo *r, drb_catalog *c, drb_generation *g, names *paths, size_t from,
                      day_out *out)
{
	size_t end = from + DAY_BATCH < paths->n ? from + DAY_BATCH : paths->n;
	day_job f = {.r = r,
	             .c = c,
	             .g = g,
	             .paths = paths,
	             .out = out,
	             .next = from,
	             .end = end,
	             .lock = PTHREAD_MUTEX_INITIALIZER};
	drb_pool_run(end - from < DAY_FETCHERS ? (int)(end - from) : DAY_FETCHERS, day_worker, &f);
}

/* Days paths[0..n) read in order by the caller while workers read ahead of it. */
typedef struct day_stream {
	day_job job;
	pthread_t runner;
	bool threaded;
} day_stream;

static void *day_stream_run(void *arg)
{
	day_job *f = arg;
	size_t n = f->end;
	drb_pool_run(n < DAY_FETCHERS ? (int)n : DAY_FETCHERS, day_worker, f);
	return NULL;
}

static int day_stream_start(day_stream *st, drb_repo *r, drb_catalog *c, drb_generation *g,
                            names *paths, day_out *out)
{
	memset(st, 0, sizeof *st);
	st->job = (day_job){.r = r,
	                    .c = c,
	                    .g = g,
	                    .paths = paths,
	                    .out = out,
	                    .end = paths->n,
	                    .limit = DAY_WINDOW};
	if (!(st->job.done = calloc(paths->n + 1, sizeof *st->job.done)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&st->job.lock, NULL);
	pthread_cond_init(&st->job.cv, NULL);
	/* without a thread the caller reads each day itself as it reaches it */
	st->threaded = paths->n && pthread_create(&st->runner, NULL, day_stream_run, &st->job) == 0;
	return 0;
}

/* Wait until day i is read; then the window moves past it. */
static void day_stream_get(day_stream *st, size_t i)
{
	day_job *f = &st->job;
	if (!st->threaded) {
		day_work(f, i);
		return;
	}
	pthread_mutex_lock(&f->lock);
	while (!f->done[i])
		pthread_cond_wait(&f->cv, &f->lock);
	f->limit = i + 1 + DAY_WINDOW;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->lock);
}

/* Stop reading ahead (the days not taken yet are left) and wait for the workers. */
static void day_stream_end(day_stream *st)
{
	day_job *f = &st->job;
	if (st->threaded) {
		pthread_mutex_lock(&f->lock);
		f->end = f->next;
		pthread_cond_broadcast(&f->cv);
		pthread_mutex_unlock(&f->lock);
		pthread_join(st->runner, NULL);
	}
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cv);
	free(f->done);
	f->done = NULL;
}

static void day_out_clear(day_out *o)
{
	for (size_t k = 0; k < o->segs.n; k++)
		drb_segment_clear(&o->segs.segs[k]);
	free(o->segs.segs);
	free(o->last);
	free(o->first);
	memset(o, 0, sizeof *o);
}

/* The current day's catalog (open) is rewritten as the day grows, so the segments it names
 * (v[0..*n), filtered in place) are checked against one listing of the generation from its
 * first key: one whose description is gone from this repository is dropped, as reading the
 * descriptions would have left it out (a region that lost today's objects shows the gap, and
 * planning takes the other region). The names after last_key, today's tail, go to *after. */
static int open_day_check(drb_repo *r, drb_catalog *c, drb_generation *g, const char *first,
                          const char *last_key, drb_segment *v, size_t *n, names *after)
{
	names all = {0};
	char from[1200];
	snprintf(from, sizeof from, "%s", first);
	size_t len = strlen(from);
	if (len)
		from[len - 1]--; /* start-after is exclusive: just before the first key */
	int rc = list_tail(r, c, g, from, &all);
	size_t w = 0;
	for (size_t i = 0; i < all.n; i++) {
		char **nv = NULL;
		if (rc < 0 || strcmp(all.v[i], last_key) <= 0) {
			all.v[w++] = all.v[i];
		} else if (!(nv = realloc(after->v, (after->n + 1) * sizeof *nv))) {
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			all.v[w++] = all.v[i];
		} else {
			after->v = nv;
			after->v[after->n++] = all.v[i];
		}
	}
	all.n = w;
	if (rc == 0 && all.n)
		qsort(all.v, all.n, sizeof *all.v, by_str);
	size_t kept = 0;
	for (size_t k = 0; rc == 0 && k < *n; k++) {
		char *key = drb_segment_path(c->host_id, &v[k], "json");
		bool here = key && all.n && bsearch(&key, all.v, all.n, sizeof *all.v, by_str);
		free(key);
		if (here) {
			v[kept++] = v[k];
			continue;
		}
		drb_log_debug(
		    "repository %s: today's catalog names a segment of %s:%llu that is not "
		    "there: left out",
		    r->name, v[k].file, (unsigned long long)v[k].start);
		drb_segment_clear(&v[k]);
	}
	if (rc == 0)
		*n = kept;
	names_free(&all);
	return rc;
}

static int load_open_day(drb_repo *r, drb_catalog *c, drb_generation *g, day_out *o,
                         const char *last_key, drb_generation *tail)
{
	names after = {0};
	int rc = open_day_check(r, c, g, o->first, last_key, o->segs.segs, &o->segs.n, &after);
	if (rc == 0)
		return load_tail_names(r, c, g, last_key, &after, tail);
	names_free(&after);
	return rc;
}

/* Read one generation as summaries: the newest day catalog first (its last key bounds the
 * listing of the descriptions written since), those descriptions, then the older days from the
 * newest back, each parsed, summarised and freed before the next, so that a compacted segment
 * of a later day is known when an earlier day still names the small ones it replaced. Memory
 * grows with the number of days and of compacted segments, not of segments. */
static int load_generation_summary(drb_repo *r, drb_catalog *c, drb_generation *g)
{
	names days = {0};
	char prefix[600], last_key[1200] = "";
	big_set bigs = {0};
	drb_generation tail = {0}, *pending = NULL;
	drb_budget saved = c->budget;
	size_t saved_days = c->n_day_catalogs, saved_reads = c->n_segment_reads;
	day_out *out = NULL;
	bool damaged = false;
	snprintf(prefix, sizeof prefix, "%s/catalog/%s/", c->host_id, g->name);
	int rc = drb_repo_list(r, prefix, true, collect, &days);
	/* only .json names, newest first */
	size_t nd = 0;
	for (size_t i = 0; i < days.n; i++) {
		if (ends_with(days.v[i], ".json"))
			days.v[nd++] = days.v[i];
		else
			free(days.v[i]);
	}
	days.n = nd;
	for (size_t i = 0; i < nd / 2; i++) {
		char *t = days.v[i];
		days.v[i] = days.v[nd - 1 - i];
		days.v[nd - 1 - i] = t;
	}
	if (rc == 0 && !(g->days = calloc(nd + 1, sizeof *g->days)))
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	if (rc == 0 && !(pending = calloc(nd + 1, sizeof *pending)))
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	if (rc == 0 && !(out = calloc(nd + 1, sizeof *out)))
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < nd; i++) {
		const char *slash = strrchr(days.v[i], '/');
		drb_day_summary *d = &g->days[nd - 1 - i];
		snprintf(d->day, sizeof d->day, "%.8s", slash + 1);
		if (!(d->path = strdup(days.v[i])))
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	g->n_days = rc == 0 ? nd : 0;
	/* the days read ahead while the newest one's last key bounds the listing of what came
	 * since, and while those descriptions are read */
	day_stream st;
	bool streaming = false;
	if (rc == 0 && nd && (rc = day_stream_start(&st, r, c, g, &days, out)) == 0)
		streaming = true;
	if (rc == 0 && nd) {
		day_stream_get(&st, 0);
		if (out[0].ok && out[0].last)
			snprintf(last_key, sizeof last_key, "%s", out[0].last);
		damaged = !out[0].ok;
		g->last_open = out[0].open;
		g->last_writes = out[0].writes;
	}
	if (rc == 0 && !damaged && nd && out[0].open && out[0].first)
		rc = load_open_day(r, c, g, &out[0], last_key, &tail);
	else if (rc == 0 && !damaged)
		rc = load_tail(r, c, g, last_key, &tail);
	for (size_t k = 0; rc == 0 && k < tail.n; k++) {
		budget_segment(c, &tail.segs[k]);
		if (tail.segs[k].level > 0)
			rc = bigs_add(&bigs, &tail.segs[k]);
	}
	/* the days, newest first, each one's entries gathered apart and joined oldest first */
	for (size_t i = 0; i < nd && rc == 0 && !damaged; i++) {
		if (i)
			day_stream_get(&st, i);
		day_out *o = &out[i];
		if (o->got == 0 && !meta_note(r, c, days.v[i], &o->chk))
			o->ok = false;
		if (!o->ok) {
			damaged = true;
			break;
		}
		int day = (int)(nd - 1 - i);
		size_t before = o->segs.n;
		o->segs.n = drop_superseded(o->segs.segs, o->segs.n, &bigs);
		g->days[day].dropped = before - o->segs.n;
		for (size_t k = 0; k < o->segs.n && rc == 0; k++)
			if (o->segs.segs[k].level > 0)
				rc = bigs_add(&bigs, &o->segs.segs[k]);
		if (rc == 0)
			rc = summarise_day(c, &g->days[day], day, &pending[day], o->segs.segs,
			                   o->segs.n);
		o->segs.n = 0;
		day_out_clear(o);
		c->n_day_catalogs++;
	}
	if (streaming)
		day_stream_end(&st);
	for (size_t d = 0; pending && d < nd; d++) {
		for (size_t k = 0; k < pending[d].n; k++) {
			if (rc == 0 && !damaged)
				rc = gen_add(g, &pending[d].segs[k]);
			drb_segment_clear(&pending[d].segs[k]);
		}
		free(pending[d].segs);
	}
	free(pending);
	if (rc == 0 && !damaged) {
		g->compacted = g->n;
		for (size_t k = 0; k < tail.n && rc == 0; k++)
			rc = gen_add(g, &tail.segs[k]);
		if (nd && !(g->last_day = strdup(g->days[nd - 1].day)))
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		c->budget.day_catalogs += nd;
		int64_t t = 0;
		char id[17];
		snprintf(id, sizeof id, "%.8sT000000Z", nd ? g->days[nd - 1].day : "");
		/* the newest day catalog was written after its day ended, or is the current
		 * day's, rewritten as it grew */
		if (nd && drb_time_parse(id, &t) == 0 && t + 2 * 86400 > c->loaded_at)
			c->budget.puts_last_day +=
			    g->last_open && g->last_writes > 0 ? (uint64_t)g->last_writes : 1;
		drb_error_clear();
	}
	for (size_t k = 0; k < tail.n; k++)
		drb_segment_clear(&tail.segs[k]);
	free(tail.segs);
	for (size_t i = 0; out && i < nd; i++)
		day_out_clear(&out[i]);
	free(out);
	names_free(&days);
	bigs_free(&bigs);
	if (rc == 0 && damaged) {
		/* a day that cannot be read whole: the generation is read as before, segment by
		 * segment where it must */
		drb_log_warn("repository %s: a day catalog of generation %s is unreadable; reading "
		             "the generation whole",
		             r->name, g->name);
		c->budget = saved;
		c->n_day_catalogs = saved_days;
		c->n_segment_reads = saved_reads;
		gen_clear(g);
		rc = load_generation(r, c, g);
		for (size_t k = 0; rc == 0 && k < g->n; k++)
			budget_segment(c, &g->segs[k]);
	}
	return rc;
}

static int by_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return x < y ? -1 : x > y;
}

static int by_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? -1 : x > y;
}

int drb_catalog_expand(drb_catalog *c, drb_generation *g, const int *days_in, size_t n)
{
	if (!c->summary || !c->repo)
		return drb_error(DRB_ERR_FAILED, "the catalog holds no summaries to expand");
	int *days = malloc((n + 1) * sizeof *days);
	names paths = {0};
	day_out *out = NULL;
	size_t nd = 0;
	int rc = 0;
	if (!days)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	/* the days asked for, once each, not expanded yet */
	memcpy(days, days_in, n * sizeof *days);
	qsort(days, n, sizeof *days, by_int);
	for (size_t i = 0; i < n; i++)
		if (days[i] >= 0 && (size_t)days[i] < g->n_days && !g->days[days[i]].expanded &&
		    (!nd || days[nd - 1] != days[i]))
			days[nd++] = days[i];
	if (nd && (!(paths.v = calloc(nd, sizeof *paths.v)) || !(out = calloc(nd, sizeof *out))))
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < nd; i++)
		if (!(paths.v[paths.n++] = strdup(g->days[days[i]].path)))
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < nd; i += DAY_BATCH)
		day_batch(c->repo, c, g, &paths, i, out); /* checked again, counted once */
	for (size_t i = 0; rc == 0 && i < nd; i++)
		if (!out[i].ok)
			rc = drb_error(DRB_ERR_FORMAT,
			               "repository %s: day catalog %s cannot be read again",
			               c->repo->name, paths.v[i]);
	/* what the summary kept of each day: the spans of its entries (a segment a later day
	 * superseded lies in none) */
	typedef struct span {
		const char *file, *end_file;
		uint64_t start, end;
	} span;
	span *spans = NULL;
	size_t *first = NULL, ns = 0; /* spans of day i: [first[i], first[i + 1]) */
	if (rc == 0 && nd &&
	    (!(spans = calloc(g->n + 1, sizeof *spans)) ||
	     !(first = calloc(nd + 1, sizeof *first))))
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < nd; i++) {
		first[i] = ns;
		for (size_t k = 0; k < g->n; k++)
			if (g->segs[k].day == days[i])
				spans[ns++] =
				    (span){g->segs[k].file, drb_segment_end_file(&g->segs[k]),
				           g->segs[k].start, g->segs[k].end};
		if (i + 1 == nd)
			first[nd] = ns;
	}
	drb_generation add = {0};
	for (size_t i = 0; rc == 0 && i < nd; i++)
		for (size_t q = 0; rc == 0 && q < out[i].segs.n; q++) {
			drb_segment *s = &out[i].segs.segs[q];
			/* inside an entry's span; or holding one whole: a compaction rewrote the
			 * day since it was summarised (the current day, say), and the larger
			 * segment now stands in the catalog for the small ones the summary saw */
			bool in = false;
			for (size_t k = first[i]; k < first[i + 1] && !in; k++)
				in = (pos_cmp(s->file, s->start, spans[k].file, spans[k].start) >=
				          0 &&
				      pos_cmp(s->file, s->end, spans[k].end_file, spans[k].end) <=
				          0) ||
				     (s->level > 0 &&
				      pos_cmp(s->file, s->start, spans[k].file, spans[k].start) <=
				          0 &&
				      pos_cmp(s->file, s->end, spans[k].end_file, spans[k].end) >=
				          0);
			if (in) {
				s->day = days[i];
				rc = gen_add(&add, s);
			}
		}
	free(spans);
	free(first);
	if (rc == 0) {
		size_t w = 0;
		for (size_t k = 0; k < g->n; k++) {
			int *hit = g->segs[k].day >= 0 && nd
			               ? bsearch(&g->segs[k].day, days, nd, sizeof *days, by_int)
			               : NULL;
			if (hit) {
				drb_segment_clear(&g->segs[k]);
				continue;
			}
			g->segs[w++] = g->segs[k];
		}
		g->n = w;
		for (size_t k = 0; k < add.n && rc == 0; k++)
			rc = gen_add(g, &add.segs[k]);
	}
	for (size_t k = 0; k < add.n; k++)
		drb_segment_clear(&add.segs[k]);
	free(add.segs);
	for (size_t i = 0; out && i < nd; i++)
		day_out_clear(&out[i]);
	free(out);
	names_free(&paths);
	if (rc == 0 && nd) {
		qsort(g->segs, g->n, sizeof *g->segs, by_segment_key);
		drb_generation_drop_superseded(g);
		g->compacted = 0;
		for (size_t k = 0; k < g->n; k++)
			g->compacted += g->segs[k].day >= 0;
		for (size_t i = 0; i < nd; i++)
			g->days[days[i]].expanded = true;
		c->n_day_expands += nd;
	}
	free(days);
	return rc;
}

static int load_generations(drb_repo *r, drb_catalog *c)
{
	names dirs = {0};
	char prefix[512];
	snprintf(prefix, sizeof prefix, "%s/binlog/", c->host_id);
	int rc = drb_repo_list(r, prefix, false, collect, &dirs);
	c->gens = calloc(dirs.n + 1, sizeof *c->gens);
	if (!c->gens)
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < dirs.n && rc == 0; i++) {
		drb_generation *g = &c->gens[c->n_gens++];
		g->name = strndup(dirs.v[i] + strlen(prefix),
				  strlen(dirs.v[i]) - strlen(prefix) - 1);
		rc = c->summary ? load_generation_summary(r, c, g) : load_generation(r, c, g);
	}
	names_free(&dirs);
	return rc;
}

static int load_last_test(drb_repo *r, drb_catalog *c)
{
	names reports = {0};
	char prefix[512];
	snprintf(prefix, sizeof prefix, "%s/restore-tests/", c->host_id);
	int rc = drb_repo_list(r, prefix, true, collect, &reports);
	for (size_t i = reports.n; i-- > 0 && rc == 0;) {
		char *text = NULL;
		size_t len;
		drb_restore_test t;
		if (!ends_with(reports.v[i], ".json"))
			continue;
		if (drb_repo_get_buf(r, reports.v[i], 1 << 20, &text, &len) == 0 &&
		    (len = meta_accept(r, c, reports.v[i], "restore-test", text, len)) &&
		    drb_restore_test_from_json(text, len, &t) == 0) {
			c->last_test = malloc(sizeof *c->last_test);
			if (c->last_test) {
				*c->last_test = t;
				c->last_test->name = strdup(reports.v[i] + strlen(prefix));
			} else {
				drb_restore_test_clear(&t);
			}
			free(text);
			break;
		}
		drb_error_clear();
		free(text);
	}
	names_free(&reports);
	return rc;
}

/* ------------------------------------------------------------------ holds and tombstones */

int drb_hold_to_json(const drb_hold *h, char **text)
{
	json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:b, s:o}", "format", DRB_META_FORMAT,
			      "kind", "hold", "practice", h->practice, "reason", h->reason ? h->reason : "",
			      "by", h->by ? h->by : "", "since", jtime(h->since), "released", h->released,
			      "released_at", jtime(h->released_at));
	if (!j)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	return dump_json(j, text);
}

static int hold_from(const char *text, size_t len, const char *what, drb_hold *h)
{
	json_t *j = load_json(text, len, what);
	int bad = 0;
	memset(h, 0, sizeof *h);
	if (!j)
		return drb_error_code();
	json_t *kind = json_object_get(j, "kind");
	if (!json_is_string(kind) || strcmp(json_string_value(kind), "hold") != 0)
		bad = 1;
	h->practice = get_str(j, "practice", true, &bad);
	h->reason = get_str(j, "reason", false, &bad);
	h->by = get_str(j, "by", false, &bad);
	h->released = json_is_true(json_object_get(j, "released"));
	if (get_time(j, "since", &h->since) < 0 || get_time(j, "released_at", &h->released_at) < 0)
		bad = 1;
	json_decref(j);
	if (bad) {
		free(h->practice);
		free(h->reason);
		free(h->by);
		memset(h, 0, sizeof *h);
		return drb_error(DRB_ERR_FORMAT, "%s: not a valid hold", what);
	}
	return 0;
}

bool drb_catalog_on_hold(const drb_catalog *c, const char *practice)
{
	for (size_t i = 0; i < c->n_holds; i++)
		if (!c->holds[i].released && strcmp(c->holds[i].practice, practice) == 0)
			return true;
	return false;
}

int drb_tombstone_to_json(const drb_tombstone *t, char **text)
{
	json_t *pr = json_object();
	for (size_t i = 0; i < t->n_practices; i++)
		json_object_set_new(pr, t->practices[i], json_string(t->whys[i] ? t->whys[i] : ""));
	json_t *j = json_pack("{s:i, s:s, s:s?, s:b, s:o, s:s?, s:s?, s:o}", "format",
			      DRB_META_FORMAT, "kind", "expired", "backup_id", t->backup_id, "whole",
			      t->whole, "practices", pr, "generation", t->generation, "before",
			      t->before, "at", jtime(time(NULL)));
	if (!j)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	return dump_json(j, text);
}

void drb_tombstone_clear(drb_tombstone *t)
{
	for (size_t i = 0; i < t->n_practices; i++) {
		free(t->practices[i]);
		free(t->whys[i]);
	}
	free(t->practices);
	free(t->whys);
	free(t->backup_id);
	free(t->generation);
	free(t->before);
	memset(t, 0, sizeof *t);
}

int drb_tombstone_from_json(const char *text, size_t len, const char *what, drb_tombstone *t)
{
	json_t *j = load_json(text, len, what);
	int bad = 0;
	memset(t, 0, sizeof *t);
	if (!j)
		return drb_error_code();
	json_t *kind = json_object_get(j, "kind"), *pr = json_object_get(j, "practices");
	if (!json_is_string(kind) || strcmp(json_string_value(kind), "expired") != 0)
		bad = 1;
	json_t *b = json_object_get(j, "backup_id"), *g = json_object_get(j, "generation");
	t->backup_id = json_is_string(b) ? strdup(json_string_value(b)) : NULL;
	t->generation = json_is_string(g) ? strdup(json_string_value(g)) : NULL;
	t->before = json_is_string(json_object_get(j, "before"))
			    ? strdup(json_string_value(json_object_get(j, "before")))
			    : NULL;
	t->whole = json_is_true(json_object_get(j, "whole"));
	if (!t->backup_id == !t->generation || (t->generation && !t->before))
		bad = 1;
	if (json_is_object(pr) && json_object_size(pr)) {
		const char *k;
		json_t *v;
		t->practices = calloc(json_object_size(pr), sizeof *t->practices);
		t->whys = calloc(json_object_size(pr), sizeof *t->whys);
		json_object_foreach(pr, k, v)
		{
			if (!t->practices || !t->whys)
				break;
			t->practices[t->n_practices] = strdup(k);
			t->whys[t->n_practices++] = strdup(json_is_string(v) ? json_string_value(v) : "");
		}
	}
	json_decref(j);
	if (bad) {
		drb_tombstone_clear(t);
		return drb_error(DRB_ERR_FORMAT, "%s: not a valid expiry record", what);
	}
	return 0;
}

bool drb_tombstone_covers(const drb_tombstone *t, const char *path)
{
	drb_key k;
	drb_key_parse(path, &k);
	if (t->backup_id && (k.kind == DRB_KEY_DUMP || k.kind == DRB_KEY_MANIFEST) &&
	    strcmp(k.backup_id, t->backup_id) == 0) {
		if (t->whole)
			return true;
		for (size_t i = 0; i < t->n_practices; i++) {
			char *obj = drb_path_dump_object(t->practices[i]);
			bool hit = obj && strcmp(k.name, obj) == 0;
			free(obj);
			if (hit)
				return true;
		}
		return false;
	}
	if (t->generation && k.kind == DRB_KEY_SEGMENT && strcmp(k.generation, t->generation) == 0) {
		char key[1200];
		snprintf(key, sizeof key, "%s/binlog/%s/%s.json", k.host, k.generation, k.name);
		return strcmp(key, t->before) < 0;
	}
	return false;
}

/* Holds and tombstones: small objects, each verified like every other metadata object. */
static int load_small(drb_repo *r, drb_catalog *c, const char *area, const char *kind)
{
	names objs = {0};
	char prefix[512];
	snprintf(prefix, sizeof prefix, "%s/%s/", c->host_id, area);
	int rc = drb_repo_list(r, prefix, true, collect, &objs);
	for (size_t i = 0; i < objs.n && rc == 0; i++) {
		char *text = NULL;
		size_t len = 0;
		if (!ends_with(objs.v[i], ".json"))
			continue;
		if ((rc = drb_repo_get_buf(r, objs.v[i], 1 << 20, &text, &len)) < 0) {
			if (rc == DRB_ERR_NOT_FOUND) {
				drb_error_clear();
				rc = 0;
			}
			free(text);
			continue;
		}
		if ((len = meta_accept(r, c, objs.v[i], kind, text, len))) {
			if (strcmp(kind, "hold") == 0) {
				drb_hold h;
				drb_hold *v = realloc(c->holds, (c->n_holds + 1) * sizeof *v);
				if (v)
					c->holds = v;
				if (!v)
					rc = drb_error(DRB_ERR_NOMEM, "out of memory");
				else if (hold_from(text, len, objs.v[i], &h) == 0)
					c->holds[c->n_holds++] = h;
				else
					drb_error_clear();
			} else {
				drb_tombstone t;
				drb_tombstone *v = realloc(c->tombstones, (c->n_tombstones + 1) * sizeof *v);
				if (v)
					c->tombstones = v;
				if (!v)
					rc = drb_error(DRB_ERR_NOMEM, "out of memory");
				else if (drb_tombstone_from_json(text, len, objs.v[i], &t) == 0)
					c->tombstones[c->n_tombstones++] = t;
				else
					drb_error_clear();
			}
		}
		free(text);
	}
	names_free(&objs);
	return rc;
}

/* What expire deleted is not planned from, even where a copy is still there (a repository that
 * was down while it ran; the next expire deletes it there too). */
static void apply_tombstones(drb_catalog *c)
{
	for (size_t t = 0; t < c->n_tombstones; t++) {
		const drb_tombstone *ts = &c->tombstones[t];
		for (size_t i = 0; ts->backup_id && i < c->n_fulls; i++) {
			drb_manifest *m = c->fulls[i];
			if (strcmp(m->backup_id, ts->backup_id) != 0)
				continue;
			if (ts->whole) {
				drb_manifest_free(m);
				memmove(&c->fulls[i], &c->fulls[i + 1], (c->n_fulls - i - 1) * sizeof *c->fulls);
				c->n_fulls--;
				break;
			}
			for (size_t p = 0; p < ts->n_practices; p++)
				for (size_t d = 0; d < m->n_dbs; d++)
					if (strcmp(m->dbs[d].name, ts->practices[p]) == 0 && !m->dbs[d].expired) {
						m->dbs[d].expired = true;
						m->dbs[d].expired_why = strdup(ts->whys[p]);
					}
		}
		for (size_t g = 0; ts->generation && g < c->n_gens; g++) {
			drb_generation *gen = &c->gens[g];
			if (strcmp(gen->name, ts->generation) != 0)
				continue;
			size_t kept = 0, below = 0;
			for (size_t k = 0; k < gen->n; k++) {
				char *key = drb_segment_path(c->host_id, &gen->segs[k], "json");
				bool gone = key && strcmp(key, ts->before) < 0;
				free(key);
				if (gone) {
					drb_segment_clear(&gen->segs[k]);
					below += k < gen->compacted;
					continue;
				}
				gen->segs[kept++] = gen->segs[k];
			}
			gen->n = kept;
			gen->compacted -= below;
		}
	}
}

int drb_catalog_load(drb_repo *r, const char *host_id, drb_catalog **out)
{
	return drb_catalog_load_opts(r, host_id, 0, out);
}

int drb_catalog_load_opts(drb_repo *r, const char *host_id, int flags, drb_catalog **out)
{
	drb_catalog *c = calloc(1, sizeof *c);
	int rc;
	if (!c || !(c->host_id = strdup(host_id))) {
		free(c);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	c->summary = flags & DRB_CATALOG_SUMMARY;
	c->repo = r;
	c->loaded_at = (int64_t)time(NULL);
	/* full backups and tombstones first: summaries keep the snapshots' files as they are and
	 * leave out what expire deleted */
	if ((rc = load_fulls(r, c)) < 0 || (rc = load_small(r, c, "expired", "expired")) < 0 ||
	    (rc = load_generations(r, c)) < 0 || (rc = load_last_test(r, c)) < 0 ||
	    (rc = load_small(r, c, "holds", "hold")) < 0) {
		drb_catalog_free(c);
		return drb_error_wrap(0, "reading the catalog of %s", host_id);
	}
	apply_tombstones(c);
	if (!c->summary)
		for (size_t g = 0; g < c->n_gens; g++)
			for (size_t k = 0; k < c->gens[g].n; k++)
				budget_segment(c, &c->gens[g].segs[k]);
	for (size_t g = 0; !c->summary && g < c->n_gens; g++) {
		/* day catalogs: one per finished day that has segments */
		char last[9] = "";
		for (size_t k = 0; k < c->gens[g].compacted; k++) {
			char d[9];
			drb_day_name(c->gens[g].segs[k].shipped, d);
			if (strcmp(d, last) != 0)
				c->budget.day_catalogs++;
			snprintf(last, sizeof last, "%s", d);
		}
	}
	for (size_t i = 0; i < c->n_fulls; i++) {
		const drb_manifest *m = c->fulls[i];
		uint64_t objs = 1;
		for (size_t k = 0; k < m->n_dbs; k++)
			if (!m->dbs[k].expired) {
				objs++;
				c->budget.full_bytes += m->dbs[k].stored_bytes;
			}
		c->budget.full_objects += objs;
		if (m->finished > c->loaded_at - 86400)
			c->budget.puts_last_day += objs;
	}
	*out = c;
	return 0;
}

void drb_catalog_free(drb_catalog *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_fulls; i++)
		drb_manifest_free(c->fulls[i]);
	free(c->fulls);
	for (size_t i = 0; i < c->n_incomplete; i++)
		free(c->incomplete[i]);
	free(c->incomplete);
	for (size_t i = 0; i < c->n_untrusted; i++) {
		free(c->untrusted[i].path);
		free(c->untrusted[i].why);
	}
	free(c->untrusted);
	for (size_t i = 0; i < c->n_holds; i++) {
		free(c->holds[i].practice);
		free(c->holds[i].reason);
		free(c->holds[i].by);
	}
	free(c->holds);
	for (size_t i = 0; i < c->n_tombstones; i++)
		drb_tombstone_clear(&c->tombstones[i]);
	free(c->tombstones);
	for (size_t i = 0; i < c->n_gens; i++) {
		for (size_t k = 0; k < c->gens[i].n; k++)
			drb_segment_clear(&c->gens[i].segs[k]);
		free(c->gens[i].segs);
		free(c->gens[i].name);
		free(c->gens[i].last_day);
		for (size_t d = 0; d < c->gens[i].n_days; d++)
			free(c->gens[i].days[d].path);
		free(c->gens[i].days);
	}
	free(c->gens);
	if (c->last_test) {
		drb_restore_test_clear(c->last_test);
		free(c->last_test);
	}
	free(c->host_id);
	free(c);
}

const drb_generation *drb_catalog_generation(const drb_catalog *c, const char *name)
{
	for (size_t i = 0; i < c->n_gens; i++)
		if (strcmp(c->gens[i].name, name) == 0)
			return &c->gens[i];
	return NULL;
}

const drb_manifest *drb_catalog_full_before(const drb_catalog *c, int64_t t)
{
	const drb_manifest *best = NULL;
	for (size_t i = 0; i < c->n_fulls; i++) {
		const drb_manifest *m = c->fulls[i];
		if (m->snapshot_time <= t && (!best || m->snapshot_time >= best->snapshot_time))
			best = m;
	}
	return best;
}

/* ------------------------------------------------------------------ compaction */

/* How a day catalog is written: open (the current day, rewritten as it grows) and how often
 * it has been written that day, for the request budget. */
typedef struct day_write {
	bool open;
	json_int_t writes;
} day_write;

static int write_day_named(drb_repo *r, const char *host, const drb_generation *g, size_t from,
                           size_t to, const char *day, day_write how);

int drb_catalog_write_day(drb_repo *r, const char *host, const drb_generation *g, size_t from,
			  size_t to)
{
	char day[9];
	drb_day_name(g->segs[from].shipped, day);
	return write_day_named(r, host, g, from, to, day, (day_write){0});
}

/* The day is the catalog's own: a compacted segment placed in it may be shipped later. */
static int write_day_named(drb_repo *r, const char *host, const drb_generation *g, size_t from,
                           size_t to, const char *day, day_write how)
{
	json_t *arr = json_array();
	for (size_t k = from; k < to; k++)
		json_array_append_new(arr, segment_json(&g->segs[k]));
	char *first = drb_segment_path(host, &g->segs[from], "json");
	char *last = drb_segment_path(host, &g->segs[to - 1], "json");
	json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o}", "format", DRB_META_FORMAT,
			      "generation", g->name, "day", day, "first", first ? first : "", "last",
			      last ? last : "", "segments", arr);
	if (j && how.open) {
		json_object_set_new(j, "open", json_true());
		json_object_set_new(j, "writes", json_integer(how.writes > 0 ? how.writes : 1));
	}
	char *text = NULL, *path = NULL;
	int rc = j ? dump_json(j, &text) : drb_error(DRB_ERR_NOMEM, "out of memory");
	if (rc == 0 && !(path = drb_path_day_catalog(host, g->name, day)))
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	if (rc == 0)
		rc = drb_meta_put(r, path, "catalog", text);
	free(first);
	free(last);
	free(text);
	free(path);
	return rc;
}

int drb_catalog_day_supersede(drb_repo *r, const char *host, const char *path,
			      const drb_segment *big)
{
	char *text = NULL;
	size_t len = 0;
	int rc = drb_repo_get_buf(r, path, DRB_META_MAX, &text, &len);
	if (rc == DRB_ERR_NOT_FOUND) {
		drb_error_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	/* never re-sign what this host did not sign itself */
	drb_meta_check chk;
	drb_meta_verify(r->trust, host, path, "catalog", text, len, &chk);
	if (!drb_meta_usable(r->trust, &chk)) {
		free(text);
		return drb_error(DRB_ERR_CRYPTO, "%s is not trusted (%s): not rewritten", path,
				 chk.why);
	}
	json_t *j = load_json(text, chk.body_len ? chk.body_len : len, path);
	free(text);
	json_t *arr = j ? json_object_get(j, "segments") : NULL, *item;
	if (!json_is_array(arr)) {
		json_decref(j);
		return drb_error(DRB_ERR_FORMAT, "%s: not a day catalog", path);
	}
	drb_generation g = {.name = (char *)big->generation};
	bool replaced = false, placed = false;
	size_t k;
	json_array_foreach(arr, k, item)
	{
		drb_segment s;
		if (segment_from(item, path, &s) < 0) {
			rc = drb_error_wrap(DRB_ERR_FORMAT, "%s cannot be rewritten", path);
			break;
		}
		bool same = s.level == big->level && s.start == big->start && s.end == big->end &&
			    strcmp(s.file, big->file) == 0;
		if (same || drb_segment_supersedes(big, &s)) {
			replaced = true;
			drb_segment_clear(&s);
			if (placed)
				continue;
			placed = true;
			if ((rc = drb_segment_copy(&s, big)) < 0)
				break;
		}
		if ((rc = gen_add(&g, &s)) < 0) {
			drb_segment_clear(&s);
			break;
		}
	}
	char day[9] = "";
	json_t *d = json_object_get(j, "day");
	snprintf(day, sizeof day, "%s", json_is_string(d) ? json_string_value(d) : "");
	/* the current day's catalog stays open: the agent keeps adding to it */
	day_write how = {.open = json_is_true(json_object_get(j, "open")),
	                 .writes = json_integer_value(json_object_get(j, "writes")) + 1};
	json_decref(j);
	if (rc == 0 && replaced && g.n)
		rc = write_day_named(r, host, &g, 0, g.n, day, how);
	for (size_t i = 0; i < g.n; i++)
		drb_segment_clear(&g.segs[i]);
	free(g.segs);
	return rc;
}

/* The UTC day of t as the number YYYYMMDD. */
static long day_number(int64_t t)
{
	char d[9];
	drb_day_name(t, d);
	return strtol(d, NULL, 10);
}

/* Every finished day with segments no day catalog names yet (those after the newest one), and
 * the newest one's day when it was written open and has ended: each written whole, with every
 * segment of g shipped that day, and closed. */
int drb_catalog_compact(drb_repo *r, const char *host, const drb_generation *g, int64_t now)
{
	long today = day_number(now), *days = calloc(g->n + 1, sizeof *days);
	long *todo = calloc(g->n + 2, sizeof *todo);
	drb_segment *v = calloc(g->n + 1, sizeof *v);
	size_t nt = 0;
	int rc = days && todo && v ? 0 : drb_error(DRB_ERR_NOMEM, "out of memory");
	for (size_t k = 0; rc == 0 && k < g->n; k++) {
		days[k] = day_number(g->segs[k].shipped);
		if (k >= g->compacted && days[k] < today && (!nt || todo[nt - 1] != days[k]))
			todo[nt++] = days[k];
	}
	if (rc == 0 && g->last_open && g->last_day) {
		long d = strtol(g->last_day, NULL, 10);
		if (d < today)
			todo[nt++] = d;
	}
	qsort(todo, nt, sizeof *todo, by_long);
	for (size_t i = 0; rc == 0 && i < nt; i++) {
		if (i && todo[i] == todo[i - 1])
			continue;
		size_t m = 0;
		for (size_t k = 0; k < g->n; k++)
			if (days[k] == todo[i])
				v[m++] = g->segs[k]; /* borrowed: written, not freed */
		if (!m)
			continue;
		char day[9];
		snprintf(day, sizeof day, "%08ld", todo[i]);
		drb_generation one = {.name = g->name, .segs = v, .n = m};
		rc = write_day_named(r, host, &one, 0, m, day, (day_write){0});
	}
	free(days);
	free(todo);
	free(v);
	return rc;
}

int drb_catalog_day_last(drb_repo *r, const char *path, char *out, size_t len)
{
	char *text = NULL;
	size_t n = 0;
	int rc = drb_repo_get_buf(r, path, DRB_META_MAX, &text, &n);
	if (rc < 0)
		return rc;
	json_t *j = load_json(text, drb_meta_body_len(text, n), path);
	free(text);
	json_t *last = j ? json_object_get(j, "last") : NULL;
	if (!json_is_string(last))
		rc = drb_error(DRB_ERR_FORMAT, "%s: not a day catalog", path);
	else
		snprintf(out, len, "%s", json_string_value(last));
	json_decref(j);
	return rc;
}

int drb_catalog_write_today(drb_repo *r, const char *host, const char *gen, int64_t now,
                            size_t *added)
{
	drb_catalog c = {.host_id = (char *)host, .repo = r, .loaded_at = now};
	drb_generation g = {.name = (char *)gen}, tail = {.name = (char *)gen};
	names days = {0};
	char prefix[600], last_key[1200] = "", today[9];
	const char *newest = NULL;
	day_write how = {.open = true, .writes = 1};
	bool write = true;
	if (added)
		*added = 0;
	drb_day_name(now, today);
	snprintf(prefix, sizeof prefix, "%s/catalog/%s/", host, gen);
	int rc = drb_repo_list(r, prefix, true, collect, &days);
	for (size_t i = 0; rc == 0 && i < days.n; i++)
		if (ends_with(days.v[i], ".json") && (!newest || strcmp(days.v[i], newest) > 0))
			newest = days.v[i];
	if (rc == 0 && newest) {
		const char *day = strrchr(newest, '/') + 1;
		char *text = NULL;
		size_t len = 0, body = 0;
		json_t *j = NULL, *arr = NULL, *item;
		rc = drb_repo_get_buf(r, newest, DRB_META_MAX, &text, &len);
		if (rc == 0 && (!(body = meta_accept(r, &c, newest, "catalog", text, len)) ||
		                !(j = load_json(text, body, newest)) ||
		                !json_is_array(arr = json_object_get(j, "segments"))))
			rc = drb_error(DRB_ERR_FORMAT, "%s cannot be read (%s): not added to",
			               newest,
			               c.n_untrusted ? c.untrusted[0].why : "not a day catalog");
		free(text);
		bool open = json_is_true(json_object_get(j, "open"));
		if (rc == 0 && json_is_string(json_object_get(j, "last")))
			snprintf(last_key, sizeof last_key, "%s",
			         json_string_value(json_object_get(j, "last")));
		if (rc == 0 && strncmp(day, today, 8) > 0)
			write = false; /* a later day's: this clock is behind */
		else if (rc == 0 && strncmp(day, today, 8) < 0 && open)
			write =
			    false; /* an earlier day still open: drb_catalog_compact closes it */
		else if (rc == 0 && strncmp(day, today, 8) == 0) {
			how.writes = json_integer_value(json_object_get(j, "writes")) + 1;
			size_t k;
			json_array_foreach(arr, k, item)
			{
				drb_segment sg;
				if (segment_from(item, newest, &sg) < 0) {
					rc = drb_error_wrap(DRB_ERR_FORMAT, "%s cannot be added to",
					                    newest);
					break;
				}
				if ((rc = gen_add(&g, &sg)) < 0) {
					drb_segment_clear(&sg);
					break;
				}
			}
		}
		json_decref(j);
	}
	/* the oldest description since first: one of an earlier day means that day is not in its
	 * catalog yet, and nothing more is fetched */
	names segs = {0};
	if (rc == 0 && write)
		rc = list_tail(r, &c, &g, last_key, &segs);
	for (size_t i = 0; rc == 0 && write && i < segs.n; i++) {
		if (!ends_with(segs.v[i], ".json") || strcmp(segs.v[i], last_key) <= 0)
			continue;
		char *text = NULL;
		size_t len = 0;
		drb_segment sg;
		if (drb_repo_get_buf(r, segs.v[i], 1 << 20, &text, &len) == 0 &&
		    drb_segment_from_json(text, drb_meta_body_len(text, len), segs.v[i], &sg) ==
		        0) {
			write = day_number(sg.shipped) >= strtol(today, NULL, 10);
			drb_segment_clear(&sg);
		}
		drb_error_clear();
		free(text);
		break;
	}
	if (rc == 0 && write)
		rc = load_tail_names(r, &c, &g, last_key, &segs, &tail);
	names_free(&segs);
	for (size_t k = 0; rc == 0 && write && k < tail.n; k++)
		if (day_number(tail.segs[k].shipped) < strtol(today, NULL, 10))
			write = false; /* a finished day not in its catalog yet: compaction first */
	size_t n_new = tail.n;
	for (size_t k = 0; k < tail.n; k++) {
		if (rc == 0 && write && (rc = gen_add(&g, &tail.segs[k])) == 0)
			continue;
		drb_segment_clear(&tail.segs[k]);
	}
	free(tail.segs);
	if (rc == 0 && write && n_new) {
		qsort(g.segs, g.n, sizeof *g.segs, by_segment_key);
		drb_generation_drop_superseded(&g);
	}
	if (rc == 0 && write && n_new && g.n > DRB_TODAY_MAX) {
		/* each rewrite costs the whole day's catalog: beyond this, today is read
		 * description by description, as without it */
		static char told[9];
		if (strcmp(told, today) != 0)
			drb_log_info(
			    "repository %s: today's catalog would name %zu segments (more than "
			    "%d): not rewritten again today; compact_levels keeps a day's "
			    "segments few",
			    r->name, g.n, DRB_TODAY_MAX);
		snprintf(told, sizeof told, "%s", today);
		write = false;
	}
	if (rc == 0 && write && n_new) {
		rc = write_day_named(r, host, &g, 0, g.n, today, how);
		if (rc == 0 && added)
			*added = n_new;
	}
	for (size_t k = 0; k < g.n; k++)
		drb_segment_clear(&g.segs[k]);
	free(g.segs);
	for (size_t i = 0; i < c.n_untrusted; i++) {
		free(c.untrusted[i].path);
		free(c.untrusted[i].why);
	}
	free(c.untrusted);
	names_free(&days);
	return rc;
}

/* ------------------------------------------------------------------ GTID states */

typedef struct gtid {
	uint32_t domain, server;
	uint64_t seq;
} gtid;

static int parse_state(const char *s, gtid *v, int max)
{
	int n = 0;
	while (s && *s && n < max) {
		unsigned long d, sv;
		unsigned long long q;
		int used = 0;
		while (*s == ',' || *s == ' ' || *s == '\n')
			s++;
		if (!*s)
			break;
		if (sscanf(s, "%lu-%lu-%llu%n", &d, &sv, &q, &used) != 3)
			return -1;
		v[n++] = (gtid){(uint32_t)d, (uint32_t)sv, q};
		s += used;
	}
	return n;
}

bool drb_gtid_reached(const char *a, const char *b)
{
	gtid va[64], vb[64];
	int na = parse_state(a, va, 64), nb = parse_state(b, vb, 64);
	if (na < 0 || nb < 0)
		return false;
	for (int i = 0; i < nb; i++) {
		bool ok = false;
		for (int k = 0; k < na; k++)
			if (va[k].domain == vb[i].domain && va[k].seq >= vb[i].seq)
				ok = true;
		if (!ok)
			return false;
	}
	return true;
}

bool drb_gtid_equal(const char *a, const char *b)
{
	return drb_gtid_reached(a, b) && drb_gtid_reached(b, a);
}

bool drb_gtid_not_past(const char *a, const char *b)
{
	gtid va[64], vb[64];
	int na = parse_state(a, va, 64), nb = parse_state(b, vb, 64);
	if (na < 0 || nb < 0)
		return false;
	for (int i = 0; i < nb; i++)
		for (int k = 0; k < na; k++)
			if (va[k].domain == vb[i].domain && va[k].seq > vb[i].seq)
				return false;
	return true;
}

static int by_domain(const void *a, const void *b)
{
	const gtid *x = a, *y = b;
	return x->domain < y->domain ? -1 : x->domain > y->domain;
}

int drb_gtid_apply(char *state, size_t len, uint32_t domain, uint32_t server, uint64_t seq)
{
	gtid v[65];
	int n = parse_state(state, v, 64);
	if (n < 0)
		return drb_error(DRB_ERR_FORMAT, "invalid GTID state \"%s\"", state);
	int k;
	for (k = 0; k < n && v[k].domain != domain; k++)
		;
	v[k] = (gtid){domain, server, seq};
	if (k == n)
		n++;
	qsort(v, (size_t)n, sizeof *v, by_domain);
	size_t used = 0;
	for (int i = 0; i < n; i++) {
		int w = snprintf(state + used, len - used, "%s%u-%u-%llu", i ? "," : "", v[i].domain,
				 v[i].server, (unsigned long long)v[i].seq);
		if (w < 0 || (size_t)w >= len - used)
			return drb_error(DRB_ERR_FORMAT, "GTID state too long");
		used += (size_t)w;
	}
	return 0;
}
