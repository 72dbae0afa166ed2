/* drbackup restore-test: prove that the newest backup restores. A private scratch server gets
 * the newest full backup and every segment after it; then every table is checked, row counts
 * are compared with the manifest at the snapshot, and the replay must reach the end GTID of the
 * newest segment. The report (time to restore, point reached) goes to every repository. */
#include "config.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/audit.h"
#include "common/catalog.h"
#include "common/error.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/metrics.h"
#include "restore/apply.h"
#include "restore/restore.h"
#include "restore/scratch.h"

typedef struct checks {
	const drb_config *cfg;
	drb_scratch *scratch;
	drb_db_target target;
	json_t *tables;    /* per table: rows expected and found */
	int bad_counts;
	char first_bad[600];
} checks;

static int count_rows(drb_db *db, const char *dbname, const char *table, uint64_t *rows)
{
	char qd[300], qt[300], sql[800], v[32];
	drb_db_ident(dbname, qd, sizeof qd);
	drb_db_ident(table, qt, sizeof qt);
	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s.%s", qd, qt);
	int rc = drb_db_value(db, sql, v, sizeof v);
	*rows = rc == 0 ? strtoull(v, NULL, 10) : 0;
	return rc;
}

/* Once every object is checked: the scratch server, sized for what will be loaded. Starting it
 * here means one catalog read, and no server at all when the objects do not open. */
static int prepare(void *ud, uint64_t need, drb_db_target *dest)
{
	checks *k = ud;
	if (k->scratch->pid > 0) { /* the second restore of the test reuses it */
		*dest = k->target;
		return 0;
	}
	drb_log_info("starting a scratch server");
	int rc = drb_scratch_start(k->cfg, need, k->scratch);
	if (rc < 0)
		return rc;
	*dest = (drb_db_target){.socket = k->scratch->socket, .user = "root"};
	k->target = *dest;
	return 0;
}

/* After the load, before the replay: the data is at the snapshot, so counts must match. */
static int after_load(void *ud, const drb_manifest *m)
{
	checks *k = ud;
	drb_db *db = NULL;
	int rc = drb_db_connect(&k->target, &db);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < m->n_dbs && rc == 0; i++)
		for (size_t t = 0; t < m->dbs[i].n_tables && rc == 0; t++) {
			uint64_t rows = 0;
			const drb_table_rows *tr = &m->dbs[i].tables[t];
			if ((rc = count_rows(db, m->dbs[i].name, tr->name, &rows)) < 0)
				break;
			json_array_append_new(k->tables,
					      json_pack("{s:s, s:s, s:I, s:I}", "database", m->dbs[i].name,
							"table", tr->name, "expected", (json_int_t)tr->rows,
							"found", (json_int_t)rows));
			if (rows != tr->rows) {
				if (!k->bad_counts)
					snprintf(k->first_bad, sizeof k->first_bad,
						 "%s.%s has %llu rows after the load, the manifest %llu",
						 m->dbs[i].name, tr->name, (unsigned long long)rows,
						 (unsigned long long)tr->rows);
				k->bad_counts++;
			}
		}
	drb_db_close(db);
	if (rc == 0 && k->bad_counts)
		rc = drb_error(DRB_ERR_INTEGRITY, "row counts differ from the manifest in %d table%s: %s",
			       k->bad_counts, k->bad_counts == 1 ? "" : "s", k->first_bad);
	return rc;
}

typedef struct table_check {
	int failed;
	char first[600];
} table_check;

static int check_row(void *ud, char **row, unsigned long *len, unsigned n)
{
	table_check *t = ud;
	(void)len;
	/* Table, Op, Msg_type, Msg_text: only an error or a status other than OK is a failure */
	if (n >= 4 && row[2] && row[3] &&
	    (strcasecmp(row[2], "error") == 0 ||
	     (strcasecmp(row[2], "status") == 0 && strcasecmp(row[3], "OK") != 0))) {
		if (!t->failed)
			snprintf(t->first, sizeof t->first, "%s: %s", row[0] ? row[0] : "?", row[3]);
		t->failed++;
	}
	return 0;
}

typedef struct names {
	char **v;
	size_t n;
} names;

static int add_table(void *ud, char **row, unsigned long *len, unsigned n)
{
	names *t = ud;
	(void)len, (void)n;
	char **v = realloc(t->v, (t->n + 1) * sizeof *v);
	if (!v)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	t->v = v;
	char qd[300], qt[300];
	drb_db_ident(row[0], qd, sizeof qd);
	drb_db_ident(row[1], qt, sizeof qt);
	if (asprintf(&t->v[t->n], "%s.%s", qd, qt) < 0)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	t->n++;
	return 0;
}

/* CHECK TABLE on every table the restored databases hold now (the replay may have created or
 * dropped some since the snapshot). */
static int check_tables(const drb_db_target *target, const drb_manifest *m, int *n_checked)
{
	drb_db *db = NULL;
	table_check tc = {0};
	names t = {0};
	int rc = drb_db_connect(target, &db);
	*n_checked = 0;
	for (size_t i = 0; rc == 0 && i < m->n_dbs; i++) {
		char esc[300], sql[600];
		if ((rc = drb_db_literal(db, m->dbs[i].name, esc, sizeof esc)) < 0)
			break;
		snprintf(sql, sizeof sql,
			 "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE "
			 "TABLE_SCHEMA = '%s' AND TABLE_TYPE = 'BASE TABLE'",
			 esc);
		rc = drb_db_rows(db, sql, add_table, &t);
	}
	for (size_t i = 0; rc == 0 && i < t.n; i++) {
		char sql[700];
		snprintf(sql, sizeof sql, "CHECK TABLE %s", t.v[i]);
		rc = drb_db_rows(db, sql, check_row, &tc);
		(*n_checked)++;
	}
	for (size_t i = 0; i < t.n; i++)
		free(t.v[i]);
	free(t.v);
	drb_db_close(db);
	if (rc == 0 && tc.failed)
		rc = drb_error(DRB_ERR_INTEGRITY, "CHECK TABLE failed for %d table%s: %s", tc.failed,
			       tc.failed == 1 ? "" : "s", tc.first);
	return rc;
}

/* A point-in-time restore into the same scratch server, to a time inside the newest segment that
 * spans seconds: the replay must stop there, on purpose and without error, at a GTID within
 * that segment. */
static int pitr_probe(const drb_restore_opts *base, const drb_restore_result *latest, json_t **out)
{
	drb_restore_opts o = *base;
	drb_restore_result r = {0};
	char iso[21], err[DRB_ERROR_LINE] = "";
	drb_time_iso(latest->probe.time, iso);
	o.target = (drb_target){.kind = DRB_TO_TIME, .time = latest->probe.time};
	o.force = true;
	o.after_load = NULL;
	drb_log_info("restore-test: point in time %s, inside segment %s", iso, latest->probe.segment);
	int rc = drb_restore_run(&o, &r);
	if (rc == 0 && latest->probe.start_gtid[0] &&
	    !drb_gtid_reached(r.replayed_gtid, latest->probe.start_gtid))
		rc = drb_error(DRB_ERR_INTEGRITY, "the replay stopped at GTID %s, before segment %s "
						  "(which begins at %s)",
			       r.replayed_gtid, latest->probe.segment, latest->probe.start_gtid);
	if (rc == 0 && latest->probe.end_gtid[0] &&
	    !drb_gtid_not_past(r.replayed_gtid, latest->probe.end_gtid))
		rc = drb_error(DRB_ERR_INTEGRITY, "the replay went past %s, the end of segment %s",
			       latest->probe.end_gtid, latest->probe.segment);
	if (rc < 0) {
		drb_error_wrap(0, "point-in-time restore to %s (inside segment %s)", iso,
			       latest->probe.segment);
		drb_error_line(err, sizeof err);
	}
	*out = json_pack("{s:b, s:s, s:s, s:s, s:I}", "ok", rc == 0, "target", iso, "segment",
			 latest->probe.segment, "replayed_gtid", r.replayed_gtid, "rto_seconds",
			 (json_int_t)((r.millis_total + 999) / 1000));
	json_object_set_new(*out, "error", err[0] ? json_string(err) : json_null());
	drb_restore_result_free(&r);
	return rc;
}

static void store_report(drb_repo_set *set, const char *host, json_t *report, int64_t started)
{
	char id[17], *path = NULL;
	char *text = json_dumps(report, JSON_INDENT(1) | JSON_SORT_KEYS);
	drb_time_id(started, id);
	if (text && (path = drb_path_restore_test(host, id)))
		for (size_t i = 0; i < set->n; i++)
			if (drb_meta_put(set->repos[i], path, "restore-test", text) < 0) {
				drb_log_current_error("storing the restore-test report");
				drb_error_clear();
			}
	free(path);
	free(text);
}

int drb_cmd_restore_test(drb_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"host", required_argument, NULL, 'H'},
					     {"allow-unsigned", no_argument, NULL, 'U'},
					     {"repo-as-of", required_argument, NULL, 'A'},
					     {0, 0, 0, 0}};
	bool allow_unsigned = false;
	int64_t as_of = 0;
	const char *host = NULL;
	drb_config *c;
	drb_keyring *keys = NULL;
	drb_scratch scratch = {0};
	drb_restore_opts o = {0};
	drb_restore_result r = {0};
	checks k = {.tables = json_array()};
	json_t *pitr = json_null();
	int opt, rc, n_checked = 0;
	int64_t started = time(NULL);
	char iso_started[21], iso_finished[21], iso_reached[21] = "";
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'U') {
			allow_unsigned = true;
			continue;
		}
		if (opt == 'A') {
			if (drb_repo_as_of_parse(optarg, &as_of) < 0) {
				json_decref(k.tables);
				return drb_error_code();
			}
			continue;
		}
		if (opt != 'H') {
			json_decref(k.tables);
			return drb_error(DRB_ERR_USAGE,
					 "unknown option '%s' (see 'drbackup restore-test --help')",
					 argv[optind - 1]);
		}
		host = optarg;
	}
	if (optind < argc) {
		json_decref(k.tables);
		return drb_error(DRB_ERR_USAGE, "unexpected argument '%s'", argv[optind]);
	}
	if ((rc = drb_ctx_config(ctx, &c)) < 0) {
		json_decref(k.tables);
		return rc;
	}
	o.cfg = c;
	o.host_id = host ? host : c->host_id;
	o.target.kind = DRB_TO_LATEST;
	o.newest_only = true; /* a damaged newest backup is what this test is for */
	o.jobs = (int)(c->db.jobs ? c->db.jobs : drb_restore_default_jobs());
	o.spool = c->spool_dir;
	o.after_load = after_load;
	o.ud = &k;
	if ((rc = drb_keyring_load(c, 1, &keys)) < 0 || (rc = drb_repo_set_open(c, ctx->repo_name, &o.set)) < 0)
		goto report;
	o.keys = keys;
	drb_repo_set_allow_unsigned(o.set, allow_unsigned);
	if (as_of && (rc = drb_repo_set_as_of(o.set, as_of)) < 0)
		goto report;
	if (keys->n_sec == 0) {
		rc = drb_error(DRB_ERR_CONFIG,
			       "restore-test needs a secret key: set encryption { secret_keys } in %s",
			       c->file);
		goto report;
	}
	k.cfg = c;
	k.scratch = &scratch;
	o.prepare_target = prepare;
	drb_log_info("restore-test of %s", o.host_id);
	rc = drb_restore_run(&o, &r);
	if (rc == 0 && r.manifest && (rc = check_tables(&k.target, r.manifest, &n_checked)) == 0 &&
	    r.reached_gtid[0] && !drb_gtid_reached(r.replayed_gtid, r.reached_gtid))
		rc = drb_error(DRB_ERR_INTEGRITY,
			       "the replay stopped at GTID %s, short of %s recorded for the newest "
			       "segment",
			       r.replayed_gtid[0] ? r.replayed_gtid : "(none)", r.reached_gtid);
	if (rc == 0 && r.probe.time) {
		json_decref(pitr);
		rc = pitr_probe(&o, &r, &pitr);
	} else if (rc == 0) {
		drb_log_warn("restore-test: no replayed segment spans more than one second; the "
			     "point-in-time restore inside a segment is not tested this time");
	}
report:;
	drb_scratch_stop(&scratch);
	char err[DRB_ERROR_LINE] = "";
	drb_error_state saved;
	if (rc < 0) {
		drb_error_line(err, sizeof err);
		drb_error_save(&saved);
	}
	int64_t finished = time(NULL);
	drb_time_iso(started, iso_started);
	drb_time_iso(finished, iso_finished);
	if (r.reached_time > 0)
		drb_time_iso(r.reached_time, iso_reached);
	json_t *report = json_pack(
		"{s:i, s:s, s:s, s:s, s:s, s:b, s:s, s:I, s:I, s:s?, s:s, s:s, s:I, s:I, s:i, s:o, "
		"s:{s:I, s:I, s:I}}",
		"format", DRB_META_FORMAT, "kind", "restore-test", "host_id", o.host_id, "started",
		iso_started, "finished", iso_finished, "ok",
		rc == 0, "backup_id", r.backup_id, "rto_seconds", (json_int_t)((r.millis_total + 999) / 1000),
		"rpo_seconds", (json_int_t)(r.reached_time ? started - r.reached_time : 0), "reached",
		iso_reached[0] ? iso_reached : NULL, "reached_gtid", r.reached_gtid, "replayed_gtid",
		r.replayed_gtid, "segments", (json_int_t)r.n_segments, "bytes", (json_int_t)r.bytes,
		"tables_checked", n_checked, "row_counts", k.tables, "millis", "fetch",
		(json_int_t)r.millis_fetch, "load", (json_int_t)r.millis_load, "replay",
		(json_int_t)r.millis_replay);
	json_object_set_new(report, "error", err[0] ? json_string(err) : json_null());
	json_object_set_new(report, "point_in_time", pitr);
	if (as_of) {
		/* a test of the repository of then: printed and audited, but neither stored as the
		 * last restore-test nor counted in the metrics, which speak of today's */
		char iso_as_of[21];
		drb_time_iso(as_of, iso_as_of);
		json_object_set_new(report, "repo_as_of", json_string(iso_as_of));
		if (o.set) {
			drb_error_state keep;
			drb_error_save(&keep);
			(void)drb_repo_set_as_of(o.set, 0);
			drb_error_restore(&keep);
		}
	} else if (o.set) {
		store_report(o.set, o.host_id, report, started);
	}
	json_t *audit = drb_audit_begin("restore-test", o.host_id, started);
	if (audit && r.manifest)
		for (size_t i = 0; i < r.manifest->n_dbs; i++)
			json_array_append_new(json_object_get(audit, "practices"),
					      json_string(r.manifest->dbs[i].name));
	json_object_set_new(audit, "point_in_time", json_string("latest"));
	json_object_set_new(audit, "reached", iso_reached[0] ? json_string(iso_reached) : json_null());
	json_object_set_new(audit, "backup_id", json_string(r.backup_id));
	json_object_set_new(audit, "target", json_string("scratch server (removed after the test)"));
	drb_audit_finish(o.set, c, audit, rc);
	drb_metric met[] = {
		{"drbackup_restore_test_ok", NULL, "1 when the last restore-test passed", rc == 0},
		{"drbackup_restore_test_timestamp_seconds", NULL, "when the last restore-test ended",
		 (double)finished},
		{"drbackup_restore_test_rto_seconds", NULL, "time the last restore-test took to restore",
		 r.millis_total / 1000.0},
		{"drbackup_restore_test_rpo_seconds", NULL,
		 "age of the newest restored point when the last restore-test began",
		 r.reached_time ? (double)(started - r.reached_time) : 0},
	};
	if (!as_of)
		drb_metrics_update(c, met, 4);
	if (ctx->json) {
		json_dumpf(report, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
		putchar('\n');
	} else if (rc == 0) {
		drb_log_info("restore-test passed: backup %s and %zu segment%s restored in %.1f s, %d "
			     "table%s checked, reached %s (GTID %s)%s%s",
			     r.backup_id, r.n_segments, r.n_segments == 1 ? "" : "s",
			     r.millis_total / 1000.0, n_checked, n_checked == 1 ? "" : "s",
			     iso_reached[0] ? iso_reached : "-", r.reached_gtid[0] ? r.reached_gtid : "none",
			     json_is_object(pitr) ? "; point in time inside segment " : "",
			     json_is_object(pitr) ? json_string_value(json_object_get(pitr, "segment")) : "");
	}
	json_decref(report);
	if (rc < 0) {
		drb_error_restore(&saved);
		drb_error_wrap(0, "restore-test of %s failed", o.host_id);
	}
	drb_restore_result_free(&r);
	drb_repo_set_close(o.set);
	drb_keyring_free(keys);
	return rc;
}
