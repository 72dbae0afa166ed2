/* drbackup list --timeline: what one host (or one practice, --db) can be restored to over the
 * last days, a bar per repository: covered, gap, missing copy (another repository covers it),
 * with full backups and the last restore-test marked. Colored on a terminal, plain otherwise;
 * the same spans in --json. */
#include "config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "restore/list.h"

#define MAX_SPANS 256

typedef struct span {
	int64_t a, b; /* [a, b) in UTC seconds */
} span;

static int by_start(const void *x, const void *y)
{
	const span *p = x, *q = y;
	return p->a < q->a ? -1 : p->a > q->a;
}

/* Sort and merge spans in place. */
static size_t merge(span *s, size_t n)
{
	size_t m = 0;
	qsort(s, n, sizeof *s, by_start);
	for (size_t i = 0; i < n; i++) {
		if (s[i].b <= s[i].a)
			continue;
		if (m && s[i].a <= s[m - 1].b) {
			if (s[i].b > s[m - 1].b)
				s[m - 1].b = s[i].b;
		} else {
			s[m++] = s[i];
		}
	}
	return m;
}

/* x minus y, both merged. */
static size_t minus(const span *x, size_t nx, const span *y, size_t ny, span *out)
{
	size_t n = 0;
	for (size_t i = 0; i < nx; i++) {
		int64_t a = x[i].a;
		for (size_t k = 0; k < ny && a < x[i].b; k++) {
			if (y[k].b <= a || y[k].a >= x[i].b)
				continue;
			if (y[k].a > a && n < MAX_SPANS)
				out[n++] = (span){a, y[k].a};
			a = y[k].b;
		}
		if (a < x[i].b && n < MAX_SPANS)
			out[n++] = (span){a, x[i].b};
	}
	return n;
}

/* x intersected with y, both merged. */
static size_t meet(const span *x, size_t nx, const span *y, size_t ny, span *out)
{
	size_t n = 0;
	for (size_t i = 0; i < nx; i++)
		for (size_t k = 0; k < ny; k++) {
			int64_t a = x[i].a > y[k].a ? x[i].a : y[k].a,
			        b = x[i].b < y[k].b ? x[i].b : y[k].b;
			if (a < b && n < MAX_SPANS)
				out[n++] = (span){a, b};
		}
	return n;
}

/* Does any span (whole seconds [a, b)) meet the column [x, y) (fractions of seconds)? */
static bool touches(const span *s, size_t n, double x, double y)
{
	for (size_t i = 0; i < n; i++)
		if ((double)s[i].a < y && (double)s[i].b > x)
			return true;
	return false;
}

/* The recoverable spans of one catalog: a window [from, to] holds its last second. */
static size_t covered(const drb_catalog *c, const char *db, span *out)
{
	drb_window w[DRB_LIST_MAX_WINDOWS];
	size_t n = c ? drb_list_windows(c, db, w, DRB_LIST_MAX_WINDOWS) : 0;
	for (size_t i = 0; i < n; i++)
		out[i] = (span){w[i].from, w[i].to + 1};
	return merge(out, n);
}

typedef struct row {
	span mine[MAX_SPANS], gap[MAX_SPANS], miss[MAX_SPANS];
	size_t n_mine, n_gap, n_miss;
} row;

static json_t *spans_json(const span *s, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:o, s:o, s:I}", "from", drb_list_iso(s[i].a),
		                                   "to", drb_list_iso(s[i].b - 1), "seconds",
		                                   (json_int_t)(s[i].b - s[i].a)));
	return a;
}

/* The column of second t, or -1 outside the timeline. */
static int column(const drb_list_opts *o, int64_t t)
{
	double step = (double)(o->now - o->since) / o->width;
	if (t < o->since || t > o->now)
		return -1;
	int i = (int)(((double)(t - o->since) + 0.5) / step);
	return i < o->width ? i : o->width - 1;
}

/* One character a column: the worst of gap, missing copy, covered; then the marks, each in the
 * one column of its second (a failed restore-test over a full backup). */
static void draw(const drb_catalog *c, const row *r, const drb_list_opts *o, char *bar)
{
	double step = (double)(o->now - o->since) / o->width;
	for (int i = 0; i < o->width; i++) {
		double x = (double)o->since + i * step, y = x + step;
		char ch = '.';
		if (touches(r->gap, r->n_gap, x, y))
			ch = 'x';
		else if (touches(r->miss, r->n_miss, x, y))
			ch = '!';
		else if (touches(r->mine, r->n_mine, x, y))
			ch = '=';
		bar[i] = ch;
	}
	bar[o->width] = 0;
	for (size_t k = 0; c && k < c->n_fulls; k++) {
		const drb_manifest *m = c->fulls[k];
		int i = column(o, m->snapshot_time);
		if (i >= 0 && (!o->db || drb_manifest_db(m, o->db)))
			bar[i] = 'F';
	}
	const drb_restore_test *t = c ? c->last_test : NULL;
	int i = t ? column(o, t->finished) : -1;
	if (i >= 0)
		bar[i] = t->ok ? 'T' : 'X';
}

static const char *color_of(char ch)
{
	switch (ch) {
	case '=':
		return "\033[32m";
	case 'x':
		return "\033[1;31m";
	case '!':
		return "\033[1;33m";
	case 'F':
		return "\033[1;36m";
	case 'T':
		return "\033[1;32m";
	case 'X':
		return "\033[1;37;41m";
	default:
		return "\033[2m";
	}
}

static void print_bar(const char *bar, bool color)
{
	if (!color) {
		fputs(bar, stdout);
		return;
	}
	char last = 0;
	for (const char *p = bar; *p; p++) {
		if (*p != last)
			fputs(color_of(*p), stdout);
		putchar(*p);
		last = *p;
	}
	fputs("\033[0m", stdout);
}

static void print_spans(const char *what, const span *s, size_t n)
{
	char a[21], b[21];
	for (size_t i = 0; i < n; i++) {
		drb_time_iso(s[i].a, a);
		drb_time_iso(s[i].b - 1, b);
		printf("    %s %s .. %s (%lld s)\n", what, a, b, (long long)(s[i].b - s[i].a));
	}
}

int drb_list_timeline(drb_ctx *ctx, const drb_config *c, drb_repo_set *set, const drb_list_opts *o)
{
	(void)c;
	drb_catalog **cats = calloc(set->n, sizeof *cats);
	row *rows = calloc(set->n, sizeof *rows);
	char *bar = malloc((size_t)o->width + 1);
	int rc = 0;
	if (!cats || !rows || !bar) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	size_t readable = drb_list_load(set, o->host, cats);
	/* what the host's history spans: from the first restorable second anywhere to the newest
	 * shipped one; an uncovered second inside it is lost here (a gap) or held elsewhere */
	int64_t known_from = 0, known_until = 0;
	for (size_t i = 0; i < set->n; i++) {
		rows[i].n_mine = covered(cats[i], o->db, rows[i].mine);
		if (rows[i].n_mine && (!known_from || rows[i].mine[0].a < known_from))
			known_from = rows[i].mine[0].a;
		if (rows[i].n_mine && rows[i].mine[rows[i].n_mine - 1].b > known_until)
			known_until = rows[i].mine[rows[i].n_mine - 1].b;
		int64_t s = drb_list_shipped_until(cats[i]) + 1;
		if (s > known_until)
			known_until = s;
	}
	span range = {known_from > o->since ? known_from : o->since,
	              known_until < o->now ? known_until : o->now};
	for (size_t i = 0; i < set->n; i++) {
		span others[MAX_SPANS], unc[MAX_SPANS], clip[MAX_SPANS];
		size_t n_others = 0;
		for (size_t k = 0; k < set->n; k++)
			for (size_t q = 0; k != i && q < rows[k].n_mine && n_others < MAX_SPANS;
			     q++)
				others[n_others++] = rows[k].mine[q];
		n_others = merge(others, n_others);
		size_t n_unc = known_from && range.a < range.b
		                   ? minus(&range, 1, rows[i].mine, rows[i].n_mine, unc)
		                   : 0;
		rows[i].n_miss = meet(unc, n_unc, others, n_others, rows[i].miss);
		rows[i].n_gap = minus(unc, n_unc, others, n_others, rows[i].gap);
		size_t n_clip =
		    meet(&(span){o->since, o->now + 1}, 1, rows[i].mine, rows[i].n_mine, clip);
		memcpy(rows[i].mine, clip, n_clip * sizeof *clip);
		rows[i].n_mine = n_clip;
	}
	char from[21], to[21];
	drb_time_iso(o->since, from);
	drb_time_iso(o->now, to);
	if (ctx->json) {
		json_t *repos = json_array();
		for (size_t i = 0; i < set->n; i++) {
			if (!cats[i]) {
				json_array_append_new(repos, json_pack("{s:s, s:b}", "name",
				                                       set->repos[i]->name,
				                                       "readable", 0));
				continue;
			}
			draw(cats[i], &rows[i], o, bar);
			json_t *fulls = json_array(), *tests = json_array();
			for (size_t k = 0; k < cats[i]->n_fulls; k++) {
				const drb_manifest *m = cats[i]->fulls[k];
				if (m->snapshot_time >= o->since &&
				    (!o->db || drb_manifest_db(m, o->db)))
					json_array_append_new(
					    fulls, json_pack("{s:s, s:o}", "backup_id",
					                     m->backup_id, "snapshot_time",
					                     drb_list_iso(m->snapshot_time)));
			}
			const drb_restore_test *t = cats[i]->last_test;
			if (t && t->finished >= o->since)
				json_array_append_new(
				    tests, json_pack("{s:o, s:b, s:I}", "finished",
				                     drb_list_iso(t->finished), "ok", t->ok,
				                     "rto_seconds", (json_int_t)t->rto_seconds));
			json_array_append_new(
			    repos,
			    json_pack("{s:s, s:b, s:s, s:o, s:o, s:o, s:o, s:o}", "name",
			              set->repos[i]->name, "readable", 1, "bar", bar, "covered",
			              spans_json(rows[i].mine, rows[i].n_mine), "gaps",
			              spans_json(rows[i].gap, rows[i].n_gap), "missing_copies",
			              spans_json(rows[i].miss, rows[i].n_miss), "full_backups",
			              fulls, "restore_tests", tests));
		}
		json_t *j = json_pack("{s:s, s:s?, s:s, s:s, s:i, s:f, s:o}", "host_id", o->host,
		                      "db", o->db, "from", from, "to", to, "columns", o->width,
		                      "seconds_per_column", (double)(o->now - o->since) / o->width,
		                      "repositories", repos);
		json_dumpf(j, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	} else {
		printf("host %s%s%s: what can be restored, %s .. %s\n", o->host,
		       o->db ? ", database " : "", o->db ? o->db : "", from, to);
		for (size_t i = 0; i < set->n; i++) {
			printf("  %-10s |", set->repos[i]->name);
			if (!cats[i]) {
				printf(" UNREADABLE\n");
				continue;
			}
			draw(cats[i], &rows[i], o, bar);
			print_bar(bar, o->color);
			printf("|\n");
			print_spans("gap", rows[i].gap, rows[i].n_gap);
			print_spans("missing copy", rows[i].miss, rows[i].n_miss);
		}
		printf("  %-10s  %-*s%s\n", "", o->width - 20, from, to);
		printf("  = recoverable  x gap  ! missing copy (another repository has it)  F full "
		       "backup\n"
		       "  T restore-test passed  X restore-test failed  . nothing (before the "
		       "first full,\n"
		       "  after the last shipped point)\n");
	}
	if (readable == 0)
		rc = drb_error(DRB_ERR_FAILED, "no repository could be read");
	else if (readable < set->n)
		rc = drb_error(DRB_ERR_DEGRADED, "%zu of %zu repositories could not be read",
		               set->n - readable, set->n);
out:
	drb_list_free(cats, set->n);
	free(rows);
	free(bar);
	return rc;
}
