/* The logical dumper through Connector/C, used by `full` and by the practice export. Several
 * sessions open one shared consistent snapshot (BACKUP STAGE BLOCK_COMMIT held only while they
 * open it: commits wait a moment, reads never); the snapshot's binlog coordinate is read in every
 * session and must be the same in all of them. Rows are read by one reader (common/dump.c) and
 * written by two writers: SQL that the mariadb client loads (dump_sql.c), CSV (dump_csv.c). */
#ifndef DRB_COMMON_DUMP_H
#define DRB_COMMON_DUMP_H

#include <stdint.h>

#include "common/db.h"
#include "common/sink.h"

typedef struct drb_coord {
	char file[256]; /* binlog file of the snapshot */
	uint64_t pos;   /* byte offset in it */
	char gtid[1024]; /* gtid_binlog_pos at the snapshot (may be empty on a fresh server) */
} drb_coord;

typedef struct drb_snapshot {
	drb_db **sessions; /* one per job, each inside the snapshot */
	int n;
	drb_coord coord;
	int64_t taken;         /* UTC seconds */
	uint64_t block_micros; /* how long commits were held */
	char server_version[128];
	long server_id;
} drb_snapshot;

/* Open n sessions on one snapshot. Fails (DRB_ERR_DATABASE) when the sessions do not agree on
 * the binlog coordinate: an inconsistent set is never dumped. */
int drb_snapshot_open(const drb_db_target *t, int n, drb_snapshot **out);
void drb_snapshot_close(drb_snapshot *s);

/* One dump session on a server nobody else writes to (the export's scratch server): the same
 * session settings and transaction, without binlog coordinates. Close with drb_db_close. */
int drb_dump_session_open(const drb_db_target *t, drb_db **out);

typedef struct drb_table_count {
	char *name;
	uint64_t rows;
} drb_table_count;

typedef struct drb_dump_stats {
	drb_table_count *tables;
	size_t n_tables;
	uint64_t rows;
	uint64_t bytes; /* SQL text produced */
	int non_innodb; /* tables the snapshot cannot make consistent */
} drb_dump_stats;

/* ---- the row reader ---- */

typedef enum drb_col_kind {
	DRB_COL_NUMBER, /* written as it is */
	DRB_COL_TEXT,   /* UTF-8 text (the session's character set is utf8mb4) */
	DRB_COL_BINARY, /* bytes: BLOB, BINARY, BIT, or text in the binary character set */
} drb_col_kind;

/* The columns a dump stores, in table order: generated columns are left out (computed again on
 * load), invisible ones named. kinds is filled by drb_dump_rows before the first row. */
typedef struct drb_dump_cols {
	char **names;
	drb_col_kind *kinds;
	size_t n;
} drb_dump_cols;

int drb_dump_columns(drb_db *db, const char *dbname, const char *table, drb_dump_cols *out);
void drb_dump_columns_free(drb_dump_cols *c);

/* Called per row: values[i] is NULL for SQL NULL, lens[i] its length. Non-zero stops the read
 * (a negative drb_err is returned by drb_dump_rows as it is). */
typedef int (*drb_dump_row_fn)(void *ud, char **values, const unsigned long *lens);

/* Stream every row of dbname.table (the columns of cols) through fn, without holding the result
 * in memory. *rows gets the number of rows passed to fn. Stops on a signal (DRB_ERR_CANCELLED). */
int drb_dump_rows(drb_db *db, const char *dbname, const char *table, drb_dump_cols *cols,
		  drb_dump_row_fn fn, void *ud, uint64_t *rows);

/* The base tables of dbname, in the server's order (freed with drb_dump_names_free). */
int drb_dump_base_tables(drb_db *db, const char *dbname, char ***names, size_t *n);
void drb_dump_names_free(char **names, size_t n);

/* ---- the writers ---- */

/* Write database db as SQL into out (not finished) through a session of the snapshot. */
int drb_dump_database(drb_db *session, const char *db, drb_sink *out, drb_dump_stats *stats);
void drb_dump_stats_free(drb_dump_stats *s);

/* Write dbname.table as CSV (RFC 4180, CRLF, a header row of column names): every value is
 * quoted except SQL NULL, which is an empty unquoted field, so NULL and '' differ (the
 * PostgreSQL COPY convention); binary columns are base64 (standard alphabet, padded). *rows gets
 * the row count; *binary (optional) a malloc'd array of n_binary binary column names. */
int drb_dump_csv(drb_db *session, const char *dbname, const char *table, drb_sink *out,
		 uint64_t *rows, uint64_t *bytes, char ***binary, size_t *n_binary);

#endif
