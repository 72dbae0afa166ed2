/* restore/plan: which full backup and which segments, and every refusal, on synthetic catalogs. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <jansson.h>

#include "common/catalog.h"
#include "common/error.h"
#include "common/repo.h"
#include "common/sign.h"
#include "restore/list.h"
#include "restore/plan.h"
#include "tests/harness.h"

#define T0 1795600000 /* 2026-11-25T... */

static drb_catalog *cat;

static drb_manifest *full(const char *id, int64_t t, const char *file, uint64_t pos, const char *gtid,
			  const char *gen)
{
	drb_manifest *m = calloc(1, sizeof *m);
	m->host_id = strdup("h");
	m->backup_id = strdup(id);
	m->snapshot_time = t;
	m->binlog_file = strdup(file);
	m->binlog_pos = pos;
	m->gtid = strdup(gtid);
	m->generation = strdup(gen);
	m->server_id = 1;
	return m;
}

static void add_full(drb_manifest *m)
{
	cat->fulls = realloc(cat->fulls, (cat->n_fulls + 1) * sizeof *cat->fulls);
	cat->fulls[cat->n_fulls++] = m;
}

static drb_generation *gen(const char *name)
{
	cat->gens = realloc(cat->gens, (cat->n_gens + 1) * sizeof *cat->gens);
	drb_generation *g = &cat->gens[cat->n_gens++];
	memset(g, 0, sizeof *g);
	g->name = strdup(name);
	return g;
}

static void seg(drb_generation *g, const char *file, uint64_t start, uint64_t end, bool closed,
		int64_t first, int64_t last, const char *sg, const char *eg)
{
	g->segs = realloc(g->segs, (g->n + 1) * sizeof *g->segs);
	drb_segment *s = &g->segs[g->n++];
	memset(s, 0, sizeof *s);
	s->generation = strdup(g->name);
	s->file = strdup(file);
	s->start = start;
	s->end = end;
	s->closed = closed;
	s->first_event = first;
	s->last_event = last;
	s->start_gtid = strdup(sg);
	s->end_gtid = strdup(eg);
	s->server_id = 1;
	s->stored_bytes = 100;
	memset(s->sha256, 'a', 64);
}

/* A day: full at T0 in mysql-bin.000002:500, then segments to T0+300 with a partial file. */
static int setup(void **state)
{
	(void)state;
	cat = calloc(1, sizeof *cat);
	cat->host_id = strdup("h");
	add_full(full("F1", T0, "mysql-bin.000002", 500, "0-1-10", "1-G"));
	drb_generation *g = gen("1-G");
	seg(g, "mysql-bin.000001", 0, 900, true, T0 - 100, T0 - 50, "", "0-1-8");
	seg(g, "mysql-bin.000002", 0, 1000, true, T0 - 40, T0 + 60, "0-1-8", "0-1-14");
	seg(g, "mysql-bin.000003", 0, 700, false, T0 + 70, T0 + 120, "0-1-14", "0-1-20");
	seg(g, "mysql-bin.000003", 700, 1500, true, T0 + 130, T0 + 200, "0-1-20", "0-1-26");
	seg(g, "mysql-bin.000004", 0, 800, true, T0 + 210, T0 + 300, "0-1-26", "0-1-30");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	drb_catalog_free(cat);
	return 0;
}

static void test_latest(void **state)
{
	drb_plan p;
	drb_target t = {.kind = DRB_TO_LATEST};
	(void)state;
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_string_equal(p.full->backup_id, "F1");
	assert_int_equal(p.n_files, 3); /* 000002 from its start, 000003 in two pieces, 000004 */
	assert_string_equal(p.files[0].name, "mysql-bin.000002");
	assert_int_equal(p.files[0].start_pos, 500);
	assert_int_equal(p.files[1].n, 2);
	assert_int_equal(p.reached_time, T0 + 300);
	assert_string_equal(p.reached_gtid, "0-1-30");
	assert_false(p.stop_in_chain);
	drb_plan_free(&p);
}

static void test_time_inside_the_chain(void **state)
{
	drb_plan p;
	drb_target t = {.kind = DRB_TO_TIME, .time = T0 + 150};
	(void)state;
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_int_equal(p.n_files, 2);
	assert_int_equal(p.files[1].n, 2); /* the piece holding T0+150 is the second of 000003 */
	assert_true(p.stop_in_chain);
	assert_int_equal(p.reached_time, T0 + 150);
	drb_plan_free(&p);
	/* a time before any segment event after the snapshot: the first file only */
	t.time = T0 + 10;
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_int_equal(p.n_files, 1);
	drb_plan_free(&p);
}

static void test_gtid(void **state)
{
	drb_plan p;
	drb_target t = {.kind = DRB_TO_GTID};
	(void)state;
	snprintf(t.gtid, sizeof t.gtid, "0-1-22");
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_int_equal(p.n_files, 2);
	assert_string_equal(p.reached_gtid, "0-1-22");
	assert_true(p.stop_in_chain);
	drb_plan_free(&p);
	/* the snapshot itself */
	snprintf(t.gtid, sizeof t.gtid, "0-1-10");
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_int_equal(p.n_files, 0);
	drb_plan_free(&p);
	/* past the end */
	snprintf(t.gtid, sizeof t.gtid, "0-1-31");
	assert_int_equal(drb_plan_make(cat, &t, &p), DRB_ERR_REFUSED);
	drb_plan_free(&p);
}

static void test_refusals(void **state)
{
	drb_plan p;
	char line[DRB_ERROR_LINE];
	drb_target t = {.kind = DRB_TO_TIME, .time = T0 - 1000};
	(void)state;
	assert_int_equal(drb_plan_make(cat, &t, &p), DRB_ERR_REFUSED);
	drb_error_line(line, sizeof line);
	assert_non_null(strstr(line, "no full backup"));
	assert_non_null(strstr(line, "F1"));
	drb_plan_free(&p);
	t.time = T0 + 10000;
	assert_int_equal(drb_plan_make(cat, &t, &p), DRB_ERR_REFUSED);
	drb_error_line(line, sizeof line);
	assert_non_null(strstr(line, "beyond the end of coverage"));
	assert_non_null(strstr(line, "0-1-30"));
	drb_plan_free(&p);
}

static void test_gap(void **state)
{
	drb_plan p;
	char line[DRB_ERROR_LINE];
	(void)state;
	/* 000005 never shipped, 000006 was */
	drb_generation *g = &cat->gens[0];
	seg(g, "mysql-bin.000006", 0, 500, true, T0 + 400, T0 + 450, "0-1-33", "0-1-36");
	drb_target t = {.kind = DRB_TO_LATEST};
	assert_int_equal(drb_plan_make(cat, &t, &p), DRB_ERR_GAP);
	drb_error_line(line, sizeof line);
	assert_non_null(strstr(line, "gap in the binlog chain"));
	assert_non_null(strstr(line, "mysql-bin.000004:800"));
	assert_non_null(strstr(line, "mysql-bin.000006:0"));
	assert_non_null(strstr(line, "the last point reachable"));
	assert_int_equal(p.reached_time, T0 + 300); /* what list shows as the window's end */
	drb_plan_free(&p);
	/* a target before the gap is fine */
	t.kind = DRB_TO_TIME;
	t.time = T0 + 250;
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	drb_plan_free(&p);
	/* a hole inside one file is a gap too */
	drb_segment s = g->segs[g->n - 1];
	(void)s;
	g->n--; /* drop 000006 again */
	drb_segment_clear(&g->segs[g->n]);
}

static void test_generation_by_file_identity(void **state)
{
	drb_plan p;
	(void)state;
	/* a reset server reused the names: generation 1-H also has mysql-bin.000002 */
	drb_generation *h = gen("1-H");
	seg(h, "mysql-bin.000002", 0, 300, true, T0 + 5000, T0 + 5100, "", "0-1-3");
	h->segs[0].file_created = 42;
	cat->gens[0].segs[1].file_created = 7;
	drb_manifest *m = full("F0", T0, "mysql-bin.000002", 500, "0-1-10", "");
	m->binlog_file_created = 7;
	drb_target t = {.kind = DRB_TO_LATEST};
	assert_int_equal(drb_plan_from(cat, m, &t, &p), 0);
	assert_non_null(p.gen);
	assert_string_equal(p.gen->name, "1-G");
	drb_plan_free(&p);
	drb_manifest_free(m);
}

/* The snapshot's own file was never shipped (purged first): the next file may only start the
 * chain when it begins exactly at the snapshot's GTID state, and then from offset 0. */
static void test_unshipped_snapshot_file(void **state)
{
	drb_plan p;
	char line[DRB_ERROR_LINE];
	drb_target t = {.kind = DRB_TO_LATEST};
	(void)state;
	drb_catalog *saved = cat;
	cat = calloc(1, sizeof *cat);
	cat->host_id = strdup("h");
	drb_generation *g = gen("1-G");
	seg(g, "mysql-bin.000008", 0, 900, true, T0 + 10, T0 + 50, "0-1-40", "0-1-45");
	drb_manifest *m = full("F7", T0, "mysql-bin.000007", 2552, "0-1-26", "1-G");
	add_full(m);
	assert_int_equal(drb_plan_make(cat, &t, &p), DRB_ERR_GAP);
	drb_error_line(line, sizeof line);
	assert_non_null(strstr(line, "not shipped"));
	drb_plan_free(&p);
	/* the snapshot at the very end of 000007: 000008 starts at its state */
	free(m->gtid);
	m->gtid = strdup("0-1-40");
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_int_equal(p.n_files, 1);
	assert_int_equal(p.files[0].start_pos, 0); /* not 2552: that offset is in 000007 */
	drb_plan_free(&p);
	drb_catalog_free(cat);
	cat = saved;
}

/* After RESET MASTER the names come back with other contents: the manifest's generation is
 * used only when it holds the very file of the snapshot. */
static void test_reused_names_after_reset(void **state)
{
	drb_plan p;
	drb_target t = {.kind = DRB_TO_LATEST};
	(void)state;
	drb_catalog *saved = cat;
	cat = calloc(1, sizeof *cat);
	cat->host_id = strdup("h");
	drb_generation *old = gen("1-OLD");
	seg(old, "mysql-bin.000001", 0, 2000, true, T0 - 500, T0 - 400, "", "0-1-3");
	old->segs[0].file_created = 111;
	drb_manifest *m = full("F", T0, "mysql-bin.000001", 546, "0-1-1", "1-OLD");
	m->binlog_file_created = 222; /* the new server's file */
	add_full(m);
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_int_equal(p.n_files, 0); /* the old history is not replayed */
	assert_null(p.gen);
	drb_plan_free(&p);
	drb_generation *fresh = gen("1-NEW");
	seg(fresh, "mysql-bin.000001", 0, 900, false, T0, T0 + 20, "", "0-1-2");
	fresh->segs[0].file_created = 222;
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_string_equal(p.gen->name, "1-NEW");
	assert_int_equal(p.files[0].start_pos, 546);
	drb_plan_free(&p);
	drb_catalog_free(cat);
	cat = saved;
}

/* A full backup past the target in any of the target's domains is not a starting point. */
static void test_multi_domain_gtid_target(void **state)
{
	drb_plan p;
	drb_target t = {.kind = DRB_TO_GTID};
	(void)state;
	drb_catalog *saved = cat;
	cat = calloc(1, sizeof *cat);
	cat->host_id = strdup("h");
	add_full(full("OLD", T0, "mysql-bin.000001", 100, "0-1-50,1-1-5", ""));
	add_full(full("NEW", T0 + 100, "mysql-bin.000002", 100, "0-1-150,1-1-10", ""));
	snprintf(t.gtid, sizeof t.gtid, "0-1-100,1-1-50");
	drb_plan_make(cat, &t, &p);
	assert_non_null(p.full);
	assert_string_equal(p.full->backup_id, "OLD");
	drb_plan_free(&p);
	drb_error_clear();
	drb_catalog_free(cat);
	cat = saved;
}

/* A time after a segment's last event but before it was known complete (the rotation, the read
 * of the active file) is reached, as the state after that event; past it, refused. */
static void test_coverage_to_complete_until(void **state)
{
	drb_plan p;
	char line[DRB_ERROR_LINE];
	drb_target t = {.kind = DRB_TO_TIME, .time = T0 + 310};
	(void)state;
	drb_generation *g = &cat->gens[0];
	drb_segment *last = &g->segs[g->n - 1];
	assert_int_equal(drb_plan_make(cat, &t, &p), DRB_ERR_REFUSED); /* old description */
	drb_plan_free(&p);
	last->complete_until = T0 + 320;
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_false(p.stop_in_chain); /* the whole chain, no stop option */
	assert_int_equal(p.reached_time, T0 + 310);
	assert_int_equal(p.n_files, 3);
	drb_plan_free(&p);
	t.time = T0 + 321;
	assert_int_equal(drb_plan_make(cat, &t, &p), DRB_ERR_REFUSED);
	drb_error_line(line, sizeof line);
	assert_non_null(strstr(line, "complete until"));
	drb_plan_free(&p);
	/* latest reaches the last event; the covered window runs to complete_until */
	t.kind = DRB_TO_LATEST;
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_int_equal(p.reached_time, T0 + 300);
	assert_int_equal(p.covered_until, T0 + 320);
	drb_plan_free(&p);
	/* a point inside a segment's span stops there, in that segment's file */
	t.kind = DRB_TO_TIME;
	t.time = T0 + 100;
	g->segs[2].complete_until = T0 + 125;
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_true(p.stop_in_chain);
	assert_string_equal(p.files[p.n_files - 1].name, "mysql-bin.000003");
	assert_int_equal(p.files[p.n_files - 1].n, 1);
	drb_plan_free(&p);
	/* between that segment's last event and its completion: no stop, no later segment */
	t.time = T0 + 124;
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_false(p.stop_in_chain);
	assert_int_equal(p.files[p.n_files - 1].n, 1);
	drb_plan_free(&p);
	last->complete_until = 0;
	g->segs[2].complete_until = 0;
}

/* A point just before a gap, covered by what was shipped before it, is reachable. */
static void test_point_before_gap(void **state)
{
	drb_plan p;
	drb_target t = {.kind = DRB_TO_TIME, .time = T0 + 305};
	(void)state;
	drb_generation *g = &cat->gens[0];
	seg(g, "mysql-bin.000006", 0, 500, true, T0 + 400, T0 + 450, "0-1-33", "0-1-36");
	g->segs[g->n - 2].complete_until = T0 + 310; /* 000004 rotated at T0+310 */
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_false(p.stop_in_chain);
	drb_plan_free(&p);
	t.time = T0 + 311;
	assert_int_equal(drb_plan_make(cat, &t, &p), DRB_ERR_GAP);
	drb_plan_free(&p);
	g->segs[g->n - 2].complete_until = 0;
	g->n--;
	drb_segment_clear(&g->segs[g->n]);
}

/* Names and offsets that continue are not enough: the GTID state must continue too. */
static void test_gtid_break_is_a_gap(void **state)
{
	drb_plan p;
	char line[DRB_ERROR_LINE];
	drb_target t = {.kind = DRB_TO_LATEST};
	(void)state;
	drb_generation *g = &cat->gens[0];
	char *saved = g->segs[3].start_gtid; /* 000003:700 begins where 000003:0 ends, 0-1-20 */
	g->segs[3].start_gtid = strdup("0-1-19");
	assert_int_equal(drb_plan_make(cat, &t, &p), DRB_ERR_GAP);
	drb_error_line(line, sizeof line);
	assert_non_null(strstr(line, "mysql-bin.000003:700"));
	assert_non_null(strstr(line, "GTID state does not continue"));
	drb_plan_free(&p);
	/* across files as well */
	free(g->segs[3].start_gtid);
	g->segs[3].start_gtid = saved;
	saved = g->segs[4].start_gtid;
	g->segs[4].start_gtid = strdup("0-1-27");
	assert_int_equal(drb_plan_make(cat, &t, &p), DRB_ERR_GAP);
	drb_plan_free(&p);
	free(g->segs[4].start_gtid);
	g->segs[4].start_gtid = saved;
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	drb_plan_free(&p);
}

/* When the newest full cannot be used, the next older one with the longer chain. */
static void test_older_full(void **state)
{
	drb_plan p;
	drb_target t = {.kind = DRB_TO_LATEST};
	(void)state;
	add_full(full("F2", T0 + 205, "mysql-bin.000004", 300, "0-1-28", "1-G"));
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_string_equal(p.full->backup_id, "F2");
	assert_int_equal(p.n_files, 1);
	drb_plan_free(&p);
	assert_int_equal(drb_plan_make_older(cat, &t, "F2", &p), 0);
	assert_string_equal(p.full->backup_id, "F1");
	assert_int_equal(p.n_files, 3);
	assert_string_equal(p.reached_gtid, "0-1-30");
	drb_plan_free(&p);
	assert_int_equal(drb_plan_make_older(cat, &t, "F1", &p), DRB_ERR_NOT_FOUND);
	drb_plan_free(&p);
	drb_manifest_free(cat->fulls[--cat->n_fulls]);
}

static void test_target_parsing(void **state)
{
	drb_target t;
	(void)state;
	assert_int_equal(drb_target_parse("latest", &t), 0);
	assert_int_equal(t.kind, DRB_TO_LATEST);
	assert_int_equal(drb_target_parse("0-1-42", &t), 0);
	assert_int_equal(t.kind, DRB_TO_GTID);
	assert_int_equal(drb_target_parse("0-1-42,1-2-3", &t), 0);
	assert_int_equal(drb_target_parse("2026-11-23 10:05:00", &t), 0);
	assert_int_equal(t.kind, DRB_TO_TIME);
	int64_t utc = t.time;
	assert_int_equal(drb_target_parse("2026-11-23T10:05:00Z", &t), 0);
	assert_int_equal(t.time, utc);
	assert_int_equal(drb_target_parse("2026-11-23T11:05:00+01:00", &t), 0);
	assert_int_equal(t.time, utc);
	assert_int_equal(drb_target_parse("2026-11-23 05:05:00-05:00", &t), 0);
	assert_int_equal(t.time, utc);
	assert_int_equal(drb_target_parse("yesterday", &t), DRB_ERR_USAGE);
	assert_int_equal(drb_target_parse("2026-11-23 10:05", &t), DRB_ERR_USAGE);
	assert_int_equal(drb_target_parse("2026-11-23 10:05:00 junk", &t), DRB_ERR_USAGE);
}

/* A compaction stored [0, 1500) of 000003 as one level-1 segment and has not yet deleted the
 * two small ones: the loader's drop keeps the large one only, and the plan replays it. */
static void test_superseded_dropped(void **state)
{
	drb_generation *g = &cat->gens[0];
	drb_plan p;
	drb_target t = {.kind = DRB_TO_TIME, .time = T0 + 150};
	(void)state;
	/* in key order: the compacted one sorts before the small one it starts with */
	g->segs = realloc(g->segs, (g->n + 1) * sizeof *g->segs);
	memmove(&g->segs[3], &g->segs[2], (g->n - 2) * sizeof *g->segs);
	g->n++;
	drb_segment *big = &g->segs[2];
	memset(big, 0, sizeof *big);
	big->generation = strdup("1-G");
	big->file = strdup("mysql-bin.000003");
	big->start = 0;
	big->end = 1500;
	big->closed = true;
	big->first_event = T0 + 70;
	big->last_event = T0 + 200;
	big->start_gtid = strdup("0-1-14");
	big->end_gtid = strdup("0-1-26");
	big->server_id = 1;
	big->level = 1;
	big->stored_bytes = 150;
	memset(big->sha256, 'b', 64);
	g->compacted = 4; /* the first four came from day catalogs */
	assert_true(drb_segment_supersedes(&g->segs[2], &g->segs[3]));
	assert_true(drb_segment_supersedes(&g->segs[2], &g->segs[4]));
	assert_false(drb_segment_supersedes(&g->segs[3], &g->segs[2]));
	assert_false(drb_segment_supersedes(&g->segs[2], &g->segs[5])); /* the next file */
	assert_int_equal(drb_generation_drop_superseded(g), 2);
	assert_int_equal(g->n, 4);
	assert_int_equal(g->compacted, 3); /* the small one that was among them went */
	assert_int_equal(g->segs[2].level, 1);
	assert_string_equal(g->segs[3].file, "mysql-bin.000004");
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_int_equal(p.n_files, 2);
	assert_int_equal(p.files[1].n, 1); /* 000003 in one piece, cut by the stop time */
	assert_int_equal(p.files[1].segs[0]->level, 1);
	assert_true(p.stop_in_chain);
	drb_plan_free(&p);
	t.kind = DRB_TO_LATEST;
	assert_int_equal(drb_plan_make(cat, &t, &p), 0);
	assert_int_equal(p.reached_time, T0 + 300);
	assert_string_equal(p.reached_gtid, "0-1-30");
	drb_plan_free(&p);
	/* nothing left to drop; an empty segment closing a file at a compacted end stays */
	assert_int_equal(drb_generation_drop_superseded(g), 0);
	drb_segment closing = {.generation = "1-G", .file = "mysql-bin.000003", .start = 1500,
			       .end = 1500, .closed = true};
	assert_false(drb_segment_supersedes(&g->segs[2], &closing));
	/* another file creation (a reused name) is never superseded */
	drb_segment other = {.generation = "1-G", .file = "mysql-bin.000003", .start = 0,
			     .end = 700, .file_created = 1};
	assert_false(drb_segment_supersedes(&g->segs[2], &other));
}

static void test_segment_level_json(void **state)
{
	drb_segment s = {.generation = "1-G",
			 .file = "mysql-bin.000003",
			 .start = 700,
			 .end = 1500,
			 .level = 2,
			 .start_gtid = "",
			 .end_gtid = ""},
		    back;
	char *text = NULL;
	(void)state;
	memset(s.sha256, 'c', 64);
	assert_int_equal(drb_segment_to_json(&s, &text), 0);
	assert_non_null(strstr(text, "\"level\""));
	assert_non_null(strstr(text, "mysql-bin.000003-000000000700-000000001500-L2.drb"));
	assert_int_equal(drb_segment_from_json(text, strlen(text), "t", &back), 0);
	assert_int_equal(back.level, 2);
	drb_segment_clear(&back);
	free(text);
	s.level = 0; /* as cut: no "level" key, the old name */
	assert_int_equal(drb_segment_to_json(&s, &text), 0);
	assert_null(strstr(text, "level"));
	assert_non_null(strstr(text, "mysql-bin.000003-000000000700.drb"));
	assert_int_equal(drb_segment_from_json(text, strlen(text), "t", &back), 0);
	assert_int_equal(back.level, 0);
	drb_segment_clear(&back);
	free(text);
	drb_segment b = {.generation = "1-G", .file = "b.000001", .start = 5, .end = 9, .level = 1};
	char *path = drb_segment_path("h", &b, "json");
	assert_string_equal(path, "h/binlog/1-G/b.000001-000000000005-000000000009-L1.json");
	free(path);
}

static void test_gtid_states(void **state)
{
	char s[256] = "";
	(void)state;
	assert_int_equal(drb_gtid_apply(s, sizeof s, 1, 2, 5), 0);
	assert_int_equal(drb_gtid_apply(s, sizeof s, 0, 1, 9), 0);
	assert_string_equal(s, "0-1-9,1-2-5");
	assert_int_equal(drb_gtid_apply(s, sizeof s, 1, 3, 6), 0);
	assert_string_equal(s, "0-1-9,1-3-6");
	assert_true(drb_gtid_reached(s, "0-1-9"));
	assert_true(drb_gtid_reached(s, "1-2-6"));
	assert_false(drb_gtid_reached(s, "0-1-10"));
	assert_false(drb_gtid_reached(s, "2-1-1"));
	assert_true(drb_gtid_reached(s, ""));
}

/* ------------------------------------------------------------------ summaries */

/* A random history in a posix repository: n_days days of segments (whole closed files and cuts
 * of the active one, gaps by a missing range or a broken GTID state), every day but the last
 * in a day catalog, the last as descriptions; a few full backups at random segments. */
typedef struct history {
	drb_repo_config cfg;
	drb_repo *r;
	drb_trust trust;
	char *dir;
	drb_generation g;
	int64_t day0;
	int n_days;
	uint64_t seq;
} history;

static unsigned rnd(unsigned *st)
{
	*st = *st * 1103515245u + 12345u;
	return (*st >> 8) & 0xffffff;
}

static void hist_seg(history *h, int file, uint64_t start, uint64_t end, bool closed, int64_t t,
                     int level, uint64_t seq0, uint64_t seq1)
{
	char name[32], sg[32], eg[32];
	snprintf(name, sizeof name, "mysql-bin.%06d", file);
	snprintf(sg, sizeof sg, "0-1-%llu", (unsigned long long)seq0);
	snprintf(eg, sizeof eg, "0-1-%llu", (unsigned long long)seq1);
	drb_generation *g = &h->g;
	g->segs = realloc(g->segs, (g->n + 1) * sizeof *g->segs);
	drb_segment *s = &g->segs[g->n++];
	memset(s, 0, sizeof *s);
	s->generation = strdup(g->name);
	s->file = strdup(name);
	s->start = start;
	s->end = end;
	s->closed = closed;
	s->first_event = t;
	s->last_event = t + 40;
	s->complete_until = t + 55;
	s->shipped = t + 60;
	s->file_created = h->day0 + file; /* one identity per file */
	s->start_gtid = strdup(sg);
	s->end_gtid = strdup(eg);
	s->server_id = 1;
	s->stored_bytes = 1000 + (end - start) / 3;
	s->events = (seq1 - seq0) * 4;
	s->level = level;
	memset(s->sha256, 'b', 64);
}

static void hist_open(history *h)
{
	h->dir = drbt_tmpdir("plan-summary");
	h->cfg = (drb_repo_config){.name = "r", .type = "posix", .path = h->dir};
	assert_int_equal(drb_repo_open(&h->cfg, &h->r), 0);
	h->trust = (drb_trust){.allow_unsigned = true};
	h->r->trust = &h->trust;
	h->g.name = strdup("1-G");
	h->day0 = ((int64_t)time(NULL) / 86400 - h->n_days - 1) * 86400;
}

static void hist_full(history *h, const drb_segment *s, uint64_t pos, int64_t t, const char *gtid)
{
	drb_manifest m = {0};
	char id[17];
	drb_time_id(t, id);
	m.host_id = "h";
	m.backup_id = id;
	m.started = m.finished = m.snapshot_time = t;
	m.server_version = "10.11";
	m.server_id = 1;
	m.binlog_file = s->file;
	m.binlog_pos = pos;
	m.gtid = (char *)gtid;
	m.generation = h->g.name;
	m.binlog_file_created = s->file_created;
	assert_int_equal(drb_manifest_put(h->r, &m), 0);
}

/* Store h->g: day catalogs of every day but the last (by shipped), descriptions of the last,
 * and the .drb objects. */
static void hist_store(history *h)
{
	drb_generation *g = &h->g;
	size_t i = 0;
	int64_t last_day = h->day0 + (int64_t)(h->n_days - 1) * 86400;
	while (i < g->n) {
		int64_t day = g->segs[i].shipped / 86400 * 86400;
		size_t k = i;
		while (k < g->n && g->segs[k].shipped / 86400 * 86400 == day)
			k++;
		if (day < last_day)
			assert_int_equal(drb_catalog_write_day(h->r, "h", g, i, k), 0);
		for (size_t q = i; q < k && day >= last_day; q++) {
			const drb_segment *s = &g->segs[q];
			char path[300], *text = NULL;
			if (!s->level) {
				assert_int_equal(drb_segment_put(h->r, "h", s), 0);
				continue;
			}
			/* a compacted segment's name carries its end and level */
			snprintf(path, sizeof path, "h/binlog/%s/%s-%012llu-%012llu-L%d.json",
			         g->name, s->file, (unsigned long long)s->start,
			         (unsigned long long)s->end, s->level);
			assert_int_equal(drb_segment_to_json(s, &text), 0);
			assert_int_equal(drb_meta_put(h->r, path, "binlog", text), 0);
			free(text);
		}
		i = k;
	}
}

static void hist_random(history *h, unsigned seed)
{
	unsigned st = seed;
	int file = 1;
	uint64_t off = 0;
	h->n_days = 6 + (int)(rnd(&st) % 10);
	hist_open(h);
	for (int d = 0; d < h->n_days; d++) {
		int n = 1 + (int)(rnd(&st) % 30);
		for (int i = 0; i < n; i++) {
			int64_t t = h->day0 + (int64_t)d * 86400 + 600 + (int64_t)i * (80000 / n);
			uint64_t size = 200 + rnd(&st) % 5000, seq0 = h->seq;
			bool closed = rnd(&st) % 3 == 0;
			unsigned gap = rnd(&st) % 40;
			if (gap == 0)
				off += 100; /* a range never shipped */
			if (gap == 1)
				seq0 = h->seq += 3; /* a GTID state that does not continue */
			h->seq += 1 + rnd(&st) % 9;
			hist_seg(h, file, off, off + size, closed, t, 0, seq0, h->seq);
			off += size;
			if (gap == 2 && closed) {
				file++; /* a whole file never shipped */
			}
			if (closed) {
				file++;
				off = 0;
			}
		}
	}
	/* full backups inside random segments */
	int n_fulls = 1 + (int)(rnd(&st) % 4);
	for (int f = 0; f < n_fulls; f++) {
		const drb_segment *s = &h->g.segs[rnd(&st) % h->g.n];
		uint64_t pos = s->start + (s->end - s->start) / 2;
		char gtid[32];
		snprintf(gtid, sizeof gtid, "%s", s->start_gtid);
		hist_full(h, s, pos, s->first_event + 5, gtid);
	}
	hist_store(h);
}

static void hist_close(history *h)
{
	for (size_t k = 0; k < h->g.n; k++)
		drb_segment_clear(&h->g.segs[k]);
	free(h->g.segs);
	free(h->g.name);
	drb_repo_close(h->r);
	drbt_rmtree(h->dir);
	free(h->dir);
}

typedef struct shape {
	size_t segments, gaps;
	uint64_t bytes, level_objects[DRB_LEVELS];
	int64_t first, last, covered;
	char gap_at[16][80];
} shape;

static void shape_of(const drb_catalog *c, shape *o)
{
	memset(o, 0, sizeof *o);
	for (size_t g = 0; g < c->n_gens; g++)
		for (size_t k = 0; k < c->gens[g].n; k++) {
			const drb_segment *s = &c->gens[g].segs[k];
			o->segments += drb_segment_count(s);
			o->bytes += s->stored_bytes;
			if (s->first_event && (!o->first || s->first_event < o->first))
				o->first = s->first_event;
			if (s->last_event > o->last)
				o->last = s->last_event;
			if (drb_segment_covered_until(s) > o->covered)
				o->covered = drb_segment_covered_until(s);
			if (k && !drb_segment_continues(&c->gens[g].segs[k - 1], s)) {
				if (o->gaps < 16)
					snprintf(o->gap_at[o->gaps], sizeof o->gap_at[0],
					         "%s:%llu>%s:%llu",
					         drb_segment_end_file(&c->gens[g].segs[k - 1]),
					         (unsigned long long)c->gens[g].segs[k - 1].end,
					         s->file, (unsigned long long)s->start);
				o->gaps++;
			}
		}
	for (int l = 0; l < DRB_LEVELS; l++)
		o->level_objects[l] = c->budget.level_objects[l];
}

static void same_plan(drb_catalog *whole, drb_catalog *sum, const drb_target *t)
{
	drb_plan a, b;
	int ra = drb_plan_make(whole, t, &a), rb = drb_plan_make(sum, t, &b);
	drb_error_clear();
	assert_int_equal(ra, rb);
	assert_int_equal(a.reached_time, b.reached_time);
	assert_int_equal(a.covered_until, b.covered_until);
	assert_string_equal(a.reached_gtid, b.reached_gtid);
	assert_int_equal(a.stop_in_chain, b.stop_in_chain);
	if (ra == 0) {
		assert_int_equal(b.n_runs, 0);
		assert_string_equal(a.full->backup_id, b.full->backup_id);
		assert_int_equal(a.n_files, b.n_files);
		assert_int_equal(a.bytes, b.bytes);
		for (size_t i = 0; i < a.n_files; i++) {
			assert_string_equal(a.files[i].name, b.files[i].name);
			assert_int_equal(a.files[i].start_pos, b.files[i].start_pos);
			assert_int_equal(a.files[i].n, b.files[i].n);
			for (size_t k = 0; k < a.files[i].n; k++) {
				assert_int_equal(a.files[i].segs[k]->start,
				                 b.files[i].segs[k]->start);
				assert_int_equal(a.files[i].segs[k]->end, b.files[i].segs[k]->end);
				assert_int_equal(b.files[i].segs[k]->run, 0);
				assert_memory_equal(a.files[i].segs[k]->sha256,
				                    b.files[i].segs[k]->sha256, 64);
			}
		}
	}
	drb_plan_free(&a);
	drb_plan_free(&b);
}

/* The summaries tell what the whole load tells: counts, bytes, events, coverage, the same gaps
 * at the same places, the same recoverable windows, and the same restore plans. */
static void test_summary_matches_whole_load(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 24; seed++) {
		history h = {0};
		hist_random(&h, seed);
		drb_catalog *whole = NULL, *sum = NULL;
		assert_int_equal(drb_catalog_load(h.r, "h", &whole), 0);
		assert_int_equal(drb_catalog_load_opts(h.r, "h", DRB_CATALOG_SUMMARY, &sum), 0);
		assert_int_equal(whole->n_gens, 1);
		assert_int_equal(sum->n_gens, 1);
		assert_int_equal(whole->gens[0].n, h.g.n);
		/* a summary holds far fewer entries than there are segments, unless gaps cut it */
		assert_true(sum->gens[0].n <= whole->gens[0].n);
		assert_int_equal(sum->gens[0].n_days, h.n_days - 1);
		shape a, b;
		shape_of(whole, &a);
		shape_of(sum, &b);
		assert_int_equal(a.segments, b.segments);
		assert_int_equal(a.bytes, b.bytes);
		assert_int_equal(a.first, b.first);
		assert_int_equal(a.last, b.last);
		assert_int_equal(a.covered, b.covered);
		assert_int_equal(a.gaps, b.gaps);
		for (size_t i = 0; i < a.gaps && i < 16; i++)
			assert_string_equal(a.gap_at[i], b.gap_at[i]);
		assert_memory_equal(a.level_objects, b.level_objects, sizeof a.level_objects);
		assert_int_equal(whole->budget.day_catalogs, sum->budget.day_catalogs);
		assert_int_equal(whole->budget.puts_last_day, sum->budget.puts_last_day);
		drb_window wa[DRB_LIST_MAX_WINDOWS], wb[DRB_LIST_MAX_WINDOWS];
		size_t na = drb_list_windows(whole, NULL, wa, DRB_LIST_MAX_WINDOWS),
		       nb = drb_list_windows(sum, NULL, wb, DRB_LIST_MAX_WINDOWS);
		assert_int_equal(na, nb);
		for (size_t i = 0; i < na; i++) {
			assert_int_equal(wa[i].from, wb[i].from);
			assert_int_equal(wa[i].to, wb[i].to);
			assert_string_equal(wa[i].to_gtid, wb[i].to_gtid);
		}
		/* list needs no day catalog twice */
		assert_int_equal(sum->n_day_expands, 0);
		unsigned st = seed * 7919;
		drb_target latest = {.kind = DRB_TO_LATEST};
		same_plan(whole, sum, &latest);
		for (int q = 0; q < 12; q++) {
			drb_target t = {.kind = DRB_TO_TIME};
			t.time = a.first + (int64_t)(rnd(&st) % (unsigned)(a.last - a.first + 200));
			same_plan(whole, sum, &t);
			drb_target tg = {.kind = DRB_TO_GTID};
			snprintf(tg.gtid, sizeof tg.gtid, "0-1-%u",
			         rnd(&st) % (unsigned)(h.seq + 5));
			same_plan(whole, sum, &tg);
		}
		/* at most one day catalog read again per day */
		assert_true(sum->n_day_expands <= sum->gens[0].n_days);
		drb_catalog_free(whole);
		drb_catalog_free(sum);
		hist_close(&h);
	}
}

/* A restore over the last days of a long history reads the day catalogs of its chain only. */
static void test_plan_reads_the_days_it_replays(void **state)
{
	(void)state;
	history h = {.n_days = 60};
	hist_open(&h);
	int file = 1;
	for (int d = 0; d < h.n_days; d++)
		for (int i = 0; i < 48; i++) {
			int64_t t = h.day0 + (int64_t)d * 86400 + (int64_t)i * 1800;
			uint64_t s0 = h.seq;
			h.seq += 10;
			hist_seg(&h, file++, 0, 4096, true, t, 0, s0, h.seq);
		}
	/* a full backup on day 50 and on day 20 */
	hist_full(&h, &h.g.segs[50 * 48 + 3], 100, h.g.segs[50 * 48 + 3].first_event + 5,
	          h.g.segs[50 * 48 + 3].start_gtid);
	hist_full(&h, &h.g.segs[20 * 48 + 3], 100, h.g.segs[20 * 48 + 3].first_event + 5,
	          h.g.segs[20 * 48 + 3].start_gtid);
	hist_store(&h);
	drb_catalog *sum = NULL;
	assert_int_equal(drb_catalog_load_opts(h.r, "h", DRB_CATALOG_SUMMARY, &sum), 0);
	assert_int_equal(sum->n_day_catalogs, 59);
	/* 59 summarised days: a handful of entries each, not 48 */
	assert_true(sum->gens[0].n < 59 * 4 + 48);
	drb_plan p;
	drb_target latest = {.kind = DRB_TO_LATEST};
	assert_int_equal(drb_plan_make(sum, &latest, &p), 0);
	assert_string_equal(p.full->binlog_file, h.g.segs[50 * 48 + 3].file);
	/* days 50..58 from catalogs, day 59 from descriptions */
	assert_int_equal(sum->n_day_expands, 9);
	assert_int_equal(p.segments, 10 * 48 - 3);
	drb_plan_free(&p);
	/* a point on day 30 goes from the full of day 20: days 20..30 more */
	drb_target t = {.kind = DRB_TO_TIME, .time = h.day0 + 30 * 86400 + 7200};
	assert_int_equal(drb_plan_make(sum, &t, &p), 0);
	assert_string_equal(p.full->binlog_file, h.g.segs[20 * 48 + 3].file);
	assert_int_equal(sum->n_day_expands, 9 + 11);
	drb_plan_free(&p);
	drb_catalog_free(sum);
	hist_close(&h);
}

/* A compacted segment in a later day's catalog replaces the small ones an earlier day still
 * names; one in the descriptions of today replaces today's small ones. */
static void test_summary_supersede_across_days(void **state)
{
	(void)state;
	history h = {.n_days = 4};
	hist_open(&h);
	/* day 0: file 1 in 6 cuts; day 1: file 1 compacted (shipped then), file 2 in 4 cuts;
	 * day 2: file 3; day 3 (descriptions): file 4 in 3 cuts and its compaction */
	int64_t d0 = h.day0 + 3600, d1 = d0 + 86400, d2 = d1 + 86400, d3 = d2 + 86400;
	for (int i = 0; i < 6; i++)
		hist_seg(&h, 1, (uint64_t)i * 1000, (uint64_t)(i + 1) * 1000, i == 5, d0 + i * 100,
		         0, (uint64_t)i * 10, (uint64_t)(i + 1) * 10);
	hist_seg(&h, 1, 0, 6000, true, d1, 1, 0, 60);
	h.g.segs[h.g.n - 1].first_event = d0;
	for (int i = 0; i < 4; i++)
		hist_seg(&h, 2, (uint64_t)i * 500, (uint64_t)(i + 1) * 500, i == 3,
		         d1 + 600 + i * 100, 0, 60 + (uint64_t)i * 5, 65 + (uint64_t)i * 5);
	hist_seg(&h, 3, 0, 700, true, d2, 0, 80, 90);
	for (int i = 0; i < 3; i++)
		hist_seg(&h, 4, (uint64_t)i * 100, (uint64_t)(i + 1) * 100, false, d3 + i * 100, 0,
		         90 + (uint64_t)i, 91 + (uint64_t)i);
	hist_seg(&h, 4, 0, 300, false, d3 + 400, 1, 90, 93);
	hist_full(&h, &h.g.segs[0], 500, d0 + 5, "0-1-0");
	hist_store(&h);
	drb_catalog *sum = NULL;
	assert_int_equal(drb_catalog_load_opts(h.r, "h", DRB_CATALOG_SUMMARY, &sum), 0);
	shape b;
	shape_of(sum, &b);
	assert_int_equal(b.gaps, 0);
	assert_int_equal(b.segments, 1 + 4 + 1 + 1); /* the small ones of files 1 and 4 dropped */
	assert_int_equal(b.level_objects[0], 5);
	assert_int_equal(b.level_objects[1], 2);
	assert_int_equal(sum->gens[0].days[0].dropped, 6);
	drb_plan p;
	drb_target latest = {.kind = DRB_TO_LATEST};
	assert_int_equal(drb_plan_make(sum, &latest, &p), 0);
	assert_int_equal(p.n_files, 4);
	assert_int_equal(p.files[0].n, 1);
	assert_int_equal(p.files[0].segs[0]->level, 1);
	assert_int_equal(p.files[3].n, 1);
	assert_int_equal(p.files[3].segs[0]->level, 1);
	assert_string_equal(p.reached_gtid, "0-1-93");
	drb_plan_free(&p);
	drb_catalog_free(sum);
	hist_close(&h);
}

/* The day catalog of history day d, parsed (NULL when there is none). */
static json_t *day_json(history *h, int d)
{
	char day[9], path[300], *text = NULL;
	size_t len = 0;
	time_t t = (time_t)(h->day0 + (int64_t)d * 86400);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(day, sizeof day, "%Y%m%d", &tm);
	snprintf(path, sizeof path, "h/catalog/%s/%s.json", h->g.name, day);
	if (drb_repo_get_buf(h->r, path, 1 << 24, &text, &len) < 0) {
		drb_error_clear();
		return NULL;
	}
	json_t *j = json_loadb(text, len, JSON_DISABLE_EOF_CHECK, NULL);
	free(text);
	return j;
}

static size_t day_count(json_t *j)
{
	return j ? json_array_size(json_object_get(j, "segments")) : 0;
}

/* The current day's catalog, written open by the agent as the day grows: a listing then reads
 * it instead of a description per segment, and plans as from the descriptions; nothing is
 * written when nothing was added, nor while an earlier day is not in its catalog; the day's
 * end closes it with every segment, and a compaction that rewrites it keeps it open. */
static void test_today_catalog(void **state)
{
	(void)state;
	history h = {.n_days = 4};
	hist_open(&h);
	int64_t d3 = h.day0 + 3 * 86400;
	/* days 0..2: closed files every 2 hours; day 3 (today): one file cut every 10 minutes */
	uint64_t seq = 0;
	int file = 1;
	for (int d = 0; d < 3; d++)
		for (int i = 0; i < 12; i++, file++, seq += 10)
			hist_seg(&h, file, 0, 4000, true, h.day0 + d * 86400 + 600 + i * 7200, 0,
			         seq, seq + 10);
	size_t today0 = h.g.n;
	for (int i = 0; i < 30; i++, seq += 2)
		hist_seg(&h, file, (uint64_t)i * 700, (uint64_t)(i + 1) * 700, false,
		         d3 + 600 + i * 600, 0, seq, seq + 2);
	hist_full(&h, &h.g.segs[1], 100, h.g.segs[1].first_event + 5, h.g.segs[1].start_gtid);
	hist_store(&h);
	int64_t now = d3 + 600 + 30 * 600 + 120;
	drb_catalog *before = NULL;
	assert_int_equal(drb_catalog_load_opts(h.r, "h", DRB_CATALOG_SUMMARY, &before), 0);
	assert_int_equal(before->n_segment_reads, 30);

	size_t added = 99;
	assert_int_equal(drb_catalog_write_today(h.r, "h", h.g.name, now, &added), 0);
	assert_int_equal(added, 30);
	json_t *j = day_json(&h, 3);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "open")));
	assert_int_equal(json_integer_value(json_object_get(j, "writes")), 1);
	assert_int_equal(day_count(j), 30);
	json_decref(j);
	/* idle: nothing added, nothing written */
	assert_int_equal(drb_catalog_write_today(h.r, "h", h.g.name, now + 60, &added), 0);
	assert_int_equal(added, 0);
	j = day_json(&h, 3);
	assert_int_equal(json_integer_value(json_object_get(j, "writes")), 1);
	json_decref(j);

	/* the listing reads one object for today, and tells what the descriptions told */
	drb_catalog *after = NULL, *whole = NULL;
	assert_int_equal(drb_catalog_load_opts(h.r, "h", DRB_CATALOG_SUMMARY, &after), 0);
	assert_int_equal(after->n_segment_reads, 0);
	assert_int_equal(after->n_day_catalogs, 4);
	assert_true(after->gens[0].last_open);
	shape a, b;
	shape_of(before, &a);
	shape_of(after, &b);
	assert_int_equal(a.segments, b.segments);
	assert_int_equal(a.covered, b.covered);
	assert_int_equal(a.gaps, 0);
	assert_int_equal(b.gaps, 0);
	assert_int_equal(drb_catalog_load(h.r, "h", &whole), 0);
	drb_target latest = {.kind = DRB_TO_LATEST};
	same_plan(whole, after, &latest);
	for (int q = 0; q < 6; q++) {
		drb_target t = {.kind = DRB_TO_TIME, .time = d3 + 650 + q * 3000};
		same_plan(whole, after, &t);
	}
	drb_catalog_free(whole);
	drb_catalog_free(before);
	/* a description the open catalog names, lost from the repository: left out, a gap */
	char *lost = drb_segment_path("h", &h.g.segs[today0 + 5], "json");
	const char *lost_v[] = {lost};
	assert_int_equal(drb_repo_remove(h.r, lost_v, 1), 0);
	drb_catalog *lost_cat = NULL;
	assert_int_equal(drb_catalog_load_opts(h.r, "h", DRB_CATALOG_SUMMARY, &lost_cat), 0);
	shape_of(lost_cat, &b);
	assert_int_equal(b.gaps, 1);
	assert_int_equal(b.segments, a.segments - 1);
	assert_int_equal(lost_cat->n_segment_reads, 0);
	drb_catalog_free(lost_cat);
	/* the whole load (the agent's, whose compaction closes the day) leaves it out too */
	assert_int_equal(drb_catalog_load(h.r, "h", &lost_cat), 0);
	assert_int_equal(lost_cat->gens[0].n, a.segments - 1);
	assert_int_equal(lost_cat->gens[0].compacted, a.segments - 1);
	drb_catalog_free(lost_cat);
	assert_int_equal(drb_segment_put(h.r, "h", &h.g.segs[today0 + 5]), 0);
	free(lost);

	/* one more segment: added; a compaction of today's last ten keeps the catalog open */
	hist_seg(&h, file, 30 * 700, 31 * 700, false, d3 + 600 + 30 * 600, 0, seq, seq + 2);
	seq += 2;
	assert_int_equal(drb_segment_put(h.r, "h", &h.g.segs[h.g.n - 1]), 0);
	assert_int_equal(drb_catalog_write_today(h.r, "h", h.g.name, now + 120, &added), 0);
	assert_int_equal(added, 1);
	/* the last ten, across the summary's run and the day's last segment, which it keeps real */
	drb_segment big = h.g.segs[today0 + 21];
	big.end = 31 * 700;
	big.level = 1;
	big.last_event = h.g.segs[today0 + 30].last_event;
	big.complete_until = h.g.segs[today0 + 30].complete_until;
	big.end_gtid = h.g.segs[today0 + 30].end_gtid;
	big.shipped = h.g.segs[today0 + 30].shipped;
	big.compacted = now + 130;
	char *cat_path = drb_segment_path("h", &big, "json"), *bj = NULL;
	assert_int_equal(drb_segment_to_json(&big, &bj), 0);
	assert_int_equal(drb_meta_put(h.r, cat_path, "binlog", bj), 0);
	free(bj);
	free(cat_path);
	char day3[9];
	time_t t3 = (time_t)d3;
	struct tm tm;
	gmtime_r(&t3, &tm);
	strftime(day3, sizeof day3, "%Y%m%d", &tm);
	char path3[300];
	snprintf(path3, sizeof path3, "h/catalog/%s/%s.json", h.g.name, day3);
	/* a restore summarised before the rewrite and planned after it still finds its chain */
	drb_catalog_free(after);
	assert_int_equal(drb_catalog_load_opts(h.r, "h", DRB_CATALOG_SUMMARY, &after), 0);
	assert_int_equal(drb_catalog_day_supersede(h.r, "h", path3, &big), 0);
	drb_plan p;
	assert_int_equal(drb_plan_make(after, &latest, &p), 0);
	assert_int_equal(p.reached_time, h.g.segs[h.g.n - 1].last_event);
	assert_int_equal(p.n_files, 36);
	assert_int_equal(p.files[35].n, 22);
	assert_int_equal(p.files[35].segs[21]->level, 1);
	drb_plan_free(&p);
	drb_catalog_free(after);
	j = day_json(&h, 3);
	assert_true(json_is_true(json_object_get(j, "open")));
	assert_int_equal(json_integer_value(json_object_get(j, "writes")), 3);
	assert_int_equal(day_count(j), 31 - 10 + 1);
	json_decref(j);

	/* a segment after the last refresh, then the day ends: its catalog is written whole, closed
	 */
	hist_seg(&h, file, 31 * 700, 32 * 700, true, d3 + 600 + 31 * 600, 0, seq, seq + 2);
	assert_int_equal(drb_segment_put(h.r, "h", &h.g.segs[h.g.n - 1]), 0);
	int64_t tomorrow = d3 + 86400 + 300;
	assert_int_equal(drb_catalog_load(h.r, "h", &whole), 0);
	assert_int_equal(drb_catalog_compact(h.r, "h", &whole->gens[0], tomorrow), 0);
	drb_catalog_free(whole);
	j = day_json(&h, 3);
	assert_null(json_object_get(j, "open"));
	assert_int_equal(day_count(j), 32 - 10 + 1);
	json_decref(j);
	/* the closed days are as they were */
	j = day_json(&h, 2);
	assert_int_equal(day_count(j), 12);
	json_decref(j);

	/* an earlier day not in its catalog yet: today's is not written (compaction first) */
	j = day_json(&h, 2);
	json_decref(j);
	char path2[300], day2[9];
	time_t t2 = (time_t)(d3 - 86400);
	gmtime_r(&t2, &tm);
	strftime(day2, sizeof day2, "%Y%m%d", &tm);
	snprintf(path2, sizeof path2, "h/catalog/%s/%s.json", h.g.name, day2);
	const char *gone[] = {path3};
	assert_int_equal(drb_repo_remove(h.r, gone, 1), 0);
	const char *gone2[] = {path2};
	assert_int_equal(drb_repo_remove(h.r, gone2, 1), 0);
	/* day 2's segments as descriptions, as heal leaves them */
	for (size_t k = 24; k < 36; k++)
		assert_int_equal(drb_segment_put(h.r, "h", &h.g.segs[k]), 0);
	assert_int_equal(drb_catalog_write_today(h.r, "h", h.g.name, now + 600, &added), 0);
	assert_int_equal(added, 0);
	assert_null(day_json(&h, 3));
	hist_close(&h);
}

/* A day of more segments than DRB_TODAY_MAX (1-second ones without compaction) is not written
 * again and again whole: it stays descriptions. */
static void test_today_catalog_cap(void **state)
{
	(void)state;
	history h = {.n_days = 2};
	hist_open(&h);
	int64_t d1 = h.day0 + 86400;
	hist_seg(&h, 1, 0, 4000, true, h.day0 + 600, 0, 0, 10);
	hist_full(&h, &h.g.segs[0], 100, h.g.segs[0].first_event + 5, h.g.segs[0].start_gtid);
	hist_store(&h);
	size_t added = 0;
	for (int i = 0; i < DRB_TODAY_MAX + 10; i++) {
		hist_seg(&h, 2, (uint64_t)i * 700, (uint64_t)(i + 1) * 700, false, d1 + 600 + i, 0,
		         10 + (uint64_t)i, 11 + (uint64_t)i);
		assert_int_equal(drb_segment_put(h.r, "h", &h.g.segs[h.g.n - 1]), 0);
		if (i == 99) {
			assert_int_equal(
			    drb_catalog_write_today(h.r, "h", h.g.name, d1 + 800, &added), 0);
			assert_int_equal(added, 100);
		}
	}
	assert_int_equal(drb_catalog_write_today(h.r, "h", h.g.name, d1 + 3000, &added), 0);
	assert_int_equal(added, 0);
	json_t *j = day_json(&h, 1);
	assert_int_equal(day_count(j), 100);
	json_decref(j);
	/* the listing still sees every segment */
	drb_catalog *sum = NULL;
	assert_int_equal(drb_catalog_load_opts(h.r, "h", DRB_CATALOG_SUMMARY, &sum), 0);
	shape b;
	shape_of(sum, &b);
	assert_int_equal(b.segments, DRB_TODAY_MAX + 11);
	assert_int_equal(b.gaps, 0);
	assert_int_equal(sum->n_segment_reads, DRB_TODAY_MAX + 10 - 100);
	drb_catalog_free(sum);
	hist_close(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_latest),
	    cmocka_unit_test(test_time_inside_the_chain),
	    cmocka_unit_test(test_gtid),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_gap),
	    cmocka_unit_test(test_generation_by_file_identity),
	    cmocka_unit_test(test_unshipped_snapshot_file),
	    cmocka_unit_test(test_reused_names_after_reset),
	    cmocka_unit_test(test_multi_domain_gtid_target),
	    cmocka_unit_test(test_coverage_to_complete_until),
	    cmocka_unit_test(test_point_before_gap),
	    cmocka_unit_test(test_gtid_break_is_a_gap),
	    cmocka_unit_test(test_older_full),
	    cmocka_unit_test(test_target_parsing),
	    cmocka_unit_test(test_gtid_states),
	    cmocka_unit_test(test_segment_level_json),
	    cmocka_unit_test(test_summary_matches_whole_load),
	    cmocka_unit_test(test_plan_reads_the_days_it_replays),
	    cmocka_unit_test(test_summary_supersede_across_days),
	    cmocka_unit_test(test_today_catalog),
	    cmocka_unit_test(test_today_catalog_cap),
	    cmocka_unit_test(test_superseded_dropped), /* last: it changes the shared catalog */
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
