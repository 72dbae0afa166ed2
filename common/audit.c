/* The audit trail's records: written once per action, signed like other metadata (a restore host
 * signs what it did with another host's backups, so the kind "audit" may carry another trusted
 * host's signature), also sent to syslog, and read back by `drbackup audit`. */
#include "config.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/catalog.h"
#include "common/error.h"
#include "common/log.h"
#include "common/sign.h"

#define AUDIT_MAX (1u << 20) /* a record is a few hundred bytes */

json_t *drb_audit_begin(const char *action, const char *host_id, int64_t started)
{
	char iso[21];
	drb_time_iso(started, iso);
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:[]}", "format", DRB_META_FORMAT, "kind",
	                 "audit", "action", action, "host_id", host_id, "started", iso,
	                 "practices");
}

static void add_who(json_t *rec, const drb_config *c)
{
	char host[256] = "";
	const char *user = NULL, *sudo = getenv("SUDO_USER");
	struct passwd *pw = getpwuid(geteuid());
	gethostname(host, sizeof host - 1);
	if (pw)
		user = pw->pw_name;
	json_object_set_new(rec, "by",
	                    json_pack("{s:s, s:s, s:s?, s:I, s:s?}", "host_id", c->host_id,
	                              "hostname", host, "user", user, "uid", (json_int_t)geteuid(),
	                              "sudo_user", sudo));
}

/* <host>/audit/<YYYYMMDD>/<YYYYMMDDTHHMMSS.uuuuuuZ>-<action>.json: sorts in time order, and two
 * actions in the same second do not share a name. */
static char *record_path(const char *host, const char *action, const struct timeval *tv)
{
	char id[17], *path = NULL;
	drb_time_id(tv->tv_sec, id);
	if (asprintf(&path, "%s/audit/%.8s/%.15s.%06ldZ-%s.json", host, id, id, (long)tv->tv_usec,
	             action) < 0)
		return NULL;
	return path;
}

size_t drb_audit_finish(drb_repo_set *set, const drb_config *c, json_t *rec, int rc)
{
	drb_error_state keep;
	char err[DRB_ERROR_LINE] = "", iso[21];
	struct timeval tv;
	size_t missed = 0;
	char *path = NULL, *text = NULL;
	if (!rec)
		return set ? set->n : 0;
	drb_error_save(&keep);
	if (rc < 0)
		drb_error_line(err, sizeof err);
	gettimeofday(&tv, NULL);
	drb_time_iso(tv.tv_sec, iso);
	json_object_set_new(rec, "finished", json_string(iso));
	json_object_set_new(rec, "ok", json_boolean(rc >= 0));
	json_object_set_new(rec, "error", err[0] ? json_string(err) : json_null());
	add_who(rec, c);
	const char *action = json_string_value(json_object_get(rec, "action"));
	const char *host = json_string_value(json_object_get(rec, "host_id"));
	text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	path = action && host ? record_path(host, action, &tv) : NULL;
	if (text)
		syslog(rc >= 0 ? LOG_NOTICE : LOG_WARNING, "drbackup audit: %s", text);
	for (size_t i = 0; set && i < set->n; i++) {
		drb_obj_stat st;
		if (!text || !path) {
			missed++;
			continue;
		}
		/* never rewritten: an existing record (same microsecond) is left alone */
		if (drb_repo_stat(set->repos[i], path, &st) == 0) {
			drb_log_warn(
			    "repository %s: %s exists already: this audit record is only in "
			    "syslog",
			    set->repos[i]->name, path);
			missed++;
		} else if (drb_meta_put(set->repos[i], path, "audit", text) < 0) {
			drb_log_current_error("storing the audit record");
			drb_log_warn("repository %s: the audit record %s was not stored",
			             set->repos[i]->name, path);
			missed++;
		}
		drb_error_clear();
	}
	free(path);
	free(text);
	json_decref(rec);
	drb_error_restore(&keep);
	return missed;
}

typedef struct paths {
	char **v;
	size_t n;
	const char *from; /* the day folder to start at */
} paths;

static int add_path(void *ud, const char *path, const drb_obj_stat *st)
{
	paths *p = ud;
	size_t n = strlen(path);
	if (!st || n < 5 || strcmp(path + n - 5, ".json") != 0 || strcmp(path, p->from) < 0)
		return 0;
	char **v = realloc(p->v, (p->n + 1) * sizeof *v);
	if (!v || !(v[p->n] = strdup(path))) {
		if (v)
			p->v = v;
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	p->v = v;
	p->n++;
	return 0;
}

static bool about_practice(json_t *rec, const char *practice)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(rec, "practices"), i,
	                   v) if (json_is_string(v) &&
	                          strcmp(json_string_value(v), practice) == 0) return true;
	return false;
}

int drb_audit_list(drb_repo *r, const drb_audit_filter *f,
                   int (*fn)(void *ud, const char *path, json_t *rec), void *ud, size_t *untrusted)
{
	char prefix[300], from[320], id[17];
	paths p = {0};
	int rc;
	*untrusted = 0;
	snprintf(prefix, sizeof prefix, "%s/audit/", f->host_id);
	drb_time_id(f->since > 0 ? f->since : 0, id);
	snprintf(from, sizeof from, "%s%.8s", prefix, id);
	p.from = from;
	if ((rc = drb_repo_list(r, prefix, true, add_path, &p)) < 0)
		goto out;
	for (size_t i = 0; i < p.n && rc == 0; i++) {
		char *text = NULL;
		size_t len = 0;
		drb_meta_check chk;
		json_error_t jerr;
		if ((rc = drb_repo_get_buf(r, p.v[i], AUDIT_MAX, &text, &len)) < 0)
			break;
		drb_meta_verify(r->trust, f->host_id, p.v[i], "audit", text, len, &chk);
		if (!drb_meta_usable(r->trust, &chk)) {
			drb_log_warn("repository %s: %s", r->name, chk.why);
			(*untrusted)++;
			free(text);
			continue;
		}
		json_t *rec = json_loadb(text, chk.body_len ? chk.body_len : len, 0, &jerr);
		free(text);
		int64_t at = 0;
		const char *started = json_string_value(json_object_get(rec, "started"));
		if (!json_is_object(rec) || !started || drb_time_parse(started, &at) < 0) {
			drb_error_clear();
			drb_log_warn("repository %s: %s is not an audit record", r->name, p.v[i]);
			(*untrusted)++;
		} else if (at >= f->since && (!f->practice || about_practice(rec, f->practice))) {
			rc = fn(ud, p.v[i], rec);
		}
		json_decref(rec);
	}
out:
	for (size_t i = 0; i < p.n; i++)
		free(p.v[i]);
	free(p.v);
	return rc;
}
