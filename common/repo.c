#include "config.h"
#include "common/repo.h"
#include "common/error.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DRIVERS 8

static const drb_repo_driver *drivers[MAX_DRIVERS] = {&drb_posix_driver};
static size_t n_drivers = 1;

int drb_repo_register(const drb_repo_driver *driver)
{
	for (size_t i = 0; i < n_drivers; i++)
		if (strcmp(drivers[i]->type, driver->type) == 0)
			return 0;
	if (n_drivers == MAX_DRIVERS)
		return drb_error(DRB_ERR_FAILED, "too many repository drivers");
	drivers[n_drivers++] = driver;
	return 0;
}

int drb_repo_open(const drb_repo_config *cfg, drb_repo **out)
{
	const drb_repo_driver *d = NULL;
	for (size_t i = 0; i < n_drivers; i++)
		if (strcmp(drivers[i]->type, cfg->type) == 0)
			d = drivers[i];
	if (!d)
		return drb_error(DRB_ERR_CONFIG, "repo %s: type \"%s\" is not available in this build",
				 cfg->name, cfg->type);
	drb_repo *r = calloc(1, sizeof *r);
	if (!r)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	r->driver = d;
	r->cfg = cfg;
	r->name = cfg->name;
	int rc = d->open(cfg, &r->impl);
	if (rc < 0) {
		free(r);
		return drb_error_wrap(0, "repository %s", cfg->name);
	}
	d->describe(r->impl, r->where, sizeof r->where);
	*out = r;
	return 0;
}

void drb_repo_close(drb_repo *r)
{
	if (!r)
		return;
	r->driver->close(r->impl);
	free(r);
}

bool drb_repo_path_ok(const char *path)
{
	if (!path || !*path || path[0] == '/' || strlen(path) > 1000)
		return false;
	const char *p = path;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0)
			return false; /* empty component, or a trailing '/' */
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!slash)
			break;
		p = slash + 1;
	}
	for (p = path; *p; p++)
		if (*p == '\\' || (unsigned char)*p < 0x20)
			return false;
	return true;
}

static int bad_path(drb_repo *r, const char *path)
{
	return drb_error(DRB_ERR_USAGE, "repository %s: \"%s\" is not a valid object path", r->name,
			 path ? path : "");
}

int drb_repo_put(drb_repo *r, const char *path, const drb_put_opts *opts, drb_sink **writer)
{
	static const drb_put_opts none;
	if (!drb_repo_path_ok(path))
		return bad_path(r, path);
	if (r->driver->put(r->impl, path, opts ? opts : &none, writer) < 0)
		return drb_error_wrap(0, "repository %s: storing %s", r->name, path);
	return 0;
}

int drb_repo_get(drb_repo *r, const char *path, drb_sink *out)
{
	if (!drb_repo_path_ok(path))
		return bad_path(r, path);
	int rc = r->driver->get(r->impl, path, out);
	if (rc < 0)
		return drb_error_wrap(0, "repository %s: reading %s", r->name, path);
	return 0;
}

int drb_repo_list(drb_repo *r, const char *prefix, bool recursive, drb_repo_list_fn fn, void *ud)
{
	int rc = r->driver->list(r->impl, prefix ? prefix : "", recursive, fn, ud);
	if (rc < 0)
		return drb_error_wrap(0, "repository %s: listing %s", r->name,
				      prefix && *prefix ? prefix : "/");
	return rc;
}

typedef struct after_filter {
	const char *after;
	drb_repo_list_fn fn;
	void *ud;
} after_filter;

static int skip_until(void *ud, const char *path, const drb_obj_stat *st)
{
	after_filter *a = ud;
	return strcmp(path, a->after) <= 0 ? 0 : a->fn(a->ud, path, st);
}

int drb_repo_list_after(drb_repo *r, const char *prefix, const char *after, drb_repo_list_fn fn,
			void *ud)
{
	int rc;
	if (!after || !*after)
		return drb_repo_list(r, prefix, true, fn, ud);
	if (r->driver->list_after)
		rc = r->driver->list_after(r->impl, prefix, after, fn, ud);
	else {
		after_filter a = {after, fn, ud};
		rc = r->driver->list(r->impl, prefix, true, skip_until, &a);
	}
	if (rc < 0)
		return drb_error_wrap(0, "repository %s: listing %s", r->name, prefix);
	return rc;
}

int drb_repo_stat(drb_repo *r, const char *path, drb_obj_stat *st)
{
	if (!drb_repo_path_ok(path))
		return bad_path(r, path);
	int rc = r->driver->stat(r->impl, path, st);
	if (rc < 0 && rc != DRB_ERR_NOT_FOUND)
		return drb_error_wrap(0, "repository %s: %s", r->name, path);
	return rc;
}

bool drb_repo_can_lock(const drb_repo *r)
{
	return r->driver->info && r->driver->retain;
}

static int no_op(drb_repo *r, const char *what)
{
	return drb_error(DRB_ERR_NOT_IMPLEMENTED, "repository %s (%s) has no %s", r->name,
			 r->driver->type, what);
}

int drb_repo_info(drb_repo *r, const char *path, drb_obj_info *out)
{
	memset(out, 0, sizeof *out);
	if (!drb_repo_path_ok(path))
		return bad_path(r, path);
	if (!r->driver->info)
		return no_op(r, "object locks or storage classes");
	int rc = r->driver->info(r->impl, path, out);
	return rc < 0 && rc != DRB_ERR_NOT_FOUND ? drb_error_wrap(0, "repository %s", r->name) : rc;
}

int drb_repo_retain(drb_repo *r, const char *path, int64_t until)
{
	if (!drb_repo_path_ok(path))
		return bad_path(r, path);
	if (!r->driver->retain)
		return no_op(r, "Object Lock");
	int rc = r->driver->retain(r->impl, path, until);
	return rc < 0 ? drb_error_wrap(0, "repository %s: extending the lock of %s", r->name, path)
		      : rc;
}

int drb_repo_legal_hold(drb_repo *r, const char *path, bool on)
{
	if (!drb_repo_path_ok(path))
		return bad_path(r, path);
	if (!r->driver->legal_hold)
		return no_op(r, "legal holds");
	return r->driver->legal_hold(r->impl, path, on) < 0
		   ? drb_error_wrap(0, "repository %s: the legal hold of %s", r->name, path)
		   : 0;
}

int drb_repo_set_class(drb_repo *r, const char *path, const char *storage_class)
{
	if (!drb_repo_path_ok(path))
		return bad_path(r, path);
	if (!r->driver->set_class)
		return no_op(r, "storage classes");
	return r->driver->set_class(r->impl, path, storage_class) < 0
		   ? drb_error_wrap(0, "repository %s: moving %s to %s", r->name, path,
				    storage_class)
		   : 0;
}

int drb_repo_as_of(drb_repo *r, int64_t t)
{
	if (!r->driver->as_of)
		return drb_error(DRB_ERR_USAGE,
				 "repository %s (%s) keeps no versions: --repo-as-of needs an S3 "
				 "repository on a versioned (Object Lock) bucket",
				 r->name, r->driver->type);
	return r->driver->as_of(r->impl, t) < 0 ? drb_error_wrap(0, "repository %s", r->name) : 0;
}

int drb_repo_set_as_of(drb_repo_set *set, int64_t t)
{
	int rc = 0;
	for (size_t i = 0; i < set->n && rc == 0; i++)
		if (t == 0 && !set->repos[i]->driver->as_of)
			continue;
		else
			rc = drb_repo_as_of(set->repos[i], t);
	if (rc < 0 && set->n > 1)
		drb_error_wrap(0, "--repo-as-of reads one S3 repository: choose it with --repo NAME");
	return rc;
}

int drb_repo_as_of_parse(const char *s, int64_t *t)
{
	struct tm tm;
	const char *end;
	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (!end || *end) {
		memset(&tm, 0, sizeof tm);
		end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	if (!end || *end)
		return drb_error(DRB_ERR_USAGE,
				 "--repo-as-of takes a UTC time such as '2026-12-01 10:00:00', not "
				 "\"%s\"",
				 s);
	*t = (int64_t)timegm(&tm);
	if (*t > (int64_t)time(NULL) + 60)
		return drb_error(DRB_ERR_USAGE, "--repo-as-of %s lies in the future", s);
	return 0;
}

bool drb_repo_can_presign(const drb_repo *r)
{
	return r->driver->presign != NULL;
}

int drb_repo_presign(drb_repo *r, const char *path, long expires_seconds, char **url)
{
	if (!drb_repo_path_ok(path))
		return bad_path(r, path);
	if (!r->driver->presign)
		return drb_error(DRB_ERR_NOT_IMPLEMENTED,
				 "repository %s (%s) cannot hand out download links", r->name,
				 r->driver->type);
	if (r->driver->presign(r->impl, path, expires_seconds, url) < 0)
		return drb_error_wrap(0, "repository %s: a download link for %s", r->name, path);
	return 0;
}

int drb_repo_remove(drb_repo *r, const char *const *paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!drb_repo_path_ok(paths[i]))
			return bad_path(r, paths[i]);
	if (r->driver->remove(r->impl, paths, n) < 0)
		return drb_error_wrap(0, "repository %s: deleting", r->name);
	return 0;
}

int drb_repo_put_buf(drb_repo *r, const char *path, const void *buf, size_t len,
		     const drb_put_opts *opts)
{
	drb_put_opts o = opts ? *opts : (drb_put_opts){0};
	drb_sink *w = NULL;
	o.size_hint = len;
	int rc = drb_repo_put(r, path, &o, &w);
	if (rc < 0)
		return rc;
	rc = drb_sink_write(w, buf, len);
	if (rc == 0)
		rc = drb_sink_finish(w);
	if (rc < 0)
		drb_sink_abort(w);
	drb_sink_free(w);
	return rc;
}

int drb_repo_get_buf(drb_repo *r, const char *path, size_t max, char **out, size_t *len)
{
	drb_sink *m = drb_mem_sink_new(max);
	if (!m)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	int rc = drb_repo_get(r, path, m);
	if (rc == 0)
		*out = drb_mem_sink_take(m, len);
	drb_sink_free(m);
	return rc;
}

int drb_repo_copy(drb_repo *src, drb_repo *dst, const char *path, const drb_put_opts *opts,
		  const char *expect_sha256)
{
	drb_obj_stat st;
	drb_put_opts o = opts ? *opts : (drb_put_opts){0};
	drb_sink *w = NULL, *h = NULL;
	int rc = drb_repo_stat(src, path, &st);
	if (rc < 0)
		return rc == DRB_ERR_NOT_FOUND
			       ? drb_error(rc, "repository %s has no %s to copy", src->name, path)
			       : rc;
	o.size_hint = st.size;
	rc = drb_repo_put(dst, path, &o, &w);
	if (rc < 0)
		return rc;
	if (!(h = drb_hash_filter_new(w))) {
		drb_sink_abort(w);
		drb_sink_free(w);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	if (expect_sha256) {
		char what[1200];
		snprintf(what, sizeof what, "%s in repository %s", path, src->name);
		drb_hash_filter_expect(h, expect_sha256, what);
	}
	rc = drb_repo_get(src, path, h);
	if (rc == 0)
		rc = drb_sink_finish(h); /* the digest is checked before the copy is committed */
	if (rc < 0)
		drb_sink_abort(h);
	drb_sink_free(h);
	if (rc < 0)
		return drb_error_wrap(0, "copying %s from %s to %s", path, src->name, dst->name);
	return 0;
}

/* ---- the set ---- */

int drb_repo_set_open(const drb_config *c, const char *only_name, drb_repo_set **out)
{
	drb_repo_set *set = calloc(1, sizeof *set);
	int rc = 0;
	if (!set || !(set->repos = calloc(c->n_repos + 1, sizeof *set->repos))) {
		free(set);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < c->n_repos; i++) {
		if (only_name && strcmp(only_name, c->repos[i].name) != 0)
			continue;
		rc = drb_repo_open(&c->repos[i], &set->repos[set->n]);
		if (rc < 0)
			goto fail;
		set->n++;
	}
	if ((rc = drb_signer_load(c, &set->signer)) < 0 ||
	    (rc = drb_trust_load(c, set->signer, &set->trust)) < 0)
		goto fail;
	for (size_t i = 0; i < set->n; i++) {
		set->repos[i]->signer = set->signer;
		set->repos[i]->trust = set->trust;
	}
	if (set->n == 0) {
		if (only_name)
			rc = drb_error(DRB_ERR_USAGE, "%s has no repo \"%s\"", c->file, only_name);
		else
			rc = drb_error(DRB_ERR_CONFIG, "%s defines no repository: add a repo section",
				       c->file);
		goto fail;
	}
	*out = set;
	return 0;
fail:
	drb_repo_set_close(set);
	return rc;
}

int drb_repo_refresh(drb_repo *r)
{
	if (!r->driver->refresh)
		return 0;
	int rc = r->driver->refresh(r->impl);
	return rc < 0 ? drb_error_wrap(0, "repository %s", r->name) : rc;
}

void drb_repo_set_refresh(drb_repo_set *set)
{
	for (size_t i = 0; set && i < set->n; i++)
		if (drb_repo_refresh(set->repos[i]) < 0) {
			drb_log_current_error("re-reading credentials");
			drb_error_clear();
		}
}

void drb_repo_set_close(drb_repo_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		drb_repo_close(set->repos[i]);
	free(set->repos);
	drb_signer_free(set->signer);
	drb_trust_free(set->trust);
	free(set);
}

void drb_repo_set_allow_unsigned(drb_repo_set *set, bool allow)
{
	if (set->trust)
		set->trust->allow_unsigned = allow;
}

/* ---- fan-out ---- */

typedef struct fanout {
	drb_sink base;
	drb_repo_set *set;
	char *path;
	size_t n;
	drb_sink **w;     /* NULL once that branch failed */
	char **errors;    /* one line per failed branch */
	drb_error_state *last;
} fanout;

static void branch_failed(fanout *f, size_t i)
{
	char line[DRB_ERROR_LINE];
	drb_error_line(line, sizeof line);
	if (!f->errors[i])
		f->errors[i] = strdup(line);
	drb_error_save(f->last);
	if (f->w[i]) {
		drb_sink_abort(f->w[i]);
		drb_sink_free(f->w[i]);
		f->w[i] = NULL;
	}
}

static size_t alive(const fanout *f)
{
	size_t k = 0;
	for (size_t i = 0; i < f->n; i++)
		k += f->w[i] != NULL;
	return k;
}

static int all_failed(fanout *f)
{
	drb_error_restore(f->last);
	if (f->n > 1)
		return drb_error_wrap(0, "%s could not be stored in any repository", f->path);
	return drb_error_code() ? drb_error_code() : DRB_ERR_FAILED;
}

static int fanout_write(drb_sink *s, const void *buf, size_t len)
{
	fanout *f = (fanout *)s;
	for (size_t i = 0; i < f->n; i++)
		if (f->w[i] && drb_sink_write(f->w[i], buf, len) < 0) {
			drb_error_wrap(0, "repository %s: storing %s", f->set->repos[i]->name, f->path);
			branch_failed(f, i);
		}
	return alive(f) ? 0 : all_failed(f);
}

static int fanout_finish(drb_sink *s)
{
	fanout *f = (fanout *)s;
	for (size_t i = 0; i < f->n; i++)
		if (f->w[i] && drb_sink_finish(f->w[i]) < 0) {
			drb_error_wrap(0, "repository %s: storing %s", f->set->repos[i]->name, f->path);
			branch_failed(f, i);
		}
	return alive(f) ? 0 : all_failed(f);
}

static void fanout_abort(drb_sink *s)
{
	fanout *f = (fanout *)s;
	for (size_t i = 0; i < f->n; i++)
		if (f->w[i])
			drb_sink_abort(f->w[i]);
}

static void fanout_free(drb_sink *s)
{
	fanout *f = (fanout *)s;
	for (size_t i = 0; i < f->n; i++) {
		drb_sink_free(f->w[i]);
		free(f->errors[i]);
	}
	free(f->w);
	free(f->errors);
	free(f->last);
	free(f->path);
	free(f);
}

static const drb_sink_ops fanout_ops = {"fanout", fanout_write, fanout_finish, fanout_abort,
					fanout_free};

int drb_fanout_put(drb_repo_set *set, const char *path, const drb_put_opts *opts, drb_sink **out)
{
	fanout *f = calloc(1, sizeof *f);
	if (!f)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	f->base.ops = &fanout_ops;
	f->set = set;
	f->n = set->n;
	f->path = strdup(path);
	f->w = calloc(set->n, sizeof *f->w);
	f->errors = calloc(set->n, sizeof *f->errors);
	f->last = calloc(1, sizeof *f->last);
	if (!f->path || !f->w || !f->errors || !f->last) {
		fanout_free(&f->base);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < set->n; i++)
		if (drb_repo_put(set->repos[i], path, opts, &f->w[i]) < 0)
			branch_failed(f, i);
	if (!alive(f)) {
		int rc = all_failed(f);
		fanout_free(&f->base);
		return rc;
	}
	*out = &f->base;
	return 0;
}

bool drb_fanout_ok(drb_sink *s, size_t i)
{
	fanout *f = (fanout *)s;
	return i < f->n && f->w[i] != NULL;
}

const char *drb_fanout_error(drb_sink *s, size_t i)
{
	fanout *f = (fanout *)s;
	return i < f->n ? f->errors[i] : NULL;
}

size_t drb_fanout_failed(drb_sink *s)
{
	fanout *f = (fanout *)s;
	return f->n - alive(f);
}

void drb_fanout_describe_failures(drb_sink *s, char *buf, size_t len)
{
	fanout *f = (fanout *)s;
	size_t used = 0;
	buf[0] = 0;
	for (size_t i = 0; i < f->n && used < len; i++) {
		if (!f->errors[i])
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? "; " : "", f->errors[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}
