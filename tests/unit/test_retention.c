/* policies/retention: the engine on synthetic catalogs. Worked cases for each rule, then
 * property tests over random histories (gaps of days with no backup, several practices with
 * their own rules, holds): the newest full is always kept; every point inside the pitr window
 * still restores from what is kept (checked with the restore planner itself); nothing under a
 * hold or younger than keep_min_days is deleted. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/catalog.h"
#include "common/error.h"
#include "policies/retention.h"
#include "restore/plan.h"

#define DAY 86400
#define NOW 1796083200 /* 2026-12-01T00:00:00Z */

static drb_manifest *full_at(int64_t t, const char *const *dbs, size_t n, const char *gtid,
			     const char *file)
{
	drb_manifest *m = calloc(1, sizeof *m);
	char id[17];
	drb_time_id(t, id);
	m->host_id = strdup("h");
	m->backup_id = strdup(id);
	m->snapshot_time = t;
	m->binlog_file = strdup(file);
	m->binlog_pos = 100;
	m->gtid = strdup(gtid);
	m->generation = strdup("1-G");
	m->server_id = 1;
	m->dbs = calloc(n, sizeof *m->dbs);
	m->n_dbs = n;
	for (size_t i = 0; i < n; i++) {
		m->dbs[i].name = strdup(dbs[i]);
		m->dbs[i].object = strdup("x.sql.drb");
		m->dbs[i].stored_bytes = 1000;
		memset(m->dbs[i].sha256, 'b', 64);
	}
	return m;
}

/* A host that took a full every day_step days at 01:30 and shipped one segment (one file) per
 * 6 hours from the first backup on; days in skip took no backup and shipped nothing. */
static drb_catalog *history(int days, const char *const *dbs, size_t n, const bool *skip)
{
	drb_catalog *c = calloc(1, sizeof *c);
	c->host_id = strdup("h");
	c->gens = calloc(1, sizeof *c->gens);
	c->n_gens = 1;
	drb_generation *g = &c->gens[0];
	g->name = strdup("1-G");
	int64_t t0 = NOW - (int64_t)days * DAY;
	long seq = 0, file = 1;
	for (int d = 0; d < days; d++) {
		if (skip && skip[d])
			continue;
		for (int q = 0; q < 4; q++) {
			int64_t start = t0 + (int64_t)d * DAY + q * 6 * 3600;
			char name[32], sg[32], eg[32];
			snprintf(name, sizeof name, "mysql-bin.%06ld", file);
			snprintf(sg, sizeof sg, "0-1-%ld", seq);
			snprintf(eg, sizeof eg, "0-1-%ld", seq + 10);
			if (q == 0) {
				/* the full backup at 01:30 lies in this file */
				char gt[32];
				snprintf(gt, sizeof gt, "0-1-%ld", seq + 5);
				c->fulls = realloc(c->fulls, (c->n_fulls + 1) * sizeof *c->fulls);
				c->fulls[c->n_fulls++] = full_at(start + 5400, dbs, n, gt, name);
			}
			g->segs = realloc(g->segs, (g->n + 1) * sizeof *g->segs);
			drb_segment *s = &g->segs[g->n++];
			memset(s, 0, sizeof *s);
			s->generation = strdup("1-G");
			s->file = strdup(name);
			s->end = 1000;
			s->closed = true;
			s->first_event = start + 1;
			s->last_event = start + 6 * 3600 - 60;
			s->complete_until = start + 6 * 3600;
			s->shipped = start + 6 * 3600 + 5;
			s->start_gtid = strdup(sg);
			s->end_gtid = strdup(eg);
			s->server_id = 1;
			s->stored_bytes = 100;
			memset(s->sha256, 'a', 64);
			seq += 10;
			file++;
		}
	}
	return c;
}

static const drb_ret_item *item_for(const drb_ret_plan *p, const drb_manifest *m,
				    const char *practice)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->items[i].full == m && (practice ? p->items[i].kind == DRB_RET_PRACTICE &&
								 strcmp(p->items[i].practice, practice) == 0
						       : p->items[i].kind == DRB_RET_FULL))
			return &p->items[i];
	return NULL;
}

/* The catalog as it is after the plan is applied: what restore would see. */
static drb_catalog *apply(const drb_catalog *c, const drb_ret_plan *p)
{
	drb_catalog *a = calloc(1, sizeof *a);
	a->host_id = strdup(c->host_id);
	a->fulls = calloc(c->n_fulls + 1, sizeof *a->fulls);
	for (size_t i = 0; i < c->n_fulls; i++) {
		const drb_ret_item *it = item_for(p, c->fulls[i], NULL);
		if (it && it->keep)
			assert_non_null(a->fulls[a->n_fulls++] = drb_manifest_copy(c->fulls[i]));
	}
	a->gens = calloc(c->n_gens, sizeof *a->gens);
	a->n_gens = c->n_gens;
	for (size_t g = 0; g < c->n_gens; g++) {
		a->gens[g].name = strdup(c->gens[g].name);
		a->gens[g].segs = calloc(c->gens[g].n + 1, sizeof *a->gens[g].segs);
		for (size_t k = 0; k < c->gens[g].n; k++) {
			bool keep = true;
			for (size_t i = 0; i < p->n; i++)
				if (p->items[i].seg == &c->gens[g].segs[k])
					keep = p->items[i].keep;
			if (keep)
				drb_segment_copy(&a->gens[g].segs[a->gens[g].n++], &c->gens[g].segs[k]);
		}
	}
	return a;
}

static const char *const two[] = {"practice_a", "peds_b"};

static void test_newest_and_floor(void **state)
{
	(void)state;
	drb_catalog *c = history(30, two, 2, NULL);
	drb_ret_input in = {.cat = c, .policy = {.keep_min_days = 3}, .now = NOW};
	drb_ret_plan p;
	assert_int_equal(drb_retention_plan(&in, &p), 0);
	/* 30 fulls: the last 3 days are younger than the floor, everything else goes */
	size_t kept = 0;
	for (size_t i = 0; i < p.n; i++)
		kept += p.items[i].kind == DRB_RET_FULL && p.items[i].keep;
	assert_int_equal(kept, 3);
	assert_true(item_for(&p, c->fulls[c->n_fulls - 1], NULL)->keep);
	assert_false(item_for(&p, c->fulls[0], NULL)->keep);
	assert_non_null(strstr(item_for(&p, c->fulls[c->n_fulls - 2], NULL)->why, "keep_min_days"));
	assert_true(p.bytes_freed > 0);
	drb_retention_plan_free(&p);
	/* nothing at all in the policy: still the newest */
	in.policy.keep_min_days = 0;
	assert_int_equal(drb_retention_plan(&in, &p), 0);
	assert_true(item_for(&p, c->fulls[c->n_fulls - 1], NULL)->keep);
	assert_false(item_for(&p, c->fulls[c->n_fulls - 2], NULL)->keep);
	drb_retention_plan_free(&p);
	drb_catalog_free(c);
}

/* Periods, not days: a host that was off for two weeks keeps its older dailies. */
static void test_calendar_periods_after_an_outage(void **state)
{
	(void)state;
	bool skip[40] = {0};
	for (int d = 24; d < 38; d++)
		skip[d] = true; /* off from day 24 to 37; back for the last two days */
	drb_catalog *c = history(40, two, 2, skip);
	drb_ret_input in = {.cat = c, .policy = {.keep_daily = 7}, .now = NOW};
	drb_ret_plan p;
	assert_int_equal(drb_retention_plan(&in, &p), 0);
	size_t kept = 0;
	for (size_t i = 0; i < p.n; i++)
		kept += p.items[i].kind == DRB_RET_FULL && p.items[i].keep;
	assert_int_equal(kept, 7); /* 2 after the outage and 5 before it, not just 2 */
	assert_non_null(strstr(item_for(&p, c->fulls[c->n_fulls - 3], NULL)->why, "keep_daily"));
	drb_retention_plan_free(&p);
	/* weekly and monthly pick the newest of each period */
	in.policy = (drb_policy){.keep_weekly = 2, .keep_monthly = 2};
	assert_int_equal(drb_retention_plan(&in, &p), 0);
	kept = 0;
	for (size_t i = 0; i < p.n; i++)
		kept += p.items[i].kind == DRB_RET_FULL && p.items[i].keep;
	assert_true(kept >= 2 && kept <= 4);
	drb_retention_plan_free(&p);
	drb_catalog_free(c);
}

/* A practice with a longer rule keeps its objects while the others' go. */
static void test_per_practice_rules(void **state)
{
	(void)state;
	drb_catalog *c = history(20, two, 2, NULL);
	drb_practice_policy pp = {.practice = "peds_b", .policy = {.keep_daily = 10},
				  .rule = "practice peds_b"};
	drb_ret_input in = {.cat = c, .policy = {.keep_daily = 3}, .practices = &pp,
			    .n_practices = 1, .now = NOW};
	drb_ret_plan p;
	assert_int_equal(drb_retention_plan(&in, &p), 0);
	const drb_manifest *m = c->fulls[c->n_fulls - 6];
	assert_true(item_for(&p, m, NULL)->keep); /* peds_b keeps the backup */
	assert_false(item_for(&p, m, "practice_a")->keep);
	assert_true(item_for(&p, m, "peds_b")->keep);
	assert_non_null(strstr(item_for(&p, m, "practice_a")->why, "practice_a"));
	assert_false(item_for(&p, c->fulls[0], NULL)->keep);
	drb_retention_plan_free(&p);
	drb_catalog_free(c);
}

/* A weekly, monthly or yearly keep whose period is over lasts until `keep_*` periods have begun
 * after its own: expire extends the Object Lock to that date. A period still running promotes
 * nothing (a later full of it would take its place). */
static void test_lock_until_promotions(void **state)
{
	(void)state;
	drb_catalog *c = history(40, two, 2, NULL); /* daily fulls up to Mon 2026-11-30 01:30 */
	drb_ret_input in = {.cat = c, .policy = {.keep_weekly = 3, .keep_monthly = 2}, .now = NOW};
	drb_ret_plan p;
	size_t n = c->n_fulls;
	assert_int_equal(drb_retention_plan(&in, &p), 0);
	/* Sun 11-29, newest of ISO week 48 (Mon 11-23): until Mon 12-14, 3 weeks after 11-23 */
	assert_int_equal(item_for(&p, c->fulls[n - 2], NULL)->lock_until, NOW + 13 * DAY);
	assert_int_equal(item_for(&p, c->fulls[n - 2], "peds_b")->lock_until, NOW + 13 * DAY);
	/* Sun 11-22, week 47 (Mon 11-16): until 12-07 */
	assert_int_equal(item_for(&p, c->fulls[n - 9], NULL)->lock_until, NOW + 6 * DAY);
	/* Mon 11-30: its week runs on, but November is over: until 2027-01-01 */
	assert_int_equal(item_for(&p, c->fulls[n - 1], NULL)->lock_until, NOW + 31 * DAY);
	/* Sat 10-31, newest of October: until 12-01 */
	assert_int_equal(item_for(&p, c->fulls[n - 31], NULL)->lock_until, NOW);
	/* a kept full that no finished period promotes has none */
	assert_true(item_for(&p, c->fulls[n - 3], NULL) == NULL ||
		    item_for(&p, c->fulls[n - 3], NULL)->lock_until == 0);
	drb_retention_plan_free(&p);
	/* the same history seen on Sunday 11-29 noon: week 48 and November still run */
	in.now = NOW - DAY - 12 * 3600;
	drb_catalog *c2 = history(40, two, 2, NULL);
	for (size_t i = 0; i < n; i++) /* drop Monday's full: not taken yet at that time */
		if (i == n - 1)
			c2->fulls[i]->snapshot_time = c2->fulls[i - 1]->snapshot_time - 60;
	in.cat = c2;
	assert_int_equal(drb_retention_plan(&in, &p), 0);
	assert_int_equal(item_for(&p, c2->fulls[n - 2], NULL)->lock_until, 0);
	drb_retention_plan_free(&p);
	drb_catalog_free(c2);
	drb_catalog_free(c);
}

static void test_refusals(void **state)
{
	(void)state;
	drb_catalog *c = history(5, two, 2, NULL);
	drb_ret_input in = {.cat = c, .policy = {.keep_daily = 1}, .now = NOW - 10 * DAY};
	drb_ret_plan p;
	char line[DRB_ERROR_LINE];
	assert_int_equal(drb_retention_plan(&in, &p), DRB_ERR_REFUSED);
	drb_error_line(line, sizeof line);
	assert_non_null(strstr(line, "after now"));
	drb_catalog_free(c);
}

static const char *const prac[] = {"practice_a", "peds_b", "ortho_c"};

/* Random histories and policies: the promises hold every time. */
static void test_properties(void **state)
{
	(void)state;
	srand(20261201);
	for (int round = 0; round < 60; round++) {
		int days = 10 + rand() % 60;
		bool skip[80] = {0};
		for (int d = 0; d < days - 1; d++)
			skip[d] = rand() % 5 == 0;
		drb_catalog *c = history(days, prac, 3, skip);
		if (!c->n_fulls) {
			drb_catalog_free(c);
			continue;
		}
		drb_practice_policy pp = {.practice = prac[rand() % 3],
					  .policy = {.keep_daily = rand() % 10, .pitr_days = rand() % 8,
						     .keep_min_days = rand() % 5},
					  .rule = "practice rule"};
		const char *hold = rand() % 3 == 0 ? prac[rand() % 3] : NULL;
		drb_ret_input in = {.cat = c,
				    .policy = {.keep_daily = rand() % 8, .keep_weekly = rand() % 4,
					       .keep_monthly = rand() % 3, .pitr_days = rand() % 10,
					       .keep_min_days = rand() % 4},
				    .practices = &pp, .n_practices = 1,
				    .holds = hold ? &hold : NULL, .n_holds = hold ? 1 : 0,
				    .now = NOW};
		drb_ret_plan p;
		assert_int_equal(drb_retention_plan(&in, &p), 0);
		/* the newest full is kept */
		assert_true(item_for(&p, c->fulls[c->n_fulls - 1], NULL)->keep);
		for (size_t i = 0; i < p.n; i++) {
			const drb_ret_item *it = &p.items[i];
			if (it->keep)
				continue;
			/* nothing under a hold, nothing younger than its floor */
			if (it->kind == DRB_RET_PRACTICE) {
				assert_true(!hold || strcmp(it->practice, hold) != 0);
				const drb_policy *pol = drb_retention_policy_for(&in, it->practice, NULL);
				assert_true(it->full->snapshot_time <= NOW - pol->keep_min_days * DAY);
			} else if (it->kind == DRB_RET_FULL) {
				assert_null(hold);
				assert_true(it->full->snapshot_time <=
					    NOW - (in.policy.keep_min_days > pp.policy.keep_min_days
							   ? in.policy.keep_min_days
							   : pp.policy.keep_min_days) *
							  DAY);
			} else if (hold) {
				fail_msg("a segment was deleted under a hold");
			}
		}
		/* every point inside each practice's pitr window restores from what is kept */
		drb_catalog *a = apply(c, &p);
		for (int k = 0; k < 3; k++) {
			const drb_policy *pol = drb_retention_policy_for(&in, prac[k], NULL);
			int64_t from = NOW - pol->pitr_days * DAY;
			if (from < c->fulls[0]->snapshot_time + 1)
				from = c->fulls[0]->snapshot_time + 1;
			int64_t to = c->gens[0].segs[c->gens[0].n - 1].complete_until;
			for (int probe = 0; probe < 6 && pol->pitr_days > 0 && from < to; probe++) {
				drb_target t = {.kind = DRB_TO_TIME,
						.time = from + (int64_t)((to - from) * (probe / 5.0))};
				drb_plan plan;
				int rc = drb_plan_make(a, &t, &plan);
				/* the random history itself has holes (days without segments) */
				drb_plan orig;
				int orc = drb_plan_make(c, &t, &orig);
				drb_plan_free(&orig);
				if (orc == 0 && rc != 0) {
					char line[DRB_ERROR_LINE];
					drb_error_line(line, sizeof line);
					fail_msg("round %d: %s restored before expire, not after: %s", round,
						 prac[k], line);
				}
				drb_plan_free(&plan);
				drb_error_clear();
			}
		}
		drb_catalog_free(a);
		drb_retention_plan_free(&p);
		drb_catalog_free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_newest_and_floor),
		cmocka_unit_test(test_calendar_periods_after_an_outage),
		cmocka_unit_test(test_per_practice_rules),
		cmocka_unit_test(test_lock_until_promotions),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_properties),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
