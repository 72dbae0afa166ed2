/* drbackup list --all-hosts: one row per host id found in the repositories, with what an
 * operator pages on (backup age, RPO, gaps, missing copies, the last restore-test) judged
 * against alerts { }. Reads only metadata, one catalog per host and repository: O(hosts x days).
 * With metrics_dir set it also writes the drbackup_fleet_* series, one per host (and repository),
 * for the rules and the dashboard in monitoring/. */
#include "config.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "restore/list.h"

typedef struct names {
	char **v;
	size_t n, cap;
} names;

static int add_host(void *ud, const char *path, const drb_obj_stat *st)
{
	names *h = ud;
	size_t len = strlen(path);
	if (st || len < 2 || path[len - 1] != '/')
		return 0; /* only folders are hosts */
	for (size_t i = 0; i < h->n; i++)
		if (strncmp(h->v[i], path, len - 1) == 0 && h->v[i][len - 1] == 0)
			return 0;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		char **v = realloc(h->v, cap * sizeof *v);
		if (!v)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		h->v = v;
		h->cap = cap;
	}
	if (!(h->v[h->n] = strndup(path, len - 1)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	h->n++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_full(const drb_catalog *c, const char *id)
{
	for (size_t i = 0; i < c->n_fulls; i++)
		if (strcmp(c->fulls[i]->backup_id, id) == 0)
			return true;
	return false;
}

static size_t segments(const drb_catalog *c)
{
	size_t n = 0;
	for (size_t g = 0; g < c->n_gens; g++)
		for (size_t k = 0; k < c->gens[g].n; k++)
			n += drb_segment_count(&c->gens[g].segs[k]);
	return n;
}

static size_t gaps(const drb_catalog *c)
{
	size_t n = 0;
	for (size_t g = 0; g < c->n_gens; g++)
		for (size_t k = 1; k < c->gens[g].n; k++)
			if (!drb_segment_continues(&c->gens[g].segs[k - 1], &c->gens[g].segs[k]))
				n++;
	return n;
}

/* Copies another repository holds and c lacks: full backups, and segments by count. */
static size_t missing(const drb_catalog *c, drb_catalog *const *all, size_t n_all)
{
	size_t worst = 0, mine = segments(c);
	for (size_t o = 0; o < n_all; o++) {
		if (!all[o] || all[o] == c)
			continue;
		size_t m = 0, theirs = segments(all[o]);
		for (size_t i = 0; i < all[o]->n_fulls; i++)
			m += !has_full(c, all[o]->fulls[i]->backup_id);
		m += theirs > mine ? theirs - mine : 0;
		if (m > worst)
			worst = m;
	}
	return worst;
}

static uint64_t stored_bytes(const drb_catalog *c)
{
	uint64_t b = 0;
	for (size_t i = 0; i < c->n_fulls; i++)
		for (size_t k = 0; k < c->fulls[i]->n_dbs; k++)
			b += c->fulls[i]->dbs[k].stored_bytes;
	for (size_t g = 0; g < c->n_gens; g++)
		for (size_t k = 0; k < c->gens[g].n; k++)
			b += c->gens[g].segs[k].stored_bytes;
	return b;
}

static void human_age(int64_t s, char *out, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(out, len, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(out, len, "%lldm", (long long)(s / 60));
	else if (s < 3 * 86400)
		snprintf(out, len, "%lldh", (long long)(s / 3600));
	else
		snprintf(out, len, "%lldd", (long long)(s / 86400));
}

/* The fleet's metrics, collected for one drb_metrics_replace of the drbackup_fleet_ family. */
typedef struct series {
	drb_metric *v;
	size_t n, cap;
} series;

static void add(series *s, const char *name, const char *labels, const char *help, double value)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		drb_metric *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return; /* metrics are best effort; the listing stays right */
		s->v = v;
		s->cap = cap;
	}
	char *l = labels ? strdup(labels) : NULL;
	if (labels && !l)
		return;
	s->v[s->n++] = (drb_metric){name, l, help, value};
}

static void series_free(series *s)
{
	for (size_t i = 0; i < s->n; i++)
		free((char *)s->v[i].labels);
	free(s->v);
}

/* host="ID"[,repo="NAME"], with the label value escapes of the text format */
static void label(char *out, size_t len, const char *host, const char *repo)
{
	size_t n = 0;
	const char *vals[2] = {host, repo}, *keys[2] = {"host", "repo"};
	out[0] = 0;
	for (int k = 0; k < 2 && vals[k]; k++) {
		n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s=\"", k ? "," : "",
		                      keys[k]);
		for (const char *p = vals[k]; *p && n + 3 < len; p++) {
			if (*p == '\\' || *p == '"')
				out[n++] = '\\';
			if (*p == '\n') {
				out[n++] = '\\';
				out[n++] = 'n';
				continue;
			}
			out[n++] = *p;
		}
		if (n + 2 < len)
			out[n++] = '"';
		out[n < len ? n : len - 1] = 0;
	}
}

static void breach(json_t *list, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void breach(json_t *list, const char *fmt, ...)
{
	char b[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof b, fmt, ap);
	va_end(ap);
	json_array_append_new(list, json_string(b));
}

/* One host's row: the facts per repository, the best of them for the host, and what breaches. */
static json_t *host_row(drb_repo_set *set, const char *host, const drb_list_opts *o, series *out)
{
	drb_catalog **cats = calloc(set->n, sizeof *cats);
	if (!cats)
		return NULL;
	drb_list_load(set, host, cats);
	json_t *repos = json_array(), *breaches = json_array(), *warnings = json_array();
	const drb_manifest *newest = NULL;
	const drb_restore_test *test = NULL;
	int64_t point = 0, shipped = 0;
	size_t n_gaps = 0, n_missing = 0;
	uint64_t bytes = 0;
	for (size_t i = 0; i < set->n; i++) {
		const drb_catalog *c = cats[i];
		if (!c) {
			json_array_append_new(repos, json_pack("{s:s, s:b}", "name",
			                                       set->repos[i]->name, "readable", 0));
			breach(warnings, "repository %s cannot be read", set->repos[i]->name);
			continue;
		}
		drb_window w[DRB_LIST_MAX_WINDOWS];
		size_t nw = drb_list_windows(c, NULL, w, DRB_LIST_MAX_WINDOWS);
		int64_t until = 0;
		for (size_t k = 0; k < nw; k++)
			if (w[k].to > until)
				until = w[k].to;
		const drb_manifest *m = c->n_fulls ? c->fulls[c->n_fulls - 1] : NULL;
		size_t g = gaps(c), miss = missing(c, cats, set->n);
		uint64_t b = stored_bytes(c);
		int64_t s = drb_list_shipped_until(c);
		json_array_append_new(
		    repos, json_pack("{s:s, s:b, s:s?, s:o, s:o, s:I, s:I, s:I, s:I}", "name",
		                     set->repos[i]->name, "readable", 1, "newest_full",
		                     m ? m->backup_id : NULL, "recoverable_until",
		                     drb_list_iso(until), "shipped_until", drb_list_iso(s), "gaps",
		                     (json_int_t)g, "missing_copies", (json_int_t)miss, "untrusted",
		                     (json_int_t)c->n_untrusted, "stored_bytes", (json_int_t)b));
		if (m && (!newest || m->snapshot_time > newest->snapshot_time))
			newest = m;
		if (c->last_test && (!test || c->last_test->finished > test->finished))
			test = c->last_test;
		if (until > point)
			point = until;
		if (s > shipped)
			shipped = s;
		if (g > n_gaps)
			n_gaps = g;
		n_missing += miss;
		if (b > bytes)
			bytes = b;
		if (miss)
			breach(warnings, "repository %s misses %zu cop%s", set->repos[i]->name,
			       miss, miss == 1 ? "y" : "ies");
		if (c->n_untrusted)
			breach(warnings, "repository %s holds %zu untrusted object%s",
			       set->repos[i]->name, c->n_untrusted, c->n_untrusted == 1 ? "" : "s");
	}
	char a[32], b2[32];
	if (!newest)
		breach(breaches, "no full backup");
	else if (o->max_full_age_hours &&
	         o->now - newest->snapshot_time > o->max_full_age_hours * 3600) {
		human_age(o->now - newest->snapshot_time, a, sizeof a);
		breach(breaches, "newest full backup is %s old (max %ldh)", a,
		       o->max_full_age_hours);
	}
	if (newest && o->max_rpo_seconds && o->now - point > o->max_rpo_seconds) {
		human_age(o->now - point, a, sizeof a);
		breach(breaches, "RPO %s (max %lds)", a, o->max_rpo_seconds);
	}
	if (newest && shipped > point) {
		char p[21], s[21];
		drb_time_iso(point, p);
		drb_time_iso(shipped, s);
		breach(breaches, "binlog gap: restorable to %s, shipped to %s", p, s);
	}
	if (!test) {
		if (o->max_restore_test_age_days)
			breach(breaches, "no restore-test");
	} else if (!test->ok) {
		breach(breaches, "last restore-test FAILED");
	} else if (o->max_restore_test_age_days &&
	           o->now - test->finished > o->max_restore_test_age_days * 86400) {
		human_age(o->now - test->finished, b2, sizeof b2);
		breach(breaches, "last restore-test is %s old (max %ldd)", b2,
		       o->max_restore_test_age_days);
	}
	json_t *jt = json_null();
	if (test)
		jt = json_pack("{s:b, s:o, s:I, s:I, s:s?, s:s?}", "ok", test->ok, "finished",
		               drb_list_iso(test->finished), "age_seconds",
		               (json_int_t)(o->now - test->finished), "rto_seconds",
		               (json_int_t)test->rto_seconds, "backup_id", test->backup_id, "error",
		               test->error && *test->error ? test->error : NULL);
	json_t *jf = json_null();
	if (newest)
		jf = json_pack("{s:s, s:o, s:I}", "backup_id", newest->backup_id, "snapshot_time",
		               drb_list_iso(newest->snapshot_time), "age_seconds",
		               (json_int_t)(o->now - newest->snapshot_time));
	const char *status = json_array_size(breaches)   ? "breach"
	                     : json_array_size(warnings) ? "degraded"
	                                                 : "ok";
	/* legal holds standing in any repository */
	json_t *holds = json_array();
	for (size_t i = 0; i < set->n; i++)
		for (size_t h = 0; cats[i] && h < cats[i]->n_holds; h++) {
			const drb_hold *hd = &cats[i]->holds[h];
			bool seen = false;
			for (size_t k = 0; k < json_array_size(holds); k++)
				seen |= strcmp(json_string_value(json_array_get(holds, k)), hd->practice) == 0;
			if (!hd->released && !seen)
				json_array_append_new(holds, json_string(hd->practice));
		}
	size_t n_holds = json_array_size(holds);
	json_t *row =
	    json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:o, s:I, s:o, s:o}",
	              "host_id", host, "status", status, "newest_full", jf, "recoverable_until",
	              drb_list_iso(point), "shipped_until", drb_list_iso(shipped), "rpo_seconds",
	              point ? json_integer(o->now - point) : json_null(), "last_restore_test", jt,
	              "gaps", (json_int_t)n_gaps, "missing_copies", (json_int_t)n_missing,
	              "breaches", breaches, "holds", holds, "stored_bytes", (json_int_t)bytes, "warnings",
	              warnings, "repositories", repos);
	/* the series the rules and the dashboard read: one per host, one per host and repository */
	char hl[512];
	label(hl, sizeof hl, host, NULL);
	add(out, "drbackup_fleet_breach", hl, "1 when the host breaches an alerts { } threshold",
	    json_array_size(breaches) > 0);
	add(out, "drbackup_fleet_full_timestamp_seconds", hl,
	    "snapshot time of the host's newest full backup in any repository (0: none)",
	    newest ? (double)newest->snapshot_time : 0);
	add(out, "drbackup_fleet_recoverable_timestamp_seconds", hl,
	    "the newest point the host can be restored to from its best repository (0: none)",
	    (double)point);
	add(out, "drbackup_fleet_rpo_seconds", hl,
	    "seconds from the newest restorable point to the check (the RPO now)",
	    point ? (double)(o->now - point) : -1);
	add(out, "drbackup_fleet_binlog_unrecoverable", hl,
	    "1 when shipped binlog lies beyond what any full backup's chain reaches (a gap)",
	    newest && shipped > point);
	add(out, "drbackup_fleet_restore_test_ok", hl, "1 when the host's last restore-test passed",
	    test && test->ok);
	add(out, "drbackup_fleet_restore_test_timestamp_seconds", hl,
	    "when the host's last restore-test ended (0: never)",
	    test ? (double)test->finished : 0);
	add(out, "drbackup_fleet_restore_test_rto_seconds", hl,
	    "how long the host's last restore-test took to restore",
	    test ? (double)test->rto_seconds : 0);
	add(out, "drbackup_fleet_holds", hl, "legal holds on the host's practices", (double)n_holds);
	for (size_t i = 0; i < set->n; i++) {
		const drb_catalog *c = cats[i];
		label(hl, sizeof hl, host, set->repos[i]->name);
		add(out, "drbackup_fleet_repo_readable", hl, "1 when the repository could be read",
		    c != NULL);
		if (!c)
			continue;
		drb_window w[DRB_LIST_MAX_WINDOWS];
		size_t nw = drb_list_windows(c, NULL, w, DRB_LIST_MAX_WINDOWS);
		int64_t until = 0;
		for (size_t k = 0; k < nw; k++)
			if (w[k].to > until)
				until = w[k].to;
		add(out, "drbackup_fleet_repo_recoverable_timestamp_seconds", hl,
		    "the newest point the host can be restored to from this repository (0: none)",
		    (double)until);
		add(out, "drbackup_fleet_repo_gaps", hl,
		    "gaps in the host's binlog in this repository", (double)gaps(c));
		add(out, "drbackup_fleet_repo_missing_copies", hl,
		    "copies another repository holds and this one lacks",
		    (double)missing(c, cats, set->n));
		add(out, "drbackup_fleet_repo_untrusted", hl,
		    "metadata objects whose signature is missing or fails", (double)c->n_untrusted);
		add(out, "drbackup_fleet_repo_bytes", hl,
		    "bytes stored for the host in this repository", (double)stored_bytes(c));
	}
	drb_list_free(cats, set->n);
	return row;
}

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : "-";
}

static long long num(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* "-", or the number of practices on hold. */
static const char *holds_text(json_t *holds)
{
	static char buf[16];
	if (!json_array_size(holds))
		return "-";
	snprintf(buf, sizeof buf, "%zu", json_array_size(holds));
	return buf;
}

static void print_rows(json_t *hosts, const drb_list_opts *o)
{
	size_t i, k;
	json_t *h, *r;
	printf("%-12s %-8s %-24s %-21s %-6s %-4s %-16s %-22s %-5s %s\n", "HOST", "STATUS",
	       "NEWEST FULL (AGE)", "RESTORABLE TO", "RPO", "GAPS", "MISSING COPIES",
	       "RESTORE-TEST (RTO, AGE)", "HOLDS", "BYTES");
	json_array_foreach(hosts, i, h)
	{
		char full[48] = "none", rpo[16] = "-", test[48] = "never", missing[64] = "",
		     age[16];
		json_t *f = json_object_get(h, "newest_full");
		if (json_is_object(f)) {
			human_age(num(f, "age_seconds"), age, sizeof age);
			snprintf(full, sizeof full, "%s (%s)", str(f, "backup_id"), age);
		}
		if (json_is_integer(json_object_get(h, "rpo_seconds")))
			human_age(num(h, "rpo_seconds"), rpo, sizeof rpo);
		json_t *t = json_object_get(h, "last_restore_test");
		if (json_is_object(t)) {
			human_age(num(t, "age_seconds"), age, sizeof age);
			snprintf(test, sizeof test, "%s (%llds, %s)",
			         json_is_true(json_object_get(t, "ok")) ? "passed" : "FAILED",
			         num(t, "rto_seconds"), age);
		}
		json_array_foreach(json_object_get(h, "repositories"), k, r)
		{
			size_t len = strlen(missing);
			snprintf(missing + len, sizeof missing - len, "%s%s:%s", len ? " " : "",
			         str(r, "name"),
			         json_is_false(json_object_get(r, "readable")) ? "?" : "");
			if (json_is_true(json_object_get(r, "readable"))) {
				len = strlen(missing);
				snprintf(missing + len, sizeof missing - len, "%lld",
				         num(r, "missing_copies"));
			}
		}
		printf("%-12s %-8s %-24s %-21s %-6s %-4lld %-16s %-22s %-5s %.1f MB\n",
		       str(h, "host_id"),
		       json_array_size(json_object_get(h, "breaches")) ? "BREACH"
		       : strcmp(str(h, "status"), "degraded") == 0     ? "DEGRADED"
		                                                       : "ok",
		       full, str(h, "recoverable_until"), rpo, num(h, "gaps"), missing, test,
		       holds_text(json_object_get(h, "holds")), num(h, "stored_bytes") / 1e6);
	}
	char fa[16] = "off", rp[16] = "off", ta[16] = "off";
	if (o->max_full_age_hours)
		snprintf(fa, sizeof fa, "%ldh", o->max_full_age_hours);
	if (o->max_rpo_seconds)
		snprintf(rp, sizeof rp, "%lds", o->max_rpo_seconds);
	if (o->max_restore_test_age_days)
		snprintf(ta, sizeof ta, "%ldd", o->max_restore_test_age_days);
	printf("\nthresholds: newest full %s, RPO %s, restore-test %s\n", fa, rp, ta);
	json_array_foreach(hosts, i, h)
	{
		json_t *b = json_object_get(h, "breaches"), *wn = json_object_get(h, "warnings"),
		       *x;
		json_array_foreach(b, k, x)
		    printf("%s: BREACH: %s\n", str(h, "host_id"), json_string_value(x));
		json_array_foreach(wn, k, x)
		    printf("%s: degraded: %s\n", str(h, "host_id"), json_string_value(x));
	}
}

int drb_list_fleet(drb_ctx *ctx, const drb_config *c, drb_repo_set *set, const drb_list_opts *o)
{
	names h = {0};
	size_t readable = 0, n_breach = 0, n_degraded = 0;
	int rc = 0;
	for (size_t i = 0; i < set->n; i++) {
		if (drb_repo_list(set->repos[i], "", false, add_host, &h) < 0) {
			drb_log_warn("repository %s: hosts cannot be listed", set->repos[i]->name);
			drb_error_clear();
			continue;
		}
		readable++;
	}
	if (h.n)
		qsort(h.v, h.n, sizeof *h.v, by_name);
	series m = {0};
	json_t *hosts = json_array();
	for (size_t i = 0; i < h.n; i++) {
		json_t *row = host_row(set, h.v[i], o, &m);
		if (!row) {
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			break;
		}
		const char *st = json_string_value(json_object_get(row, "status"));
		n_breach += strcmp(st, "breach") == 0;
		n_degraded += strcmp(st, "degraded") == 0;
		json_array_append_new(hosts, row);
	}
	add(&m, "drbackup_fleet_hosts", NULL, "host ids found in the repositories", (double)h.n);
	add(&m, "drbackup_fleet_breaching_hosts", NULL, "hosts that breach an alerts { } threshold",
	    (double)n_breach);
	add(&m, "drbackup_fleet_check_timestamp_seconds", NULL, "when list --all-hosts last ran",
	    (double)o->now);
	if (rc == 0 && drb_metrics_replace(c, "drbackup_fleet_", m.v, (int)m.n) < 0) {
		drb_log_current_error("metrics");
		drb_error_clear();
	}
	series_free(&m);
	if (rc == 0 && ctx->json) {
		json_t *j = json_pack("{s:o, s:I, s:{s:I, s:I, s:I}, s:O}", "now",
		                      drb_list_iso(o->now), "breaching_hosts", (json_int_t)n_breach,
		                      "thresholds", "max_full_age_hours",
		                      (json_int_t)o->max_full_age_hours, "max_rpo_seconds",
		                      (json_int_t)o->max_rpo_seconds, "max_restore_test_age_days",
		                      (json_int_t)o->max_restore_test_age_days, "hosts", hosts);
		json_dumpf(j, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	} else if (rc == 0) {
		print_rows(hosts, o);
	}
	json_decref(hosts);
	for (size_t i = 0; i < h.n; i++)
		free(h.v[i]);
	free(h.v);
	if (rc < 0)
		return rc;
	if (readable == 0)
		return drb_error(DRB_ERR_FAILED, "no repository could be read");
	if (n_breach)
		return drb_error(DRB_ERR_FAILED, "%zu of %zu host%s breach%s a threshold", n_breach,
		                 h.n, h.n == 1 ? "" : "s", n_breach == 1 ? "es" : "");
	if (readable < set->n || n_degraded)
		return drb_error(DRB_ERR_DEGRADED,
		                 "%zu host%s degraded, %zu of %zu repositories unreadable",
		                 n_degraded, n_degraded == 1 ? "" : "s", set->n - readable, set->n);
	return 0;
}
