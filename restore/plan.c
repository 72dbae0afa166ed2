#include "config.h"
#include "restore/plan.h"
#include "common/error.h"
#include "common/log.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int drb_target_parse(const char *s, drb_target *t)
{
	memset(t, 0, sizeof *t);
	if (strcmp(s, "latest") == 0) {
		t->kind = DRB_TO_LATEST;
		return 0;
	}
	/* a GTID: domain-server-seq (a list for several domains) */
	unsigned long d, sv;
	unsigned long long q;
	int used = 0;
	if (sscanf(s, "%lu-%lu-%llu%n", &d, &sv, &q, &used) == 3 && (s[used] == 0 || s[used] == ',')) {
		t->kind = DRB_TO_GTID;
		snprintf(t->gtid, sizeof t->gtid, "%s", s);
		return 0;
	}
	/* a time: "YYYY-MM-DD HH:MM:SS" or with 'T', optional 'Z' or +HH:MM / -HH:MM */
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *rest = strptime(s, "%Y-%m-%d", &tm);
	if (rest && (*rest == ' ' || *rest == 'T'))
		rest = strptime(rest + 1, "%H:%M:%S", &tm);
	else if (rest && *rest)
		rest = NULL;
	if (!rest)
		return drb_error(DRB_ERR_USAGE,
				 "--to \"%s\": expected 'latest', a GTID such as 0-1-42, or a time "
				 "such as '2026-11-23 10:05:00' (UTC unless it has an offset)",
				 s);
	long offset = 0;
	if (*rest == 'Z' && rest[1] == 0) {
		rest++;
	} else if ((*rest == '+' || *rest == '-') && isdigit((unsigned char)rest[1])) {
		int hh = 0, mm = 0, n = 0;
		if (sscanf(rest + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || rest[1 + n] != 0 || hh > 14 ||
		    mm > 59)
			return drb_error(DRB_ERR_USAGE, "--to \"%s\": the offset must read +HH:MM", s);
		offset = (hh * 3600L + mm * 60L) * (*rest == '-' ? -1 : 1);
		rest += 1 + n;
	}
	if (*rest)
		return drb_error(DRB_ERR_USAGE, "--to \"%s\": unexpected \"%s\" after the time", s, rest);
	t->kind = DRB_TO_TIME;
	t->time = (int64_t)timegm(&tm) - offset;
	return 0;
}

void drb_target_describe(const drb_target *t, char *buf, size_t len)
{
	char iso[21];
	switch (t->kind) {
	case DRB_TO_LATEST:
		snprintf(buf, len, "the last shipped event");
		break;
	case DRB_TO_TIME:
		drb_time_iso(t->time, iso);
		snprintf(buf, len, "%s", iso);
		break;
	case DRB_TO_GTID:
		snprintf(buf, len, "GTID %s", t->gtid);
		break;
	}
}

/* Usable when the snapshot has gone past the target in none of the target's domains. */
static bool full_precedes_gtid(const drb_manifest *m, const char *target)
{
	return !m->gtid[0] || drb_gtid_not_past(m->gtid, target);
}

/* The newest full backup usable for t, older than older_than when it is set. */
static const drb_manifest *pick_full(const drb_catalog *c, const drb_target *t, const char *older_than)
{
	const drb_manifest *best = NULL;
	for (size_t i = 0; i < c->n_fulls; i++) {
		const drb_manifest *m = c->fulls[i];
		/* a snapshot taken during second S holds commits of S: usable for targets after S */
		bool ok = t->kind == DRB_TO_LATEST || (t->kind == DRB_TO_TIME && m->snapshot_time < t->time) ||
			  (t->kind == DRB_TO_GTID && full_precedes_gtid(m, t->gtid));
		if (older_than && strcmp(m->backup_id, older_than) >= 0)
			ok = false;
		if (ok && (!best || strcmp(m->backup_id, best->backup_id) > 0))
			best = m;
	}
	return best;
}

/* Does generation g hold the very file the snapshot was taken in? A name is not enough: after
 * RESET MASTER or a rebuild the same names return with other contents. */
static bool holds_snapshot_file(const drb_generation *g, const drb_manifest *m)
{
	for (size_t k = 0; k < g->n; k++) {
		const drb_segment *s = &g->segs[k];
		if (strcmp(s->file, m->binlog_file) != 0 || s->server_id != m->server_id)
			continue;
		if (m->binlog_file_created)
			return s->file_created == m->binlog_file_created;
		/* no identity recorded: the file must at least start within the snapshot's history */
		return s->start != 0 || !s->start_gtid[0] || drb_gtid_reached(m->gtid, s->start_gtid);
	}
	return false;
}

/* The generation whose segments hold the snapshot's coordinate. */
static const drb_generation *find_generation(const drb_catalog *c, const drb_manifest *m)
{
	if (m->generation && m->generation[0]) {
		const drb_generation *g = drb_catalog_generation(c, m->generation);
		if (g && holds_snapshot_file(g, m))
			return g;
	}
	for (size_t i = c->n_gens; i-- > 0;)
		if (holds_snapshot_file(&c->gens[i], m))
			return &c->gens[i];
	/* the snapshot's own file was not shipped at all: the chain could still start with the
	 * next file, when that file begins exactly at the snapshot's GTID state */
	const drb_generation *g = m->generation && m->generation[0] && m->gtid[0]
					  ? drb_catalog_generation(c, m->generation)
					  : NULL;
	for (size_t k = 0; g && k < g->n; k++)
		if (strcmp(g->segs[k].file, m->binlog_file) == 0)
			return NULL; /* it was, but another file of that name: not this history */
	return g;
}

static int add_seg(drb_plan *p, const drb_segment *s)
{
	drb_plan_file *f = p->n_files ? &p->files[p->n_files - 1] : NULL;
	if (!f || strcmp(f->name, s->file) != 0) {
		drb_plan_file *v = realloc(p->files, (p->n_files + 1) * sizeof *v);
		if (!v)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		p->files = v;
		f = &p->files[p->n_files++];
		memset(f, 0, sizeof *f);
		f->name = strdup(s->file);
	}
	const drb_segment **sv = realloc(f->segs, (f->n + 1) * sizeof *sv);
	if (!sv)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	f->segs = sv;
	f->segs[f->n++] = s;
	p->bytes += s->stored_bytes;
	p->n_runs += s->run > 0;
	p->segments += drb_segment_count(s);
	return 0;
}

static void point(char *buf, size_t len, int64_t t, const char *gtid)
{
	char iso[21];
	if (t > 0)
		drb_time_iso(t, iso);
	snprintf(buf, len, "%s%s%s%s", t > 0 ? iso : "", t > 0 && gtid && *gtid ? ", " : "",
		 gtid && *gtid ? "GTID " : "", gtid ? gtid : "");
}

static int plan_make_older(const drb_catalog *c, const drb_target *t, const char *older_than,
                           drb_plan *p);

/* Read again the day catalogs of the summary entries in p and plan anew, until the chain is
 * made of real segments: one pass, as the chain's days are then whole. */
static int plan_expanded(const drb_catalog *cc, const drb_target *t, const char *older_than,
                         drb_plan *p)
{
	drb_catalog *c = (drb_catalog *)cc;
	int rc = plan_make_older(c, t, older_than, p);
	for (int pass = 0; rc == 0 && p->n_runs && pass < 4; pass++) {
		drb_generation *g = (drb_generation *)p->gen;
		int *days = calloc(p->n_runs, sizeof *days);
		size_t nd = 0;
		if (!days)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		for (size_t i = 0; i < p->n_files; i++)
			for (size_t k = 0; k < p->files[i].n; k++)
				if (p->files[i].segs[k]->run && nd < p->n_runs)
					days[nd++] = p->files[i].segs[k]->day;
		drb_plan_free(p);
		rc = drb_catalog_expand(c, g, days, nd);
		free(days);
		if (rc == 0)
			rc = plan_make_older(c, t, older_than, p);
	}
	if (rc == 0 && p->n_runs)
		return drb_error(DRB_ERR_FAILED,
		                 "the plan still names summaries after reading their "
		                 "day catalogs");
	if (rc == 0 && c->summary)
		drb_log_info(
		    "repository %s: planned from %zu day catalog%s; read %zu again for the "
		    "%zu segment%s replayed",
		    c->repo ? c->repo->name : "-", c->n_day_catalogs,
		    c->n_day_catalogs == 1 ? "" : "s", c->n_day_expands, p->segments,
		    p->segments == 1 ? "" : "s");
	return rc;
}

int drb_plan_make_older(const drb_catalog *c, const drb_target *t, const char *older_than,
			drb_plan *p)
{
	return plan_expanded(c, t, older_than, p);
}

int drb_plan_make(const drb_catalog *c, const drb_target *t, drb_plan *p)
{
	return plan_expanded(c, t, NULL, p);
}

static int plan_make_older(const drb_catalog *c, const drb_target *t, const char *older_than,
                           drb_plan *p)
{
	char want[300];
	memset(p, 0, sizeof *p);
	drb_target_describe(t, want, sizeof want);
	const drb_manifest *m = pick_full(c, t, older_than);
	if (!m && older_than)
		return drb_error(DRB_ERR_NOT_FOUND,
				 "no full backup of %s older than %s can serve %s", c->host_id,
				 older_than, want);
	if (!m) {
		if (c->n_fulls == 0)
			return drb_error(DRB_ERR_NOT_FOUND, "there is no complete full backup of %s",
					 c->host_id);
		char first[21];
		drb_time_iso(c->fulls[0]->snapshot_time, first);
		return drb_error(DRB_ERR_REFUSED,
				 "no full backup of %s was taken at or before %s: the oldest is %s (%s)",
				 c->host_id, want, c->fulls[0]->backup_id, first);
	}
	return drb_plan_from(c, m, t, p);
}

int drb_plan_from(const drb_catalog *c, const drb_manifest *m, const drb_target *t, drb_plan *p)
{
	char want[300], where[600];
	memset(p, 0, sizeof *p);
	drb_target_describe(t, want, sizeof want);
	p->full = m;
	p->reached_time = m->snapshot_time;
	p->covered_until = m->snapshot_time;
	snprintf(p->reached_gtid, sizeof p->reached_gtid, "%s", m->gtid);

	if (t->kind == DRB_TO_GTID && drb_gtid_reached(m->gtid, t->gtid))
		return 0; /* the snapshot is exactly the target */
	const drb_generation *g = find_generation(c, m);
	if (!g) {
		if (t->kind == DRB_TO_LATEST)
			return 0; /* nothing shipped after the snapshot: latest is the snapshot */
		if (t->kind == DRB_TO_TIME && t->time <= m->snapshot_time)
			return 0;
		point(where, sizeof where, m->snapshot_time, m->gtid);
		return drb_error(DRB_ERR_REFUSED,
				 "%s is beyond the end of coverage: no binlog was shipped after full "
				 "backup %s, so the last point reachable is its snapshot (%s)",
				 want, m->backup_id, where);
	}
	/* the first segment: the one of the snapshot's file that starts at 0 */
	size_t i = 0;
	while (i < g->n && !(strcmp(g->segs[i].file, m->binlog_file) == 0 && g->segs[i].start == 0))
		i++;
	bool from_next_file = false;
	if (i == g->n) {
		/* the snapshot's file was not shipped from its start: the chain may only begin with
		 * the next file when that one starts exactly at the snapshot's GTID state (the
		 * snapshot then sat at the end of its file); anything else is a hole */
		long want_no = drb_binlog_number(m->binlog_file) + 1;
		for (i = 0; i < g->n; i++)
			if (drb_binlog_number(g->segs[i].file) == want_no && g->segs[i].start == 0)
				break;
		if (i < g->n && !(m->gtid[0] && g->segs[i].start_gtid[0] &&
				  drb_gtid_reached(m->gtid, g->segs[i].start_gtid) &&
				  drb_gtid_reached(g->segs[i].start_gtid, m->gtid))) {
			if (t->kind == DRB_TO_TIME && t->time <= m->snapshot_time)
				return 0;
			point(where, sizeof where, m->snapshot_time, m->gtid);
			return drb_error(DRB_ERR_GAP,
					 "gap in the binlog chain of generation %s: the snapshot of full "
					 "backup %s (%s:%llu) lies in a file that was not shipped: %s cannot "
					 "be reached; the last point reachable is the snapshot (%s)",
					 g->name, m->backup_id, m->binlog_file,
					 (unsigned long long)m->binlog_pos, want, where);
		}
		from_next_file = i < g->n;
		if (i == g->n && t->kind == DRB_TO_LATEST)
			return 0;
		if (i == g->n) {
			if (t->kind == DRB_TO_TIME && t->time <= m->snapshot_time)
				return 0;
			point(where, sizeof where, m->snapshot_time, m->gtid);
			return drb_error(DRB_ERR_GAP,
					 "the binlog chain after full backup %s (%s:%llu) was not shipped: "
					 "the last point reachable is the snapshot (%s)",
					 m->backup_id, m->binlog_file, (unsigned long long)m->binlog_pos,
					 where);
		}
	}
	const drb_segment *prev = NULL;
	bool done = false;
	for (; i < g->n && !done; i++) {
		const drb_segment *s = &g->segs[i];
		if (prev && !drb_segment_continues(prev, s)) {
			/* a hole: fatal only when the target lies past what the chain covers */
			point(where, sizeof where, p->covered_until, prev->end_gtid);
			if (t->kind == DRB_TO_TIME && t->time <= p->covered_until)
				break;
			return drb_error(
			    DRB_ERR_GAP,
			    "gap in the binlog chain of generation %s after %s:%llu (next "
			    "shipped: %s:%llu%s): %s cannot be reached; the last point "
			    "reachable is %s",
			    g->name, drb_segment_end_file(prev), (unsigned long long)prev->end,
			    s->file, (unsigned long long)s->start,
			    !drb_segment_gtids_continue(prev, s)
			        ? ", whose GTID state does not continue the one before"
			        : "",
			    want, where);
		}
		int rc = add_seg(p, s);
		if (rc < 0)
			return rc;
		prev = s;
		if (s->last_event > p->reached_time)
			p->reached_time = s->last_event;
		if (drb_segment_covered_until(s) > p->covered_until)
			p->covered_until = drb_segment_covered_until(s);
		if (s->end_gtid && s->end_gtid[0])
			snprintf(p->reached_gtid, sizeof p->reached_gtid, "%s", s->end_gtid);
		/* does this segment reach the target? A time after its last event but before the
		 * moment it was known complete is reached too: nothing was committed in between */
		if (t->kind == DRB_TO_TIME && p->covered_until >= t->time) {
			p->stop_in_chain = s->last_event >= t->time;
			p->reached_time = t->time;
			done = true;
		} else if (t->kind == DRB_TO_GTID && s->end_gtid && drb_gtid_reached(s->end_gtid, t->gtid)) {
			p->stop_in_chain = !drb_gtid_equal(s->end_gtid, t->gtid);
			snprintf(p->reached_gtid, sizeof p->reached_gtid, "%s", t->gtid);
			done = true;
		}
	}
	if (!done && t->kind == DRB_TO_TIME && t->time <= p->covered_until) {
		p->reached_time = t->time; /* reached before the chain or at a hole */
		done = true;
	}
	if (!done && t->kind != DRB_TO_LATEST) {
		char until[21];
		point(where, sizeof where, p->reached_time, p->reached_gtid);
		drb_time_iso(p->covered_until, until);
		return drb_error(DRB_ERR_REFUSED,
				 "%s is beyond the end of coverage: the last shipped event is %s, and "
				 "the shipped binlog is complete until %s (use --to latest, or an "
				 "earlier point)",
				 want, where, until);
	}
	if (p->n_files && !from_next_file && strcmp(p->files[0].name, m->binlog_file) == 0)
		p->files[0].start_pos = m->binlog_pos;
	p->gen = g;
	return 0;
}

void drb_plan_free(drb_plan *p)
{
	for (size_t i = 0; i < p->n_files; i++) {
		free(p->files[i].name);
		free(p->files[i].segs);
	}
	free(p->files);
	memset(p, 0, sizeof *p);
}
