/* drbackup check: everything a backup needs, checked before the night it is needed. Each
 * problem is reported with its fix; the exit status is 1 when any check fails. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <mysql.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "common/db.h"
#include "common/error.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/repo.h"

typedef enum { OK, WARN, FAIL } verdict;

typedef struct report {
	json_t *items;
	int failures, warnings;
	bool json;
} report;

static void note(report *r, verdict v, const char *what, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void note(report *r, verdict v, const char *what, const char *fix, const char *fmt, ...)
{
	char msg[1500];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	static const char *const names[] = {"ok", "warning", "fail"};
	if (v == FAIL)
		r->failures++;
	if (v == WARN)
		r->warnings++;
	json_array_append_new(r->items, json_pack("{s:s, s:s, s:s, s:s?}", "check", what, "status",
						  names[v], "message", msg, "fix", fix));
	if (r->json)
		return;
	if (v == OK)
		printf("ok    %-12s %s\n", what, msg);
	else
		printf("%-5s %-12s %s\n      %12s fix: %s\n", v == FAIL ? "FAIL" : "WARN", what, msg, "",
		       fix ? fix : "-");
}

static void error_note(report *r, verdict v, const char *what, const char *fix)
{
	char line[DRB_ERROR_LINE];
	drb_error_line(line, sizeof line);
	note(r, v, what, fix, "%s", line);
	drb_error_clear();
}

static void check_keys(report *r, const drb_config *c)
{
	if (c->enc.n_public_keys == 0)
		note(r, FAIL, "keys",
		     "run 'drbackup keygen --out /etc/drbackup/dr' on a restore host, copy dr.pub here "
		     "and set encryption { public_keys = {\"/etc/drbackup/dr.pub\"} }",
		     "no public key is configured: nothing could be sealed");
	for (size_t i = 0; i < c->enc.n_public_keys; i++) {
		drb_pubkey pk;
		char id[17];
		if (drb_pubkey_load(c->enc.public_keys[i], &pk) < 0) {
			error_note(r, FAIL, "keys", "point public_keys at a file written by drbackup keygen");
			continue;
		}
		drb_key_id_hex(pk.id, id);
		note(r, OK, "keys", NULL, "public key %s (id %s)", c->enc.public_keys[i], id);
	}
	for (size_t i = 0; i < c->enc.n_secret_keys; i++) {
		drb_seckey *sk;
		char id[17];
		if (drb_seckey_load(c->enc.secret_keys[i], &sk) < 0) {
			error_note(r, FAIL, "keys", "chmod 600 the key file, or fix secret_keys");
			continue;
		}
		drb_key_id_hex(sk->id, id);
		note(r, OK, "keys", NULL, "secret key %s (id %s): this host can restore",
		     c->enc.secret_keys[i], id);
		drb_seckey_free(sk);
	}
	/* the write key: without it, restore hosts cannot tell this host's backups from forged ones */
	if (!c->signing.key) {
		note(r, WARN, "signing",
		     "drbackup keygen --sign --out /etc/drbackup/HOST.sign, set signing { key = "
		     "\"/etc/drbackup/HOST.sign.key\" }, and pin HOST.sign.pub on restore hosts",
		     "no signing key: this host's metadata is unsigned, and restore hosts accept it "
		     "only with --allow-unsigned");
	} else {
		drb_signsec *k;
		char id[17];
		if (drb_signsec_load(c->signing.key, &k) < 0) {
			error_note(r, FAIL, "signing", "chmod 600 the key file, or fix signing { key }");
		} else {
			drb_key_id_hex(k->id, id);
			note(r, OK, "signing", NULL, "signing key %s (id %s): restore hosts pin its .pub "
						     "for host %s",
			     c->signing.key, id, c->host_id);
			drb_signsec_free(k);
		}
	}
	for (size_t i = 0; i < c->n_trust; i++)
		note(r, OK, "trust", NULL, "host %s: %zu signing key%s pinned", c->trust[i].host_id,
		     c->trust[i].n_signing_keys, c->trust[i].n_signing_keys == 1 ? "" : "s");
}

static void check_spool(report *r, const drb_config *c)
{
	char probe[PATH_MAX];
	if (mkdir(c->spool_dir, 0700) < 0 && errno != EEXIST) {
		note(r, FAIL, "spool", "create it (mode 0700) or set spool_dir", "spool_dir %s: %s",
		     c->spool_dir, strerror(errno));
		return;
	}
	snprintf(probe, sizeof probe, "%s/.check-%u", c->spool_dir, randombytes_random());
	FILE *f = fopen(probe, "wx");
	if (!f) {
		note(r, FAIL, "spool", "make it writable by the user drbackup runs as",
		     "spool_dir %s is not writable: %s", c->spool_dir, strerror(errno));
		return;
	}
	fclose(f);
	unlink(probe);
	note(r, OK, "spool", NULL, "spool_dir %s is writable", c->spool_dir);
}

typedef struct privs {
	char have[2048];
} privs;

static int add_priv(void *ud, char **row, unsigned long *len, unsigned n)
{
	privs *p = ud;
	(void)len, (void)n;
	snprintf(p->have + strlen(p->have), sizeof p->have - strlen(p->have), "|%s|", row[0]);
	return 0;
}

/* What the dumper, the rotation and (with purge_after_ship) the purge need. */
static void check_privileges(report *r, drb_db *db, const drb_config *c)
{
	static const char *const base[] = {"SELECT", "SHOW VIEW", "TRIGGER", "EVENT", "RELOAD", NULL};
	static const char *const purging[] = {"SELECT", "SHOW VIEW", "TRIGGER", "EVENT", "RELOAD",
					      "BINLOG ADMIN", NULL};
	const char *const *need = c->binlog.purge_after_ship ? purging : base;
	privs p = {""};
	char missing[512] = "", user[200] = "";
	drb_db_value(db, "SELECT CURRENT_USER()", user, sizeof user);
	int rc = drb_db_rows(db,
			     "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE "
			     "GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', "
			     "SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')",
			     add_priv, &p);
	if (rc < 0) {
		error_note(r, FAIL, "privileges", "check the account");
		return;
	}
	for (int i = 0; need[i]; i++) {
		char key[64];
		snprintf(key, sizeof key, "|%s|", need[i]);
		if (!strstr(p.have, key))
			snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",
				 missing[0] ? ", " : "", need[i]);
	}
	if (missing[0]) {
		char fix[900];
		snprintf(fix, sizeof fix, "GRANT %s ON *.* TO %s;", missing, user);
		note(r, FAIL, "privileges", fix, "%s lacks %s", user, missing);
	} else {
		note(r, OK, "privileges", NULL, "%s has every privilege a backup needs", user);
	}
}

static void check_variables(report *r, drb_db *db, const drb_config *c)
{
	char v[256];
	if (drb_db_value(db, "SELECT @@log_bin", v, sizeof v) == 0 && strcmp(v, "1") != 0)
		note(r, FAIL, "binlog",
		     "set log_bin = mysql-bin and server_id = 1 in [mariadbd] and restart the server",
		     "the binary log is off: no point-in-time recovery is possible");
	else
		note(r, OK, "binlog", NULL, "the binary log is on");
	if (drb_db_value(db, "SELECT @@binlog_format", v, sizeof v) == 0 && strcmp(v, "ROW") != 0)
		note(r, FAIL, "binlog", "set binlog_format = ROW in [mariadbd] (SET GLOBAL binlog_format = 'ROW' until the restart)",
		     "binlog_format is %s: replay of a %s log can differ from what happened", v, v);
	else
		note(r, OK, "binlog", NULL, "binlog_format is ROW");
	if (drb_db_value(db, "SELECT @@binlog_row_image", v, sizeof v) == 0 && strcmp(v, "FULL") != 0)
		note(r, WARN, "binlog", "set binlog_row_image = FULL", "binlog_row_image is %s", v);
	if (drb_db_value(db, "SELECT @@server_id", v, sizeof v) == 0 && strcmp(v, "0") == 0)
		note(r, FAIL, "binlog", "set server_id to a number unique among your servers",
		     "server_id is 0");
	if (drb_db_value(db, "SELECT @@sync_binlog", v, sizeof v) == 0 && strcmp(v, "1") != 0)
		note(r, WARN, "durability", "set sync_binlog = 1",
		     "sync_binlog is %s: a crash can lose committed transactions from the binary log", v);
	if (drb_db_value(db, "SELECT @@innodb_flush_log_at_trx_commit", v, sizeof v) == 0 &&
	    strcmp(v, "1") != 0)
		note(r, WARN, "durability", "set innodb_flush_log_at_trx_commit = 1",
		     "innodb_flush_log_at_trx_commit is %s: a crash can lose committed transactions", v);
	/* automatic expiry: must outlast the longest shipping outage, and is pointless when we purge */
	if (drb_db_value(db, "SELECT @@binlog_expire_logs_seconds", v, sizeof v) == 0) {
		long secs = atol(v);
		long need = c->binlog.max_outage_days * 86400;
		if (secs > 0 && c->binlog.purge_after_ship)
			note(r, WARN, "binlog", "set binlog_expire_logs_seconds = 0 (expire_logs_days = 0)",
			     "the server expires binary logs after %ld s while drbackup also purges "
			     "shipped ones: a long outage can lose unshipped logs",
			     secs);
		else if (secs > 0 && secs < need)
			note(r, WARN, "binlog",
			     "raise binlog_expire_logs_seconds, or lower binlog { max_outage_days }",
			     "the server expires binary logs after %.1f days, less than the %ld days of "
			     "shipping outage drbackup is set to survive",
			     secs / 86400.0, c->binlog.max_outage_days);
		else
			note(r, OK, "binlog", NULL, "binary log expiry: %s",
			     secs ? "longer than the tolerated outage" : "off");
	}
}

static void check_engines(report *r, drb_db *db)
{
	char v[1024];
	int rc = drb_db_value(
		db,
		"SELECT GROUP_CONCAT(CONCAT(TABLE_SCHEMA, '.', TABLE_NAME, ' (', ENGINE, ')') "
		"SEPARATOR ', ') FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND "
		"ENGINE NOT IN ('InnoDB', 'SEQUENCE') AND TABLE_SCHEMA NOT IN ('mysql', "
		"'information_schema', 'performance_schema', 'sys')",
		v, sizeof v);
	if (rc == 0 && v[0])
		note(r, WARN, "engines", "ALTER TABLE ... ENGINE = InnoDB",
		     "not InnoDB, so not consistent in a snapshot: %s", v);
	else if (rc == 0)
		note(r, OK, "engines", NULL, "every table is InnoDB");
}

static void check_binlog_files(report *r, drb_db *db, const drb_config *c)
{
	char base[PATH_MAX], dir[PATH_MAX];
	if (c->db.binlog_dir) {
		snprintf(dir, sizeof dir, "%s", c->db.binlog_dir);
	} else {
		if (drb_db_value(db, "SELECT @@log_bin_basename", base, sizeof base) != 0 || !base[0])
			return;
		snprintf(dir, sizeof dir, "%s", base);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
	}
	if (access(dir, R_OK | X_OK) != 0)
		note(r, FAIL, "binlog",
		     "run drbackup as root or as a member of the mysql group (adduser drbackup mysql)",
		     "binlog folder %s is not readable: %s", dir, strerror(errno));
	else
		note(r, OK, "binlog", NULL, "binlog folder %s is readable", dir);
}

/* The client tools are needed to restore (load and replay), not to back up. */
static void check_tools(report *r, const drb_config *c)
{
	static const char *const tools[] = {"mariadb", "mariadb-binlog", NULL};
	for (int i = 0; tools[i]; i++) {
		char path[PATH_MAX];
		if (drb_db_tool(c, tools[i], path, sizeof path) < 0)
			error_note(r, c->enc.n_secret_keys ? FAIL : WARN, "tools",
				   "apt-get install mariadb-client (needed to restore on this host), or "
				   "set database { bin_dir }");
		else
			note(r, OK, "tools", NULL, "%s", path);
	}
}

static void check_database(report *r, const drb_config *c)
{
	drb_db_target t = drb_db_target_from_config(c);
	drb_db *db = NULL;
	char where[300], version[128] = "";
	drb_db_target_describe(&t, where, sizeof where);
	if (drb_db_connect(&t, &db) < 0) {
		error_note(r, FAIL, "database",
			   "check database { socket/host, user, password_file } and that the server runs");
		return;
	}
	drb_db_value(db, "SELECT VERSION()", version, sizeof version);
	note(r, OK, "database", NULL, "connected to %s (MariaDB %s)", where, version);
	if (t.host && !t.socket && !t.ssl_ca && !drb_loopback_host(t.host))
		note(r, WARN, "database", "set database { ssl_ca } to the CA of the server's certificate",
		     "tls = \"off\": passwords and patient rows cross the network to %s in the clear",
		     t.host);
	check_privileges(r, db, c);
	check_variables(r, db, c);
	check_binlog_files(r, db, c);
	check_engines(r, db);
	drb_db_close(db);
}

static void check_repo(report *r, const drb_config *c, const drb_repo_config *rc_)
{
	drb_repo *repo = NULL;
	char path[300], *back = NULL;
	size_t back_len = 0;
	uint8_t probe[64];
	char what[64];
	snprintf(what, sizeof what, "repo %s", rc_->name);
	if (drb_repo_open(rc_, &repo) < 0) {
		error_note(r, FAIL, what, "fix the repo section");
		return;
	}
	randombytes_buf(probe, sizeof probe);
	snprintf(path, sizeof path, "%s/check/probe-%08x", c->host_id, randombytes_random());
	if (drb_repo_put_buf(repo, path, probe, sizeof probe, NULL) < 0) {
		error_note(r, FAIL, what,
			   strcmp(rc_->type, "posix") == 0
				   ? "create the folder and make it writable by the user drbackup runs as"
				   : "check endpoint, bucket, credentials and the bucket policy");
		goto out;
	}
	if (drb_repo_get_buf(repo, path, 1024, &back, &back_len) < 0) {
		error_note(r, FAIL, what, "the repository accepts writes but cannot be read back");
	} else if (back_len != sizeof probe || memcmp(back, probe, sizeof probe) != 0) {
		note(r, FAIL, what, "the storage returns other bytes than it was given",
		     "%s: the probe object came back changed", repo->where);
	} else {
		note(r, OK, what, NULL, "%s (%s) is writable and readable", repo->where, rc_->type);
	}
	const char *paths[] = {path};
	if (drb_repo_remove(repo, paths, 1) < 0)
		error_note(r, WARN, what, "allow deletes, or remove the probe object by hand");
out:
	free(back);
	drb_repo_close(repo);
}

int drb_cmd_check(drb_ctx *ctx, int argc, char **argv)
{
	drb_config *c;
	report r = {.items = json_array(), .json = ctx->json};
	int rc;
	(void)argv;
	if (argc > 1) {
		drb_error(DRB_ERR_USAGE, "check takes no arguments (see 'drbackup check --help')");
		json_decref(r.items);
		return DRB_ERR_USAGE;
	}
	if ((rc = drb_ctx_config(ctx, &c)) < 0) {
		json_decref(r.items);
		return rc;
	}
	if (!ctx->json)
		printf("checking %s (host_id %s)\n", c->file, c->host_id);
	note(&r, OK, "config", NULL, "%s is valid", c->file);
	check_keys(&r, c);
	check_spool(&r, c);
	check_tools(&r, c);
	check_database(&r, c);
	if (c->n_repos == 0)
		note(&r, FAIL, "repos", "add a repo section (see drbackup.conf(5))",
		     "no repository is configured");
	for (size_t i = 0; i < c->n_repos; i++)
		if (!ctx->repo_name || strcmp(ctx->repo_name, c->repos[i].name) == 0)
			check_repo(&r, c, &c->repos[i]);
	if (ctx->json) {
		json_t *out = json_pack("{s:s, s:o, s:i, s:i}", "host_id", c->host_id, "checks", r.items,
					"failures", r.failures, "warnings", r.warnings);
		json_dumpf(out, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(out);
	} else {
		json_decref(r.items);
		printf("%d problem%s, %d warning%s\n", r.failures, r.failures == 1 ? "" : "s", r.warnings,
		       r.warnings == 1 ? "" : "s");
	}
	if (r.failures)
		return drb_error(DRB_ERR_FAILED, "check found %d problem%s", r.failures,
				 r.failures == 1 ? "" : "s");
	return 0;
}
