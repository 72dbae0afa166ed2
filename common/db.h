/* Talking to MariaDB: connections through Connector/C for queries, and option files for the
 * server's own client tools. A password is read from its 0600 file into guarded memory and
 * reaches a child process only through an in-memory option file: never a command line. */
#ifndef DRB_DB_H
#define DRB_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "common/conf.h"

typedef struct drb_db_target {
	const char *socket;
	const char *host;
	int port;
	const char *user; /* NULL: the OS user (socket authentication) */
	const char *password_file;
	const char *ssl_ca; /* TCP: TLS, the server's certificate and host name checked against it */
	bool tls_off;       /* plaintext TCP to a host that is not loopback, as configured */
} drb_db_target;

typedef struct drb_db drb_db;

/* The target the configuration's database section describes. */
drb_db_target drb_db_target_from_config(const drb_config *c);
/* "socket /run/mysqld/mysqld.sock" or "127.0.0.1:3306", for messages. */
void drb_db_target_describe(const drb_db_target *t, char *buf, size_t len);

/* TCP to a host that is not loopback needs ssl_ca (or tls_off): checked before any traffic. */
int drb_db_target_check(const drb_db_target *t);

int drb_db_connect(const drb_db_target *t, drb_db **out);
void drb_db_close(drb_db *db);
void *drb_db_handle(drb_db *db); /* the MYSQL * */
unsigned drb_db_errno(drb_db *db);

int drb_db_exec(drb_db *db, const char *sql);
/* First column of the first row into buf; DRB_ERR_NOT_FOUND when there is no row, "" for NULL. */
int drb_db_value(drb_db *db, const char *sql, char *buf, size_t len);
/* Call fn for each row; fn returns non-zero to stop (that value is returned). */
typedef int (*drb_db_row_fn)(void *ud, char **row, unsigned long *lengths, unsigned ncols);
int drb_db_rows(drb_db *db, const char *sql, drb_db_row_fn fn, void *ud);
/* Quote an identifier with backticks into buf. */
int drb_db_ident(const char *name, char *buf, size_t len);
/* A string as a SQL literal body (no surrounding quotes), escaped for db's connection (its
 * character set and sql_mode), for the names compared in information_schema queries. */
int drb_db_literal(drb_db *db, const char *s, char *buf, size_t len);

/* An option file ([client] user, password, socket or host/port) in memory, for the client tools:
 * pass "--defaults-file=/dev/fd/N" with the returned fd kept open in the child. */
int drb_db_option_file(const drb_db_target *t, int *fd_out);

/* The path of a client tool ("mariadb-dump"): bin_dir/name when set, else found in PATH. */
int drb_db_tool(const drb_config *c, const char *name, char *buf, size_t len);

/* mysql, information_schema, performance_schema, sys (in any case): never restored, never
 * named by what a backup asks a restore to run. */
bool drb_db_is_system(const char *name);

/* The databases that are not system schemas, sorted. */
int drb_db_user_databases(drb_db *db, char ***names, size_t *n);
void drb_strv_free(char **v, size_t n);

#endif
