/* The test harness: temporary folders, running the drbackup binary, and real servers (a sandbox
 * mariadbd on a private socket, an S3 server on 127.0.0.1) that are always stopped, even when a
 * test fails or the run is interrupted. */
#ifndef DRBT_HARNESS_H
#define DRBT_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A fresh folder below $TMPDIR, removed by drbt_rmtree. */
char *drbt_tmpdir(const char *tag);
void drbt_rmtree(const char *path);
int drbt_write_file(const char *path, const char *text, int mode);
char *drbt_read_file(const char *path, size_t *len);

/* Run a shell command; captures stdout and stderr (each NUL-terminated, truncated to fit).
 * Returns the exit status, or 128+signal. */
int drbt_sh(char *out, size_t outlen, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* The drbackup binary under test. */
const char *drbt_bin(void);
const char *drbt_srcdir(void);

typedef struct drbt_mariadb {
	char dir[PATH_MAX];
	char datadir[PATH_MAX];
	char socket[PATH_MAX];
	char binlog_base[PATH_MAX];
	pid_t pid;
} drbt_mariadb;

/* Start a sandbox server (binlog on, ROW format, socket only). extra: more server options. */
int drbt_mariadb_start(drbt_mariadb *m, const char *extra);
void drbt_mariadb_stop(drbt_mariadb *m);
/* kill -9, as a crash would */
void drbt_mariadb_kill(drbt_mariadb *m);
/* Start again on the same datadir and socket (after a stop or a kill). */
int drbt_mariadb_restart(drbt_mariadb *m, const char *extra);
/* Run SQL through the mariadb client as root; output (tab-separated, no headers) into out. */
int drbt_sql(drbt_mariadb *m, char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

typedef struct drbt_s3 {
	char dir[PATH_MAX];
	int port;
	pid_t pid;
	char endpoint[64];
} drbt_s3;

/* Start s3rver on 127.0.0.1 with the given buckets (comma-separated). */
int drbt_s3_start(drbt_s3 *s, const char *buckets);
int drbt_s3_restart(drbt_s3 *s, const char *buckets);
void drbt_s3_stop(drbt_s3 *s);
void drbt_s3_kill(drbt_s3 *s);
bool drbt_s3_available(void);

/* cmocka checks shared by the integration tests: an exit status, with both outputs when it is
 * not the one expected; a text that must hold what, with stderr for context. */
void drbt_expect(int got, int want, const char *what, const char *out, const char *err);
void drbt_contains(const char *text, const char *what, const char *err);

/* CHECKSUM TABLE ... EXTENDED of every base table of the databases named practice_* (or only
 * the one named), then their triggers, views and routines: equal texts, equal data. */
void drbt_fingerprint(drbt_mariadb *m, char *buf, size_t len, const char *only);

/* A sealing key pair (dir/dr.pub, dr.key) and a signing one (dir/sign.pub, sign.key); a
 * configuration file in dir signing and trusting for host_id "testhost"; repos is the text of
 * the repo sections. drbt_signing gives the signing { } and trust { } text for another host. */
int drbt_keygen(const char *dir);
const char *drbt_signing(const char *dir, const char *host);
int drbt_write_config(const char *path, const char *dir, const drbt_mariadb *m, const char *repos,
		      const char *extra);

#endif
