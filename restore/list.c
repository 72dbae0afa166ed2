/* drbackup list: what each repository holds for a host, and what can be restored from it. Needs
 * no secret key: the catalog is plain metadata. */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/catalog.h"
#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "restore/list.h"
#include "restore/plan.h"
#include "restore/restore.h"
#include "restore/seen.h"

json_t *drb_list_iso(int64_t t)
{
	char b[21];
	if (t <= 0)
		return json_null();
	drb_time_iso(t, b);
	return json_string(b);
}

#define iso drb_list_iso

static bool holds_db(const drb_manifest *m, const char *db)
{
	return !db || drb_manifest_db(m, db) != NULL;
}

size_t drb_list_windows(const drb_catalog *c, const char *db, drb_window *w, size_t max)
{
	size_t n = 0;
	drb_target latest = {.kind = DRB_TO_LATEST};
	for (size_t i = 0; i < c->n_fulls; i++) {
		drb_plan p;
		const drb_manifest *m = c->fulls[i];
		if (!holds_db(m, db))
			continue;
		drb_plan_from(c, m, &latest, &p); /* a gap ends the reach; the plan says where */
		drb_error_clear();
		int64_t to = p.covered_until > m->snapshot_time ? p.covered_until : m->snapshot_time;
		bool merged = false;
		for (size_t k = 0; k < n; k++)
			if (m->snapshot_time <= w[k].to && to >= w[k].from) {
				if (m->snapshot_time < w[k].from)
					w[k].from = m->snapshot_time;
				if (to > w[k].to) {
					w[k].to = to;
					snprintf(w[k].to_gtid, sizeof w[k].to_gtid, "%s", p.reached_gtid);
				}
				merged = true;
			}
		if (!merged && n < max) {
			w[n].from = m->snapshot_time;
			w[n].to = to;
			snprintf(w[n].to_gtid, sizeof w[n].to_gtid, "%s", p.reached_gtid);
			n++;
		}
		drb_plan_free(&p);
	}
	return n;
}

int64_t drb_list_shipped_until(const drb_catalog *c)
{
	int64_t t = 0;
	for (size_t g = 0; c && g < c->n_gens; g++)
		for (size_t k = 0; k < c->gens[g].n; k++) {
			int64_t u = drb_segment_covered_until(&c->gens[g].segs[k]);
			if (u > t)
				t = u;
		}
	return t;
}

size_t drb_list_load(drb_repo_set *set, const char *host, drb_catalog **cats)
{
	size_t readable = 0;
	for (size_t i = 0; i < set->n; i++) {
		if (drb_catalog_load_opts(set->repos[i], host, DRB_CATALOG_SUMMARY, &cats[i]) < 0) {
			drb_error_clear();
			cats[i] = NULL;
			continue;
		}
		drb_log_debug("repository %s: read %zu day catalog%s and %zu segment description%s",
		              set->repos[i]->name, cats[i]->n_day_catalogs,
		              cats[i]->n_day_catalogs == 1 ? "" : "s", cats[i]->n_segment_reads,
		              cats[i]->n_segment_reads == 1 ? "" : "s");
		readable++;
	}
	return readable;
}

void drb_list_free(drb_catalog **cats, size_t n)
{
	for (size_t i = 0; cats && i < n; i++)
		drb_catalog_free(cats[i]);
	free(cats);
}

static uint64_t fulls_bytes(const drb_manifest *m)
{
	uint64_t b = 0;
	for (size_t i = 0; i < m->n_dbs; i++)
		b += m->dbs[i].stored_bytes;
	return b;
}

static bool has_full(const drb_catalog *c, const char *id)
{
	for (size_t i = 0; c && i < c->n_fulls; i++)
		if (strcmp(c->fulls[i]->backup_id, id) == 0)
			return true;
	return false;
}

static size_t segment_count(const drb_catalog *c)
{
	size_t n = 0;
	for (size_t i = 0; c && i < c->n_gens; i++)
		for (size_t k = 0; k < c->gens[i].n; k++)
			n += drb_segment_count(&c->gens[i].segs[k]);
	return n;
}

json_t *drb_list_budget(const drb_catalog *c)
{
	const drb_budget *b = &c->budget;
	json_t *levels = json_array();
	uint64_t objs = 0, bytes = 0;
	for (int l = 0; l < DRB_LEVELS; l++) {
		objs += b->level_objects[l];
		bytes += b->level_bytes[l];
		if (b->level_objects[l])
			json_array_append_new(
			    levels, json_pack("{s:i, s:I, s:I}", "level", l, "segments",
			                      (json_int_t)b->level_objects[l], "stored_bytes",
			                      (json_int_t)b->level_bytes[l]));
	}
	/* every segment is two objects: its data and its description */
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I}", "objects",
	                 (json_int_t)(2 * objs + b->day_catalogs + b->full_objects), "stored_bytes",
	                 (json_int_t)(bytes + b->full_bytes), "binlog_objects",
	                 (json_int_t)(2 * objs), "day_catalogs", (json_int_t)b->day_catalogs,
	                 "full_objects", (json_int_t)b->full_objects, "full_bytes",
	                 (json_int_t)b->full_bytes, "levels", levels, "segments_last_day",
	                 (json_int_t)b->segments_last_day, "puts_last_day",
	                 (json_int_t)b->puts_last_day);
}

static json_t *describe(drb_repo *r, const drb_catalog *c, drb_catalog *const *all, size_t n_all)
{
	json_t *fulls = json_array(), *gens = json_array(), *wins = json_array(), *missing = json_array();
	for (size_t i = 0; i < c->n_fulls; i++) {
		const drb_manifest *m = c->fulls[i];
		json_t *names = json_array(), *gone = json_object();
		for (size_t k = 0; k < m->n_dbs; k++) {
			if (m->dbs[k].expired)
				json_object_set_new(gone, m->dbs[k].name,
						    json_string(m->dbs[k].expired_why ? m->dbs[k].expired_why : ""));
			else
				json_array_append_new(names, json_string(m->dbs[k].name));
		}
		json_array_append_new(
			fulls, json_pack("{s:s, s:o, s:o, s:I, s:o, s:s, s:I, s:s}", "backup_id",
					 m->backup_id, "snapshot_time", iso(m->snapshot_time),
					 "finished", iso(m->finished), "stored_bytes",
					 (json_int_t)fulls_bytes(m), "databases", names, "binlog_file",
					 m->binlog_file, "binlog_pos", (json_int_t)m->binlog_pos, "gtid",
					 m->gtid));
		json_object_set_new(json_array_get(fulls, json_array_size(fulls) - 1),
				    "expired_practices", gone);
		/* a repository that tiers: the class of the backup's largest dump (one HEAD) */
		const drb_db_entry *big = NULL;
		for (size_t k = 0; k < m->n_dbs; k++)
			if (!m->dbs[k].expired && (!big || m->dbs[k].stored_bytes > big->stored_bytes))
				big = &m->dbs[k];
		drb_obj_info info;
		char *dump = big && r->cfg->tier_after_days > 0 && r->driver->info
				     ? drb_path_dump(c->host_id, m->backup_id, big->name)
				     : NULL;
		if (dump && drb_repo_info(r, dump, &info) == 0)
			json_object_set_new(json_array_get(fulls, json_array_size(fulls) - 1),
					    "storage_class", json_string(info.storage_class));
		drb_error_clear();
		free(dump);
	}
	for (size_t g = 0; g < c->n_gens; g++) {
		const drb_generation *gen = &c->gens[g];
		json_t *gaps = json_array();
		int64_t first = 0, last = 0;
		uint64_t bytes = 0;
		size_t count = 0;
		for (size_t k = 0; k < gen->n; k++) {
			const drb_segment *s = &gen->segs[k];
			bytes += s->stored_bytes;
			count += drb_segment_count(s);
			if (s->first_event && (!first || s->first_event < first))
				first = s->first_event;
			if (s->last_event > last)
				last = s->last_event;
			if (k && !drb_segment_continues(&gen->segs[k - 1], s))
				json_array_append_new(
				    gaps, json_pack("{s:s, s:I, s:s, s:I, s:o}", "after_file",
				                    drb_segment_end_file(&gen->segs[k - 1]),
				                    "after_pos", (json_int_t)gen->segs[k - 1].end,
				                    "next_file", s->file, "next_pos",
				                    (json_int_t)s->start, "last_event_before",
				                    iso(gen->segs[k - 1].last_event)));
		}
		json_array_append_new(
		    gens,
		    json_pack("{s:s, s:I, s:I, s:s?, s:s?, s:o, s:o, s:s?, s:o}", "name", gen->name,
		              "segments", (json_int_t)count, "stored_bytes", (json_int_t)bytes,
		              "first_file", gen->n ? gen->segs[0].file : NULL, "last_file",
		              gen->n ? drb_segment_end_file(&gen->segs[gen->n - 1]) : NULL,
		              "first_event", iso(first), "last_event", iso(last), "end_gtid",
		              gen->n ? gen->segs[gen->n - 1].end_gtid : NULL, "gaps", gaps));
	}
	drb_window w[DRB_LIST_MAX_WINDOWS];
	size_t nw = drb_list_windows(c, NULL, w, DRB_LIST_MAX_WINDOWS);
	for (size_t i = 0; i < nw; i++)
		json_array_append_new(wins, json_pack("{s:o, s:o, s:s}", "from", iso(w[i].from), "to",
						      iso(w[i].to), "to_gtid", w[i].to_gtid));
	/* what other repositories hold and this one lacks */
	size_t mine = segment_count(c);
	for (size_t o = 0; o < n_all; o++) {
		if (!all[o] || all[o] == c)
			continue;
		for (size_t i = 0; i < all[o]->n_fulls; i++)
			if (!has_full(c, all[o]->fulls[i]->backup_id))
				json_array_append_new(missing, json_pack("{s:s, s:s}", "full",
									 all[o]->fulls[i]->backup_id,
									 "held_by", "another repository"));
		size_t theirs = segment_count(all[o]);
		if (theirs > mine)
			json_array_append_new(missing, json_pack("{s:I}", "segments",
								 (json_int_t)(theirs - mine)));
	}
	json_t *holds = json_array();
	for (size_t i = 0; i < c->n_holds; i++)
		if (!c->holds[i].released)
			json_array_append_new(holds, json_pack("{s:s, s:s, s:o, s:s}", "practice",
							       c->holds[i].practice, "reason",
							       c->holds[i].reason ? c->holds[i].reason : "",
							       "since", iso(c->holds[i].since), "by",
							       c->holds[i].by ? c->holds[i].by : ""));
	json_t *untrusted = json_array();
	for (size_t i = 0; i < c->n_untrusted; i++)
		json_array_append_new(untrusted, json_pack("{s:s, s:s, s:b}", "path", c->untrusted[i].path,
							   "why", c->untrusted[i].why, "unsigned",
							   c->untrusted[i].unsigned_only));
	json_t *incomplete = json_array();
	for (size_t i = 0; i < c->n_incomplete; i++)
		json_array_append_new(incomplete, json_string(c->incomplete[i]));
	json_t *test = json_null();
	if (c->last_test) {
		test = json_pack("{s:s, s:b, s:o, s:s?, s:I, s:o, s:s?, s:s?}", "report",
				 c->last_test->name, "ok", c->last_test->ok, "finished",
				 iso(c->last_test->finished), "backup_id", c->last_test->backup_id,
				 "rto_seconds", (json_int_t)c->last_test->rto_seconds, "reached",
				 iso(c->last_test->reached), "reached_gtid", c->last_test->reached_gtid,
				 "error", c->last_test->error && *c->last_test->error ? c->last_test->error : NULL);
		if (c->last_test->pitr_tested)
			json_object_set_new(test, "point_in_time",
					    json_pack("{s:b, s:o, s:s?}", "ok", c->last_test->pitr_ok,
						      "target", iso(c->last_test->pitr_target),
						      "segment", c->last_test->pitr_segment));
	}
	json_t *r_json = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "name", r->name,
			 "where", r->where, "full_backups", fulls, "binlog", gens, "recoverable", wins,
			 "missing_copies", missing, "incomplete_backups", incomplete,
			 "last_restore_test", test, "untrusted", untrusted, "unsigned_used",
			 (json_int_t)c->n_unsigned);
	json_object_set_new(r_json, "holds", holds);
	json_object_set_new(r_json, "requests", drb_list_budget(c));
	return r_json;
}

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : "-";
}

static void print_text(const char *host, json_t *repos)
{
	size_t i;
	json_t *r;
	printf("host %s\n", host);
	json_array_foreach(repos, i, r)
	{
		printf("\nrepository %s (%s)\n", str(r, "name"), str(r, "where"));
		if (json_object_get(r, "error")) {
			printf("  UNREADABLE: %s\n", str(r, "error"));
			continue;
		}
		json_t *fulls = json_object_get(r, "full_backups"), *f;
		size_t k;
		printf("  full backups: %zu\n", json_array_size(fulls));
		json_array_foreach(fulls, k, f)
			printf("    %s  %2zu database%s  %9.1f MB  snapshot %s:%lld GTID %s%s%s\n",
			       str(f, "backup_id"), json_array_size(json_object_get(f, "databases")),
			       json_array_size(json_object_get(f, "databases")) == 1 ? " " : "s",
			       json_integer_value(json_object_get(f, "stored_bytes")) / 1e6,
			       str(f, "binlog_file"), (long long)json_integer_value(json_object_get(f, "binlog_pos")),
			       *str(f, "gtid") ? str(f, "gtid") : "none",
			       json_object_get(f, "storage_class") ? "  class " : "",
			       json_object_get(f, "storage_class") ? str(f, "storage_class") : "");
		json_t *gens = json_object_get(r, "binlog"), *g;
		json_array_foreach(gens, k, g)
		{
			printf("  binlog generation %s: %lld segments (%.1f MB), %s .. %s, events %s .. %s\n",
			       str(g, "name"), (long long)json_integer_value(json_object_get(g, "segments")),
			       json_integer_value(json_object_get(g, "stored_bytes")) / 1e6,
			       str(g, "first_file"), str(g, "last_file"), str(g, "first_event"),
			       str(g, "last_event"));
			json_t *gaps = json_object_get(g, "gaps"), *gp;
			size_t q;
			json_array_foreach(gaps, q, gp)
				printf("    GAP after %s:%lld (last event %s), next shipped %s:%lld\n",
				       str(gp, "after_file"),
				       (long long)json_integer_value(json_object_get(gp, "after_pos")),
				       str(gp, "last_event_before"), str(gp, "next_file"),
				       (long long)json_integer_value(json_object_get(gp, "next_pos")));
		}
		json_t *rq = json_object_get(r, "requests"), *lv;
		if (json_is_object(rq)) {
			printf("  objects: %lld (%.1f MB): %lld of binlog, %lld day catalogs, %lld "
			       "of full "
			       "backups; PUTs in the last 24 h: %lld (%lld segments)\n",
			       (long long)json_integer_value(json_object_get(rq, "objects")),
			       json_integer_value(json_object_get(rq, "stored_bytes")) / 1e6,
			       (long long)json_integer_value(json_object_get(rq, "binlog_objects")),
			       (long long)json_integer_value(json_object_get(rq, "day_catalogs")),
			       (long long)json_integer_value(json_object_get(rq, "full_objects")),
			       (long long)json_integer_value(json_object_get(rq, "puts_last_day")),
			       (long long)json_integer_value(
			           json_object_get(rq, "segments_last_day")));
			json_array_foreach(json_object_get(rq, "levels"), k, lv)
			    printf("    level %lld%s: %lld segments, %.1f MB\n",
			           (long long)json_integer_value(json_object_get(lv, "level")),
			           json_integer_value(json_object_get(lv, "level")) ? " (compacted)"
			                                                            : " (as cut)",
			           (long long)json_integer_value(json_object_get(lv, "segments")),
			           json_integer_value(json_object_get(lv, "stored_bytes")) / 1e6);
		}
		json_t *wins = json_object_get(r, "recoverable"), *w;
		if (json_array_size(wins) == 0)
			printf("  recoverable: nothing (no complete full backup)\n");
		json_array_foreach(wins, k, w)
			printf("  recoverable: %s .. %s\n", str(w, "from"), str(w, "to"));
		json_t *hl = json_object_get(r, "holds"), *hh;
		json_array_foreach(hl, k, hh)
			printf("  HOLD on practice %s since %s (%s; by %s): expire deletes nothing of it\n",
			       str(hh, "practice"), str(hh, "since"), str(hh, "reason"), str(hh, "by"));
		json_array_foreach(fulls, k, f)
		{
			const char *pn;
			json_t *why;
			json_object_foreach(json_object_get(f, "expired_practices"), pn, why)
				printf("    %s: practice %s deleted by retention (%s)\n", str(f, "backup_id"),
				       pn, json_string_value(why));
		}
		json_t *unt = json_object_get(r, "untrusted"), *u;
		json_array_foreach(unt, k, u)
		{
			if (k == 20) {
				printf("  UNTRUSTED: %zu more\n", json_array_size(unt) - 20);
				break;
			}
			printf("  UNTRUSTED (not used): %s\n", str(u, "why"));
		}
		if (json_integer_value(json_object_get(r, "unsigned_used")))
			printf("  unsigned metadata used (--allow-unsigned): %lld objects\n",
			       (long long)json_integer_value(json_object_get(r, "unsigned_used")));
		json_t *inc = json_object_get(r, "incomplete_backups"), *x;
		json_array_foreach(inc, k, x)
			printf("  incomplete backup (no manifest, ignored): %s\n", json_string_value(x));
		json_t *miss = json_object_get(r, "missing_copies"), *mc;
		json_array_foreach(miss, k, mc)
		{
			if (json_object_get(mc, "full"))
				printf("  MISSING copy of full backup %s (another repository has it)\n",
				       str(mc, "full"));
			else
				printf("  MISSING %lld segment(s) that another repository has\n",
				       (long long)json_integer_value(json_object_get(mc, "segments")));
		}
		json_t *t = json_object_get(r, "last_restore_test");
		if (json_is_object(t))
			printf("  last restore-test: %s %s (backup %s, restore took %lld s, reached %s)%s%s\n",
			       str(t, "finished"), json_is_true(json_object_get(t, "ok")) ? "passed" : "FAILED",
			       str(t, "backup_id"), (long long)json_integer_value(json_object_get(t, "rto_seconds")),
			       str(t, "reached"), json_is_string(json_object_get(t, "error")) ? ": " : "",
			       json_is_string(json_object_get(t, "error")) ? str(t, "error") : "");
		else
			printf("  last restore-test: none\n");
		json_t *pt = json_is_object(t) ? json_object_get(t, "point_in_time") : NULL;
		if (json_is_object(pt))
			printf("    point in time inside segment %s: %s (to %s)\n", str(pt, "segment"),
			       json_is_true(json_object_get(pt, "ok")) ? "passed" : "FAILED",
			       str(pt, "target"));
		else if (json_is_object(t))
			printf("    point in time inside a segment: not tested\n");
	}
}

static int number(const char *opt, const char *v, long min, long max, long *out)
{
	char *end;
	long n = strtol(v, &end, 10);
	if (!*v || *end || n < min || n > max)
		return drb_error(DRB_ERR_USAGE, "%s wants a whole number from %ld to %ld, not '%s'", opt,
				 min, max, v);
	*out = n;
	return 0;
}

/* The request budget as metrics: per repository and level, what is stored and what the last
 * 24 hours cost in PUTs (drbackup_repository_*; a no-op without metrics_dir). */
static void budget_metrics(const drb_config *c, const char *host, drb_repo_set *set,
                           drb_catalog **cats)
{
	drb_metric m[8 * 2 * DRB_LEVELS + 64];
	char labels[8 * 2 * DRB_LEVELS + 64][300];
	int n = 0;
	for (size_t i = 0; i < set->n && n + 2 * DRB_LEVELS + 4 <= (int)(sizeof m / sizeof *m);
	     i++) {
		const drb_budget *b = cats[i] ? &cats[i]->budget : NULL;
		if (!b)
			continue;
		uint64_t objs = b->day_catalogs + b->full_objects, bytes = b->full_bytes;
		for (int l = 0; l < DRB_LEVELS; l++) {
			objs += 2 * b->level_objects[l];
			bytes += b->level_bytes[l];
			snprintf(labels[n], sizeof labels[0],
			         "host=\"%s\",repo=\"%s\",level=\"%d\"", host, set->repos[i]->name,
			         l);
			m[n] =
			    (drb_metric){"drbackup_repository_segments", labels[n],
			                 "binlog segments stored, per compaction level (0: as cut)",
			                 (double)b->level_objects[l]};
			n++;
			memcpy(labels[n], labels[n - 1], sizeof labels[0]);
			m[n] = (drb_metric){"drbackup_repository_segment_bytes", labels[n],
			                    "stored bytes of binlog segments, per compaction level",
			                    (double)b->level_bytes[l]};
			n++;
		}
		snprintf(labels[n], sizeof labels[0], "host=\"%s\",repo=\"%s\"", host,
		         set->repos[i]->name);
		m[n] = (drb_metric){
		    "drbackup_repository_objects", labels[n],
		    "objects stored for the host: segments and their descriptions, day "
		    "catalogs, full backups",
		    (double)objs};
		n++;
		memcpy(labels[n], labels[n - 1], sizeof labels[0]);
		m[n] = (drb_metric){"drbackup_repository_stored_bytes", labels[n],
		                    "stored bytes of segments and full backups", (double)bytes};
		n++;
		memcpy(labels[n], labels[n - 1], sizeof labels[0]);
		m[n] = (drb_metric){"drbackup_repository_puts_last_day", labels[n],
		                    "PUT requests of the last 24 hours for objects still stored "
		                    "(segments, descriptions, day catalogs, full backups)",
		                    (double)b->puts_last_day};
		n++;
		memcpy(labels[n], labels[n - 1], sizeof labels[0]);
		m[n] = (drb_metric){"drbackup_repository_day_catalogs", labels[n],
		                    "day catalogs stored", (double)b->day_catalogs};
		n++;
	}
	if (drb_metrics_update(c, m, n) < 0) {
		drb_log_current_error("metrics");
		drb_error_clear();
	}
}

static int show_host(drb_ctx *ctx, const drb_config *c, drb_repo_set *set, const char *host)
{
	drb_catalog **cats = calloc(set->n, sizeof *cats);
	if (!cats)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	json_t *repos = json_array();
	size_t readable = drb_list_load(set, host, cats);
	for (size_t i = 0; i < set->n; i++) {
		if (!cats[i]) {
			json_array_append_new(repos, json_pack("{s:s, s:s, s:s}", "name", set->repos[i]->name,
							       "where", set->repos[i]->where, "error",
							       "the repository cannot be read"));
			continue;
		}
		drb_seen_check(c, set->repos[i]->name, cats[i]);
		json_array_append_new(repos, describe(set->repos[i], cats[i], cats, set->n));
	}
	if (ctx->json) {
		json_t *j = json_pack("{s:s, s:o}", "host_id", host, "repositories", repos);
		json_dumpf(j, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	} else {
		print_text(host, repos);
		json_decref(repos);
	}
	budget_metrics(c, host, set, cats);
	size_t n_repos = set->n;
	drb_list_free(cats, n_repos);
	if (readable == 0)
		return drb_error(DRB_ERR_FAILED, "no repository could be read");
	if (readable < n_repos)
		return drb_error(DRB_ERR_DEGRADED, "%zu of %zu repositories could not be read",
				 n_repos - readable, n_repos);
	return 0;
}

int drb_cmd_list(drb_ctx *ctx, int argc, char **argv)
{
	enum { O_HOST = 'H', O_UNSIGNED = 'U', O_ALL = 256, O_TIMELINE, O_DAYS, O_SINCE, O_DB,
	       O_WIDTH, O_FULL_AGE, O_RPO, O_TEST_AGE, O_NO_COLOR, O_AS_OF };
	static const struct option opts[] = {{"host", required_argument, NULL, O_HOST},
					     {"allow-unsigned", no_argument, NULL, O_UNSIGNED},
					     {"all-hosts", no_argument, NULL, O_ALL},
					     {"timeline", no_argument, NULL, O_TIMELINE},
					     {"days", required_argument, NULL, O_DAYS},
					     {"since", required_argument, NULL, O_SINCE},
					     {"db", required_argument, NULL, O_DB},
					     {"width", required_argument, NULL, O_WIDTH},
					     {"max-full-age-hours", required_argument, NULL, O_FULL_AGE},
					     {"max-rpo-seconds", required_argument, NULL, O_RPO},
					     {"max-restore-test-age-days", required_argument, NULL, O_TEST_AGE},
					     {"no-color", no_argument, NULL, O_NO_COLOR},
					     {"repo-as-of", required_argument, NULL, O_AS_OF},
					     {0, 0, 0, 0}};
	drb_list_opts o = {.now = time(NULL), .width = 72, .color = isatty(STDOUT_FILENO) &&
								    !getenv("NO_COLOR")};
	bool allow_unsigned = false, all_hosts = false, timeline = false;
	long days = 7, v, full_age = -1, rpo = -1, test_age = -1;
	const char *since = NULL;
	int64_t as_of = 0;
	drb_config *c;
	drb_repo_set *set = NULL;
	int opt, rc = 0;
	opterr = 0;
	while (rc == 0 && (opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case O_HOST: o.host = optarg; break;
		case O_UNSIGNED: allow_unsigned = true; break;
		case O_ALL: all_hosts = true; break;
		case O_TIMELINE: timeline = true; break;
		case O_DAYS: rc = number("--days", optarg, 1, 3660, &days); break;
		case O_SINCE: since = optarg; break;
		case O_DB: o.db = optarg; break;
		case O_WIDTH:
			if ((rc = number("--width", optarg, 10, 1000, &v)) == 0)
				o.width = (int)v;
			break;
		case O_FULL_AGE: rc = number("--max-full-age-hours", optarg, 0, 1000000, &full_age); break;
		case O_RPO: rc = number("--max-rpo-seconds", optarg, 0, 1000000000, &rpo); break;
		case O_TEST_AGE:
			rc = number("--max-restore-test-age-days", optarg, 0, 100000, &test_age);
			break;
		case O_NO_COLOR: o.color = false; break;
		case O_AS_OF: rc = drb_repo_as_of_parse(optarg, &as_of); break;
		default:
			return drb_error(DRB_ERR_USAGE, "unknown or incomplete option '%s' (see 'drbackup list "
							"--help')",
					 argv[optind - 1]);
		}
	}
	if (rc < 0)
		return rc;
	if (optind < argc)
		return drb_error(DRB_ERR_USAGE, "unexpected argument '%s'", argv[optind]);
	if (all_hosts && (timeline || o.host || o.db))
		return drb_error(DRB_ERR_USAGE, "--all-hosts shows every host: it takes no --host, --db "
						"or --timeline (see 'drbackup list --help')");
	if ((o.db || since || o.width != 72) && !timeline)
		return drb_error(DRB_ERR_USAGE, "--db, --since and --width go with --timeline (see "
						"'drbackup list --help')");
	if (since && drb_time_parse(since, &o.since) < 0)
		return drb_error(DRB_ERR_USAGE, "--since: '%s' is not a time", since);
	if (!since)
		o.since = o.now - days * 86400;
	if (o.since >= o.now)
		return drb_error(DRB_ERR_USAGE, "--since must be in the past");
	if ((rc = drb_ctx_config(ctx, &c)) < 0 || (rc = drb_repo_set_open(c, ctx->repo_name, &set)) < 0)
		return rc;
	drb_repo_set_allow_unsigned(set, allow_unsigned);
	if (as_of && (rc = drb_repo_set_as_of(set, as_of)) < 0) {
		drb_repo_set_close(set);
		return rc;
	}
	o.max_full_age_hours = full_age >= 0 ? full_age : c->alerts.max_full_age_hours;
	o.max_rpo_seconds = rpo >= 0 ? rpo : c->alerts.max_rpo_seconds;
	o.max_restore_test_age_days = test_age >= 0 ? test_age : c->alerts.max_restore_test_age_days;
	if (!o.host)
		o.host = c->host_id;
	if (all_hosts)
		rc = drb_list_fleet(ctx, c, set, &o);
	else if (timeline)
		rc = drb_list_timeline(ctx, c, set, &o);
	else
		rc = show_host(ctx, c, set, o.host);
	drb_repo_set_close(set);
	return rc;
}
