/* restore/plan: which full backup and which segments, and every refusal, on synthetic catalogs. */
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
#include "restore/plan.h"

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
		cmocka_unit_test(test_superseded_dropped), /* last: it changes the shared catalog */
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
