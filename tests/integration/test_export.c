/* drbackup export against a real MariaDB and a real S3 server (Ceph RGW): a practice with BLOBs,
 * JSON, NULLs and empty strings, non-ASCII names, a trigger, routines, an event and a view is
 * backed up, then exported from the backups. The zip must not open without its passphrase and
 * must open with it (bsdtar); its SQL loads into a fresh server with identical checksums; each
 * CSV (read with python's csv module) has the table's rows, NULL apart from ''; each document is
 * byte-identical; --at exports that moment; --url gives a link that curl downloads until it
 * expires; no plaintext is left on disk; and the audit trail lists every action, failures too. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/harness.h"
#include "tests/integration/test_s3_support.h"

#define PRACTICE "practice_ehr"
/* A value no file holds unless the export leaks it: made at run time, so that this source and
 * its binary (which may lie below TMPDIR in a CI clone) never hold it whole. In the texts below
 * "@@" stands for it. */
static char CANARY[32];
static void make_canary(void)
{
	snprintf(CANARY, sizeof CANARY, "%s-%s%ld", "CANARY", "Zq81", (long)getpid());
}

/* text with every "@@" replaced by the canary (a new string) */
static char *canaried(const char *text)
{
	size_t n = strlen(text) + 1;
	for (const char *p = strstr(text, "@@"); p; p = strstr(p + 2, "@@"))
		n += strlen(CANARY);
	char *out = malloc(n), *o = out;
	for (const char *p = text; *p;) {
		if (p[0] == '@' && p[1] == '@') {
			o = stpcpy(o, CANARY);
			p += 2;
		} else {
			*o++ = *p++;
		}
	}
	*o = 0;
	return out;
}

static char *dir;
static drbt_mariadb src, dst;
static s3t_rgw rgw;
static bool rgw_ok;
static char conf[4300], pass_file[4300];
static char out[1 << 18], err[1 << 18];
static char fp_t1[1 << 15], fp_latest[1 << 15];
static char when_t1[32];

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

/* A shell command that must succeed; its output stays in out/err. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[16384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int rc = drbt_sh(out, sizeof out, err, sizeof err, "%s", cmd);
	if (rc != 0) {
		print_error("%s: exit %d\nstdout:\n%.4000s\nstderr:\n%.4000s\n", cmd, rc, out, err);
		fail();
	}
}

static const char schema[] =
    "CREATE DATABASE " PRACTICE " CHARACTER SET utf8mb4;\nUSE " PRACTICE ";\n"
    "CREATE TABLE patient_data (pid INT PRIMARY KEY AUTO_INCREMENT, fname VARCHAR(64), "
    "lname VARCHAR(64) CHARACTER SET latin1, `prénom_usuel` VARCHAR(64), dob DATE, notes TEXT, "
    "photo LONGBLOB, flags BIT(8), balance DECIMAL(10,2), meta JSON, token BINARY(4), "
    "full_name VARCHAR(130) AS (CONCAT(fname, ' ', lname)) VIRTUAL, "
    "secret_note VARCHAR(20) INVISIBLE DEFAULT 'hidden') ENGINE=InnoDB;\n"
    "CREATE TABLE `données_médicales` (id INT AUTO_INCREMENT PRIMARY KEY, pid INT, "
    "`mesure` VARCHAR(40), scan MEDIUMBLOB, FOREIGN KEY (pid) REFERENCES patient_data (pid));\n"
    "CREATE TABLE audit_log (id INT AUTO_INCREMENT PRIMARY KEY, pid INT, action VARCHAR(20));\n"
    "CREATE TABLE empty_table (id INT PRIMARY KEY, v VARCHAR(10));\n"
    "CREATE TRIGGER patient_ins AFTER INSERT ON patient_data FOR EACH ROW INSERT INTO audit_log "
    "(pid, action) VALUES (NEW.pid, 'insert');\n"
    "CREATE VIEW v_names AS SELECT pid, full_name FROM patient_data;\n"
    "DELIMITER ;;\n"
    "CREATE PROCEDURE add_note(IN p INT, IN t TEXT) BEGIN UPDATE patient_data SET notes = "
    "CONCAT(IFNULL(notes, ''), t) WHERE pid = p; END;;\n"
    "CREATE FUNCTION initials(f VARCHAR(64), l VARCHAR(64)) RETURNS VARCHAR(4) DETERMINISTIC "
    "RETURN CONCAT(LEFT(f, 1), LEFT(l, 1));;\n"
    "DELIMITER ;\n"
    "CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO "
    "DELETE FROM audit_log WHERE id < 0;\n"
    "INSERT INTO patient_data (fname, lname, `prénom_usuel`, dob, notes, photo, flags, balance, "
    "meta, token) VALUES "
    "('Ada', 'Lovelace', 'Adé', '1815-12-10', 'first \\\\ note ''quoted'' \"dq\", comma\\nline "
    "@@', 0x00FF10, b'00000001', -1.50, '{\"a\": [1, 2], \"ü\": null}', 0x00010203), "
    "('李', 'Müller', '', NULL, '', '', NULL, 0, NULL, NULL), "
    "('Zoë', 'Ørsted', NULL, '2001-02-03', NULL, NULL, b'11111111', 99999999.99, '[]', "
    "0xFFFFFFFF);\n"
    "INSERT INTO `données_médicales` (pid, `mesure`, scan) SELECT 1 + seq % 3, CONCAT('tension "
    "', seq), RANDOM_BYTES(1000) FROM seq_1_to_200;\n";

static void write_doc(const char *rel, const void *data, size_t len)
{
	char path[8192], cmd[8300];
	snprintf(path, sizeof path, "%s/sites/" PRACTICE "/documents/%s", dir, rel);
	snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	char p[4400], repos[8192], extra[4400];
	make_canary();
	dir = drbt_tmpdir("export");
	if (!dir || drbt_keygen(dir) != 0 || drbt_mariadb_start(&src, "--sync-binlog=1") != 0 ||
	    drbt_mariadb_start(&dst, NULL) != 0)
		return -1;
	rgw_ok = s3t_rgw_start(&rgw, "exports") == 0;
	snprintf(p, sizeof p, "%s/r1", dir);
	mkdir(p, 0700);
	snprintf(repos, sizeof repos,
	         "repo local {\n type = \"posix\"\n path = \"%s/r1\"\n}\n"
	         "repo cloud {\n type = \"s3\"\n endpoint = \"%s\"\n region = \"us-east-1\"\n"
	         " bucket = \"exports\"\n prefix = \"drb\"\n access_key_id = \"%s\"\n"
	         " secret_access_key_file = \"%s\"\n uri_style = \"path\"\n}\n",
	         dir, rgw_ok ? rgw.endpoint[0] : "http://127.0.0.1:9", rgw.access_key,
	         rgw_ok ? rgw.secret_file : "/nonexistent");
	snprintf(
	    extra, sizeof extra,
	    "binlog { segment_seconds = 1 }\n"
	    "export {\n documents_dir = \"%s/sites/{practice}/documents\"\n keep_days = 7\n}\n",
	    dir);
	snprintf(conf, sizeof conf, "%s/drbackup.conf", dir);
	snprintf(pass_file, sizeof pass_file, "%s/export.pass", dir);
	drbt_write_file(pass_file, "correct horse battery staple 42\n", 0600);
	if (drbt_write_config(conf, dir, &src, repos, extra) != 0)
		return -1;
	snprintf(p, sizeof p, "%s/schema.sql", src.dir);
	char *sch = canaried(schema);
	drbt_write_file(p, sch, 0600);
	free(sch);
	if (drbt_sh(NULL, 0, err, sizeof err, "mariadb --no-defaults -uroot -S %s < %s", src.socket,
	            p) != 0) {
		fprintf(stderr, "schema: %s\n", err);
		return -1;
	}
	/* documents: names that name patients, nested folders, binary content, an empty file */
	unsigned char blob[70000];
	for (size_t i = 0; i < sizeof blob; i++)
		blob[i] = (unsigned char)(i * 131 + (i >> 7));
	write_doc("2026/11/Zoë Müller - scan.pdf", blob, sizeof blob);
	char lab_name[128], lab_text[128];
	snprintf(lab_name, sizeof lab_name, "2026/12/lab %s.txt", CANARY);
	snprintf(lab_text, sizeof lab_text, "hemoglobin %s\n", CANARY);
	write_doc(lab_name, lab_text, strlen(lab_text));
	write_doc("empty.txt", "", 0);
	write_doc("x-ray/Ada Lovelace.dcm", blob + 1000, 5000);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	drbt_mariadb_stop(&src);
	drbt_mariadb_stop(&dst);
	if (rgw_ok)
		s3t_rgw_stop(&rgw);
	if (dir && !getenv("DRBT_KEEP"))
		drbt_rmtree(dir);
	free(dir);
	return 0;
}

/* full backup, a moment T1, changes after it, shipped */
static void test_backups(void **state)
{
	(void)state;
	expect(run("full"), 0, "full");
	expect(run("binlog"), 0, "binlog");
	sleep(1);
	drbt_sql(&src, out, sizeof out,
	         "USE " PRACTICE "; CALL add_note(2, ' at T1'); INSERT INTO "
	         "patient_data (fname, lname) VALUES ('Tee', 'One');");
	drbt_fingerprint(&src, fp_t1, sizeof fp_t1, PRACTICE);
	sleep(1);
	time_t t1 = time(NULL);
	strftime(when_t1, sizeof when_t1, "%Y-%m-%d %H:%M:%S", gmtime(&t1));
	sleep(2);
	drbt_sql(&src, out, sizeof out,
	         "USE " PRACTICE "; DELETE FROM `données_médicales` WHERE id "
	         "<= 50; UPDATE patient_data SET meta = '{\"after\": true}' WHERE pid = 3; INSERT "
	         "INTO patient_data (fname, lname, notes) VALUES ('After', 'T1', '');");
	drbt_fingerprint(&src, fp_latest, sizeof fp_latest, PRACTICE);
	assert_string_not_equal(fp_t1, fp_latest);
	sleep(1);
	expect(run("binlog"), 0, "binlog after T1");
}

/* Load a zip's SQL into dst (the database dropped first) and compare with want. */
static void load_and_compare(const char *zip, const char *pass, const char *want, const char *what)
{
	static char got[1 << 15];
	char x[4400];
	snprintf(x, sizeof x, "%s/x-%s", dir, what);
	sh("rm -rf '%s' && mkdir -p '%s' && bsdtar -xf '%s' -C '%s' --passphrase '%s'", x, x, zip,
	   x, pass);
	drbt_sql(&dst, out, sizeof out, "DROP DATABASE IF EXISTS " PRACTICE);
	sh("mariadb --no-defaults -uroot -S %s < '%s/" PRACTICE ".sql'", dst.socket, x);
	drbt_fingerprint(&dst, got, sizeof got, PRACTICE);
	if (strcmp(got, want) != 0) {
		print_error("%s: the loaded data differs\nexpected:\n%.3000s\ngot:\n%.3000s\n",
		            what, want, got);
		fail();
	}
}

static const char check_py[] =
    "import csv, hashlib, json, os, sys\n"
    "x, docs = sys.argv[1], sys.argv[2]\n"
    "m = json.load(open(os.path.join(x, 'manifest.json')))\n"
    "assert m['practice'] == 'practice_ehr', m['practice']\n"
    "names = set()\n"
    "for f in m['files']:\n"
    "    data = open(os.path.join(x, f['name']), 'rb').read()\n"
    "    assert len(data) == f['size'], f\n"
    "    assert hashlib.sha256(data).hexdigest() == f['sha256'], f\n"
    "    names.add(f['name'])\n"
    "    if 'original_path' in f:\n"
    "        orig = open(os.path.join(docs, f['original_path']), 'rb').read()\n"
    "        assert orig == data, f\n"
    "ndocs = sum(len(fs) for _, _, fs in os.walk(docs))\n"
    "assert m['documents']['count'] == ndocs, (m['documents'], ndocs)\n"
    "for t in m['tables']:\n"
    "    with open(os.path.join(x, t['csv']), newline='', encoding='utf-8') as f:\n"
    "        rows = list(csv.reader(f, strict=True))\n"
    "    assert len(rows) - 1 == t['rows'], (t, len(rows))\n"
    "    print(t['name'], t['rows'])\n"
    "assert m['csv']['binary_encoding'].startswith('base64')\n"
    "assert 'photo' in m['csv']['binary_columns']['patient_data']\n"
    "for root, _, fs in os.walk(x):\n"
    "    for n in fs:\n"
    "        rel = os.path.relpath(os.path.join(root, n), x)\n"
    "        assert rel in names or rel == 'manifest.json', rel\n"
    "print('checked', len(m['files']), 'files')\n";

static void test_export_file(void **state)
{
	(void)state;
	char zip[4400], x[4400], py[4400], docs[4400], counts[8192];
	snprintf(zip, sizeof zip, "%s/latest.zip", dir);
	snprintf(x, sizeof x, "%s/x-latest", dir);
	expect(run("export --practice " PRACTICE " --out %s --passphrase-file %s", zip, pass_file),
	       0, "export to a file");
	contains(out, "exported " PRACTICE);
	struct stat st;
	assert_int_equal(stat(zip, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* the entry names tell nothing about patients */
	sh("bsdtar -tf '%s'", zip);
	contains(out, "README.txt");
	contains(out, PRACTICE ".sql");
	contains(out, "csv/patient_data.csv");
	contains(out, "documents/000001.bin");
	contains(out, "manifest.json");
	assert_null(strstr(out, "Müller"));
	assert_null(strstr(out, "Lovelace"));
	assert_null(strstr(out, CANARY));
	/* every entry is AES-256 */
	sh("7z l -slt -p'correct horse battery staple 42' '%s' | grep -c '^Method = AES-256'", zip);
	int aes = atoi(out);
	sh("7z l -slt -p'correct horse battery staple 42' '%s' | grep -c '^Path = '", zip);
	assert_int_equal(aes, atoi(out) - 1); /* the first Path is the archive itself */

	/* no passphrase, a wrong one: nothing comes out */
	snprintf(py, sizeof py, "%s/x-nopass", dir);
	assert_int_not_equal(drbt_sh(out, sizeof out, err, sizeof err,
	                             "mkdir -p '%s' && cd '%s' && bsdtar -xf '%s' < /dev/null", py,
	                             py, zip),
	                     0);
	assert_int_not_equal(drbt_sh(out, sizeof out, err, sizeof err,
	                             "cd '%s' && bsdtar -xf '%s' --passphrase 'wrong passphrase'",
	                             py, zip),
	                     0);
	assert_int_equal(
	    drbt_sh(out, sizeof out, err, sizeof err, "grep -rl '%s' '%s' | head -1", CANARY, py),
	    0);
	assert_string_equal(out, "");

	/* with it: the SQL loads into a fresh server with the same checksums */
	load_and_compare(zip, "correct horse battery staple 42", fp_latest, "latest");

	/* files, hashes, documents byte for byte, CSV row counts with a real CSV parser */
	snprintf(py, sizeof py, "%s/check.py", dir);
	drbt_write_file(py, check_py, 0600);
	snprintf(docs, sizeof docs, "%s/sites/" PRACTICE "/documents", dir);
	sh("python3 '%s' '%s' '%s'", py, x, docs);
	contains(out, "checked");
	snprintf(counts, sizeof counts, "%s", out);
	drbt_sql(
	    &src, out, sizeof out,
	    "SELECT CONCAT('patient_data ', COUNT(*)) FROM " PRACTICE ".patient_data UNION ALL "
	    "SELECT CONCAT('données_médicales ', COUNT(*)) FROM " PRACTICE ".`données_médicales` "
	    "UNION ALL SELECT CONCAT('audit_log ', COUNT(*)) FROM " PRACTICE ".audit_log UNION ALL "
	    "SELECT CONCAT('empty_table ', COUNT(*)) FROM " PRACTICE ".empty_table");
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		contains(counts, line);
	/* NULL is the unquoted empty field, '' is "": row 2 has prénom_usuel '' and dob NULL, an
	 * empty photo, and NULL flags, meta and token */
	sh("grep -a '^\"2\",' '%s/csv/patient_data.csv'", x);
	contains(out, "\"2\",\"李\",\"Müller\",\"\",,\" at T1\",\"\",,\"0.00\",,,\"hidden\"\r\n");
	sh("head -1 '%s/csv/patient_data.csv'", x);
	contains(out, "\"pid\",\"fname\",\"lname\",\"prénom_usuel\"");
	contains(out, "\"secret_note\"");
	/* binary as base64 (0x00FF10, 0x00010203), quotes doubled, a newline kept inside quotes */
	char csv_path[4500];
	snprintf(csv_path, sizeof csv_path, "%s/csv/patient_data.csv", x);
	char *csv = drbt_read_file(csv_path, NULL);
	assert_non_null(csv);
	char *want = canaried("\"1\",\"Ada\",\"Lovelace\",\"Adé\",\"1815-12-10\",\"first \\ note "
			      "'quoted' \"\"dq\"\", comma\nline @@\",\"AP8Q\",\"AQ==\",\"-1.50\",");
	contains(csv, want);
	free(want);
	contains(csv, "\"AAECAw==\"");
	free(csv);
	/* the file a CSV name came from: non-ASCII table names stay readable (percent-encoded) */
	sh("ls '%s/csv'", x);
	contains(out, "donn%C3%A9es_m%C3%A9dicales.csv");
	sh("cat '%s/README.txt'", x);
	contains(out, "mariadb -u root -p < " PRACTICE ".sql");
	drbt_rmtree(x);
}

static void test_export_at(void **state)
{
	(void)state;
	char zip[4400];
	snprintf(zip, sizeof zip, "%s/t1.zip", dir);
	expect(run("export --practice " PRACTICE " --at '%s' --out %s --passphrase-file %s",
	           when_t1, zip, pass_file),
	       0, "export --at T1");
	load_and_compare(zip, "correct horse battery staple 42", fp_t1, "t1");
	char x[4400];
	snprintf(x, sizeof x, "%s/x-t1", dir);
	sh("grep -c '\"point_in_time\"' '%s/manifest.json'", x);
	drbt_rmtree(x);
}

static void test_export_url(void **state)
{
	(void)state;
	if (!rgw_ok) {
		print_error("Ceph RGW did not start: the --url case cannot run\n");
		fail();
	}
	char zip[4400], url[4096] = "", pass[256] = "";
	expect(run("--json export --practice " PRACTICE " --url --expires 3s"), 0, "export --url");
	/* {"url": "...", "passphrase": "..."}: a generated passphrase, shown once */
	char *u = strstr(out, "\"url\": \""), *p = strstr(out, "\"passphrase\": \"");
	assert_non_null(u);
	assert_non_null(p);
	sscanf(u + 8, "%4095[^\"]", url);
	sscanf(p + 15, "%255[^\"]", pass);
	assert_true(strlen(pass) >= 32);
	assert_non_null(strstr(url, "X-Amz-Expires=3"));
	assert_non_null(strstr(url, "/exports/" PRACTICE "/"));
	snprintf(zip, sizeof zip, "%s/downloaded.zip", dir);
	sh("curl -sf -o '%s' '%s'", zip, url);
	load_and_compare(zip, pass, fp_latest, "url");
	/* the passphrase is stored nowhere: not in the spool, not in the repositories */
	char cmd[8192];
	snprintf(cmd, sizeof cmd, "grep -rl -- '%s' '%s' 2>/dev/null | head -1", pass, dir);
	drbt_sh(out, sizeof out, err, sizeof err, "%s", cmd);
	assert_string_equal(out, "");
	sleep(5);
	assert_int_not_equal(
	    drbt_sh(out, sizeof out, err, sizeof err, "curl -sf -o /dev/null '%s'", url), 0);
	/* a link lives 7 days at most, and the posix repository gives none */
	expect(run("export --practice " PRACTICE " --url --expires 8d"), 2, "--expires 8d");
	expect(run("--repo local export --practice " PRACTICE " --url"), 2, "--url on posix");
}

static void test_refusals(void **state)
{
	(void)state;
	char bad[4400], zip[4400];
	snprintf(bad, sizeof bad, "%s/loose.pass", dir);
	snprintf(zip, sizeof zip, "%s/never.zip", dir);
	drbt_write_file(bad, "correct horse battery staple 42\n", 0644);
	assert_int_not_equal(
	    run("export --practice " PRACTICE " --out %s --passphrase-file %s", zip, bad), 0);
	contains(err, "loose.pass");
	assert_int_not_equal(access(zip, F_OK), 0);
	/* an existing file is never replaced */
	snprintf(zip, sizeof zip, "%s/latest.zip", dir);
	assert_int_not_equal(
	    run("export --practice " PRACTICE " --out %s --passphrase-file %s", zip, pass_file), 0);
	/* the name picks the documents folder too: one path component only */
	expect(run("export --practice ../etc --out %s/never2.zip --passphrase-file %s", dir,
	           pass_file),
	       2, "a practice name with a slash");
	/* a restore that fails (no backup that early) */
	expect(run("restore --to '2001-01-01 00:00:00' --db " PRACTICE " --target-socket %s",
	           dst.socket),
	       1, "restore before every backup");
}

/* No plaintext of the practice in the spool, the temporary folders or the scratch location. */
static void test_no_plaintext(void **state)
{
	(void)state;
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	/* allowed to hold it: the live server, the server the test loaded the SQL into, the
	 * documents and what the test extracted */
	sh("grep -rlsa '%s' '%s/spool' '%s/r1' /dev/shm 2>/dev/null | head -5; true", CANARY, dir,
	   dir);
	assert_string_equal(out, "");
	/* the checkout and its build hold the canary as a literal of this test: not data */
	const char *srcdir = drbt_srcdir(), *builddir = getenv("DRB_BUILDDIR");
	sh("grep -rlsa '%s' '%s' 2>/dev/null | grep -v -e '^%s/' -e '^%s/' -e '^%s/' -e '^%s/' "
	   "-e '^%s/' | head -5; true",
	   CANARY, tmp, src.dir, dst.dir, dir, srcdir, builddir ? builddir : srcdir);
	assert_string_equal(out, "");
	sh("grep -rlsa '%s' '%s' 2>/dev/null | grep -v -e '^%s/sites/' -e '^%s/x-' | head "
	   "-5; true",
	   CANARY, dir, dir, dir);
	assert_string_equal(out, "");
}

static void test_audit(void **state)
{
	(void)state;
	expect(run("--json audit"), 0, "audit --json");
	contains(out, "\"action\": \"export\"");
	contains(out, "\"action\": \"restore\"");
	contains(out, "\"link_expires\"");
	contains(out, "\"user\"");
	contains(out, "\"ok\": false");
	contains(out, "loose.pass");
	assert_null(strstr(out, "X-Amz-Signature")); /* the link itself is not kept */
	expect(run("audit --practice " PRACTICE), 0, "audit --practice");
	/* 4 exports that worked (file, --at, --url and the refusals do not count) */
	int ok = 0, failed = 0, restore_failed = 0;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		if (strstr(l, " export ") && strstr(l, " ok "))
			ok++;
		if (strstr(l, "FAILED"))
			failed++;
		if (strstr(l, " restore ") && strstr(l, "FAILED") && strstr(l, "2001-01-01"))
			restore_failed++;
	}
	assert_int_equal(ok, 3);
	assert_int_equal(restore_failed, 1);
	assert_true(failed >= 4); /* loose passphrase, existing file, 8d, posix --url, restore */
	expect(run("audit --practice nobody"), 0, "audit of another practice");
	contains(out, "no audit records");
	/* each record is signed: one changed byte and it is no longer listed */
	sh("f=$(find '%s/r1/testhost/audit' -name '*-restore.json' | head -1); sed -i "
	   "'s/\"ok\":false/\"ok\":true/' \"$f\"",
	   dir);
	expect(run("--repo local audit"), 0, "audit with a tampered record");
	contains(err, "audit record");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backups),   cmocka_unit_test(test_export_file),
	    cmocka_unit_test(test_export_at), cmocka_unit_test(test_export_url),
	    cmocka_unit_test(test_refusals),  cmocka_unit_test(test_no_plaintext),
	    cmocka_unit_test(test_audit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
