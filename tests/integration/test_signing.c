/* Signed origin against real servers: a database host (db01) signs its metadata with its own
 * key; a restore host (restore01) pins that key and plans only from what verifies. Forged
 * backups made with only public keys (unsigned, or signed by a key of the forger's own), one
 * host's metadata presented as another's, one changed byte of a signed description, a rollback
 * of the repository, and unsigned backups from before signing (--allow-unsigned). A signature is
 * also checked by an independent verifier (openssl). */
#include "config.h"

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
static char agent_conf[4300], restore_conf[4300], forger_conf[4300], unsigned_conf[4300];
static char out[1 << 18], err[1 << 18];
static char fp_latest[1 << 15];

static int run_with(const char *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_with(const char *cfg, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int rc = drbt_sh(out, sizeof out, err, sizeof err, "%s -c %s %s", drbt_bin(), cfg, cmd);
	if (getenv("DRBT_VERBOSE"))
		fprintf(stderr, "drbackup %s -> %d\n%s%s", cmd, rc, out, err);
	return rc;
}

#define expect(got, want, what) drbt_expect(got, want, what, out, err)

#define contains(text, what) drbt_contains(text, what, err)

static void not_contains(const char *text, const char *what)
{
	if (strstr(text, what)) {
		print_error("'%s' unexpectedly found in:\n%s\n", what, text);
		fail();
	}
}

static int restore_latest(const char *extra)
{
	return run_with(restore_conf,
			"restore --host db01 --to latest --target-socket %s --target-user root --force %s",
			dst.socket, extra ? extra : "");
}

/* A configuration: host_id, the repositories r1 and r2, and extra text (signing, trust). */
static void write_conf(char *path, size_t len, const char *name, const char *host,
		       const char *extra)
{
	char text[16384];
	snprintf(path, len, "%s/%s.conf", dir, name);
	snprintf(text, sizeof text,
		 "host_id = \"%s\"\nspool_dir = \"%s/spool-%s\"\n"
		 "database {\n socket = \"%s\"\n user = \"root\"\n}\n"
		 "encryption {\n public_keys = {\"%s/dr.pub\"}\n secret_keys = {\"%s/dr.key\"}\n}\n"
		 "repo primary {\n type = \"posix\"\n path = \"%s/r1\"\n}\n"
		 "repo dr {\n type = \"posix\"\n path = \"%s/r2\"\n}\n%s",
		 host, dir, name, src.socket, dir, dir, dir, dir, extra);
	drbt_write_file(path, text, 0600);
}

static int setup(void **state)
{
	(void)state;
	char p[4300], extra[8192];
	dir = drbt_tmpdir("sign");
	if (!dir || drbt_keygen(dir) != 0 || drbt_mariadb_start(&src, NULL) != 0 ||
	    drbt_mariadb_start(&dst, NULL) != 0)
		return -1;
	for (int i = 1; i <= 2; i++) {
		snprintf(p, sizeof p, "%s/r%d", dir, i);
		mkdir(p, 0700);
	}
	/* the forger's own signing key, and the restore host's */
	if (drbt_sh(NULL, 0, err, sizeof err,
		    "%s keygen --sign --out %s/forger >/dev/null 2>&1 && %s keygen --sign --out "
		    "%s/restore01 >/dev/null 2>&1",
		    drbt_bin(), dir, drbt_bin(), dir) != 0)
		return -1;
	snprintf(extra, sizeof extra, "signing {\n key = \"%s/sign.key\"\n}\n", dir);
	write_conf(agent_conf, sizeof agent_conf, "agent", "db01", extra);
	snprintf(extra, sizeof extra,
		 "signing {\n key = \"%s/restore01.key\"\n}\n"
		 "trust {\n host \"db01\" {\n  signing_keys = {\"%s/sign.pub\"}\n }\n"
		 " host \"db02\" {\n  signing_keys = {\"%s/forger.pub\"}\n }\n}\n",
		 dir, dir, dir);
	write_conf(restore_conf, sizeof restore_conf, "restore", "restore01", extra);
	snprintf(extra, sizeof extra, "signing {\n key = \"%s/forger.key\"\n}\n", dir);
	write_conf(forger_conf, sizeof forger_conf, "forger", "db01", extra);
	write_conf(unsigned_conf, sizeof unsigned_conf, "old", "db01", "");
	drbt_sql(&src, NULL, 0,
		 "CREATE DATABASE practice_a; CREATE TABLE practice_a.notes (id INT PRIMARY KEY, body "
		 "TEXT, scan BLOB); INSERT INTO practice_a.notes VALUES (1, 'first', RANDOM_BYTES(900)), "
		 "(2, 'second', NULL)");
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

static void test_signed_backup_restores(void **state)
{
	(void)state;
	expect(run_with(agent_conf, "full"), 0, "full, signed");
	drbt_sql(&src, NULL, 0, "INSERT INTO practice_a.notes VALUES (3, 'third', RANDOM_BYTES(10))");
	expect(run_with(agent_conf, "binlog"), 0, "binlog, signed");
	drbt_fingerprint(&src, fp_latest, sizeof fp_latest, NULL);
	char *m = NULL;
	drbt_sh(out, sizeof out, NULL, 0, "cat %s/r1/db01/full/*/manifest.json", dir);
	contains(out, "#drbackup-signature v1 signer=db01 key=");
	(void)m;
	expect(restore_latest(NULL), 0, "restore of a signed backup");
	char got[1 << 15];
	drbt_fingerprint(&dst, got, sizeof got, NULL);
	assert_string_equal(got, fp_latest);
	expect(run_with(restore_conf, "list --host db01"), 0, "list");
	not_contains(out, "UNTRUSTED");
}

/* openssl, knowing nothing of drbackup, checks a manifest's signature from the documented bytes. */
static void test_independent_verifier(void **state)
{
	(void)state;
	int rc = drbt_sh(out, sizeof out, err, sizeof err,
			 "set -e; cd %s; m=$(ls r1/db01/full/*/manifest.json | head -1); "
			 "key=${m#r1/}; line=$(tail -n 1 $m); "
			 "at=$(echo \"$line\" | sed 's/.* at=\\([^ ]*\\).*/\\1/'); "
			 "echo \"$line\" | sed 's/.* sig=//' | base64 -d > sig.bin; "
			 "{ printf 'drbackup metadata signature v1\\nsigner db01\\nkey %%s\\nkind full\\n"
			 "at %%s\\n\\n' \"$key\" \"$at\"; head -n -1 $m; } > msg.bin; "
			 "pk=$(grep '^drbackup-signing-public-key-v1' sign.pub | cut -d' ' -f2); "
			 "{ printf '302a300506032b6570032100' | xxd -r -p; echo \"$pk\" | base64 -d; } "
			 "> pub.der; openssl pkey -pubin -inform DER -in pub.der -out pub.pem; "
			 "openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in msg.bin -sigfile sig.bin; "
			 "printf 'x' >> msg.bin; "
			 "if openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in msg.bin -sigfile "
			 "sig.bin; then exit 9; fi",
			 dir);
	if (rc != 0)
		print_error("openssl: %d\n%s\n%s\n", rc, out, err);
	assert_int_equal(rc, 0);
	contains(out, "Signature Verified Successfully");
}

/* The forger holds the public sealing key (as every database host does) and writes a newer
 * full backup of db01: unsigned, or signed with a key of its own. Neither is planned from. */
static void test_forged_manifest_is_refused(void **state)
{
	char before[64], got[1 << 15];
	(void)state;
	drbt_sh(before, sizeof before, NULL, 0, "ls %s/r1/db01/full | tail -1 | tr -d '\\n'", dir);
	drbt_sql(&src, NULL, 0, "UPDATE practice_a.notes SET body = 'forged' WHERE id = 1");
	sleep(1);
	expect(run_with(forger_conf, "full"), 0, "a forged full backup, signed by the forger");
	drbt_sql(&src, NULL, 0, "UPDATE practice_a.notes SET body = 'first' WHERE id = 1");
	char forged[64];
	drbt_sh(forged, sizeof forged, NULL, 0, "ls %s/r1/db01/full | tail -1 | tr -d '\\n'", dir);
	assert_string_not_equal(before, forged);
	expect(run_with(restore_conf, "list --host db01"), 0, "list with a forged backup");
	contains(out, "UNTRUSTED");
	contains(out, "not pinned for its host");
	expect(restore_latest(NULL), 0, "restore past the forged backup");
	contains(out, before);
	drbt_fingerprint(&dst, got, sizeof got, NULL);
	assert_string_equal(got, fp_latest);
	/* the same without any signature */
	drbt_sh(NULL, 0, NULL, 0, "cd %s && for r in r1 r2; do sed -i '/^#drbackup-signature/d' "
				  "$r/db01/full/%s/manifest.json; done",
		dir, forged);
	expect(run_with(restore_conf, "list --host db01"), 0, "list with an unsigned forged backup");
	contains(out, "has no signature");
	expect(restore_latest(NULL), 0, "restore past the unsigned forged backup");
	contains(out, before);
	drbt_sh(NULL, 0, NULL, 0, "rm -rf %s/r1/db01/full/%s %s/r2/db01/full/%s", dir, forged, dir,
		forged);
}

/* A forged segment description (valid JSON, no signature) and one changed byte in a signed one. */
static void test_forged_and_changed_segments_are_refused(void **state)
{
	(void)state;
	char seg[4300], cat[4300];
	drbt_sh(seg, sizeof seg, NULL, 0, "ls %s/r1/db01/binlog/*/*.json | sort | tail -1 | tr -d '\\n'",
		dir);
	/* today's catalog (the agent writes it open) names the segment too: the forger changes
	 * both, and both are refused */
	drbt_sh(cat, sizeof cat, NULL, 0, "ls %s/r1/db01/catalog/*/*.json | sort | tail -1 | tr -d '\\n'",
		dir);
	assert_true(cat[0] != 0);
	drbt_sh(NULL, 0, NULL, 0, "cp %s %s.saved; cp %s %s.saved", seg, seg, cat, cat);
	/* a GTID changed in the signed description: refused in both repositories */
	drbt_sh(NULL, 0, NULL, 0,
		"for f in %s $(echo %s | sed 's#/r1/#/r2/#') %s $(echo %s | sed 's#/r1/#/r2/#'); do "
		"sed -i 's/\"end_gtid\": *\"0-1-/\"end_gtid\": \"0-1-9/' $f; done",
		seg, seg, cat, cat);
	expect(run_with(restore_conf, "list --host db01"), 0, "list with a changed description");
	contains(out, "UNTRUSTED");
	contains(out, "does not verify");
	/* latest no longer reaches the third row: that segment is not used */
	expect(restore_latest(NULL), 0, "restore without the changed segment");
	char n[64];
	drbt_sql(&dst, n, sizeof n, "SELECT COUNT(*) FROM practice_a.notes WHERE id = 3");
	assert_string_equal(n, "0");
	/* with --allow-unsigned too: a failing signature is never accepted */
	expect(restore_latest("--allow-unsigned"), 0, "--allow-unsigned does not take it");
	drbt_sql(&dst, n, sizeof n, "SELECT COUNT(*) FROM practice_a.notes WHERE id = 3");
	assert_string_equal(n, "0");
	/* the signature line removed: unsigned, refused unless --allow-unsigned */
	drbt_sh(NULL, 0, NULL, 0,
		"for f in %s $(echo %s | sed 's#/r1/#/r2/#'); do cp %s.saved $f; sed -i "
		"'/^#drbackup-signature/d' $f; done; "
		"for f in %s $(echo %s | sed 's#/r1/#/r2/#'); do cp %s.saved $f; sed -i "
		"'/^#drbackup-signature/d' $f; done",
		seg, seg, seg, cat, cat, cat);
	expect(run_with(restore_conf, "list --host db01"), 0, "list with an unsigned description");
	contains(out, "has no signature");
	expect(restore_latest("--allow-unsigned"), 0, "restore with --allow-unsigned");
	contains(err, "carry no signature");
	drbt_sql(&dst, n, sizeof n, "SELECT COUNT(*) FROM practice_a.notes WHERE id = 3");
	assert_string_equal(n, "1");
	drbt_sh(NULL, 0, NULL, 0, "for f in %s $(echo %s | sed 's#/r1/#/r2/#'); do cp %s.saved $f; done; rm %s.saved",
		seg, seg, seg, seg);
	drbt_sh(NULL, 0, NULL, 0, "for f in %s $(echo %s | sed 's#/r1/#/r2/#'); do cp %s.saved $f; done; rm %s.saved",
		cat, cat, cat, cat);
}

/* db01's metadata copied under db02 (whose key the restore host pins, too): refused. */
static void test_other_hosts_metadata_is_refused(void **state)
{
	(void)state;
	drbt_sh(NULL, 0, NULL, 0, "cd %s && for r in r1 r2; do cp -a $r/db01 $r/db02; done", dir);
	expect(run_with(restore_conf,
			"restore --host db02 --to latest --target-socket %s --target-user root --force",
			dst.socket),
	       1, "db01's backup presented as db02's");
	contains(err, "not by the host it belongs to");
	drbt_sh(NULL, 0, NULL, 0, "rm -rf %s/r1/db02 %s/r2/db02", dir, dir);
}

/* The restore host has seen a newer backup than a repository shows now. */
static void test_rollback_is_warned_about(void **state)
{
	(void)state;
	sleep(1);
	expect(run_with(agent_conf, "full"), 0, "a newer full backup");
	expect(run_with(restore_conf, "list --host db01"), 0, "list sees it");
	char newest[64];
	drbt_sh(newest, sizeof newest, NULL, 0, "ls %s/r1/db01/full | tail -1 | tr -d '\\n'", dir);
	drbt_sh(NULL, 0, NULL, 0, "mv %s/r1/db01/full/%s %s/held-back", dir, newest, dir);
	expect(run_with(restore_conf, "list --host db01"), 0, "list after the rollback");
	contains(err, "repository primary shows an older history of host db01");
	contains(err, newest);
	drbt_sh(NULL, 0, NULL, 0, "mv %s/held-back %s/r1/db01/full/%s", dir, dir, newest);
}

/* Backups from before signing: refused by default, restored with --allow-unsigned. */
static void test_unsigned_backups_need_allow_unsigned(void **state)
{
	(void)state;
	drbt_sh(NULL, 0, NULL, 0, "rm -rf %s/r1/db01 %s/r2/db01", dir, dir);
	expect(run_with(unsigned_conf, "full"), 0, "an unsigned full backup");
	expect(restore_latest(NULL), 1, "unsigned, refused");
	contains(err, "not trusted");
	contains(err, "--allow-unsigned");
	expect(restore_latest("--allow-unsigned"), 0, "unsigned, allowed");
	contains(err, "carry no signature");
	expect(run_with(restore_conf, "--json list --host db01 --allow-unsigned"), 0, "list");
	contains(out, "\"unsigned_used\": 1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signed_backup_restores),
		cmocka_unit_test(test_independent_verifier),
		cmocka_unit_test(test_forged_manifest_is_refused),
		cmocka_unit_test(test_forged_and_changed_segments_are_refused),
		cmocka_unit_test(test_other_hosts_metadata_is_refused),
		cmocka_unit_test(test_rollback_is_warned_about),
		cmocka_unit_test(test_unsigned_backups_need_allow_unsigned),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
