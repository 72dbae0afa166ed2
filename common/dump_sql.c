/* The dumper's SQL writer. Why not mariadb-dump: it formats every row on one thread at about twice
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

#include "common/dump.h"
#include "common/dump_out.h"
#include "common/context.h"
#include "common/error.h"
#include "common/fault.h"
#include "common/log.h"

#define STATEMENT_MAX (1u << 20) /* rows per INSERT until it reaches about 1 MiB */

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

/* The value of one field as SQL: numbers as they are, binary as hex, text quoted. */
static void put_value(drb_out *o, MYSQL *m, drb_col_kind kind, const char *v, unsigned long len)
{
	if (!v) {
		drb_out_put(o, "NULL", 4);
		return;
	}
	if (kind == DRB_COL_NUMBER) {
		drb_out_put(o, v, len);
		return;
	}
	if (kind == DRB_COL_TEXT) {
		char *d = drb_out_room(o, 2 * (size_t)len + 3);
		if (!d)
			return;
		d[0] = '\'';
		unsigned long n = mysql_real_escape_string(m, d + 1, v, len);
		d[n + 1] = '\'';
		o->len += n + 2;
		return;
	}
	if (len == 0) {
		drb_out_put(o, "''", 2);
		return;
	}
	char *d = drb_out_room(o, 2 * (size_t)len + 3);
	if (!d)
		return;
	d[0] = '0';
	d[1] = 'x';
	o->len += 2 + mysql_hex_string(d + 2, v, len);
}

typedef struct sql_rows {
	drb_out *o;
	MYSQL *m;
	const drb_dump_cols *cols;
	const char *insert;
	size_t insert_len;
	uint64_t stmt_start;
	bool open;
} sql_rows;

/* Rows go into multi-row INSERTs of about STATEMENT_MAX bytes each. */
static int sql_row(void *ud, char **row, const unsigned long *lens)
{
	sql_rows *w = ud;
	drb_out *o = w->o;
	uint64_t at = o->total + o->len;
	if (w->open && at - w->stmt_start >= STATEMENT_MAX) {
		drb_out_put(o, ";\n", 2);
		w->open = false;
	}
	if (!w->open) {
		w->stmt_start = o->total + o->len;
		drb_out_put(o, w->insert, w->insert_len);
		w->open = true;
	} else {
		drb_out_put(o, ",", 1);
	}
	drb_out_put(o, "(", 1);
	for (size_t i = 0; i < w->cols->n; i++) {
		if (i)
			drb_out_put(o, ",", 1);
		put_value(o, w->m, w->cols->kinds[i], row[i], lens[i]);
	}
	drb_out_put(o, ")", 1);
	return o->rc;
}

static int dump_rows(drb_db *db, drb_out *o, const char *dbname, const char *table,
		     const char *qtable, drb_dump_cols *cols, uint64_t *rows_out)
{
	size_t list_len = 0;
	for (size_t i = 0; i < cols->n; i++)
		list_len += 2 * strlen(cols->names[i]) + 4;
	char *insert = malloc(list_len + strlen(qtable) + 32);
	if (!insert)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	char *p = insert + sprintf(insert, "INSERT INTO %s (", qtable);
	for (size_t i = 0; i < cols->n; i++) {
		char q[260];
		drb_db_ident(cols->names[i], q, sizeof q);
		p += sprintf(p, "%s%s", i ? "," : "", q);
	}
	strcpy(p, ") VALUES ");
	sql_rows w = {.o = o,
		      .m = drb_db_handle(db),
		      .cols = cols,
		      .insert = insert,
		      .insert_len = strlen(insert)};
	int rc = drb_dump_rows(db, dbname, table, cols, sql_row, &w, rows_out);
	if (w.open)
		drb_out_put(o, ";\n", 2);
	if (rc == 0 && o->rc < 0)
		rc = o->rc;
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

static int dump_table(drb_db *db, drb_out *o, const char *dbname, const char *qdb, const char *table,
		      drb_dump_stats *st)
{
	char qt[300], sql[1200], engine[64] = "";
	show s;
	drb_dump_cols cols = {0};
	uint64_t rows = 0;
	int rc;
	drb_db_ident(table, qt, sizeof qt);
	if ((rc = show_create(db, "TABLE", (snprintf(sql, sizeof sql, "%s.%s", qdb, qt), sql), &s)) <
	    0)
		return rc;
	drb_out_fmt(o, "\n--\n-- Table %s\n--\nDROP TABLE IF EXISTS %s;\n%s;\n", qt, qt,
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
	free(esc_db);
	free(esc_t);
	if ((rc = drb_dump_columns(db, dbname, table, &cols)) < 0)
		goto out;
	if (cols.n > 0) {
		drb_out_str(o, "SET autocommit = 0;\n");
		rc = dump_rows(db, o, dbname, table, qt, &cols, &rows);
		drb_out_str(o, "COMMIT;\nSET autocommit = 1;\n");
		if (rc < 0)
			goto out;
	}
	rc = add_count(st, table, rows);
out:
	drb_dump_columns_free(&cols);
	/* let DDL on this table go on while the rest is dumped */
	if (rc == 0)
		rc = drb_db_exec(db, "ROLLBACK TO SAVEPOINT drb");
	return rc;
}

static int dump_sequence(drb_db *db, drb_out *o, const char *qdb, const char *name)
{
	char qn[300], sql[800], next[64] = "";
	show s;
	int rc;
	drb_db_ident(name, qn, sizeof qn);
	snprintf(sql, sizeof sql, "%s.%s", qdb, qn);
	if ((rc = show_create(db, "SEQUENCE", sql, &s)) < 0)
		return rc;
	drb_out_fmt(o, "\n--\n-- Sequence %s\n--\nDROP SEQUENCE IF EXISTS %s;\n%s;\n", qn, qn,
		s.n > 1 && s.text[1] ? s.text[1] : "");
	show_free(&s);
	snprintf(sql, sizeof sql, "SELECT next_not_cached_value FROM %s.%s", qdb, qn);
	if ((rc = drb_db_value(db, sql, next, sizeof next)) < 0)
		return rc;
	drb_out_fmt(o, "DO SETVAL(%s, %s, 0);\n", qn, next);
	return drb_db_exec(db, "ROLLBACK TO SAVEPOINT drb");
}

/* Views reference each other: every view first becomes a stub table, then the real views. */
static int dump_views(drb_db *db, drb_out *o, const char *qdb, const objects *objs)
{
	int rc = 0;
	bool any = false;
	for (size_t i = 0; i < objs->n && rc == 0; i++) {
		if (strcmp(objs->v[i].type, "VIEW") != 0)
			continue;
		char qn[300], sql[1200];
		objects cols = {0};
		drb_db_ident(objs->v[i].name, qn, sizeof qn);
		snprintf(sql, sizeof sql, "SHOW COLUMNS FROM %s.%s", qdb, qn);
		rc = drb_db_rows(db, sql, add_object, &cols);
		if (rc == 0) {
			if (!any)
				drb_out_str(o, "\n--\n-- Stand-ins for views, replaced below\n--\n");
			any = true;
			drb_out_fmt(o, "DROP TABLE IF EXISTS %s;\nDROP VIEW IF EXISTS %s;\nCREATE TABLE %s (",
				qn, qn, qn);
			for (size_t c = 0; c < cols.n; c++) {
				char qc[300];
				drb_db_ident(cols.v[c].name, qc, sizeof qc);
				drb_out_fmt(o, "%s%s tinyint", c ? ", " : "", qc);
			}
			drb_out_str(o, ");\n");
		}
		objects_free(&cols);
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
		drb_out_fmt(o, "\n--\n-- View %s\n--\nDROP TABLE IF EXISTS %s;\nDROP VIEW IF EXISTS %s;\n",
			qn, qn, qn);
		if (s.n > 3 && s.text[2] && s.text[3])
			drb_out_fmt(o, "SET character_set_client = %s, collation_connection = %s;\n",
				s.text[2], s.text[3]);
		drb_out_fmt(o, "%s;\nSET NAMES utf8mb4;\n", s.n > 1 && s.text[1] ? s.text[1] : "");
		show_free(&s);
	}
	return rc;
}

/* Triggers, routines, events: each with the sql_mode and character set it was created under. */
static void put_compound(drb_out *o, const char *sql_mode, const char *cs, const char *coll,
			 const char *tz, const char *body)
{
	drb_out_fmt(o, "SET SESSION sql_mode = '%s';\n", sql_mode ? sql_mode : "");
	if (cs && coll)
		drb_out_fmt(o, "SET character_set_client = %s, collation_connection = %s;\n", cs, coll);
	if (tz)
		drb_out_fmt(o, "SET time_zone = '%s';\n", tz);
	drb_out_fmt(o, "DELIMITER ;;\n%s ;;\nDELIMITER ;\n", body ? body : "");
	drb_out_str(o, "SET NAMES utf8mb4;\nSET time_zone = '+00:00';\nSET SESSION sql_mode = "
		   "'NO_AUTO_VALUE_ON_ZERO';\n");
}

static int dump_triggers(drb_db *db, drb_out *o, const char *qdb)
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
			drb_out_str(o, "\n--\n-- Triggers\n--\n");
		drb_out_fmt(o, "DROP TRIGGER IF EXISTS %s;\n", qn);
		put_compound(o, s.text[1], s.n > 3 ? s.text[3] : NULL, s.n > 4 ? s.text[4] : NULL,
			     NULL, s.text[2]);
		show_free(&s);
	}
	objects_free(&trig);
	return rc;
}

static int dump_routines(drb_db *db, drb_out *o, const char *dbname, const char *qdb)
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
			drb_out_str(o, "\n--\n-- Routines\n--\n");
		drb_out_fmt(o, "DROP %s IF EXISTS %s;\n", r.v[i].type, qn);
		put_compound(o, s.text[1], s.n > 3 ? s.text[3] : NULL, s.n > 4 ? s.text[4] : NULL,
			     NULL, s.text[2]);
		show_free(&s);
	}
	objects_free(&r);
	return rc;
}

static int dump_events(drb_db *db, drb_out *o, const char *qdb)
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
			drb_out_str(o, "\n--\n-- Events\n--\n");
		drb_out_fmt(o, "DROP EVENT IF EXISTS %s;\n", qn);
		put_compound(o, s.text[1], s.n > 4 ? s.text[4] : NULL, s.n > 5 ? s.text[5] : NULL,
			     s.text[2], s.text[3]);
		show_free(&s);
	}
	objects_free(&ev);
	return rc;
}

int drb_dump_database(drb_db *db, const char *dbname, drb_sink *sink, drb_dump_stats *st)
{
	drb_out o;
	objects objs = {0};
	char qdb[300], sql[800];
	show s;
	int rc;
	memset(st, 0, sizeof *st);
	if ((rc = drb_db_ident(dbname, qdb, sizeof qdb)) < 0)
		return rc;
	if ((rc = drb_out_init(&o, sink)) < 0)
		return rc;
	if ((rc = show_create(db, "DATABASE", qdb, &s)) < 0)
		goto out;
	/* CREATE DATABASE IF NOT EXISTS: restore decides what happens to a database that exists */
	const char *create = s.n > 1 && s.text[1] ? s.text[1] : "";
	if (strncmp(create, "CREATE DATABASE ", 16) == 0)
		create += 16;
	drb_out_fmt(&o,
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
		drb_out_str(&o, "\nSET foreign_key_checks = 1;\nSET unique_checks = 1;\n-- end of dump\n");
		rc = drb_out_flush(&o);
	}
	if (rc == 0 && o.rc < 0)
		rc = o.rc;
	st->bytes = o.total;
out:
	if (rc < 0)
		drb_error_wrap(0, "dumping database %s", dbname);
	objects_free(&objs);
	drb_out_free(&o);
	return rc;
}

void drb_dump_stats_free(drb_dump_stats *s)
{
	for (size_t i = 0; i < s->n_tables; i++)
		free(s->tables[i].name);
	free(s->tables);
	memset(s, 0, sizeof *s);
}
