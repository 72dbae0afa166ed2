/* Versions of a versioned (Object Lock) bucket, with ListObjectVersions (?versions), page after
 * page by key-marker and version-id-marker:
 *   - delete_versions: a delete removes every version of the key (DeleteObjects with VersionId),
 *     not only a delete marker; a version that Object Lock or a legal hold protects is refused
 *     by the server (AccessDenied) and reported as such, and a delete marker then hides the key
 *     as a delete should (the next delete removes the rest once the lock has passed);
 *   - --repo-as-of T: the repository as it was at T: for each key the newest version whose
 *     LastModified is not after T, a key whose newest such version is a delete marker absent.
 *     Listing, HEAD and GET then name that version, so an overwritten or deleted current
 *     version does not hide a locked good one. Resolved keys are cached for the run. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "s3/internal.h"

#define VERSIONS_BODY_MAX (32u * 1024 * 1024)

/* Called with every version of the listing under full_prefix, in the server's order (by key,
 * newest first). Non-zero stops. */
typedef int (*version_fn)(void *ud, const drb_s3_version *v);

static int list_versions(drb_s3 *s3, const char *full_prefix, version_fn fn, void *ud)
{
	drb_s3_resp resp = {0};
	drb_s3_versions_page page = {0};
	char *key_marker = NULL, *vid_marker = NULL, where[600];
	unsigned pages = 0;
	int rc = 0;
	drb_s3_where(s3, full_prefix, where, sizeof where);
	for (;;) {
		drb_s3_req req = {.method = "GET",
		                  .what = "listing the versions of",
		                  .body_max = VERSIONS_BODY_MAX};
		req.query[req.n_query++] = (drb_s3_kv){"versions", ""};
		req.query[req.n_query++] = (drb_s3_kv){"prefix", full_prefix};
		req.query[req.n_query++] = (drb_s3_kv){"encoding-type", "url"};
		if (key_marker)
			req.query[req.n_query++] = (drb_s3_kv){"key-marker", key_marker};
		if (vid_marker)
			req.query[req.n_query++] = (drb_s3_kv){"version-id-marker", vid_marker};
		if ((rc = drb_s3_send(s3, &req, &resp)) < 0)
			goto out;
		if ((rc = drb_s3_parse_versions(resp.body, resp.body_len, &page)) < 0) {
			rc = drb_error_wrap(0, "listing the versions of %s (page %u)", where,
			                    pages + 1);
			goto out;
		}
		pages++;
		for (size_t i = 0; i < page.n; i++)
			if ((rc = fn(ud, &page.v[i])) != 0)
				goto out;
		if (!page.truncated)
			break;
		if (!page.next_key ||
		    (key_marker && strcmp(key_marker, page.next_key) == 0 &&
		     (!page.next_version ||
		      (vid_marker && strcmp(vid_marker, page.next_version) == 0)))) {
			rc = drb_error(
			    DRB_ERR_REMOTE,
			    "listing the versions of %s: page %u is truncated but gives no "
			    "new marker",
			    where, pages);
			goto out;
		}
		free(key_marker);
		free(vid_marker);
		key_marker = page.next_key;
		vid_marker = page.next_version;
		page.next_key = page.next_version = NULL;
		drb_s3_versions_page_free(&page);
	}
out:
	drb_s3_versions_page_free(&page);
	drb_s3_resp_free(&resp);
	free(key_marker);
	free(vid_marker);
	return rc;
}

/* ---------------------------------------------------------------- deleting every version */

typedef struct of_key {
	const char *key;
	char **vids;
	size_t n;
} of_key;

static int collect_key(void *ud, const drb_s3_version *v)
{
	of_key *k = ud;
	if (strcmp(v->key, k->key) != 0)
		return 0; /* a longer key with this one as its prefix */
	char **nv = realloc(k->vids, (k->n + 1) * sizeof *nv);
	if (!nv || !(nv[k->n] = strdup(v->version_id))) {
		if (nv)
			k->vids = nv;
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	k->vids = nv;
	k->n++;
	return 0;
}

static int delete_versions_of(drb_s3 *s3, const char *key)
{
	of_key k = {.key = key};
	drb_s3_resp resp = {0};
	char *xml = NULL, ekey[DRB_S3_KEY_MAX + 1], code[64], msg[256], where[600];
	const char **keys = NULL;
	size_t len = 0;
	int rc = list_versions(s3, key, collect_key, &k);
	drb_s3_where(s3, key, where, sizeof where);
	for (size_t i = 0; rc == 0 && i < k.n; i += DRB_S3_DELETE_BATCH) {
		size_t n = k.n - i < DRB_S3_DELETE_BATCH ? k.n - i : DRB_S3_DELETE_BATCH;
		unsigned char md5[16];
		free(keys);
		if (!(keys = malloc(n * sizeof *keys))) {
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			break;
		}
		for (size_t j = 0; j < n; j++)
			keys[j] = key;
		free(xml);
		xml = NULL;
		if ((rc = drb_s3_xml_delete(keys, (const char *const *)k.vids + i, n, &xml,
		                                     &len)) < 0)
			break;
		drb_s3_req req = {.method = "POST",
		                  .what = "deleting the versions of",
		                  .body = xml,
		                  .body_len = len};
		req.query[req.n_query++] = (drb_s3_kv){"delete", ""};
		drb_s3_md5(xml, len, md5);
		drb_s3_md5_base64(md5, req.body_md5);
		if ((rc = drb_s3_send(s3, &req, &resp)) < 0)
			break;
		rc = drb_s3_parse_delete(resp.body, resp.body_len, ekey, sizeof ekey, code,
		                         sizeof code, msg, sizeof msg);
		if (rc == DRB_ERR_REMOTE)
			rc = drb_error(
			    strcmp(code, "AccessDenied") == 0 ? DRB_ERR_PERMISSION : DRB_ERR_REMOTE,
			    "deleting a version of %s: %s (%.150s): Object Lock or a legal "
			    "hold protects it",
			    where, code, msg);
	}
	if (rc == DRB_ERR_PERMISSION) {
		/* what a lock keeps stays, but the key goes from view as a delete asks (a delete
		 * marker): a later delete removes the rest once the lock has passed */
		drb_error_state saved;
		drb_s3_resp_free(&resp);
		resp = (drb_s3_resp){0};
		drb_error_save(&saved);
		drb_s3_req del = {.method = "DELETE", .key = key, .what = "deleting"};
		if (drb_s3_send(s3, &del, &resp) < 0)
			drb_log_current_error("adding a delete marker");
		drb_error_restore(&saved);
	}
	if (rc == 0)
		drb_log_debug("%s: %zu version%s deleted", where, k.n, k.n == 1 ? "" : "s");
	for (size_t i = 0; i < k.n; i++)
		free(k.vids[i]);
	free(k.vids);
	free(keys);
	free(xml);
	drb_s3_resp_free(&resp);
	return rc;
}

int drb_s3_remove_versions(drb_s3 *s3, char *const *keys, size_t n)
{
	int rc = 0, first = 0;
	drb_error_state saved;
	/* every key is tried: one locked key does not keep the others */
	for (size_t i = 0; i < n; i++)
		if ((rc = delete_versions_of(s3, keys[i])) < 0 && !first) {
			first = rc;
			drb_error_save(&saved);
		}
	if (first)
		drb_error_restore(&saved);
	return first;
}

/* ---------------------------------------------------------------- the bucket at a time */

typedef struct asof_entry {
	char *key;
	char *vid; /* NULL: no version then */
	uint64_t size;
	int64_t mtime;
} asof_entry;

static int by_entry_key(const void *a, const void *b)
{
	return strcmp(((const drb_s3_version *)a)->key, ((const drb_s3_version *)b)->key);
}

/* Under asof_lock: the cached resolution of key, or NULL. */
static drb_s3_version *cache_find(drb_s3 *s3, const char *key)
{
	drb_s3_version probe = {.key = (char *)key};
	return s3->asof_n
	           ? bsearch(&probe, s3->asof_v, s3->asof_n, sizeof *s3->asof_v, by_entry_key)
	           : NULL;
}

/* Under asof_lock: remember key -> vid (NULL: absent then). */
static int cache_add(drb_s3 *s3, const char *key, const char *vid, uint64_t size, int64_t mtime)
{
	if (cache_find(s3, key))
		return 0;
	if (s3->asof_n == s3->asof_cap) {
		size_t c = s3->asof_cap ? s3->asof_cap * 2 : 256;
		drb_s3_version *v = realloc(s3->asof_v, c * sizeof *v);
		if (!v)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		s3->asof_v = v;
		s3->asof_cap = c;
	}
	drb_s3_version e = {.key = strdup(key),
	                    .version_id = vid ? strdup(vid) : NULL,
	                    .size = size,
	                    .mtime = mtime,
	                    .delete_marker = !vid};
	if (!e.key || (vid && !e.version_id)) {
		free(e.key);
		free(e.version_id);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	/* insertion keeps the array sorted */
	size_t lo = 0, hi = s3->asof_n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(s3->asof_v[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&s3->asof_v[lo + 1], &s3->asof_v[lo], (s3->asof_n - lo) * sizeof *s3->asof_v);
	s3->asof_v[lo] = e;
	s3->asof_n++;
	return 0;
}

static void cache_clear(drb_s3 *s3)
{
	for (size_t i = 0; i < s3->asof_n; i++) {
		free(s3->asof_v[i].key);
		free(s3->asof_v[i].version_id);
	}
	free(s3->asof_v);
	s3->asof_v = NULL;
	s3->asof_n = s3->asof_cap = 0;
}

/* Picks, key by key, the newest version not after as_of. Versions of one key come together. */
typedef struct picker {
	drb_s3 *s3;
	const char *only; /* resolve this key only (NULL: every key listed) */
	char *cur;        /* the key being looked at */
	bool cur_done;    /* its version is chosen */
	int64_t best_mtime;
	char *best_vid; /* NULL with cur_done: a delete marker */
	uint64_t best_size;
	bool have;
	/* every key resolved, in order, for a listing */
	asof_entry *v;
	size_t n;
} picker;

static int pick_flush(picker *p)
{
	int rc = 0;
	if (!p->cur)
		return 0;
	if (!p->only || strcmp(p->cur, p->only) == 0) {
		pthread_mutex_lock(&p->s3->asof_lock);
		rc = cache_add(p->s3, p->cur, p->have ? p->best_vid : NULL, p->best_size,
		               p->best_mtime);
		pthread_mutex_unlock(&p->s3->asof_lock);
		if (rc == 0 && p->have && p->best_vid && !p->only) {
			asof_entry *nv = realloc(p->v, (p->n + 1) * sizeof *nv);
			if (!nv)
				rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			else {
				p->v = nv;
				p->v[p->n++] =
				    (asof_entry){p->cur, NULL, p->best_size, p->best_mtime};
				p->cur = NULL;
			}
		}
	}
	free(p->cur);
	free(p->best_vid);
	p->cur = p->best_vid = NULL;
	p->have = p->cur_done = false;
	return rc;
}

static int pick(void *ud, const drb_s3_version *v)
{
	picker *p = ud;
	int rc;
	if (!p->cur || strcmp(p->cur, v->key) != 0) {
		if ((rc = pick_flush(p)) < 0)
			return rc;
		if (!(p->cur = strdup(v->key)))
			return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	if (v->mtime > p->s3->as_of)
		return 0; /* written after the time asked for */
	/* the newest not after as_of; on a tie the one listed first (the newer) */
	if (p->have && v->mtime <= p->best_mtime)
		return 0;
	free(p->best_vid);
	p->best_vid = NULL;
	if (!v->delete_marker && !(p->best_vid = strdup(v->version_id)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	p->best_mtime = v->mtime;
	p->best_size = v->size;
	p->have = true;
	return 0;
}

static void picker_free(picker *p)
{
	free(p->cur);
	free(p->best_vid);
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].key);
	free(p->v);
}

int drb_s3_as_of(void *impl, int64_t t)
{
	drb_s3 *s3 = impl;
	pthread_mutex_lock(&s3->asof_lock);
	cache_clear(s3);
	s3->as_of = t;
	pthread_mutex_unlock(&s3->asof_lock);
	return 0;
}

int drb_s3_asof_version(drb_s3 *s3, const char *key, char **vid)
{
	char where[600];
	int rc = 0;
	*vid = NULL;
	pthread_mutex_lock(&s3->asof_lock);
	drb_s3_version *c = cache_find(s3, key);
	bool known = c != NULL;
	if (c && c->version_id && !(*vid = strdup(c->version_id)))
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	pthread_mutex_unlock(&s3->asof_lock);
	if (!known && rc == 0) {
		picker p = {.s3 = s3, .only = key};
		if ((rc = list_versions(s3, key, pick, &p)) == 0)
			rc = pick_flush(&p);
		picker_free(&p);
		if (rc == 0) {
			pthread_mutex_lock(&s3->asof_lock);
			if (!cache_find(s3, key))
				rc = cache_add(s3, key, NULL, 0, 0); /* no version at all */
			c = cache_find(s3, key);
			if (rc == 0 && c && c->version_id && !(*vid = strdup(c->version_id)))
				rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			pthread_mutex_unlock(&s3->asof_lock);
		}
	}
	if (rc == 0 && !*vid)
		rc = drb_error(DRB_ERR_NOT_FOUND, "%s: no such object at the time asked for",
		               drb_s3_where(s3, key, where, sizeof where));
	return rc;
}

static int by_asof_key(const void *a, const void *b)
{
	return strcmp(((const asof_entry *)a)->key, ((const asof_entry *)b)->key);
}

int drb_s3_asof_list(drb_s3 *s3, const char *prefix, bool recursive, const char *after,
                     drb_repo_list_fn fn, void *ud)
{
	picker p = {.s3 = s3};
	char *full = NULL, *folder = NULL;
	size_t strip = *s3->prefix ? strlen(s3->prefix) + 1 : 0;
	int rc;
	if (asprintf(&full, "%s%s%s", s3->prefix, *s3->prefix ? "/" : "", prefix) < 0)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	if ((rc = list_versions(s3, full, pick, &p)) == 0)
		rc = pick_flush(&p);
	if (rc < 0)
		goto out;
	if (p.n)
		qsort(p.v, p.n, sizeof *p.v, by_asof_key);
	size_t plen = strlen(full);
	for (size_t i = 0; i < p.n && rc == 0; i++) {
		const char *k = p.v[i].key;
		if (strncmp(k, full, plen) != 0 || strlen(k) <= strip)
			continue;
		const char *rel = k + strip;
		if (after && strcmp(rel, after) <= 0)
			continue;
		const char *slash = recursive ? NULL : strchr(k + plen, '/');
		if (slash) {
			/* a folder, once, as a non-recursive listing shows it */
			size_t fl = (size_t)(slash - rel) + 1;
			if (folder && strlen(folder) == fl && strncmp(folder, rel, fl) == 0)
				continue;
			free(folder);
			if (!(folder = strndup(rel, fl))) {
				rc = drb_error(DRB_ERR_NOMEM, "out of memory");
				break;
			}
			rc = fn(ud, folder, NULL);
			continue;
		}
		drb_obj_stat st = {.size = p.v[i].size, .mtime = p.v[i].mtime};
		rc = fn(ud, rel, &st);
	}
out:
	picker_free(&p);
	free(full);
	free(folder);
	return rc;
}
