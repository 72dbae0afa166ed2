/* The logical dumper. Why not mariadb-dump: it formats every row on one thread at about twice
 * the CPU per row of a Connector/C reader, and separate processes cannot share one snapshot
 * without stdout games; here N sessions open the same snapshot and the coordinate is checked in
 * each. The output is plain SQL for the mariadb client (DELIMITER for triggers and routines). */
#include "config.h"

#include <errno.h>
#include <mysql.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/dump.h"
#include "common/context.h"
#include "common/error.h"
#include "common/fault.h"
#include "common/log.h"

#define OUT_FLUSH (1u << 20)     /* hand text to the chain in 1 MiB pieces */
#define STATEMENT_MAX (1u << 20) /* rows per INSERT until it reaches about 1 MiB */

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
	if ((rc = drb_db_rows(db, "SHOW SESSION STATUS LIKE 'binlog_snapshot_%'", take_status, c)) < 0)
		return rc;
	if (!c->file[0])
		return drb_error(DRB_ERR_DATABASE,
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
			rc = drb_error(DRB_ERR_DATABASE,
				       "dump sessions see different snapshots (%s:%llu GTID %s in session "
				       "1, %s:%llu GTID %s in session %d): the backup would not be "
				       "consistent, so it is not taken",
				       s->coord.file, (unsigned long long)s->coord.pos, s->coord.gtid,
				       c.file, (unsigned long long)c.pos, c.gtid, i + 1);
			goto fail;
		}
		if (skew && i == 0)
			drb_db_exec(control, "FLUSH BINARY LOGS"); /* test fault: a commit slips in */
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

/* ------------------------------------------------------------------ output */

typedef struct out {
	drb_sink *sink;
	char *buf;
	size_t len, cap;
	uint64_t total;
	int rc;
} out;

static int out_flush(out *o)
{
	if (o->rc == 0 && o->len) {
		o->rc = drb_sink_write(o->sink, o->buf, o->len);
		o->total += o->len;
	}
	o->len = 0;
	return o->rc;
}

static char *out_room(out *o, size_t n)
{
	if (o->len + n > o->cap) {
		if (o->len && out_flush(o) < 0)
			return NULL;
		if (n > o->cap) {
			char *b = realloc(o->buf, n);
			if (!b) {
				o->rc = drb_error(DRB_ERR_NOMEM, "out of memory");
				return NULL;
			}
			o->buf = b;
			o->cap = n;
		}
	}
	return o->buf + o->len;
}

static void out_put(out *o, const char *s, size_t n)
{
	char *d = out_room(o, n);
	if (!d)
		return;
	memcpy(d, s, n);
	o->len += n;
	if (o->len >= OUT_FLUSH)
		out_flush(o);
}

static void out_str(out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

static void out_fmt(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_fmt(out *o, const char *fmt, ...)
{
	char small[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < (int)sizeof small) {
		out_put(o, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		o->rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	out_put(o, big, (size_t)n);
	free(big);
}

/* ------------------------------------------------------------------ one database */

typedef struct object {
	char *name;
	char *type; /* BASE TABLE, VIEW, SEQUENCE, SYSTEM VIEW */
} object;

typedef struct objects {
	object *v;
	size_t n;
} objects;

static int add_object(void *ud, char **row, unsigned long *len, unsigned n)
{
	objects *o = ud;
	(void)len;
	object *v = realloc(o->v, (o->n + 1) * sizeof *v);
	if (!v)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	o->v = v;
	o->v[o->n].name = strdup(row[0]);
	o->v[o->n].type = strdup(n > 1 && row[1] ? row[1] : "");
	o->n++;
	return 0;
}

static void objects_free(objects *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->v[i].name);
		free(o->v[i].type);
	}
	free(o->v);
}

/* SHOW CREATE ...: column col of the single row, or NULL. */
typedef struct show {
	char *text[8];
	unsigned n;
} show;

static int take_show(void *ud, char **row, unsigned long *len, unsigned n)
{
	show *s = ud;
	(void)len;
	for (unsigned i = 0; i < n && i < 8; i++)
		s->text[i] = row[i] ? strdup(row[i]) : NULL;
	s->n = n < 8 ? n : 8;
	return 1;
}

static void show_free(show *s)
{
	for (unsigned i = 0; i < s->n; i++)
		free(s->text[i]);
	memset(s, 0, sizeof *s);
}

static int show_create(drb_db *db, const char *what, const char *qname, show *s)
{
	char sql[1024];
	memset(s, 0, sizeof *s);
	snprintf(sql, sizeof sql, "SHOW CREATE %s %s", what, qname);
	int rc = drb_db_rows(db, sql, take_show, s);
	if (rc < 0)
		return rc;
	if (s->n == 0)
		return drb_error(DRB_ERR_DATABASE, "%s returned nothing", sql);
	return 0;
}

typedef struct column {
	char *name;
} column;

typedef struct columns {
	column *v;
	size_t n;
} columns;

static int add_column(void *ud, char **row, unsigned long *len, unsigned n)
{
	columns *c = ud;
	(void)len, (void)n;
	column *v = realloc(c->v, (c->n + 1) * sizeof *v);
	if (!v)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	c->v = v;
	c->v[c->n++].name = strdup(row[0]);
	return 0;
}

static void columns_free(columns *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].name);
	free(c->v);
}

/* The value of one field as SQL: numbers as they are, binary as hex, text quoted. */
static void put_value(out *o, MYSQL *m, const MYSQL_FIELD *f, const char *v, unsigned long len)
{
	if (!v) {
		out_put(o, "NULL", 4);
		return;
	}
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
		out_put(o, v, len);
		return;
	case MYSQL_TYPE_BIT:
		break; /* hex */
	case MYSQL_TYPE_STRING:
	case MYSQL_TYPE_VAR_STRING:
	case MYSQL_TYPE_VARCHAR:
	case MYSQL_TYPE_TINY_BLOB:
	case MYSQL_TYPE_MEDIUM_BLOB:
	case MYSQL_TYPE_LONG_BLOB:
	case MYSQL_TYPE_BLOB:
		if (f->charsetnr == 63)
			break; /* binary: hex */
		/* fall through */
	default: {
		char *d = out_room(o, 2 * (size_t)len + 3);
		if (!d)
			return;
		d[0] = '\'';
		unsigned long n = mysql_real_escape_string(m, d + 1, v, len);
		d[n + 1] = '\'';
		o->len += n + 2;
		return;
	}
	}
	if (len == 0) {
		out_put(o, "''", 2);
		return;
	}
	char *d = out_room(o, 2 * (size_t)len + 3);
	if (!d)
		return;
	d[0] = '0';
	d[1] = 'x';
	o->len += 2 + mysql_hex_string(d + 2, v, len);
}

static int dump_rows(drb_db *db, out *o, const char *qdb, const char *qtable, const columns *cols,
		     uint64_t *rows_out)
{
	MYSQL *m = drb_db_handle(db);
	size_t list_len = 0;
	for (size_t i = 0; i < cols->n; i++)
		list_len += 2 * strlen(cols->v[i].name) + 4;
	char *list = malloc(list_len + 1), *sql = NULL, *insert = NULL;
	int rc = 0;
	uint64_t rows = 0;
	if (!list)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	list[0] = 0;
	for (size_t i = 0; i < cols->n; i++) {
		char q[260];
		drb_db_ident(cols->v[i].name, q, sizeof q);
		if (i)
			strcat(list, ",");
		strcat(list, q);
	}
	size_t sql_len = strlen(list) + strlen(qdb) + strlen(qtable) + 64;
	sql = malloc(sql_len);
	insert = malloc(sql_len);
	if (!sql || !insert) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(sql, sql_len, "SELECT %s FROM %s.%s", list, qdb, qtable);
	snprintf(insert, sql_len, "INSERT INTO %s (%s) VALUES ", qtable, list);
	if (mysql_query(m, sql) != 0) {
		rc = drb_error(DRB_ERR_DATABASE, "reading %s.%s: %s", qdb, qtable, mysql_error(m));
		goto out;
	}
	MYSQL_RES *res = mysql_use_result(m);
	if (!res) {
		rc = drb_error(DRB_ERR_DATABASE, "reading %s.%s: %s", qdb, qtable, mysql_error(m));
		goto out;
	}
	unsigned nf = mysql_num_fields(res);
	MYSQL_FIELD *fields = mysql_fetch_fields(res);
	size_t insert_len = strlen(insert);
	uint64_t stmt_start = 0;
	bool open = false;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res))) {
		unsigned long *lens = mysql_fetch_lengths(res);
		uint64_t at = o->total + o->len;
		if (open && at - stmt_start >= STATEMENT_MAX) {
			out_put(o, ";\n", 2);
			open = false;
		}
		if (!open) {
			stmt_start = o->total + o->len;
			out_put(o, insert, insert_len);
			open = true;
		} else {
			out_put(o, ",", 1);
		}
		out_put(o, "(", 1);
		for (unsigned i = 0; i < nf; i++) {
			if (i)
				out_put(o, ",", 1);
			put_value(o, m, &fields[i], row[i], lens[i]);
		}
		out_put(o, ")", 1);
		rows++;
		if (o->rc < 0 || ((rows & 1023) == 0 && drb_stop_requested()))
			break;
	}
	if (o->rc == 0 && !drb_stop_requested() && mysql_errno(m))
		rc = drb_error(DRB_ERR_DATABASE, "reading %s.%s after %llu rows: %s", qdb, qtable,
			       (unsigned long long)rows, mysql_error(m));
	mysql_free_result(res); /* drains the rest when we stopped early */
	if (open)
		out_put(o, ";\n", 2);
	if (rc == 0 && o->rc < 0)
		rc = o->rc;
	if (rc == 0 && drb_stop_requested())
		rc = drb_error(DRB_ERR_CANCELLED, "stopped by a signal while reading %s.%s", qdb,
			       qtable);
	*rows_out = rows;
out:
	free(list);
	free(sql);
	free(insert);
	return rc;
}

static int add_count(drb_dump_stats *st, const char *table, uint64_t rows)
{
	drb_table_count *v = realloc(st->tables, (st->n_tables + 1) * sizeof *v);
	if (!v)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	st->tables = v;
	st->tables[st->n_tables].name = strdup(table);
	st->tables[st->n_tables].rows = rows;
	st->n_tables++;
	st->rows += rows;
	return 0;
}

static int dump_table(drb_db *db, out *o, const char *dbname, const char *qdb, const char *table,
		      drb_dump_stats *st)
{
	char qt[300], sql[1200], engine[64] = "";
	show s;
	columns cols = {0};
	uint64_t rows = 0;
	int rc;
	drb_db_ident(table, qt, sizeof qt);
	if ((rc = show_create(db, "TABLE", (snprintf(sql, sizeof sql, "%s.%s", qdb, qt), sql), &s)) <
	    0)
		return rc;
	out_fmt(o, "\n--\n-- Table %s\n--\nDROP TABLE IF EXISTS %s;\n%s;\n", qt, qt,
		s.n > 1 && s.text[1] ? s.text[1] : "");
	show_free(&s);
	char *esc_db = malloc(2 * strlen(dbname) + 1), *esc_t = malloc(2 * strlen(table) + 1);
	if (!esc_db || !esc_t) {
		free(esc_db);
		free(esc_t);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	mysql_real_escape_string(drb_db_handle(db), esc_db, dbname, strlen(dbname));
	mysql_real_escape_string(drb_db_handle(db), esc_t, table, strlen(table));
	snprintf(sql, sizeof sql,
		 "SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = '%s' AND "
		 "TABLE_NAME = '%s'",
		 esc_db, esc_t);
	drb_db_value(db, sql, engine, sizeof engine);
	if (engine[0] && strcasecmp(engine, "InnoDB") != 0) {
		st->non_innodb++;
		drb_log_warn("%s.%s uses %s, not InnoDB: its dump is not part of the consistent "
			     "snapshot",
			     dbname, table, engine);
	}
	/* generated columns are computed again on load; invisible ones must be named */
	snprintf(sql, sizeof sql,
		 "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '%s' AND "
		 "TABLE_NAME = '%s' AND IS_GENERATED = 'NEVER' ORDER BY ORDINAL_POSITION",
		 esc_db, esc_t);
	free(esc_db);
	free(esc_t);
	if ((rc = drb_db_rows(db, sql, add_column, &cols)) < 0)
		goto out;
	if (cols.n > 0) {
		out_str(o, "SET autocommit = 0;\n");
		rc = dump_rows(db, o, qdb, qt, &cols, &rows);
		out_str(o, "COMMIT;\nSET autocommit = 1;\n");
		if (rc < 0)
			goto out;
	}
	rc = add_count(st, table, rows);
out:
	columns_free(&cols);
	/* let DDL on this table go on while the rest is dumped */
	if (rc == 0)
		rc = drb_db_exec(db, "ROLLBACK TO SAVEPOINT drb");
	return rc;
}

static int dump_sequence(drb_db *db, out *o, const char *qdb, const char *name)
{
	char qn[300], sql[800], next[64] = "";
	show s;
	int rc;
	drb_db_ident(name, qn, sizeof qn);
	snprintf(sql, sizeof sql, "%s.%s", qdb, qn);
	if ((rc = show_create(db, "SEQUENCE", sql, &s)) < 0)
		return rc;
	out_fmt(o, "\n--\n-- Sequence %s\n--\nDROP SEQUENCE IF EXISTS %s;\n%s;\n", qn, qn,
		s.n > 1 && s.text[1] ? s.text[1] : "");
	show_free(&s);
	snprintf(sql, sizeof sql, "SELECT next_not_cached_value FROM %s.%s", qdb, qn);
	if ((rc = drb_db_value(db, sql, next, sizeof next)) < 0)
		return rc;
	out_fmt(o, "DO SETVAL(%s, %s, 0);\n", qn, next);
	return drb_db_exec(db, "ROLLBACK TO SAVEPOINT drb");
}

/* Views reference each other: every view first becomes a stub table, then the real views. */
static int dump_views(drb_db *db, out *o, const char *qdb, const objects *objs)
{
	int rc = 0;
	bool any = false;
	for (size_t i = 0; i < objs->n && rc == 0; i++) {
		if (strcmp(objs->v[i].type, "VIEW") != 0)
			continue;
		char qn[300], sql[1200];
		columns cols = {0};
		drb_db_ident(objs->v[i].name, qn, sizeof qn);
		snprintf(sql, sizeof sql, "SHOW COLUMNS FROM %s.%s", qdb, qn);
		rc = drb_db_rows(db, sql, add_column, &cols);
		if (rc == 0) {
			if (!any)
				out_str(o, "\n--\n-- Stand-ins for views, replaced below\n--\n");
			any = true;
			out_fmt(o, "DROP TABLE IF EXISTS %s;\nDROP VIEW IF EXISTS %s;\nCREATE TABLE %s (",
				qn, qn, qn);
			for (size_t c = 0; c < cols.n; c++) {
				char qc[300];
				drb_db_ident(cols.v[c].name, qc, sizeof qc);
				out_fmt(o, "%s%s tinyint", c ? ", " : "", qc);
			}
			out_str(o, ");\n");
		}
		columns_free(&cols);
	}
	for (size_t i = 0; i < objs->n && rc == 0; i++) {
		if (strcmp(objs->v[i].type, "VIEW") != 0)
			continue;
		char qn[300], sql[1200];
		show s;
		drb_db_ident(objs->v[i].name, qn, sizeof qn);
		snprintf(sql, sizeof sql, "%s.%s", qdb, qn);
		if ((rc = show_create(db, "VIEW", sql, &s)) < 0)
			break;
		/* columns: View, Create View, character_set_client, collation_connection */
		out_fmt(o, "\n--\n-- View %s\n--\nDROP TABLE IF EXISTS %s;\nDROP VIEW IF EXISTS %s;\n",
			qn, qn, qn);
		if (s.n > 3 && s.text[2] && s.text[3])
			out_fmt(o, "SET character_set_client = %s, collation_connection = %s;\n",
				s.text[2], s.text[3]);
		out_fmt(o, "%s;\nSET NAMES utf8mb4;\n", s.n > 1 && s.text[1] ? s.text[1] : "");
		show_free(&s);
	}
	return rc;
}

/* Triggers, routines, events: each with the sql_mode and character set it was created under. */
static void put_compound(out *o, const char *sql_mode, const char *cs, const char *coll,
			 const char *tz, const char *body)
{
	out_fmt(o, "SET SESSION sql_mode = '%s';\n", sql_mode ? sql_mode : "");
	if (cs && coll)
		out_fmt(o, "SET character_set_client = %s, collation_connection = %s;\n", cs, coll);
	if (tz)
		out_fmt(o, "SET time_zone = '%s';\n", tz);
	out_fmt(o, "DELIMITER ;;\n%s ;;\nDELIMITER ;\n", body ? body : "");
	out_str(o, "SET NAMES utf8mb4;\nSET time_zone = '+00:00';\nSET SESSION sql_mode = "
		   "'NO_AUTO_VALUE_ON_ZERO';\n");
}

static int dump_triggers(drb_db *db, out *o, const char *qdb)
{
	objects trig = {0};
	char sql[800];
	snprintf(sql, sizeof sql, "SHOW TRIGGERS FROM %s", qdb);
	int rc = drb_db_rows(db, sql, add_object, &trig);
	for (size_t i = 0; i < trig.n && rc == 0; i++) {
		char qn[300];
		show s;
		drb_db_ident(trig.v[i].name, qn, sizeof qn);
		snprintf(sql, sizeof sql, "%s.%s", qdb, qn);
		if ((rc = show_create(db, "TRIGGER", sql, &s)) < 0)
			break;
		/* Trigger, sql_mode, SQL Original Statement, character_set_client, collation */
		if (i == 0)
			out_str(o, "\n--\n-- Triggers\n--\n");
		out_fmt(o, "DROP TRIGGER IF EXISTS %s;\n", qn);
		put_compound(o, s.text[1], s.n > 3 ? s.text[3] : NULL, s.n > 4 ? s.text[4] : NULL,
			     NULL, s.text[2]);
		show_free(&s);
	}
	objects_free(&trig);
	return rc;
}

static int dump_routines(drb_db *db, out *o, const char *dbname, const char *qdb)
{
	objects r = {0};
	char sql[1200];
	char *esc = malloc(2 * strlen(dbname) + 1);
	if (!esc)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	mysql_real_escape_string(drb_db_handle(db), esc, dbname, strlen(dbname));
	snprintf(sql, sizeof sql,
		 "SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE "
		 "ROUTINE_SCHEMA = '%s' AND ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION') ORDER BY "
		 "ROUTINE_TYPE, ROUTINE_NAME",
		 esc);
	free(esc);
	int rc = drb_db_rows(db, sql, add_object, &r);
	for (size_t i = 0; i < r.n && rc == 0; i++) {
		char qn[300];
		show s;
		drb_db_ident(r.v[i].name, qn, sizeof qn);
		snprintf(sql, sizeof sql, "%s.%s", qdb, qn);
		if ((rc = show_create(db, r.v[i].type, sql, &s)) < 0)
			break;
		/* Name, sql_mode, Create ..., character_set_client, collation_connection */
		if (!s.text[2]) {
			rc = drb_error(DRB_ERR_PERMISSION,
				       "cannot read the body of %s %s.%s: grant SHOW CREATE ROUTINE "
				       "(or SELECT on mysql.proc) to the backup account",
				       r.v[i].type, dbname, r.v[i].name);
			show_free(&s);
			break;
		}
		if (i == 0)
			out_str(o, "\n--\n-- Routines\n--\n");
		out_fmt(o, "DROP %s IF EXISTS %s;\n", r.v[i].type, qn);
		put_compound(o, s.text[1], s.n > 3 ? s.text[3] : NULL, s.n > 4 ? s.text[4] : NULL,
			     NULL, s.text[2]);
		show_free(&s);
	}
	objects_free(&r);
	return rc;
}

static int dump_events(drb_db *db, out *o, const char *qdb)
{
	objects ev = {0};
	char sql[800];
	snprintf(sql, sizeof sql, "SHOW EVENTS FROM %s", qdb);
	/* SHOW EVENTS: Db, Name, ...: take the name column */
	int rc = drb_db_rows(db, sql, add_object, &ev);
	for (size_t i = 0; i < ev.n && rc == 0; i++) {
		char qn[300];
		show s;
		/* add_object took Db and Name; the name is the type field */
		drb_db_ident(ev.v[i].type, qn, sizeof qn);
		snprintf(sql, sizeof sql, "%s.%s", qdb, qn);
		if ((rc = show_create(db, "EVENT", sql, &s)) < 0)
			break;
		/* Event, sql_mode, time_zone, Create Event, character_set_client, collation */
		if (i == 0)
			out_str(o, "\n--\n-- Events\n--\n");
		out_fmt(o, "DROP EVENT IF EXISTS %s;\n", qn);
		put_compound(o, s.text[1], s.n > 4 ? s.text[4] : NULL, s.n > 5 ? s.text[5] : NULL,
			     s.text[2], s.text[3]);
		show_free(&s);
	}
	objects_free(&ev);
	return rc;
}

int drb_dump_database(drb_db *db, const char *dbname, drb_sink *sink, drb_dump_stats *st)
{
	out o = {.sink = sink, .cap = OUT_FLUSH + 65536};
	objects objs = {0};
	char qdb[300], sql[800];
	show s;
	int rc;
	memset(st, 0, sizeof *st);
	if ((rc = drb_db_ident(dbname, qdb, sizeof qdb)) < 0)
		return rc;
	if (!(o.buf = malloc(o.cap)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	if ((rc = show_create(db, "DATABASE", qdb, &s)) < 0)
		goto out;
	/* CREATE DATABASE IF NOT EXISTS: restore decides what happens to a database that exists */
	const char *create = s.n > 1 && s.text[1] ? s.text[1] : "";
	if (strncmp(create, "CREATE DATABASE ", 16) == 0)
		create += 16;
	out_fmt(&o,
		"-- drbackup logical dump of database %s\n"
		"-- Load it with the mariadb client (it uses DELIMITER).\n"
		"SET NAMES utf8mb4;\nSET time_zone = '+00:00';\n"
		"SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';\nSET unique_checks = 0;\n"
		"SET foreign_key_checks = 0;\nSET sql_notes = 0;\n\n"
		"CREATE DATABASE /*!32312 IF NOT EXISTS*/ %s;\nUSE %s;\n",
		qdb, create, qdb);
	show_free(&s);
	snprintf(sql, sizeof sql, "SHOW FULL TABLES FROM %s", qdb);
	if ((rc = drb_db_rows(db, sql, add_object, &objs)) < 0)
		goto out;
	for (size_t i = 0; i < objs.n && rc == 0 && o.rc == 0; i++) {
		if (strcmp(objs.v[i].type, "BASE TABLE") == 0)
			rc = dump_table(db, &o, dbname, qdb, objs.v[i].name, st);
		else if (strcmp(objs.v[i].type, "SEQUENCE") == 0)
			rc = dump_sequence(db, &o, qdb, objs.v[i].name);
	}
	if (rc == 0)
		rc = dump_views(db, &o, qdb, &objs);
	if (rc == 0)
		rc = dump_triggers(db, &o, qdb);
	if (rc == 0)
		rc = dump_routines(db, &o, dbname, qdb);
	if (rc == 0)
		rc = dump_events(db, &o, qdb);
	if (rc == 0) {
		out_str(&o, "\nSET foreign_key_checks = 1;\nSET unique_checks = 1;\n-- end of dump\n");
		rc = out_flush(&o);
	}
	if (rc == 0 && o.rc < 0)
		rc = o.rc;
	st->bytes = o.total;
out:
	if (rc < 0)
		drb_error_wrap(0, "dumping database %s", dbname);
	objects_free(&objs);
	free(o.buf);
	return rc;
}

void drb_dump_stats_free(drb_dump_stats *s)
{
	for (size_t i = 0; i < s->n_tables; i++)
		free(s->tables[i].name);
	free(s->tables);
	memset(s, 0, sizeof *s);
}
