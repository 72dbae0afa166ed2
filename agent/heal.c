#include "config.h"
#include "agent/heal.h"
#include "agent/state.h"
#include "common/catalog.h"
#include "common/sign.h"
#include "common/error.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct entry {
	char *path;
	uint64_t size;
} entry;

typedef struct listing {
	entry *v;
	size_t n, cap;
	bool ok;
} listing;

static int add(void *ud, const char *path, const drb_obj_stat *st)
{
	listing *l = ud;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		entry *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].path = strdup(path);
	l->v[l->n].size = st ? st->size : 0;
	l->n++;
	return 0;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const entry *)a)->path, ((const entry *)b)->path);
}

static const entry *find(const listing *l, const char *path)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) { /* listings come sorted */
		size_t mid = (lo + hi) / 2;
		int c = strcmp(l->v[mid].path, path);
		if (c == 0)
			return &l->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The recorded SHA-256 of a data object, from the metadata next to it in src. */
static int recorded_hash(drb_repo *src, const char *path, char out[65])
{
	char *meta = NULL, *text = NULL;
	size_t len = 0;
	int rc = DRB_ERR_NOT_FOUND;
	const char *slash = strrchr(path, '/');
	if (strstr(path, "/binlog/") && ends_with(path, ".drb")) {
		drb_segment s;
		if (asprintf(&meta, "%.*s.json", (int)(strlen(path) - 4), path) < 0)
			return DRB_ERR_NOMEM;
		if ((rc = drb_repo_get_buf(src, meta, 1 << 20, &text, &len)) == 0 &&
		    (rc = drb_segment_from_json(text, drb_meta_body_len(text, len), meta, &s)) == 0) {
			memcpy(out, s.sha256, 65);
			drb_segment_clear(&s);
		}
	} else if (strstr(path, "/full/") && slash) {
		drb_manifest *m = NULL;
		if (asprintf(&meta, "%.*s/manifest.json", (int)(slash - path), path) < 0)
			return DRB_ERR_NOMEM;
		if ((rc = drb_repo_get_buf(src, meta, DRB_META_MAX, &text, &len)) == 0 &&
		    (rc = drb_manifest_from_json(text, drb_meta_body_len(text, len), meta, &m)) == 0) {
			rc = DRB_ERR_NOT_FOUND;
			for (size_t i = 0; i < m->n_dbs; i++)
				if (strcmp(m->dbs[i].object, slash + 1) == 0) {
					memcpy(out, m->dbs[i].sha256, 65);
					rc = 0;
				}
			drb_manifest_free(m);
		}
	}
	free(meta);
	free(text);
	return rc;
}

/* A segment as cut whose range a compacted segment in l covers: compaction is deleting its
 * copies (a repository that was down kept one), so it is never copied back. Names say it:
 * <file>-<start> against <file>-<start>-<end>-L<level> in the same generation. */
static bool superseded_in(const listing *l, const char *path)
{
	const char *slash = strrchr(path, '/'), *dash = slash ? strrchr(slash, '-') : NULL;
	if (!strstr(path, "/binlog/") || !dash || strstr(slash, "-L"))
		return false;
	size_t dir = (size_t)(slash - path) + 1, file = (size_t)(dash - slash) - 1;
	unsigned long long at = strtoull(dash + 1, NULL, 10);
	for (size_t i = 0; i < l->n; i++) {
		const char *p = l->v[i].path, *lv = strstr(p + dir, "-L");
		unsigned long long a, b;
		if (!lv || strncmp(p, path, dir) != 0 || strchr(p + dir, '/') ||
		    strncmp(p + dir, slash + 1, file) != 0 || p[dir + file] != '-' ||
		    sscanf(p + dir + file, "-%llu-%llu-L", &a, &b) != 2)
			continue;
		if (a <= at && at < b)
			return true;
	}
	return false;
}

/* Metadata makes data visible: it goes only where everything it describes already is. */
static bool covered(const drb_tombstone *tombs, size_t n, const char *path)
{
	for (size_t t = 0; t < n; t++)
		if (drb_tombstone_covers(&tombs[t], path))
			return true;
	return false;
}

/* Is the data a metadata object makes visible in dst (what expire deleted does not count)? */
static bool data_present(drb_repo_set *set, listing *ls, size_t src, size_t dst, const char *path,
			 const drb_tombstone *tombs, size_t n_tombs)
{
	size_t n = strlen(path);
	if (strstr(path, "/binlog/") && ends_with(path, ".json")) {
		char drb[2048];
		snprintf(drb, sizeof drb, "%.*s.drb", (int)(n - 5), path);
		return find(&ls[dst], drb) != NULL;
	}
	if (strstr(path, "/full/") && ends_with(path, "/manifest.json")) {
		char *text = NULL;
		size_t len = 0;
		drb_manifest *m = NULL;
		bool all = false;
		if (drb_repo_get_buf(set->repos[src], path, DRB_META_MAX, &text, &len) == 0 &&
		    drb_manifest_from_json(text, drb_meta_body_len(text, len), path, &m) == 0) {
			all = true;
			for (size_t i = 0; i < m->n_dbs && all; i++) {
				char obj[2048];
				snprintf(obj, sizeof obj, "%.*s/%s", (int)(n - 14), path, m->dbs[i].object);
				all = find(&ls[dst], obj) != NULL || covered(tombs, n_tombs, obj);
			}
		}
		drb_error_clear();
		drb_manifest_free(m);
		free(text);
		return all;
	}
	/* day catalogs are not copied: the destination's compaction writes its own */
	return !strstr(path, "/catalog/");
}

/* Copy path to dst from the first repository that has it intact. 1 when no repository holds
 * its metadata (part of something unfinished: not worth a copy, not missing either). */
static int heal_one(drb_repo_set *set, listing *ls, size_t dst, const char *path)
{
	int rc = DRB_ERR_NOT_FOUND;
	bool data = ends_with(path, ".drb"), tried = false;
	for (size_t s = 0; s < set->n; s++) {
		char sha[65];
		if (s == dst || !ls[s].ok || !find(&ls[s], path))
			continue;
		if (data && (rc = recorded_hash(set->repos[s], path, sha)) < 0) {
			if (rc != DRB_ERR_NOT_FOUND)
				return rc; /* the metadata could not be read: try again next time */
			drb_error_clear();
			continue; /* this source lacks the description; another may hold it */
		}
		tried = true;
		drb_put_opts o = {.immutable = true}; /* metadata is locked too */
		rc = drb_repo_copy(set->repos[s], set->repos[dst], path, &o, data ? sha : NULL);
		if (rc == 0) {
			drb_log_info("healed %s: copied from repository %s to %s", path,
				     set->repos[s]->name, set->repos[dst]->name);
			return 0;
		}
		drb_log_current_error("heal");
	}
	return tried ? rc : 1;
}

/* A description healed into a repository is read by the reader's start-after when its key
 * sorts after the newest day catalog's last key (the usual case: it was shipped while the
 * repository was away, after that catalog was written). One at or before that key belongs to a
 * day its catalog already summarised without it: that generation's day catalogs go, and the
 * next compaction writes them whole (until then the catalog reads segment descriptions one by
 * one). cache: the generation's catalog prefix and newest last key, per repository. */
typedef struct catalog_cache {
	char prefix[1024];
	char last[1200]; /* "" when the generation has no day catalog (left) */
} catalog_cache;

static bool drop_day_catalogs(const drb_config *c, drb_repo *r, listing *l, const char *segment,
                              catalog_cache *cache)
{
	const char *b = strstr(segment, "/binlog/");
	const char *gen_end = b ? strchr(b + 8, '/') : NULL;
	char prefix[1024], desc[1200];
	if (!gen_end)
		return false;
	snprintf(prefix, sizeof prefix, "%.*s/catalog/%.*s/", (int)(b - segment), segment,
		 (int)(gen_end - b - 8), b + 8);
	size_t n = strlen(segment);
	snprintf(desc, sizeof desc, "%.*s.json",
	         (int)(n > 4 && strcmp(segment + n - 4, ".drb") == 0    ? n - 4
	               : n > 5 && strcmp(segment + n - 5, ".json") == 0 ? n - 5
	                                                                : n),
	         segment);
	if (strcmp(cache->prefix, prefix) != 0) {
		const char *newest = NULL;
		snprintf(cache->prefix, sizeof cache->prefix, "%s", prefix);
		cache->last[0] = 0;
		for (size_t i = 0; i < l->n; i++)
			if (strncmp(l->v[i].path, prefix, strlen(prefix)) == 0 &&
			    (!newest || strcmp(l->v[i].path, newest) > 0))
				newest = l->v[i].path;
		if (newest &&
		    drb_catalog_day_last(r, newest, cache->last, sizeof cache->last) < 0) {
			drb_error_clear();
			snprintf(cache->last, sizeof cache->last, "~"); /* unknown: rebuild */
		}
	}
	if (!cache->last[0] || strcmp(desc, cache->last) > 0)
		return false; /* after the newest catalog: read as it is */
	for (size_t i = 0; i < l->n; i++)
		if (strncmp(l->v[i].path, prefix, strlen(prefix)) == 0) {
			const char *p[] = {l->v[i].path};
			if (drb_repo_remove(r, p, 1) < 0)
				drb_error_clear();
			else
				drb_log_debug("heal: dropped %s (rebuilt by the next compaction)", p[0]);
		}
	cache->last[0] = 0; /* none left */
	drb_state_note_catalog_rebuild(c);
	return true;
}

int drb_heal(const drb_config *c, drb_repo_set *set)
{
	int64_t now = time(NULL);
	char prefix[300];
	bool degraded = false;
	if (set->n < 2 || !drb_state_heal_due(c, now))
		return 0;
	uint64_t begun = drb_state_heal_begin(c);
	listing *ls = calloc(set->n, sizeof *ls);
	catalog_cache *caches = calloc(set->n, sizeof *caches);
	if (!ls || !caches) {
		free(ls);
		free(caches);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	snprintf(prefix, sizeof prefix, "%s/", c->host_id);
	for (size_t i = 0; i < set->n; i++) {
		ls[i].ok = drb_repo_list(set->repos[i], prefix, true, add, &ls[i]) == 0;
		if (!ls[i].ok) {
			drb_log_current_error("heal: a repository cannot be listed");
			degraded = true;
		}
	}
	/* what expire deleted is never brought back from a repository that was down meanwhile */
	drb_tombstone *tombs = NULL;
	size_t n_tombs = 0;
	for (size_t i = 0; i < set->n; i++)
		for (size_t k = 0; ls[i].ok && k < ls[i].n; k++) {
			drb_key key;
			drb_key_parse(ls[i].v[k].path, &key);
			char *text = NULL;
			size_t len = 0;
			drb_tombstone t;
			if (key.kind != DRB_KEY_TOMBSTONE ||
			    drb_repo_get_buf(set->repos[i], ls[i].v[k].path, 1 << 20, &text, &len) < 0 ||
			    drb_tombstone_from_json(text, drb_meta_body_len(text, len), ls[i].v[k].path,
						    &t) < 0) {
				drb_error_clear();
				free(text);
				continue;
			}
			free(text);
			drb_tombstone *v = realloc(tombs, (n_tombs + 1) * sizeof *v);
			if (!v) {
				drb_tombstone_clear(&t);
				continue;
			}
			tombs = v;
			tombs[n_tombs++] = t;
		}
	/* data first, then the metadata that makes it visible */
	for (int pass = 0; pass < 2; pass++)
		for (size_t d = 0; d < set->n; d++) {
			if (!ls[d].ok)
				continue;
			for (size_t s = 0; s < set->n; s++) {
				if (s == d || !ls[s].ok)
					continue;
				for (size_t k = 0; k < ls[s].n; k++) {
					const char *p = ls[s].v[k].path;
					bool meta = ends_with(p, ".json");
					if (meta != (pass == 1) || strstr(p, "/check/") || find(&ls[d], p))
						continue;
					if (covered(tombs, n_tombs, p) || superseded_in(&ls[d], p) ||
					    superseded_in(&ls[s], p))
						continue;
					if (meta && !data_present(set, ls, s, d, p, tombs, n_tombs)) {
						if (!strstr(p, "/catalog/"))
							degraded = true; /* its data is still missing */
						continue;
					}
					int rc = heal_one(set, ls, d, p);
					if (rc < 0)
						degraded = true;
					if (rc != 0)
						continue;
					if (add(&ls[d], p, NULL) == 0)
						qsort(ls[d].v, ls[d].n, sizeof *ls[d].v, by_path);
					if (strstr(p, "/binlog/"))
						drop_day_catalogs(c, set->repos[d], &ls[d], p,
						                  &caches[d]);
				}
			}
		}
	for (size_t i = 0; i < set->n; i++) {
		for (size_t k = 0; k < ls[i].n; k++)
			free(ls[i].v[k].path);
		free(ls[i].v);
	}
	free(ls);
	free(caches);
	for (size_t t = 0; t < n_tombs; t++)
		drb_tombstone_clear(&tombs[t]);
	free(tombs);
	if (degraded) {
		drb_state_note_heal(c);
		return drb_error(DRB_ERR_DEGRADED, "some repositories are still missing copies");
	}
	if (!drb_state_heal_done(c, begun, now))
		drb_log_info("heal: another run noted a missing copy while this one compared; the "
			     "next heal looks again (nothing is purged until then)");
	return 0;
}
