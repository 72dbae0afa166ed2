#include "config.h"
#include "common/db.h"
#include "common/error.h"
#include "common/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct drb_db {
	MYSQL *m;
	char where[300];
};

drb_db_target drb_db_target_from_config(const drb_config *c)
{
	drb_db_target t = {
		.socket = c->db.socket,
		.host = c->db.host,
		.port = (int)c->db.port,
		.user = c->db.user,
		.password_file = c->db.password_file,
		.ssl_ca = c->db.ssl_ca,
		.tls_off = c->db.tls_off,
	};
	if (!t.socket && !t.host)
		t.socket = "/run/mysqld/mysqld.sock";
	return t;
}

void drb_db_target_describe(const drb_db_target *t, char *buf, size_t len)
{
	if (t->socket && !t->host)
		snprintf(buf, len, "the server at socket %s", t->socket);
	else
		snprintf(buf, len, "the server at %s:%d", t->host ? t->host : "localhost", t->port);
}

static bool over_tcp(const drb_db_target *t)
{
	return t->host && !t->socket;
}

int drb_db_target_check(const drb_db_target *t)
{
	char where[300];
	if (!over_tcp(t) || t->ssl_ca || t->tls_off || drb_loopback_host(t->host))
		return 0;
	drb_db_target_describe(t, where, sizeof where);
	return drb_error(DRB_ERR_REFUSED,
			 "%s is not loopback: connecting needs TLS with a CA file to verify it "
			 "(--target-ssl-ca, database { ssl_ca }); nothing was sent",
			 where);
}

int drb_db_connect(const drb_db_target *t, drb_db **out)
{
	char *password = NULL;
	int rc = drb_db_target_check(t);
	if (rc < 0)
		return rc;
	drb_db *db = calloc(1, sizeof *db);
	if (!db)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	drb_db_target_describe(t, db->where, sizeof db->where);
	if (t->password_file && (rc = drb_secret_read(t->password_file, &password, NULL)) < 0) {
		drb_error_wrap(DRB_ERR_CONFIG, "database password");
		goto fail;
	}
	db->m = mysql_init(NULL);
	if (!db->m) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto fail;
	}
	unsigned timeout = 10;
	mysql_optionsv(db->m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_optionsv(db->m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (over_tcp(t)) {
		unsigned proto = MYSQL_PROTOCOL_TCP;
		mysql_optionsv(db->m, MYSQL_OPT_PROTOCOL, &proto);
	}
	if (over_tcp(t) && t->ssl_ca) {
		/* the server's certificate chains to this CA and names the host we asked for */
		my_bool verify = 1;
		mysql_optionsv(db->m, MYSQL_OPT_SSL_CA, t->ssl_ca);
		mysql_optionsv(db->m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
		mysql_optionsv(db->m, MYSQL_OPT_SSL_ENFORCE, &verify);
	}
	/* no user: Connector/C uses the login name, as the mariadb client does */
	const char *user = t->user;
	if (!mysql_real_connect(db->m, t->host && !t->socket ? t->host : NULL, user, password, NULL,
				(unsigned)t->port, t->host && !t->socket ? NULL : t->socket, 0)) {
		rc = drb_error(DRB_ERR_DATABASE, "cannot connect to %s as %s: %s", db->where,
			       user ? user : "the OS user", mysql_error(db->m));
		goto fail;
	}
	drb_secret_free(password);
	*out = db;
	return 0;
fail:
	drb_secret_free(password);
	drb_db_close(db);
	return rc;
}

void drb_db_close(drb_db *db)
{
	if (!db)
		return;
	if (db->m)
		mysql_close(db->m);
	free(db);
}

void *drb_db_handle(drb_db *db)
{
	return db->m;
}

unsigned drb_db_errno(drb_db *db)
{
	return mysql_errno(db->m);
}

static int query_failed(drb_db *db, const char *sql)
{
	return drb_error(DRB_ERR_DATABASE, "%s: %.200s: %s (error %u)", db->where, sql,
			 mysql_error(db->m), mysql_errno(db->m));
}

int drb_db_exec(drb_db *db, const char *sql)
{
	if (mysql_query(db->m, sql) != 0)
		return query_failed(db, sql);
	/* drain any result so the connection stays usable */
	do {
		MYSQL_RES *r = mysql_store_result(db->m);
		if (r)
			mysql_free_result(r);
	} while (mysql_next_result(db->m) == 0);
	return 0;
}

int drb_db_rows(drb_db *db, const char *sql, drb_db_row_fn fn, void *ud)
{
	if (mysql_query(db->m, sql) != 0)
		return query_failed(db, sql);
	MYSQL_RES *r = mysql_store_result(db->m);
	if (!r) {
		if (mysql_field_count(db->m) == 0)
			return 0;
		return query_failed(db, sql);
	}
	unsigned n = mysql_num_fields(r);
	MYSQL_ROW row;
	int rc = 0;
	while (rc == 0 && (row = mysql_fetch_row(r)))
		rc = fn(ud, row, mysql_fetch_lengths(r), n);
	mysql_free_result(r);
	return rc;
}

typedef struct first {
	char *buf;
	size_t len;
	bool got;
} first;

static int take_first(void *ud, char **row, unsigned long *lengths, unsigned ncols)
{
	first *f = ud;
	(void)lengths;
	if (ncols > 0)
		snprintf(f->buf, f->len, "%s", row[0] ? row[0] : "");
	f->got = true;
	return 1;
}

int drb_db_value(drb_db *db, const char *sql, char *buf, size_t len)
{
	first f = {buf, len, false};
	int rc = drb_db_rows(db, sql, take_first, &f);
	if (rc < 0)
		return rc;
	if (!f.got) {
		buf[0] = 0;
		return DRB_ERR_NOT_FOUND;
	}
	return 0;
}

int drb_db_ident(const char *name, char *buf, size_t len)
{
	size_t o = 0;
	if (len < 3)
		return drb_error(DRB_ERR_USAGE, "identifier too long");
	buf[o++] = '`';
	for (const char *p = name; *p; p++) {
		if (o + 3 >= len)
			return drb_error(DRB_ERR_USAGE, "identifier too long: %.64s", name);
		if (*p == '`')
			buf[o++] = '`';
		buf[o++] = *p;
	}
	buf[o++] = '`';
	buf[o] = 0;
	return 0;
}

int drb_db_literal(drb_db *db, const char *s, char *buf, size_t len)
{
	size_t n = strlen(s);
	if (2 * n + 1 > len)
		return drb_error(DRB_ERR_USAGE, "name too long: %.64s", s);
	/* mysql_real_escape_string knows the connection's sql_mode: with NO_BACKSLASH_ESCAPES a
	 * backslash would not escape anything */
	mysql_real_escape_string(db->m, buf, s, (unsigned long)n);
	return 0;
}

/* Option-file values: quote and escape what the client's parser would otherwise cut. */
static void opt_line(FILE *f, const char *key, const char *value)
{
	fprintf(f, "%s=\"", key);
	for (const char *p = value; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		fputc(*p, f);
	}
	fputs("\"\n", f);
}

int drb_db_option_file(const drb_db_target *t, int *fd_out)
{
	char *password = NULL;
	int rc = drb_db_target_check(t);
	if (rc < 0)
		return rc;
	int fd = memfd_create("drbackup-client.cnf", MFD_CLOEXEC);
	if (fd < 0)
		return drb_error_errno(DRB_ERR_IO, errno, "creating an in-memory option file");
	fchmod(fd, 0600); /* the client ignores an option file others could write */
	FILE *f = fdopen(dup(fd), "w");
	if (!f) {
		close(fd);
		return drb_error_errno(DRB_ERR_IO, errno, "creating an in-memory option file");
	}
	fputs("[client]\n", f);
	if (t->user)
		opt_line(f, "user", t->user);
	if (t->password_file) {
		if ((rc = drb_secret_read(t->password_file, &password, NULL)) < 0) {
			drb_error_wrap(DRB_ERR_CONFIG, "database password");
			goto out;
		}
		opt_line(f, "password", password);
	}
	if (over_tcp(t)) {
		opt_line(f, "host", t->host);
		fprintf(f, "port=%d\nprotocol=TCP\n", t->port);
		if (t->ssl_ca) {
			opt_line(f, "ssl-ca", t->ssl_ca);
			fputs("ssl-verify-server-cert\n", f);
		}
	} else if (t->socket) {
		opt_line(f, "socket", t->socket);
	}
out:
	drb_secret_free(password);
	if (fclose(f) != 0 && rc == 0)
		rc = drb_error_errno(DRB_ERR_IO, errno, "writing an in-memory option file");
	if (rc < 0) {
		close(fd);
		return rc;
	}
	lseek(fd, 0, SEEK_SET);
	*fd_out = fd;
	return 0;
}

int drb_db_tool(const drb_config *c, const char *name, char *buf, size_t len)
{
	if (c && c->db.bin_dir) {
		snprintf(buf, len, "%s/%s", c->db.bin_dir, name);
		if (access(buf, X_OK) == 0)
			return 0;
		return drb_error(DRB_ERR_NOT_FOUND, "%s is not an executable (database { bin_dir })",
				 buf);
	}
	const char *path = getenv("PATH");
	char dirs[4096];
	snprintf(dirs, sizeof dirs, "%s:/usr/bin:/usr/sbin:/usr/local/bin", path ? path : "");
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(buf, len, "%s/%s", d, name);
		if (access(buf, X_OK) == 0)
			return 0;
	}
	return drb_error(DRB_ERR_NOT_FOUND,
			 "%s is not installed (Debian: apt-get install mariadb-client)", name);
}

bool drb_db_is_system(const char *name)
{
	static const char *const system[] = {"mysql", "information_schema", "performance_schema",
					     "sys", NULL};
	for (int i = 0; system[i]; i++)
		if (strcasecmp(name, system[i]) == 0)
			return true;
	return false;
}

typedef struct names {
	char **v;
	size_t n;
} names;

static int add_name(void *ud, char **row, unsigned long *lengths, unsigned ncols)
{
	names *s = ud;
	(void)lengths, (void)ncols;
	char **v = realloc(s->v, (s->n + 1) * sizeof *v);
	if (!v)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	s->v = v;
	if (!(s->v[s->n] = strdup(row[0])))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	s->n++;
	return 0;
}

int drb_db_user_databases(drb_db *db, char ***out, size_t *n)
{
	names s = {0};
	int rc = drb_db_rows(db,
			     "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME "
			     "NOT IN ('mysql','information_schema','performance_schema','sys') "
			     "ORDER BY SCHEMA_NAME",
			     add_name, &s);
	if (rc < 0) {
		drb_strv_free(s.v, s.n);
		return rc;
	}
	*out = s.v;
	*n = s.n;
	return 0;
}

void drb_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}
