#include "config.h"
#include "policies/retention.h"
#include "common/error.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY 86400
#define FUTURE_SLACK 900

const drb_policy *drb_retention_policy_for(const drb_ret_input *in, const char *practice,
					   const char **rule)
{
	for (size_t i = 0; i < in->n_practices; i++)
		if (strcmp(in->practices[i].practice, practice) == 0) {
			if (rule)
				*rule = in->practices[i].rule ? in->practices[i].rule : "its own rule";
			return &in->practices[i].policy;
		}
	if (rule)
		*rule = "the default";
	return &in->policy;
}

static bool on_hold(const drb_ret_input *in, const char *practice)
{
	for (size_t i = 0; i < in->n_holds; i++)
		if (strcmp(in->holds[i], practice) == 0)
			return true;
	return false;
}

static const drb_db_entry *live_entry(const drb_manifest *m, const char *practice)
{
	const drb_db_entry *e = drb_manifest_db(m, practice);
	return e && !e->expired ? e : NULL;
}

/* Calendar periods in UTC: day, ISO week, month, year. */
enum { P_DAY, P_WEEK, P_MONTH, P_YEAR, N_PERIODS };
static const char *const period_names[] = {"keep_daily", "keep_weekly", "keep_monthly",
					   "keep_yearly"};

static void period_of(int64_t t, int kind, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	static const char *const fmt[] = {"%Y-%m-%d", "%G-W%V", "%Y-%m", "%Y"};
	strftime(out, len, fmt[kind], &tm);
}

/* The first second of the period holding t, and of the period n periods later. */
static int64_t period_start(int64_t t, int kind)
{
	int64_t d = t >= 0 ? t / DAY : (t - DAY + 1) / DAY;
	if (kind == P_DAY)
		return d * DAY;
	if (kind == P_WEEK) /* ISO weeks start on Monday; 1970-01-01 was a Thursday */
		return (d - (((d + 3) % 7) + 7) % 7) * DAY;
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	if (kind == P_YEAR)
		tm.tm_mon = 0;
	return (int64_t)timegm(&tm);
}

static int64_t period_after(int64_t start, int kind, long n)
{
	if (kind == P_DAY || kind == P_WEEK)
		return start + (int64_t)n * (kind == P_DAY ? 1 : 7) * DAY;
	time_t tt = (time_t)start;
	struct tm tm;
	gmtime_r(&tt, &tm);
	if (kind == P_MONTH)
		tm.tm_mon += (int)n;
	else
		tm.tm_year += (int)n;
	return (int64_t)timegm(&tm);
}

static long period_count(const drb_policy *p, int kind)
{
	switch (kind) {
	case P_DAY: return p->keep_daily;
	case P_WEEK: return p->keep_weekly;
	case P_MONTH: return p->keep_monthly;
	default: return p->keep_yearly;
	}
}

/* Why practice keeps full i (of the catalog's fulls), or NULL. fulls: indexes of the fulls that
 * hold the practice, oldest first. */
typedef struct practice_view {
	const char *name;
	const drb_policy *pol;
	const char *rule;
	bool hold;
	size_t *fulls;
	size_t n;
	char **why; /* per catalog full: the first reason it keeps it, or NULL */
	int64_t *until; /* per catalog full: a weekly/monthly/yearly keep lasts at least this long */
	int64_t need_since; /* binlog needed from here on */
	const drb_manifest *base; /* the full that serves the start of the pitr window */
} practice_view;

static void keep(practice_view *v, size_t full, const char *why)
{
	if (!v->why[full])
		v->why[full] = strdup(why);
}

static void decide_practice(const drb_ret_input *in, practice_view *v)
{
	const drb_catalog *c = in->cat;
	const drb_policy *p = v->pol;
	if (!v->n)
		return;
	size_t newest = v->fulls[v->n - 1];
	char why[240];
	snprintf(why, sizeof why, "legal hold on %s", v->name);
	for (size_t k = 0; v->hold && k < v->n; k++)
		keep(v, v->fulls[k], why);
	snprintf(why, sizeof why, "the newest full backup of %s", v->name);
	keep(v, newest, why);
	int64_t floor = in->now - (int64_t)p->keep_min_days * DAY;
	snprintf(why, sizeof why, "younger than keep_min_days (%s: %ld days)", v->rule,
		 p->keep_min_days);
	for (size_t k = 0; k < v->n; k++)
		if (c->fulls[v->fulls[k]]->snapshot_time > floor)
			keep(v, v->fulls[k], why);
	/* pitr: the newest full at or before the window's start, and every one after it */
	int64_t start = in->now - (int64_t)p->pitr_days * DAY;
	size_t base = 0;
	for (size_t k = 0; k < v->n; k++)
		if (c->fulls[v->fulls[k]]->snapshot_time <= start)
			base = k;
	v->base = p->pitr_days > 0 ? c->fulls[v->fulls[base]] : c->fulls[newest];
	snprintf(why, sizeof why, "serves point-in-time recovery over the last %ld days (%s)",
		 p->pitr_days, v->rule);
	for (size_t k = base; p->pitr_days > 0 && k < v->n; k++)
		keep(v, v->fulls[k], why);
	/* calendar periods: the newest full of each of the N most recent periods that have one */
	for (int kind = 0; kind < N_PERIODS; kind++) {
		long want = period_count(p, kind), seen = 0;
		char last[32] = "";
		for (size_t k = v->n; k-- > 0 && seen < want;) {
			char per[32];
			period_of(c->fulls[v->fulls[k]]->snapshot_time, kind, per, sizeof per);
			if (strcmp(per, last) == 0)
				continue; /* an older full of a period already kept */
			snprintf(last, sizeof last, "%s", per);
			seen++;
			snprintf(why, sizeof why, "the newest of %s (%s = %ld, %s)", per,
				 period_names[kind], want, v->rule);
			keep(v, v->fulls[k], why);
			/* promoted: its week, month or year is over, so no later full replaces it,
			 * and it stays among the newest `want` until `want` periods have begun */
			int64_t t0 = period_start(c->fulls[v->fulls[k]]->snapshot_time, kind);
			if (kind >= P_WEEK && in->now >= period_after(t0, kind, 1)) {
				int64_t until = period_after(t0, kind, want);
				if (until > v->until[v->fulls[k]])
					v->until[v->fulls[k]] = until;
			}
		}
	}
	/* the binlog this practice needs: from its pitr base on, and everything younger than the
	 * floor; all of it under a hold */
	v->need_since = v->hold ? INT64_MIN : v->base->snapshot_time;
	if (!v->hold && floor < v->need_since)
		v->need_since = floor;
}

static int add_item(drb_ret_plan *p, const drb_ret_item *it)
{
	drb_ret_item *v = realloc(p->items, (p->n + 1) * sizeof *v);
	if (!v)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	p->items = v;
	v[p->n++] = *it;
	if (it->keep) {
		p->bytes_kept += it->bytes;
	} else {
		p->n_delete++;
		p->bytes_freed += it->bytes;
	}
	return 0;
}

static uint64_t full_bytes(const drb_manifest *m)
{
	uint64_t b = 0;
	for (size_t i = 0; i < m->n_dbs; i++)
		if (!m->dbs[i].expired)
			b += m->dbs[i].stored_bytes;
	return b;
}

/* Is segment s of generation g needed by some practice? */
static bool segment_needed(const drb_ret_input *in, practice_view *v, size_t nv,
			   const drb_segment *s, int64_t floor, char *why, size_t len)
{
	if (s->shipped > floor) {
		snprintf(why, len, "younger than keep_min_days");
		return true;
	}
	for (size_t i = 0; i < nv; i++) {
		if (!v[i].n)
			continue;
		if (v[i].hold) {
			snprintf(why, len, "legal hold on %s: the binlog holds its changes", v[i].name);
			return true;
		}
		const drb_manifest *b = v[i].base;
		/* the whole file the base snapshot lies in: a chain starts at its first byte */
		if (b && strcmp(s->file, b->binlog_file) == 0 && s->server_id == b->server_id &&
		    (!b->binlog_file_created || s->file_created == b->binlog_file_created)) {
			snprintf(why, len, "holds the snapshot of full backup %s", b->backup_id);
			return true;
		}
		if (drb_segment_covered_until(s) >= v[i].need_since) {
			snprintf(why, len, "point-in-time recovery of %s needs it", v[i].name);
			return true;
		}
	}
	(void)in;
	snprintf(why, len, "older than every point the kept backups restore to");
	return false;
}

int drb_retention_plan(const drb_ret_input *in, drb_ret_plan *out)
{
	const drb_catalog *c = in->cat;
	practice_view *v = NULL;
	size_t nv = 0;
	int rc = 0;
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < c->n_fulls; i++)
		if (c->fulls[i]->snapshot_time > in->now + FUTURE_SLACK) {
			char iso[21];
			drb_time_iso(c->fulls[i]->snapshot_time, iso);
			return drb_error(DRB_ERR_REFUSED,
					 "full backup %s of %s is dated %s, after now: a clock is wrong; "
					 "nothing is expired until it is fixed",
					 c->fulls[i]->backup_id, c->host_id, iso);
		}
	/* every practice that has a live object somewhere */
	for (size_t i = 0; i < c->n_fulls && rc == 0; i++)
		for (size_t d = 0; d < c->fulls[i]->n_dbs && rc == 0; d++) {
			const drb_db_entry *e = &c->fulls[i]->dbs[d];
			if (e->expired)
				continue;
			size_t k;
			for (k = 0; k < nv && strcmp(v[k].name, e->name) != 0; k++)
				;
			if (k == nv) {
				practice_view *nvv = realloc(v, (nv + 1) * sizeof *v);
				if (!nvv) {
					rc = drb_error(DRB_ERR_NOMEM, "out of memory");
					break;
				}
				v = nvv;
				memset(&v[nv], 0, sizeof *v);
				v[nv].name = e->name;
				v[nv].pol = drb_retention_policy_for(in, e->name, &v[nv].rule);
				v[nv].hold = on_hold(in, e->name);
				v[nv].fulls = calloc(c->n_fulls, sizeof *v[nv].fulls);
				v[nv].why = calloc(c->n_fulls, sizeof *v[nv].why);
				v[nv].until = calloc(c->n_fulls, sizeof *v[nv].until);
				if (!v[nv].fulls || !v[nv].why || !v[nv].until)
					rc = drb_error(DRB_ERR_NOMEM, "out of memory");
				nv++;
			}
		}
	/* fulls holding each practice, oldest first (the catalog's order is by backup id) */
	for (size_t k = 0; k < nv && rc == 0; k++) {
		for (size_t i = 0; i < c->n_fulls; i++)
			if (live_entry(c->fulls[i], v[k].name))
				v[k].fulls[v[k].n++] = i;
		for (size_t a = 1; a < v[k].n; a++)
			for (size_t b = a; b > 0 && c->fulls[v[k].fulls[b]]->snapshot_time <
							 c->fulls[v[k].fulls[b - 1]]->snapshot_time;
			     b--) {
				size_t t = v[k].fulls[b];
				v[k].fulls[b] = v[k].fulls[b - 1];
				v[k].fulls[b - 1] = t;
			}
		decide_practice(in, &v[k]);
	}
	/* the newest full of the host stays whole */
	const drb_manifest *newest = NULL;
	size_t newest_i = 0;
	for (size_t i = 0; i < c->n_fulls; i++)
		if (!newest || c->fulls[i]->snapshot_time >= newest->snapshot_time) {
			newest = c->fulls[i];
			newest_i = i;
		}
	size_t kept_fulls = 0;
	for (size_t i = 0; i < c->n_fulls && rc == 0; i++) {
		const drb_manifest *m = c->fulls[i];
		const char *first = NULL;
		for (size_t k = 0; k < nv && !first; k++)
			first = v[k].why[i];
		if (i == newest_i && !first)
			first = "the newest full backup";
		drb_ret_item it = {.kind = DRB_RET_FULL, .keep = first != NULL, .full = m,
				   .bytes = full_bytes(m)};
		for (size_t k = 0; k < nv; k++)
			if (v[k].until[i] > it.lock_until)
				it.lock_until = v[k].until[i];
		snprintf(it.why, sizeof it.why, "%s", first ? first : "no rule keeps it for any practice");
		rc = add_item(out, &it);
		kept_fulls += it.keep;
		/* within a kept backup, each practice by its own rules */
		for (size_t k = 0; it.keep && k < nv && rc == 0; k++) {
			const drb_db_entry *e = live_entry(m, v[k].name);
			if (!e)
				continue;
			bool keep_it = v[k].why[i] || i == newest_i;
			drb_ret_item pi = {.kind = DRB_RET_PRACTICE, .keep = keep_it, .full = m,
					   .practice = e->name, .bytes = e->stored_bytes,
					   .lock_until = v[k].until[i]};
			if (keep_it)
				snprintf(pi.why, sizeof pi.why, "%s",
					 v[k].why[i] ? v[k].why[i] : "in the newest full backup");
			else
				snprintf(pi.why, sizeof pi.why, "no rule of %s (%s) keeps it", e->name,
					 v[k].rule);
			rc = add_item(out, &pi);
		}
	}
	if (rc == 0 && c->n_fulls && kept_fulls == 0)
		rc = drb_error(DRB_ERR_REFUSED, "the policy would delete every full backup of %s: "
						"refused",
			       c->host_id);
	/* segments */
	long max_floor_days = in->policy.keep_min_days;
	for (size_t k = 0; k < nv; k++)
		if (v[k].pol->keep_min_days > max_floor_days)
			max_floor_days = v[k].pol->keep_min_days;
	int64_t floor = in->now - (int64_t)max_floor_days * DAY;
	for (size_t g = 0; g < c->n_gens && rc == 0; g++)
		for (size_t s = 0; s < c->gens[g].n && rc == 0; s++) {
			const drb_segment *seg = &c->gens[g].segs[s];
			drb_ret_item it = {.kind = DRB_RET_SEGMENT, .seg = seg, .bytes = seg->stored_bytes};
			it.keep = !nv || segment_needed(in, v, nv, seg, floor, it.why, sizeof it.why);
			if (!nv)
				snprintf(it.why, sizeof it.why, "no full backup yet");
			rc = add_item(out, &it);
		}
	for (size_t k = 0; k < nv; k++) {
		for (size_t i = 0; i < c->n_fulls; i++)
			free(v[k].why[i]);
		free(v[k].why);
		free(v[k].until);
		free(v[k].fulls);
	}
	free(v);
	if (rc < 0)
		drb_retention_plan_free(out);
	return rc;
}

void drb_retention_plan_free(drb_ret_plan *p)
{
	free(p->items);
	memset(p, 0, sizeof *p);
}
