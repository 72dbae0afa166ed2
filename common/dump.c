/* The dumper's shared half: the consistent snapshot that `full` opens in several sessions, and
 * the row reader that both writers (SQL, CSV) format from. */
#include "config.h"

#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/context.h"
#include "common/dump.h"
#include "common/error.h"
#include "common/fault.h"
#include "common/log.h"

static uint64_t now_micros(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ------------------------------------------------------------------ snapshot */

static int session_setup(drb_db *db)
{
	int rc = drb_db_exec(db, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
	if (rc == 0)
		rc = drb_db_exec(db, "SET SESSION time_zone = '+00:00', sql_mode = '', "
		                     "sql_quote_show_create = 1, net_write_timeout = 3600, "
		                     "net_read_timeout = 3600, wait_timeout = 86400");
	return rc;
}

typedef struct status_row {
	drb_coord *c;
} status_row;

static int take_status(void *ud, char **row, unsigned long *len, unsigned n)
{
	drb_coord *c = ud;
	(void)len;
	if (n < 2 || !row[0] || !row[1])
		return 0;
	if (strcasecmp(row[0], "binlog_snapshot_file") == 0)
		snprintf(c->file, sizeof c->file, "%s", row[1]);
	else if (strcasecmp(row[0], "binlog_snapshot_position") == 0)
		c->pos = strtoull(row[1], NULL, 10);
	return 0;
}

static int start_snapshot(drb_db *db, drb_coord *c)
{
	int rc;
	char sql[600];
	memset(c, 0, sizeof *c);
	if ((rc = drb_db_exec(db, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")) < 0)
		return rc;
	if ((rc = drb_db_rows(db, "SHOW SESSION STATUS LIKE 'binlog_snapshot_%'", take_status, c)) <
	    0)
		return rc;
	if (!c->file[0])
		return drb_error(
		    DRB_ERR_DATABASE,
		    "the server reports no binlog snapshot position: is the binary log on?");
	snprintf(sql, sizeof sql, "SELECT BINLOG_GTID_POS('%s', %llu)", c->file,
	         (unsigned long long)c->pos);
	rc = drb_db_value(db, sql, c->gtid, sizeof c->gtid);
	if (rc == DRB_ERR_NOT_FOUND)
		rc = 0;
	if (rc == 0)
		rc = drb_db_exec(db, "SAVEPOINT drb");
	return rc;
}

static bool same_coord(const drb_coord *a, const drb_coord *b)
{
	return strcmp(a->file, b->file) == 0 && a->pos == b->pos && strcmp(a->gtid, b->gtid) == 0;
}

int drb_snapshot_open(const drb_db_target *t, int n, drb_snapshot **out)
{
	drb_snapshot *s = calloc(1, sizeof *s);
	drb_db *control = NULL;
	bool blocked = false;
	int rc = 0;
	char v[64];
	if (!s || !(s->sessions = calloc((size_t)n, sizeof *s->sessions))) {
		free(s);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	/* connect everything first, so commits are held only while snapshots open */
	if ((rc = drb_db_connect(t, &control)) < 0)
		goto fail;
	for (int i = 0; i < n; i++) {
		if ((rc = drb_db_connect(t, &s->sessions[i])) < 0 ||
		    (rc = session_setup(s->sessions[i])) < 0)
			goto fail;
		s->n++;
	}
	drb_db_value(control, "SELECT VERSION()", s->server_version, sizeof s->server_version);
	if (drb_db_value(control, "SELECT @@server_id", v, sizeof v) == 0)
		s->server_id = atol(v);
	/* one session needs no block: its snapshot carries its own coordinate */
	bool skew = drb_fault("snapshot-skew");
	uint64_t t0 = now_micros();
	if (n > 1 && !skew) {
		if ((rc = drb_db_exec(control, "SET SESSION lock_wait_timeout = 60")) < 0 ||
		    (rc = drb_db_exec(control, "BACKUP STAGE START")) < 0)
			goto fail;
		blocked = true;
		if ((rc = drb_db_exec(control, "BACKUP STAGE BLOCK_COMMIT")) < 0)
			goto fail;
	}
	for (int i = 0; i < n; i++) {
		drb_coord c;
		if ((rc = start_snapshot(s->sessions[i], &c)) < 0)
			goto fail;
		if (i == 0)
			s->coord = c;
		else if (!same_coord(&c, &s->coord)) {
			rc = drb_error(
			    DRB_ERR_DATABASE,
			    "dump sessions see different snapshots (%s:%llu GTID %s in session "
			    "1, %s:%llu GTID %s in session %d): the backup would not be "
			    "consistent, so it is not taken",
			    s->coord.file, (unsigned long long)s->coord.pos, s->coord.gtid, c.file,
			    (unsigned long long)c.pos, c.gtid, i + 1);
			goto fail;
		}
		if (skew && i == 0)
			drb_db_exec(control,
			            "FLUSH BINARY LOGS"); /* test fault: a commit slips in */
	}
	if (blocked) {
		rc = drb_db_exec(control, "BACKUP STAGE END");
		blocked = false;
		if (rc < 0)
			goto fail;
	}
	s->block_micros = n > 1 ? now_micros() - t0 : 0;
	s->taken = time(NULL);
	drb_db_close(control);
	drb_log_debug("snapshot at %s:%llu GTID '%s' in %d session%s (commits held %.1f ms)",
	              s->coord.file, (unsigned long long)s->coord.pos, s->coord.gtid, n,
	              n == 1 ? "" : "s", s->block_micros / 1000.0);
	*out = s;
	return 0;
fail:
	if (blocked) {
		drb_error_state keep;
		drb_error_save(&keep);
		drb_db_exec(control, "BACKUP STAGE END");
		drb_error_restore(&keep);
	}
	drb_db_close(control);
	drb_snapshot_close(s);
	return rc;
}

void drb_snapshot_close(drb_snapshot *s)
{
	drb_error_state keep;
	if (!s)
		return;
	/* closing must not replace the error that brought us here */
	drb_error_save(&keep);
	for (int i = 0; i < s->n; i++) {
		drb_db_exec(s->sessions[i], "ROLLBACK");
		drb_db_close(s->sessions[i]);
	}
	drb_error_restore(&keep);
	free(s->sessions);
	free(s);
}

int drb_dump_session_open(const drb_db_target *t, drb_db **out)
{
	drb_db *db = NULL;
	int rc = drb_db_connect(t, &db);
	if (rc == 0 && (rc = session_setup(db)) == 0 &&
	    (rc = drb_db_exec(db, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")) == 0)
		rc = drb_db_exec(db, "SAVEPOINT drb");
	if (rc < 0) {
		drb_db_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

/* ------------------------------------------------------------------ reading rows */

static int add_name(void *ud, char **row, unsigned long *len, unsigned n)
{
	drb_dump_cols *c = ud;
	(void)len, (void)n;
	char **v = realloc(c->names, (c->n + 1) * sizeof *v);
	if (!v)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	c->names = v;
	if (!(c->names[c->n] = strdup(row[0] ? row[0] : "")))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	c->n++;
	return 0;
}

int drb_dump_columns(drb_db *db, const char *dbname, const char *table, drb_dump_cols *out)
{
	char esc_db[600], esc_t[600], sql[1600];
	int rc;
	memset(out, 0, sizeof *out);
	if ((rc = drb_db_literal(db, dbname, esc_db, sizeof esc_db)) < 0 ||
	    (rc = drb_db_literal(db, table, esc_t, sizeof esc_t)) < 0)
		return rc;
	/* generated columns are computed again on load; invisible ones must be named */
	snprintf(sql, sizeof sql,
	         "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '%s' AND "
	         "TABLE_NAME = '%s' AND IS_GENERATED = 'NEVER' ORDER BY ORDINAL_POSITION",
	         esc_db, esc_t);
	if ((rc = drb_db_rows(db, sql, add_name, out)) < 0)
		goto out;
	if (!(out->kinds = calloc(out->n + 1, sizeof *out->kinds)))
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
out:
	if (rc < 0)
		drb_dump_columns_free(out);
	return rc;
}

void drb_dump_columns_free(drb_dump_cols *c)
{
	drb_dump_names_free(c->names, c->n);
	free(c->kinds);
	memset(c, 0, sizeof *c);
}

static drb_col_kind kind_of(const MYSQL_FIELD *f)
{
	switch (f->type) {
	case MYSQL_TYPE_TINY:
	case MYSQL_TYPE_SHORT:
	case MYSQL_TYPE_LONG:
	case MYSQL_TYPE_INT24:
	case MYSQL_TYPE_LONGLONG:
	case MYSQL_TYPE_DECIMAL:
	case MYSQL_TYPE_NEWDECIMAL:
	case MYSQL_TYPE_FLOAT:
	case MYSQL_TYPE_DOUBLE:
	case MYSQL_TYPE_YEAR:
		return DRB_COL_NUMBER;
	case MYSQL_TYPE_BIT:
		return DRB_COL_BINARY;
	case MYSQL_TYPE_STRING:
	case MYSQL_TYPE_VAR_STRING:
	case MYSQL_TYPE_VARCHAR:
	case MYSQL_TYPE_TINY_BLOB:
	case MYSQL_TYPE_MEDIUM_BLOB:
	case MYSQL_TYPE_LONG_BLOB:
	case MYSQL_TYPE_BLOB:
		return f->charsetnr == 63 ? DRB_COL_BINARY : DRB_COL_TEXT;
	case MYSQL_TYPE_GEOMETRY:
		return DRB_COL_BINARY;
	default:
		return DRB_COL_TEXT; /* dates, times, JSON, ENUM, SET: text (dates say charset 63)
		                      */
	}
}

int drb_dump_rows(drb_db *db, const char *dbname, const char *table, drb_dump_cols *cols,
                  drb_dump_row_fn fn, void *ud, uint64_t *rows_out)
{
	MYSQL *m = drb_db_handle(db);
	char qdb[300], qt[300];
	size_t list_len = 1;
	char *sql = NULL, *p;
	uint64_t rows = 0;
	int rc = 0;
	*rows_out = 0;
	if ((rc = drb_db_ident(dbname, qdb, sizeof qdb)) < 0 ||
	    (rc = drb_db_ident(table, qt, sizeof qt)) < 0)
		return rc;
	for (size_t i = 0; i < cols->n; i++)
		list_len += 2 * strlen(cols->names[i]) + 4;
	if (!(sql = malloc(list_len + strlen(qdb) + strlen(qt) + 32)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	p = sql + sprintf(sql, "SELECT ");
	for (size_t i = 0; i < cols->n; i++) {
		char q[260];
		drb_db_ident(cols->names[i], q, sizeof q);
		p += sprintf(p, "%s%s", i ? "," : "", q);
	}
	sprintf(p, " FROM %s.%s", qdb, qt);
	if (mysql_query(m, sql) != 0) {
		rc = drb_error(DRB_ERR_DATABASE, "reading %s.%s: %s", qdb, qt, mysql_error(m));
		goto out;
	}
	MYSQL_RES *res = mysql_use_result(m);
	if (!res) {
		rc = drb_error(DRB_ERR_DATABASE, "reading %s.%s: %s", qdb, qt, mysql_error(m));
		goto out;
	}
	unsigned nf = mysql_num_fields(res);
	MYSQL_FIELD *fields = mysql_fetch_fields(res);
	for (unsigned i = 0; i < nf && i < cols->n; i++)
		cols->kinds[i] = kind_of(&fields[i]);
	MYSQL_ROW row;
	int stop = 0;
	while (nf == cols->n && (row = mysql_fetch_row(res))) {
		if ((stop = fn(ud, row, mysql_fetch_lengths(res))) != 0)
			break;
		rows++;
		if ((rows & 1023) == 0 && drb_stop_requested())
			break;
	}
	if (stop == 0 && !drb_stop_requested() && mysql_errno(m))
		rc = drb_error(DRB_ERR_DATABASE, "reading %s.%s after %llu rows: %s", qdb, qt,
		               (unsigned long long)rows, mysql_error(m));
	else if (nf != cols->n)
		rc = drb_error(DRB_ERR_DATABASE, "reading %s.%s: %u columns, expected %zu", qdb, qt,
		               nf, cols->n);
	mysql_free_result(res); /* drains the rest when we stopped early */
	if (rc == 0 && stop < 0)
		rc = stop;
	if (rc == 0 && drb_stop_requested())
		rc = drb_error(DRB_ERR_CANCELLED, "stopped by a signal while reading %s.%s", qdb,
		               qt);
	*rows_out = rows;
out:
	free(sql);
	return rc;
}

typedef struct table_names {
	char **v;
	size_t n;
} table_names;

static int add_base_table(void *ud, char **row, unsigned long *len, unsigned n)
{
	table_names *t = ud;
	(void)len;
	if (n < 2 || !row[0] || !row[1] || strcmp(row[1], "BASE TABLE") != 0)
		return 0;
	char **v = realloc(t->v, (t->n + 1) * sizeof *v);
	if (!v)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	t->v = v;
	if (!(t->v[t->n] = strdup(row[0])))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	t->n++;
	return 0;
}

int drb_dump_base_tables(drb_db *db, const char *dbname, char ***names, size_t *n)
{
	char qdb[300], sql[400];
	table_names t = {0};
	int rc = drb_db_ident(dbname, qdb, sizeof qdb);
	if (rc == 0) {
		snprintf(sql, sizeof sql, "SHOW FULL TABLES FROM %s", qdb);
		rc = drb_db_rows(db, sql, add_base_table, &t);
	}
	if (rc < 0) {
		drb_dump_names_free(t.v, t.n);
		return rc;
	}
	*names = t.v;
	*n = t.n;
	return 0;
}

void drb_dump_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
