/* The restore's fences against a backup forged by a host that can seal (and will sign) what it
 * forges: each forged dump statement is refused before it runs, with the target unchanged in
 * the forbidden respect; definers become the restoring account and events arrive disabled; a
 * manifest naming a system schema is refused before the target is touched; a binlog with a
 * statement-format read of another practice stops the replay before that statement runs, and
 * account statements in it are left out. One source, one target, one posix repository. */
#include "config.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/harness.h"

static char *dir;
static drbt_mariadb src, dst;
static char conf[4300];
static char out[1 << 18], err[1 << 18];
static int forged_n;

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s %s", drbt_bin(), conf, cmd);
	if (getenv("DRBT_VERBOSE"))
		fprintf(stderr, "drbackup %s -> %d\n%s%s", cmd, rc, out, err);
	return rc;
}

#define expect(got, want, what) drbt_expect(got, want, what, out, err)

#define contains(text, what) drbt_contains(text, what, err)

static void sql_value(drbt_mariadb *m, char *buf, size_t len, const char *sql)
{
	buf[0] = 0;
	drbt_sql(m, buf, len, "%s", sql);
	buf[strcspn(buf, "\n")] = 0;
}

/* A "full backup" newer than every real one: the dump text sealed with `repo put` (the public
 * key is all it takes), and a manifest written by hand naming database db. Returns its id. It
 * carries no signature, so planning ignores it unless --allow-unsigned: these tests use that
 * option, as a signed forgery from a compromised host would get there without it. */
static void forge(const char *db, const char *text, char *fid, size_t fid_len)
{
	char id[64], mpath[4300], text_path[4300], obj[4300], sha[128], size[64];
	drbt_sh(id, sizeof id, NULL, 0,
	        "ls %s/r1/testhost/full | grep -v forged | sort | head -1 | "
	        "tr -d '\\n'",
	        dir);
	snprintf(mpath, sizeof mpath, "%s/r1/testhost/full/%s/manifest.json", dir, id);
	json_t *m = json_load_file(mpath, JSON_DISABLE_EOF_CHECK, NULL); /* before its signature */
	assert_non_null(m);
	snprintf(text_path, sizeof text_path, "%s/forged.sql", dir);
	drbt_write_file(text_path, text, 0600);
	time_t soon = time(NULL) + 60 + 10 * forged_n++;
	strftime(fid, fid_len, "%Y%m%dT%H%M%SZ", gmtime(&soon));
	char object[300];
	snprintf(object, sizeof object, "%s.sql.drb", db);
	assert_int_equal(run("repo put testhost/full/%s/%s < %s", fid, object, text_path), 0);
	snprintf(obj, sizeof obj, "%s/r1/testhost/full/%s/%s", dir, fid, object);
	drbt_sh(sha, sizeof sha, NULL, 0, "sha256sum %s | cut -c1-64 | tr -d '\\n'", obj);
	drbt_sh(size, sizeof size, NULL, 0, "stat -c %%s %s | tr -d '\\n'", obj);
	json_object_set_new(m, "backup_id", json_string(fid));
	json_t *dbs = json_array();
	json_array_append_new(
	    dbs, json_pack("{s:s, s:s, s:I, s:I, s:s, s:o, s:I, s:I}", "name", db, "object", object,
	                   "plain_bytes", (json_int_t)strlen(text), "stored_bytes",
	                   (json_int_t)atoll(size), "sha256", sha, "tables", json_object(), "rows",
	                   (json_int_t)0, "millis", (json_int_t)1));
	json_object_set_new(m, "databases", dbs);
	char p[4300];
	snprintf(p, sizeof p, "%s/r1/testhost/full/%s/manifest.json", dir, fid);
	assert_int_equal(json_dump_file(m, p, JSON_SORT_KEYS), 0);
	json_decref(m);
}

static void unforge(const char *fid)
{
	drbt_sh(NULL, 0, NULL, 0, "rm -rf %s/r1/testhost/full/%s", dir, fid);
}

static int restore_a(void)
{
	return run(
	    "restore --to latest --db practice_a --target-socket %s --target-user root --force "
	    "--allow-unsigned",
	    dst.socket);
}

#define HEAD                                                                                       \
	"SET NAMES utf8mb4;\nSET sql_notes = 0;\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ "        \
	"`practice_a`;\nUSE `practice_a`;\n"

/* A forged dump is refused at statement `marker`; what came before it ran, it did not. */
static void refused_dump(const char *text, const char *what)
{
	char fid[64], before[256], after[256];
	forge("practice_a", text, fid, sizeof fid);
	sql_value(&dst, before, sizeof before, "SELECT @@general_log_file");
	expect(restore_a(), 1, what);
	contains(err, "never writes");
	contains(err, "refused");
	sql_value(&dst, after, sizeof after, "SELECT @@general_log_file");
	assert_string_equal(before, after);
	unforge(fid);
}

static void table_absent(const char *table)
{
	char n[64], sql[400];
	snprintf(sql, sizeof sql,
	         "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'practice_a' "
	         "AND TABLE_NAME = '%s'",
	         table);
	sql_value(&dst, n, sizeof n, sql);
	assert_string_equal(n, "0");
}

/* ------------------------------------------------------------------ setup */

static int setup(void **state)
{
	(void)state;
	dir = drbt_tmpdir("fences");
	if (!dir || drbt_keygen(dir) != 0 || drbt_mariadb_start(&src, "--sync-binlog=1") != 0 ||
	    drbt_mariadb_start(&dst, "--event-scheduler=ON") != 0)
		return -1;
	char p[4300], repos[4400];
	snprintf(p, sizeof p, "%s/r1", dir);
	mkdir(p, 0700);
	snprintf(repos, sizeof repos, "repo primary {\n type = \"posix\"\n path = \"%s/r1\"\n}\n",
	         dir);
	snprintf(conf, sizeof conf, "%s/drbackup.conf", dir);
	drbt_write_config(conf, dir, &src, repos, "binlog { segment_seconds = 1 }\n");
	if (drbt_sql(&src, NULL, 0,
	             "CREATE DATABASE practice_a; CREATE TABLE practice_a.t (a int); "
	             "CREATE TABLE practice_a.copy (s text); INSERT INTO practice_a.t VALUES (1); "
	             "CREATE DATABASE practice_b; CREATE TABLE practice_b.secret (s text); "
	             "INSERT INTO practice_b.secret VALUES ('ssn 078-05-1120')") != 0 ||
	    drbt_sql(&dst, NULL, 0,
	             "CREATE DATABASE practice_b; CREATE TABLE practice_b.secret (s text); "
	             "INSERT INTO practice_b.secret VALUES ('ssn 078-05-1120')") != 0)
		return -1;
	if (run("full") != 0 || run("binlog") != 0) {
		fprintf(stderr, "full/binlog: %s%s\n", out, err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	drbt_mariadb_stop(&src);
	drbt_mariadb_stop(&dst);
	if (!getenv("DRBT_KEEP"))
		drbt_rmtree(dir);
	free(dir);
	return 0;
}

/* ------------------------------------------------------------------ dumps */

static void test_real_backup_restores(void **state)
{
	char v[64];
	(void)state;
	expect(restore_a(), 0, "the real backup");
	sql_value(&dst, v, sizeof v, "SELECT COUNT(*) FROM practice_a.t");
	assert_string_equal(v, "1");
}

static void test_executable_comments_are_refused(void **state)
{
	(void)state;
	/* MariaDB runs /+M! ... +/; the old tokenizer read it as a comment */
	refused_dump(HEAD "SET NAMES utf8mb4 /*M!100000 , @@global.general_log_file = "
	                  "'/tmp/drbackup-forged.log'*/;\n",
	             "a /*M! comment");
	/* /+!999999 ' +/ is a comment to 10.11; read as code, its quote would hide what follows */
	refused_dump(HEAD "CREATE TABLE `t1` (a int) /*!999999 ' */;\n"
	                  "SET GLOBAL general_log_file = '/tmp/drbackup-forged.log'; -- ';\n",
	             "a /*! comment the wrong way round");
	table_absent("t1");
}

static void test_backslash_under_no_backslash_escapes(void **state)
{
	char v[64];
	(void)state;
	refused_dump(HEAD "CREATE TABLE `t2` (a text);\n"
	                  "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES';\n"
	                  "INSERT INTO `t2` (`a`) VALUES ('x\\'), ((SELECT `s` FROM "
	                  "`practice_b`.`secret` LIMIT 1)) -- ');\n",
	             "a backslash under NO_BACKSLASH_ESCAPES");
	/* t2 was made, and nothing of the other practice got into it */
	sql_value(&dst, v, sizeof v, "SELECT COUNT(*) FROM practice_a.t2");
	assert_string_equal(v, "0");
}

static void test_insert_select_and_multi_statement(void **state)
{
	char v[64];
	(void)state;
	refused_dump(HEAD "CREATE TABLE `t3` (s text);\n"
	                  "INSERT INTO `t3` (`s`) SELECT `s` FROM `practice_b`.`secret`;\n",
	             "INSERT ... SELECT from another practice");
	sql_value(&dst, v, sizeof v, "SELECT COUNT(*) FROM practice_a.t3");
	assert_string_equal(v, "0");
	/* a second statement the reader's split cannot see, for a server that would run it */
	refused_dump(HEAD "CREATE TABLE `t4` (a int);\nCOMMIT /*!; SET GLOBAL general_log_file = "
	                  "'/tmp/drbackup-forged.log' */;\n",
	             "two statements in one");
	refused_dump(HEAD "CREATE VIEW `leak` AS SELECT `s` FROM `practice_b`.`secret`;\n",
	             "a view of another practice");
	table_absent("leak");
	refused_dump(HEAD "CREATE DEFINER=`root`@`localhost` PROCEDURE `p`() BEGIN GRANT ALL ON "
	                  "*.* TO 'intruder'@'%'; END;\n",
	             "a routine that grants");
	sql_value(&dst, v, sizeof v, "SELECT COUNT(*) FROM mysql.user WHERE User = 'intruder'");
	assert_string_equal(v, "0");
}

/* Definers become the restoring account; events arrive disabled, so none runs as root. */
static void test_definers_and_events(void **state)
{
	char fid[64], v[256];
	(void)state;
	forge("practice_a",
	      HEAD
	      "DROP TABLE IF EXISTS `tick`;\nCREATE TABLE `tick` (n int);\n"
	      "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';\n"
	      "DELIMITER ;;\n"
	      "CREATE DEFINER=`admin`@`%` EVENT `ev` ON SCHEDULE EVERY 1 SECOND ON COMPLETION "
	      "NOT PRESERVE ENABLE DO INSERT INTO tick VALUES (1) ;;\n"
	      "CREATE DEFINER=`admin`@`%` PROCEDURE `p`()\nBEGIN\n  INSERT INTO tick VALUES "
	      "(2);\nEND ;;\n"
	      "CREATE DEFINER=`admin`@`%` TRIGGER `trg` BEFORE INSERT ON `tick` FOR EACH ROW "
	      "SET NEW.n = NEW.n + 10 ;;\n"
	      "DELIMITER ;\n"
	      "CREATE ALGORITHM=UNDEFINED DEFINER=`admin`@`%` SQL SECURITY DEFINER VIEW `vw` AS "
	      "select `n` AS `n` from `tick`;\n",
	      fid, sizeof fid);
	expect(restore_a(), 0, "a dump with other definers");
	sql_value(&dst, v, sizeof v,
	          "SELECT CONCAT(STATUS, ' ', DEFINER) FROM information_schema.EVENTS WHERE "
	          "EVENT_SCHEMA = 'practice_a'");
	assert_string_equal(v, "DISABLED root@localhost");
	sql_value(&dst, v, sizeof v,
	          "SELECT DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = "
	          "'practice_a'");
	assert_string_equal(v, "root@localhost");
	sql_value(&dst, v, sizeof v,
	          "SELECT DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = "
	          "'practice_a'");
	assert_string_equal(v, "root@localhost");
	sql_value(&dst, v, sizeof v,
	          "SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'practice_a'");
	assert_string_equal(v, "root@localhost");
	sleep(2); /* the scheduler is on: a live event would have written by now */
	sql_value(&dst, v, sizeof v, "SELECT COUNT(*) FROM practice_a.tick");
	assert_string_equal(v, "0");
	unforge(fid);
}

/* A manifest naming mysql: refused before the target is touched (--force would drop it). */
static void test_system_schema_manifest(void **state)
{
	char fid[64], before[64], after[64];
	(void)state;
	forge("mysql", "USE `mysql`;\nDELETE FROM global_priv;\n", fid, sizeof fid);
	sql_value(&dst, before, sizeof before, "SELECT COUNT(*) FROM mysql.global_priv");
	expect(run("restore --to latest --target-socket %s --target-user root --force "
		   "--allow-unsigned",
		   dst.socket),
	       1, "a manifest naming mysql");
	contains(err, "system schema mysql");
	sql_value(&dst, after, sizeof after, "SELECT COUNT(*) FROM mysql.global_priv");
	assert_string_equal(before, after);
	assert_true(atoi(after) > 0);
	expect(run("restore --to latest --dry-run --allow-unsigned"), 1, "the plan too");
	unforge(fid);
	expect(run("restore --to latest --db mysql --target-socket %s --target-user root --force",
	           dst.socket),
	       2, "--db mysql");
	contains(err, "system schema");
	expect(run("restore --to latest --db Performance_Schema --dry-run"), 2,
	       "--db performance_schema");
}

/* ------------------------------------------------------------------ transport */

/* A restore over TCP with TLS to a server whose certificate a test CA signed: verified (the
 * account requires SSL, so plaintext could not log in); a wrong CA is refused with one line;
 * a target that is not loopback is refused before anything is sent, as are such a database
 * host and an http:// endpoint in a configuration. */
static void test_tls_target(void **state)
{
	drbt_mariadb tls;
	char opts[8192], v[64], bad[4300], text[8192];
	int port = 30000 + (int)(getpid() % 20000);
	(void)state;
	assert_int_equal(
	    drbt_sh(NULL, 0, err, sizeof err,
	            "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem "
	            "-days 2 -subj /CN=drbt-ca 2>/dev/null && openssl req -newkey rsa:2048 -nodes "
	            "-keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null && printf "
	            "'subjectAltName=IP:127.0.0.1\n' > san.ext && openssl x509 -req -in server.csr "
	            "-CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile "
	            "san.ext 2>/dev/null && openssl req -x509 -newkey rsa:2048 -nodes -keyout "
	            "other.key -out other.pem -days 2 -subj /CN=other-ca 2>/dev/null && chmod 644 "
	            "server.key",
	            dir),
	    0);
	snprintf(opts, sizeof opts,
	         "--skip-networking=0 --bind-address=127.0.0.1 --port=%d --ssl-ca=%s/ca.pem "
	         "--ssl-cert=%s/server.pem --ssl-key=%s/server.key",
	         port, dir, dir, dir);
	assert_int_equal(drbt_mariadb_start(&tls, opts), 0);
	assert_int_equal(drbt_sql(&tls, NULL, 0,
	                          "CREATE USER 'tlsuser'@'%%' REQUIRE SSL; GRANT ALL ON *.* TO "
	                          "'tlsuser'@'%%'"),
	                 0);
	expect(run("restore --to latest --db practice_a --target-host 127.0.0.1 --target-port %d "
	           "--target-user tlsuser --target-ssl-ca %s/ca.pem --force",
	           port, dir),
	       0, "a restore over TLS");
	sql_value(&tls, v, sizeof v, "SELECT COUNT(*) FROM practice_a.t");
	assert_string_equal(v, "1");
	/* a CA that did not sign the server's certificate */
	expect(run("restore --to latest --db practice_a --target-host 127.0.0.1 --target-port %d "
	           "--target-user tlsuser --target-ssl-ca %s/other.pem --force",
	           port, dir),
	       1, "the wrong CA");
	contains(err, "cannot connect");
	int lines = 0;
	for (const char *e = err; (e = strstr(e, "Z error: ")); e++)
		lines++;
	if (lines != 1) {
		print_error("not one line:\n%s\n", err);
		fail();
	}
	drbt_mariadb_stop(&tls);
	/* not loopback: refused before any connection, whatever the rest */
	expect(run("restore --to latest --db practice_a --target-host 10.255.255.1 --target-user x "
	           "--force"),
	       2, "a target that is not loopback");
	contains(err, "not loopback");
	contains(err, "nothing was sent");
	snprintf(bad, sizeof bad, "%s/remote.conf", dir);
	snprintf(text, sizeof text,
	         "spool_dir = \"%s/spool\"\ndatabase {\n host = \"10.255.255.1\"\n}\n"
	         "encryption {\n public_keys = {\"%s/dr.pub\"}\n}\n"
	         "repo primary {\n type = \"posix\"\n path = \"%s/r1\"\n}\n",
	         dir, dir, dir);
	drbt_write_file(bad, text, 0600);
	assert_int_equal(
	    drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s list", drbt_bin(), bad), 2);
	contains(err, "is not loopback");
	snprintf(text, sizeof text,
	         "spool_dir = \"%s/spool\"\nencryption {\n public_keys = {\"%s/dr.pub\"}\n}\n"
	         "repo far {\n type = \"s3\"\n endpoint = \"http://10.255.255.1:9000\"\n bucket = "
	         "\"b\"\n access_key_id = \"k\"\n secret_access_key_file = \"%s/dr.key\"\n}\n",
	         dir, dir, dir);
	drbt_write_file(bad, text, 0600);
	assert_int_equal(
	    drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s list", drbt_bin(), bad), 2);
	contains(err, "plain http://");
}

/* ------------------------------------------------------------------ binlogs */

/* Row events and DDL replay; an event arrives disabled; account statements are left out. */
static void test_replay_disables_events_and_leaves_accounts(void **state)
{
	char v[256];
	(void)state;
	assert_int_equal(
	    drbt_sql(&src, NULL, 0,
	             "CREATE DEFINER=`root`@`localhost` EVENT practice_a.ev2 ON "
	             "SCHEDULE EVERY 1 SECOND ENABLE DO INSERT INTO practice_a.t VALUES "
	             "(100); CREATE USER 'replayed'@'%%' IDENTIFIED BY 'pw'; GRANT ALL ON "
	             "*.* TO 'replayed'@'%%'; INSERT INTO practice_a.t VALUES (2)"),
	    0);
	expect(run("binlog"), 0, "binlog");
	expect(run("restore --to latest --target-socket %s --target-user root --force", dst.socket),
	       0, "replay with an event and a grant");
	contains(err, "left out");
	sql_value(&dst, v, sizeof v,
	          "SELECT STATUS FROM information_schema.EVENTS WHERE EVENT_NAME = 'ev2'");
	assert_string_equal(v, "DISABLED");
	sql_value(&dst, v, sizeof v, "SELECT COUNT(*) FROM mysql.user WHERE User = 'replayed'");
	assert_string_equal(v, "0");
	sql_value(&dst, v, sizeof v, "SELECT COUNT(*) FROM practice_a.t WHERE a = 2");
	assert_string_equal(v, "1");
}

/* A statement-format read of another practice in the binlog: the replay stops before it. */
static void test_replay_refuses_statement_format(void **state)
{
	char v[256];
	(void)state;
	assert_int_equal(
	    drbt_sql(&src, NULL, 0,
	             "SET SESSION binlog_format = STATEMENT; INSERT INTO practice_a.copy "
	             "SELECT s FROM practice_b.secret"),
	    0);
	expect(run("binlog"), 0, "binlog");
	expect(run("restore --to latest --target-socket %s --target-user root --force", dst.socket),
	       1, "a statement-format INSERT ... SELECT");
	contains(err, "refused");
	contains(err, "row-format");
	sql_value(&dst, v, sizeof v, "SELECT COUNT(*) FROM practice_a.copy");
	assert_string_equal(v, "0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_backup_restores),
	    cmocka_unit_test(test_executable_comments_are_refused),
	    cmocka_unit_test(test_backslash_under_no_backslash_escapes),
	    cmocka_unit_test(test_insert_select_and_multi_statement),
	    cmocka_unit_test(test_definers_and_events),
	    cmocka_unit_test(test_system_schema_manifest),
	    cmocka_unit_test(test_tls_target),
	    cmocka_unit_test(test_replay_disables_events_and_leaves_accounts),
	    cmocka_unit_test(test_replay_refuses_statement_format),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
