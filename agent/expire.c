/* drbackup expire: apply the retention policy. For each repository the engine (policies/) makes
 * a plan from the verified catalog, the holds and now; expire then deletes, in an order that a
 * kill -9 cannot turn into a lie: first a tombstone that says what goes (signed, like every
 * metadata object), then the manifest (a half-deleted backup is invisible), then the objects.
 * The next run finishes what a killed one began, and completes the deletions in a repository that
 * was down (heal never copies back what a tombstone covers). It holds the full-backup lock, so
 * it never deletes the objects of a backup being written. */
#include "config.h"

#include <getopt.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "common/audit.h"
#include "common/catalog.h"
#include "common/context.h"
#include "common/error.h"
#include "common/fault.h"
#include "common/layout.h"
#include "common/lock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "policies/retention.h"

typedef struct expirer {
	const drb_config *c;
	drb_repo_set *set;
	drb_catalog **cats;
	bool dry_run, json;
	int64_t now;
	json_t *out; /* per repository: the plan and what was done */
	size_t deleted, locked;
	uint64_t freed;
	bool degraded;
} expirer;

/* ------------------------------------------------------------------ deleting */

/* Remove one object; a locked one (Object Lock, legal hold: 403) is kept and reported. */
static int remove_one(expirer *e, drb_repo *r, const char *path, bool *locked)
{
	const char *v[1] = {path};
	drb_obj_stat st;
	*locked = false;
	/* on a versioned bucket a second delete adds a second marker: only what is there goes
	 * (with delete_versions every version of the key is looked for) */
	if (drb_repo_can_lock(r) && !r->cfg->delete_versions &&
	    drb_repo_stat(r, path, &st) == DRB_ERR_NOT_FOUND) {
		drb_error_clear();
		return 0;
	}
	drb_error_clear();
	int rc = drb_repo_remove(r, v, 1);
	if (rc == DRB_ERR_PERMISSION) {
		drb_log_info("repository %s: %s is locked (Object Lock or legal hold): kept", r->name,
			     path);
		drb_error_clear();
		*locked = true;
		e->locked++;
		return 0;
	}
	if (rc == 0)
		e->deleted++;
	return rc;
}

typedef struct paths {
	char **v;
	size_t n;
} paths;

static int collect(void *ud, const char *path, const drb_obj_stat *st)
{
	paths *p = ud;
	(void)st;
	char **v = realloc(p->v, (p->n + 1) * sizeof *v);
	if (!v || !(v[p->n] = strdup(path)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	p->v = v;
	p->n++;
	return 0;
}

static void paths_free(paths *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	memset(p, 0, sizeof *p);
}

/* Every object of a whole backup: the manifest first, so what is left is never listed. */
static int delete_backup(expirer *e, drb_repo *r, const char *backup_id)
{
	char *manifest = drb_path_manifest(e->c->host_id, backup_id);
	char *dir = drb_path_full_dir(e->c->host_id, backup_id), prefix[600];
	paths p = {0};
	bool locked = false, any_locked = false;
	int rc = manifest && dir ? remove_one(e, r, manifest, &locked)
				 : drb_error(DRB_ERR_NOMEM, "out of memory");
	any_locked |= locked;
	if (rc == 0 && drb_fault("expire-die-after-manifest"))
		raise(SIGKILL); /* a kill -9 between the manifest and the objects */
	snprintf(prefix, sizeof prefix, "%s/", dir ? dir : "");
	if (rc == 0)
		rc = drb_repo_list(r, prefix, true, collect, &p);
	for (size_t i = 0; i < p.n && rc == 0; i++) {
		rc = remove_one(e, r, p.v[i], &locked);
		any_locked |= locked;
	}
	if (rc == 0 && any_locked)
		drb_log_warn("repository %s: full backup %s is locked in part: what the lock holds "
			     "stays until it expires",
			     r->name, backup_id);
	paths_free(&p);
	free(manifest);
	free(dir);
	return rc;
}

static int put_tombstone(expirer *e, drb_repo *r, const char *path, const drb_tombstone *t)
{
	char *text = NULL;
	int rc = drb_tombstone_to_json(t, &text);
	if (rc == 0)
		rc = drb_meta_put(r, path, "expired", text);
	free(text);
	(void)e;
	return rc;
}

/* Carry out tombstone t in r (again, for a repository that was down, or after a kill). */
static int apply_tombstone(expirer *e, drb_repo *r, const drb_tombstone *t)
{
	int rc = 0;
	bool locked;
	if (t->backup_id && t->whole)
		return delete_backup(e, r, t->backup_id);
	if (t->backup_id) {
		for (size_t i = 0; i < t->n_practices && rc == 0; i++) {
			char *path = drb_path_dump(e->c->host_id, t->backup_id, t->practices[i]);
			rc = path ? remove_one(e, r, path, &locked)
				  : drb_error(DRB_ERR_NOMEM, "out of memory");
			free(path);
		}
		return rc;
	}
	/* segments: every description and object of the generation before the key */
	paths p = {0};
	char prefix[600];
	snprintf(prefix, sizeof prefix, "%s/binlog/%s/", e->c->host_id, t->generation);
	rc = drb_repo_list(r, prefix, true, collect, &p);
	for (size_t i = 0; i < p.n && rc == 0; i++) {
		drb_key k;
		drb_key_parse(p.v[i], &k);
		if (k.kind != DRB_KEY_SEGMENT)
			continue;
		/* compare by the description's key: "<file>-<start>.json" */
		char key[1200];
		snprintf(key, sizeof key, "%s%s.json", prefix, k.name);
		if (strcmp(key, t->before) < 0)
			rc = remove_one(e, r, p.v[i], &locked);
	}
	paths_free(&p);
	/* day catalogs that hold only deleted segments */
	snprintf(prefix, sizeof prefix, "%s/catalog/%s/", e->c->host_id, t->generation);
	paths d = {0};
	if (rc == 0)
		rc = drb_repo_list(r, prefix, true, collect, &d);
	for (size_t i = 0; i < d.n && rc == 0; i++) {
		char *text = NULL;
		size_t len = 0;
		if (drb_repo_get_buf(r, d.v[i], 64u << 20, &text, &len) == 0) {
			json_t *j = json_loadb(text, drb_meta_body_len(text, len), 0, NULL);
			json_t *last = json_object_get(j, "last");
			if (json_is_string(last) && strcmp(json_string_value(last), t->before) < 0)
				rc = remove_one(e, r, d.v[i], &locked);
			json_decref(j);
		}
		drb_error_clear();
		free(text);
	}
	paths_free(&d);
	return rc;
}

/* The tombstones of every repository, carried out in r, and the missing ones written there. */
static int complete_tombstones(expirer *e, size_t ri)
{
	drb_repo *r = e->set->repos[ri];
	int rc = 0;
	for (size_t o = 0; o < e->set->n && rc == 0; o++) {
		const drb_catalog *c = e->cats[o];
		for (size_t t = 0; c && t < c->n_tombstones && rc == 0; t++) {
			const drb_tombstone *ts = &c->tombstones[t];
			char *path = ts->backup_id ? drb_path_tombstone_full(e->c->host_id, ts->backup_id)
						   : drb_path_tombstone_binlog(e->c->host_id, ts->generation);
			drb_obj_stat st;
			if (path && o != ri && drb_repo_stat(r, path, &st) == DRB_ERR_NOT_FOUND) {
				drb_error_clear();
				rc = put_tombstone(e, r, path, ts);
			}
			drb_error_clear();
			if (rc == 0)
				rc = apply_tombstone(e, r, ts);
			free(path);
		}
	}
	return rc;
}

/* ------------------------------------------------------------------ Object Lock, tiering */

#define TIER_MIN_BYTES (128u * 1024) /* S3 bills smaller objects in IA classes as 128 KiB */

static void iso_of(int64_t t, char out[24])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 24, "%Y-%m-%d %H:%M:%S", &tm);
}

/* The object whose lock stands for the item: a backup's manifest, a practice's dump, a
 * segment's data object. */
static char *lock_path(const expirer *e, const drb_ret_item *it)
{
	if (it->kind == DRB_RET_FULL)
		return drb_path_manifest(e->c->host_id, it->full->backup_id);
	if (it->kind == DRB_RET_PRACTICE)
		return drb_path_dump(e->c->host_id, it->full->backup_id, it->practice);
	return drb_path_segment(e->c->host_id, it->seg->generation, it->seg->file, it->seg->start,
				"drb");
}

static void keep_locked(drb_ret_plan *p, drb_ret_item *it, const char *why)
{
	it->keep = true;
	snprintf(it->why, sizeof it->why, "%s", why);
	p->n_delete--;
	p->bytes_freed -= it->bytes;
	p->bytes_kept += it->bytes;
}

/* Never try to delete a locked version: what the store says is locked (an Object Lock retention
 * not past, a legal hold) is kept, with why, before anything is deleted; so are the segments
 * after a locked one (segments go as a prefix of the chain). */
static int check_locks(expirer *e, size_t ri, drb_ret_plan *p, json_t *locked)
{
	drb_repo *r = e->set->repos[ri];
	int64_t real_now = time(NULL);
	const char *blocked_gen = NULL;
	if (!drb_repo_can_lock(r))
		return 0;
	for (size_t i = 0; i < p->n; i++) {
		drb_ret_item *it = &p->items[i];
		if (it->keep)
			continue;
		if (it->kind == DRB_RET_SEGMENT && blocked_gen &&
		    strcmp(blocked_gen, it->seg->generation) == 0) {
			keep_locked(p, it, "after a locked segment (segments go as a prefix of the "
					   "chain)");
			continue;
		}
		char *path = lock_path(e, it), why[240];
		drb_obj_info info;
		if (!path)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		int rc = drb_repo_info(r, path, &info);
		if (rc < 0) {
			/* gone already (a run that was killed), or unreadable: the delete decides */
			if (rc != DRB_ERR_NOT_FOUND)
				drb_log_current_error("expire");
			drb_error_clear();
			free(path);
			continue;
		}
		bool by_date = info.retain_until > real_now;
		if (by_date || info.legal_hold) {
			char until[24];
			iso_of(info.retain_until, until);
			if (info.legal_hold)
				snprintf(why, sizeof why, "locked: an S3 legal hold is ON on %s", path);
			else
				snprintf(why, sizeof why,
					 "locked: Object Lock %s until %s UTC (the store refuses to "
					 "delete it before)",
					 info.lock_mode[0] ? info.lock_mode : "retention", until);
			drb_log_info("repository %s: %s", r->name, why);
			keep_locked(p, it, why);
			e->locked++;
			json_array_append_new(locked, json_pack("{s:s, s:s, s:I, s:b}", "object", path,
								"mode", info.lock_mode,
								"retain_until",
								(json_int_t)info.retain_until,
								"legal_hold", info.legal_hold));
			if (it->kind == DRB_RET_SEGMENT)
				blocked_gen = it->seg->generation;
		}
		free(path);
	}
	return 0;
}

/* Extend the lock of every object of a backup that a weekly, monthly or yearly keep now holds
 * until the date that keep lasts: a practice's dump to its own practice's date, the manifest and
 * the rest to the backup's. */
static int extend_locks(expirer *e, size_t ri, const drb_ret_plan *p, size_t *extended)
{
	drb_repo *r = e->set->repos[ri];
	int64_t real_now = time(NULL);
	int rc = 0;
	if (!drb_repo_can_lock(r) || r->cfg->object_lock_days <= 0)
		return 0;
	for (size_t i = 0; i < p->n && rc == 0; i++) {
		const drb_ret_item *it = &p->items[i];
		if (it->kind != DRB_RET_FULL || !it->keep || it->lock_until <= real_now)
			continue;
		char *dir = drb_path_full_dir(e->c->host_id, it->full->backup_id), prefix[600];
		paths all = {0};
		snprintf(prefix, sizeof prefix, "%s/", dir ? dir : "");
		rc = dir ? drb_repo_list(r, prefix, true, collect, &all)
			 : drb_error(DRB_ERR_NOMEM, "out of memory");
		char *manifest = drb_path_manifest(e->c->host_id, it->full->backup_id);
		size_t before = *extended;
		if (rc == 0 && !manifest)
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		if (rc == 0 && (rc = drb_repo_retain(r, manifest, it->lock_until)) > 0) {
			(*extended)++;
			rc = 0;
		}
		for (size_t k = 0; k < all.n && rc == 0; k++) {
			int64_t until = it->lock_until;
			if (strcmp(all.v[k], manifest) == 0)
				continue;
			for (size_t j = i + 1; j < p->n && p->items[j].kind == DRB_RET_PRACTICE &&
					       p->items[j].full == it->full;
			     j++) {
				char *dump = drb_path_dump(e->c->host_id, it->full->backup_id,
							   p->items[j].practice);
				if (dump && strcmp(dump, all.v[k]) == 0)
					until = p->items[j].keep ? p->items[j].lock_until : 0;
				free(dump);
			}
			if (until > real_now && (rc = drb_repo_retain(r, all.v[k], until)) > 0) {
				(*extended)++;
				rc = 0;
			}
		}
		if (rc == 0 && *extended > before) {
			char when[24];
			iso_of(it->lock_until, when);
			drb_log_info("repository %s: full backup %s is locked until %s UTC (%s)",
				     r->name, it->full->backup_id, when, it->why);
		}
		paths_free(&all);
		free(manifest);
		free(dir);
	}
	return rc;
}

/* tier { after_days storage_class }: the dumps of fulls older than after_days, and binlog
 * segments of at least 128 KiB as old, move to the colder class by a copy onto themselves.
 * Manifests, descriptions and small segments stay where they are read often and cost little. */
static int tier(expirer *e, size_t ri, const drb_ret_plan *p, size_t *moved, uint64_t *bytes)
{
	drb_repo *r = e->set->repos[ri];
	const drb_repo_config *rc_ = r->cfg;
	int rc = 0;
	if (rc_->tier_after_days <= 0 || !rc_->tier_storage_class)
		return 0;
	if (!r->driver->set_class) {
		drb_log_warn("repository %s (%s) has no storage classes: tier { } is ignored",
			     r->name, r->driver->type);
		return 0;
	}
	int64_t before = e->now - (int64_t)rc_->tier_after_days * 86400;
	for (size_t i = 0; i < p->n && rc == 0; i++) {
		const drb_ret_item *it = &p->items[i];
		char *path = NULL;
		if (!it->keep)
			continue;
		if (it->kind == DRB_RET_FULL && it->full->snapshot_time < before) {
			for (size_t d = 0; d < it->full->n_dbs && rc == 0; d++) {
				const drb_db_entry *db = &it->full->dbs[d];
				if (db->expired || db->stored_bytes < TIER_MIN_BYTES)
					continue;
				path = drb_path_dump(e->c->host_id, it->full->backup_id, db->name);
				rc = path ? drb_repo_set_class(r, path, rc_->tier_storage_class)
					  : drb_error(DRB_ERR_NOMEM, "out of memory");
				if (rc == 0) {
					(*moved)++;
					*bytes += db->stored_bytes;
				}
				free(path);
			}
		} else if (it->kind == DRB_RET_SEGMENT && it->seg->stored_bytes >= TIER_MIN_BYTES &&
			   it->seg->shipped < before) {
			path = lock_path(e, it);
			rc = path ? drb_repo_set_class(r, path, rc_->tier_storage_class)
				  : drb_error(DRB_ERR_NOMEM, "out of memory");
			if (rc == 0) {
				(*moved)++;
				*bytes += it->seg->stored_bytes;
			}
			free(path);
		}
	}
	return rc;
}

/* legal_hold = true: the backups a held practice gained since `hold` (which set the S3 legal
 * holds of the backups it saw) get theirs too: its dump and the manifest. */
static int hold_new_backups(expirer *e, size_t ri, const char *const *holds, size_t n_holds,
			    size_t *n)
{
	drb_repo *r = e->set->repos[ri];
	const drb_catalog *c = e->cats[ri];
	int rc = 0;
	if (!r->cfg->legal_hold || !r->driver->legal_hold || !r->driver->info)
		return 0;
	for (size_t h = 0; h < n_holds && rc == 0; h++)
		for (size_t i = 0; i < c->n_fulls && rc == 0; i++) {
			const drb_manifest *m = c->fulls[i];
			const drb_db_entry *d = drb_manifest_db(m, holds[h]);
			if (!d || d->expired)
				continue;
			char *dump = drb_path_dump(e->c->host_id, m->backup_id, holds[h]);
			char *manifest = drb_path_manifest(e->c->host_id, m->backup_id);
			drb_obj_info info;
			if (!dump || !manifest)
				rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			for (int k = 0; k < 2 && rc == 0; k++) {
				const char *path = k ? manifest : dump;
				if ((rc = drb_repo_info(r, path, &info)) == 0 && !info.legal_hold &&
				    (rc = drb_repo_legal_hold(r, path, true)) == 0)
					(*n)++;
			}
			free(dump);
			free(manifest);
		}
	return rc;
}

/* ------------------------------------------------------------------ the plan */

static void policy_of(const long rules[6], drb_policy *p)
{
	*p = (drb_policy){.keep_daily = rules[0], .keep_weekly = rules[1], .keep_monthly = rules[2],
			  .keep_yearly = rules[3], .pitr_days = rules[4], .keep_min_days = rules[5]};
}

/* Holds in any repository count: the safe side of a repository that missed a release. */
static size_t gather_holds(expirer *e, const char ***out)
{
	const char **v = NULL;
	size_t n = 0;
	for (size_t i = 0; i < e->set->n; i++)
		for (size_t h = 0; e->cats[i] && h < e->cats[i]->n_holds; h++) {
			if (e->cats[i]->holds[h].released)
				continue;
			const char **nv = realloc(v, (n + 1) * sizeof *v);
			if (!nv)
				break;
			v = nv;
			v[n++] = e->cats[i]->holds[h].practice;
		}
	*out = v;
	return n;
}

static json_t *item_json(const drb_ret_item *it)
{
	const char *kind = it->kind == DRB_RET_FULL ? "full" : it->kind == DRB_RET_PRACTICE ? "practice"
											 : "segment";
	json_t *j = json_pack("{s:s, s:b, s:I, s:s}", "kind", kind, "keep", it->keep, "bytes",
			      (json_int_t)it->bytes, "why", it->why);
	if (it->full)
		json_object_set_new(j, "backup_id", json_string(it->full->backup_id));
	if (it->keep && it->lock_until)
		json_object_set_new(j, "lock_until", json_integer((json_int_t)it->lock_until));
	if (it->keep && strncmp(it->why, "locked", 6) == 0)
		json_object_set_new(j, "locked", json_true());
	if (it->practice)
		json_object_set_new(j, "practice", json_string(it->practice));
	if (it->seg) {
		char where[400];
		snprintf(where, sizeof where, "%s:%llu", it->seg->file, (unsigned long long)it->seg->start);
		json_object_set_new(j, "segment", json_string(where));
		json_object_set_new(j, "generation", json_string(it->seg->generation));
	}
	return j;
}

static void print_plan(const drb_repo *r, const drb_ret_plan *p, bool dry)
{
	size_t seg_keep = 0, seg_del = 0;
	uint64_t seg_del_bytes = 0;
	printf("repository %s: %s\n", r->name, dry ? "plan (dry run, nothing changes)" : "expired");
	size_t seg_locked = 0;
	for (size_t i = 0; i < p->n; i++) {
		const drb_ret_item *it = &p->items[i];
		if (it->kind == DRB_RET_SEGMENT) {
			seg_locked += it->keep && strncmp(it->why, "locked", 6) == 0;
			seg_keep += it->keep;
			seg_del += !it->keep;
			seg_del_bytes += it->keep ? 0 : it->bytes;
			continue;
		}
		char until[24] = "";
		if (it->keep && it->lock_until > time(NULL))
			iso_of(it->lock_until, until);
		if (it->kind == DRB_RET_FULL)
			printf("  %-6s full %s  %9.1f MB  %s%s%s%s\n", it->keep ? "keep" : "DELETE",
			       it->full->backup_id, it->bytes / 1e6, it->why,
			       until[0] ? (dry ? "; its lock would be extended to "
					       : "; lock extended to ")
					: "",
			       until, until[0] ? " UTC" : "");
		else if (it->keep && strncmp(it->why, "locked", 6) == 0)
			printf("    keep   %s of %s  %9.1f MB  %s\n", it->practice,
			       it->full->backup_id, it->bytes / 1e6, it->why);
		else if (!it->keep)
			printf("    DELETE %s of %s  %9.1f MB  %s\n", it->practice, it->full->backup_id,
			       it->bytes / 1e6, it->why);
	}
	printf("  binlog: keep %zu segment%s, DELETE %zu (%.1f MB)\n", seg_keep,
	       seg_keep == 1 ? "" : "s", seg_del, seg_del_bytes / 1e6);
	if (seg_locked)
		printf("  binlog: %zu segment%s kept because Object Lock or a legal hold protects "
		       "%s\n",
		       seg_locked, seg_locked == 1 ? "" : "s", seg_locked == 1 ? "it" : "them");
	printf("  frees %.1f MB; keeps %.1f MB\n", p->bytes_freed / 1e6, p->bytes_kept / 1e6);
}

/* Per generation, the key before which every segment goes: deletion is a prefix of the chain,
 * never a hole inside it. NULL when nothing of it goes. */
static char *segments_before(const expirer *e, const drb_catalog *c, const drb_generation *g,
			     const drb_ret_plan *p)
{
	size_t k = 0;
	for (; k < g->n; k++) {
		bool keep = true;
		for (size_t i = 0; i < p->n; i++)
			if (p->items[i].seg == &g->segs[k])
				keep = p->items[i].keep;
		if (keep)
			break;
	}
	(void)c;
	if (k == 0)
		return NULL;
	if (k == g->n) {
		char *all = NULL;
		if (asprintf(&all, "%s/binlog/%s/~", e->c->host_id, g->name) < 0)
			return NULL;
		return all;
	}
	return drb_segment_path(e->c->host_id, &g->segs[k], "json");
}

static int apply_plan(expirer *e, size_t ri, const drb_ret_plan *p)
{
	drb_repo *r = e->set->repos[ri];
	const drb_catalog *c = e->cats[ri];
	int rc = 0;
	/* full backups and practices: the tombstone, then the objects */
	for (size_t i = 0; i < p->n && rc == 0; i++) {
		const drb_ret_item *it = &p->items[i];
		if (it->kind == DRB_RET_SEGMENT || it->keep)
			continue;
		if (it->kind == DRB_RET_FULL) {
			drb_tombstone t = {.backup_id = (char *)it->full->backup_id, .whole = true};
			char *path = drb_path_tombstone_full(e->c->host_id, it->full->backup_id);
			rc = path ? put_tombstone(e, r, path, &t) : drb_error(DRB_ERR_NOMEM, "out of memory");
			if (rc == 0)
				rc = delete_backup(e, r, it->full->backup_id);
			free(path);
		} else {
			/* every practice of this backup that goes, in one tombstone */
			const char *names[256];
			char *whys[256];
			size_t n = 0;
			for (size_t k = 0; k < p->n && n < 256; k++)
				if (p->items[k].kind == DRB_RET_PRACTICE && !p->items[k].keep &&
				    p->items[k].full == it->full) {
					if (k < i)
						goto next; /* done with the first of them */
					names[n] = p->items[k].practice;
					whys[n++] = (char *)p->items[k].why;
				}
			for (size_t d = 0; d < it->full->n_dbs && n < 256; d++)
				if (it->full->dbs[d].expired) { /* keep what earlier runs expired */
					names[n] = it->full->dbs[d].name;
					whys[n++] = it->full->dbs[d].expired_why ? it->full->dbs[d].expired_why : "";
				}
			drb_tombstone t = {.backup_id = (char *)it->full->backup_id,
					   .practices = (char **)names, .whys = whys, .n_practices = n};
			char *path = drb_path_tombstone_full(e->c->host_id, it->full->backup_id);
			rc = path ? put_tombstone(e, r, path, &t) : drb_error(DRB_ERR_NOMEM, "out of memory");
			if (rc == 0)
				rc = apply_tombstone(e, r, &t);
			free(path);
		}
	next:;
	}
	/* segments, generation by generation */
	for (size_t g = 0; g < c->n_gens && rc == 0; g++) {
		char *before = segments_before(e, c, &c->gens[g], p);
		if (!before)
			continue;
		drb_tombstone t = {.generation = c->gens[g].name, .before = before};
		char *path = drb_path_tombstone_binlog(e->c->host_id, c->gens[g].name);
		rc = path ? put_tombstone(e, r, path, &t) : drb_error(DRB_ERR_NOMEM, "out of memory");
		if (rc == 0)
			rc = apply_tombstone(e, r, &t);
		/* the day that straddles the boundary keeps its remaining segments in its catalog */
		const drb_generation *gen = &c->gens[g];
		for (size_t k = 0; rc == 0 && k < gen->compacted; k++) {
			char *key = drb_segment_path(e->c->host_id, &gen->segs[k], "json");
			bool first_kept = key && strcmp(key, before) >= 0;
			free(key);
			if (!first_kept)
				continue;
			char day[9], d2[9];
			time_t s0 = (time_t)gen->segs[k].shipped;
			strftime(day, sizeof day, "%Y%m%d", gmtime(&s0));
			size_t end = k;
			while (end < gen->compacted) {
				time_t s1 = (time_t)gen->segs[end].shipped;
				strftime(d2, sizeof d2, "%Y%m%d", gmtime(&s1));
				if (strcmp(d2, day) != 0)
					break;
				end++;
			}
			rc = drb_catalog_write_day(r, e->c->host_id, gen, k, end);
			break;
		}
		free(path);
		free(before);
	}
	/* leftovers of full backups that never finished (no full runs: we hold its lock) */
	const char *newest = c->n_fulls ? c->fulls[c->n_fulls - 1]->backup_id : NULL;
	for (size_t i = 0; newest && i < c->n_incomplete && rc == 0; i++)
		if (strcmp(c->incomplete[i], newest) < 0) {
			drb_log_info("repository %s: removing the objects of unfinished backup %s",
				     r->name, c->incomplete[i]);
			rc = delete_backup(e, r, c->incomplete[i]);
		}
	return rc;
}

static int expire_repo(expirer *e, size_t ri, const char *const *holds, size_t n_holds)
{
	drb_repo *r = e->set->repos[ri];
	const drb_config *c = e->c;
	drb_practice_policy *pp = calloc(c->retention.n_practices + 1, sizeof *pp);
	drb_ret_plan plan = {0};
	char rules[64][80];
	int rc = 0;
	if (!pp)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	drb_ret_input in = {.cat = e->cats[ri], .practices = pp, .n_practices = c->retention.n_practices,
			    .holds = holds, .n_holds = n_holds, .now = e->now};
	policy_of(c->retention.def, &in.policy);
	for (size_t i = 0; i < c->retention.n_practices; i++) {
		pp[i].practice = c->retention.practices[i].name;
		policy_of(c->retention.practices[i].rules, &pp[i].policy);
		snprintf(rules[i % 64], sizeof rules[0], "retention { practice \"%.50s\" }",
			 pp[i].practice);
		pp[i].rule = rules[i % 64];
	}
	if ((rc = drb_retention_plan(&in, &plan)) < 0) {
		drb_error_wrap(0, "repository %s", r->name);
		goto out;
	}
	json_t *locked = json_array();
	if ((rc = check_locks(e, ri, &plan, locked)) < 0) {
		json_decref(locked);
		drb_error_wrap(0, "repository %s", r->name);
		goto out;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < plan.n; i++)
		json_array_append_new(items, item_json(&plan.items[i]));
	json_t *rj = json_pack("{s:s, s:o, s:I, s:I, s:I, s:o}", "repository", r->name, "items",
			       items, "delete", (json_int_t)plan.n_delete, "bytes_freed",
			       (json_int_t)plan.bytes_freed, "bytes_kept",
			       (json_int_t)plan.bytes_kept, "locked", locked);
	json_array_append_new(e->out, rj);
	if (!e->json)
		print_plan(r, &plan, e->dry_run);
	if (e->dry_run)
		goto out;
	if ((rc = complete_tombstones(e, ri)) == 0 && plan.n_delete)
		rc = apply_plan(e, ri, &plan);
	e->freed += plan.bytes_freed;
	/* what stays: its locks extended to what its keep lasts, old backups to a colder class */
	size_t extended = 0, moved = 0;
	uint64_t moved_bytes = 0;
	size_t held = 0;
	if (rc == 0 && (rc = extend_locks(e, ri, &plan, &extended)) == 0 &&
	    (rc = hold_new_backups(e, ri, holds, n_holds, &held)) == 0)
		rc = tier(e, ri, &plan, &moved, &moved_bytes);
	if (held)
		drb_log_info("repository %s: S3 legal hold ON on %zu object%s of backups taken "
			     "since the hold",
			     r->name, held, held == 1 ? "" : "s");
	json_object_set_new(rj, "locks_extended", json_integer((json_int_t)extended));
	json_object_set_new(rj, "tiered_objects", json_integer((json_int_t)moved));
	if (moved && !e->json)
		printf("  tiered %zu object%s (%.1f MB) to %s\n", moved, moved == 1 ? "" : "s",
		       moved_bytes / 1e6, r->cfg->tier_storage_class);
	if (rc < 0)
		drb_error_wrap(0, "repository %s", r->name);
out:
	drb_retention_plan_free(&plan);
	free(pp);
	return rc;
}

static void metrics(expirer *e, bool ok)
{
	drb_metric m[3 + 3 * 16];
	char labels[16][160];
	int n = 0;
	m[n++] = (drb_metric){"drbackup_expire_deleted_objects", NULL,
			      "objects the last expire deleted", (double)e->deleted};
	m[n++] = (drb_metric){"drbackup_expire_locked_objects", NULL,
			      "objects the last expire found locked and kept", (double)e->locked};
	for (size_t i = 0; i < e->set->n && i < 16; i++) {
		const drb_catalog *c = e->cats[i];
		if (!c)
			continue;
		uint64_t bytes = 0, objects = 0;
		for (size_t f = 0; f < c->n_fulls; f++)
			for (size_t d = 0; d < c->fulls[f]->n_dbs; d++)
				if (!c->fulls[f]->dbs[d].expired) {
					bytes += c->fulls[f]->dbs[d].stored_bytes;
					objects++;
				}
		for (size_t g = 0; g < c->n_gens; g++)
			for (size_t k = 0; k < c->gens[g].n; k++) {
				bytes += c->gens[g].segs[k].stored_bytes;
				objects++;
			}
		snprintf(labels[i], sizeof labels[i], "repo=\"%s\"", e->set->repos[i]->name);
		m[n++] = (drb_metric){"drbackup_repository_bytes", labels[i],
				      "stored bytes of backups and segments before the last expire",
				      (double)bytes};
		m[n++] = (drb_metric){"drbackup_repository_objects", labels[i],
				      "data objects before the last expire", (double)objects};
		m[n++] = (drb_metric){"drbackup_oldest_backup_timestamp_seconds", labels[i],
				      "snapshot time of the oldest full backup",
				      c->n_fulls ? (double)c->fulls[0]->snapshot_time : 0};
	}
	if (ok)
		m[n++] = (drb_metric){"drbackup_last_success_timestamp_seconds", "command=\"expire\"",
				      "when the command last succeeded in every repository",
				      (double)time(NULL)};
	drb_metrics_update(e->c, m, n);
}

int drb_cmd_expire(drb_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"dry-run", no_argument, NULL, 'n'},
					     {"now", required_argument, NULL, 't'},
					     {0, 0, 0, 0}};
	expirer e = {.json = ctx->json, .now = time(NULL)};
	drb_config *c;
	int opt, rc, lock_full = -1, lock_expire = -1;
	size_t failed = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'n') {
			e.dry_run = true;
		} else if (opt == 't') {
			int64_t t = 0;
			char iso[64];
			snprintf(iso, sizeof iso, "%s", optarg);
			if (strlen(iso) == 19 && iso[10] == ' ')
				iso[10] = 'T';
			if (strlen(iso) == 19)
				strcat(iso, "Z");
			if (drb_time_parse(iso, &t) < 0)
				return drb_error(DRB_ERR_USAGE, "--now takes a UTC time such as "
								"'2026-12-01 00:00:00'");
			e.now = t;
		} else {
			return drb_error(DRB_ERR_USAGE, "unknown option '%s' (see 'drbackup expire --help')",
					 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return drb_error(DRB_ERR_USAGE, "unexpected argument '%s'", argv[optind]);
	if ((rc = drb_ctx_config(ctx, &c)) < 0)
		return rc;
	e.c = c;
	/* a second expire, or a full backup writing objects its manifest does not list yet */
	if (!e.dry_run && ((rc = drb_lock_take(c->spool_dir, "expire", false, &lock_expire)) < 0 ||
			   (rc = drb_lock_take(c->spool_dir, "full", false, &lock_full)) < 0)) {
		drb_error_wrap(0, "expire does not run beside another expire or a full backup; it "
				  "runs next time");
		goto out;
	}
	if ((rc = drb_repo_set_open(c, ctx->repo_name, &e.set)) < 0)
		goto out;
	if (!e.set->signer) {
		/* a host without a signing key writes unsigned metadata: its own is all there is */
		drb_log_warn("this host has no signing key (signing { key }): expire counts unsigned "
			     "metadata; configure signing so that only verified backups count");
		drb_repo_set_allow_unsigned(e.set, true);
	}
	e.cats = calloc(e.set->n, sizeof *e.cats);
	e.out = json_array();
	if (!e.cats || !e.out) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < e.set->n; i++)
		if (drb_catalog_load(e.set->repos[i], c->host_id, &e.cats[i]) < 0) {
			drb_log_current_error("expire");
			drb_error_clear();
			e.cats[i] = NULL;
		}
	const char **holds = NULL;
	size_t n_holds = gather_holds(&e, &holds);
	int first_rc = 0;
	drb_error_state first;
	for (size_t i = 0; i < e.set->n; i++) {
		if (!e.cats[i]) {
			failed++;
			continue;
		}
		int r = expire_repo(&e, i, holds, n_holds);
		if (r < 0) {
			if (!first_rc) {
				drb_error_save(&first);
				first_rc = r;
			}
			if (r != DRB_ERR_REFUSED)
				drb_log_current_error("expire");
			failed++;
		}
	}
	free(holds);
	if (!e.dry_run)
		metrics(&e, failed == 0);
	if (!e.dry_run) {
		json_t *rec = drb_audit_begin("expire", c->host_id, e.now);
		if (rec) {
			json_object_set_new(rec, "deleted_objects", json_integer((json_int_t)e.deleted));
			json_object_set_new(rec, "locked_objects", json_integer((json_int_t)e.locked));
			json_object_set_new(rec, "bytes_freed", json_integer((json_int_t)e.freed));
			/* nothing deleted and nothing failed: no object is written, the system log
			 * still has the line */
			drb_audit_finish(e.deleted || failed ? e.set : NULL, c, rec,
					 failed ? DRB_ERR_DEGRADED : 0);
		}
	}
	if (ctx->json) {
		json_t *j = json_pack("{s:s, s:b, s:o, s:o, s:I, s:I}", "host_id", c->host_id, "dry_run",
				      e.dry_run, "now", json_integer((json_int_t)e.now), "repositories",
				      e.out, "deleted_objects", (json_int_t)e.deleted, "locked_objects",
				      (json_int_t)e.locked);
		e.out = NULL;
		json_dumpf(j, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	} else if (!e.dry_run) {
		drb_log_info("expire: %zu object%s deleted (%.1f MB), %zu locked and kept", e.deleted,
			     e.deleted == 1 ? "" : "s", e.freed / 1e6, e.locked);
	}
	if (first_rc == DRB_ERR_REFUSED || (failed && failed == e.set->n && first_rc)) {
		drb_error_restore(&first);
		rc = first_rc;
	} else if (failed) {
		rc = drb_error(DRB_ERR_DEGRADED, "%zu of %zu repositories could not be expired; the "
						 "next run completes them",
			       failed, e.set->n);
	} else {
		rc = 0;
	}
out:
	json_decref(e.out);
	for (size_t i = 0; e.cats && i < e.set->n; i++)
		drb_catalog_free(e.cats[i]);
	free(e.cats);
	drb_repo_set_close(e.set);
	drb_lock_release(lock_full);
	drb_lock_release(lock_expire);
	return rc;
}
