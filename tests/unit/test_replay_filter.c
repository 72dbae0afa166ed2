/* restore/replay: the filter between mariadb-binlog and the mariadb client. Real output of a
 * real binlog passes byte for byte (less the gtid_seq_no lines); crafted output that hides a
 * statement from a line-based filter (a second statement in one query, a leading comment, a
 * DELIMITER, a client command, a system schema's rows) is refused before the client gets it. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/error.h"
#include "common/sink.h"
#include "restore/replay.h"

static char out[1 << 20];
static size_t out_len;

/* Feed text in pieces of `step` bytes; what reached the client lands in out. */
static int filter(const char *text, size_t step, const char *db)
{
	int fd = memfd_create("client", 0);
	drb_replay_filter f;
	char gtid[256] = "";
	drb_replay_filter_init(&f, fd, db, gtid, sizeof gtid);
	drb_error_clear();
	size_t n = strlen(text);
	int rc = 0;
	for (size_t at = 0; at < n && rc == 0; at += step)
		rc = drb_sink_write(&f.base, text + at, n - at < step ? n - at : step);
	if (rc == 0)
		rc = drb_sink_finish(&f.base);
	drb_replay_filter_free(&f);
	ssize_t got = pread(fd, out, sizeof out - 1, 0);
	out_len = got > 0 ? (size_t)got : 0;
	out[out_len] = 0;
	close(fd);
	return rc;
}

static const char head[] = "/*!50530 SET @@SESSION.PSEUDO_SLAVE_MODE=1*/;\n"
                           "/*!40019 SET @@session.max_delayed_threads=0*/;\n"
                           "DELIMITER /*!*/;\n"
                           "# at 4\n";
static const char tail[] = "DELIMITER ;\n# End of log file\nROLLBACK /* added by mysqlbinlog */;\n"
                           "/*!50530 SET @@SESSION.PSEUDO_SLAVE_MODE=0*/;\n";

static int forged(const char *events, const char *db)
{
	char text[8192];
	snprintf(text, sizeof text, "%s%s%s", head, events, tail);
	return filter(text, 7, db);
}

static size_t decode(char *text, size_t len, const char *opt)
{
	char cmd[8192];
	const char *src = getenv("DRB_SRCDIR") ? getenv("DRB_SRCDIR") : "..";
	snprintf(cmd, sizeof cmd,
	         "mariadb-binlog --no-defaults --disable-log-bin %s %s/tests/fuzz/corpus/binlog/"
	         "demo-ddl-and-rows",
	         opt, src);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(text, 1, len - 1, p);
	assert_int_equal(pclose(p), 0);
	text[n] = 0;
	assert_true(n > 1000);
	return n;
}

static void test_real_output_passes(void **state)
{
	static char text[1 << 20];
	(void)state;
	size_t n = decode(text, sizeof text, "");
	for (size_t step = 1; step < 5000; step = step * 7 + 1) {
		if (filter(text, step, NULL) != 0) {
			char line[DRB_ERROR_LINE];
			drb_error_line(line, sizeof line);
			print_error("refused at step %zu: %s\n", step, line);
			fail();
		}
		/* everything but the gtid_seq_no lines, unchanged */
		char *want = malloc(n + 1), *w = want;
		for (const char *l = text; *l;) {
			const char *nl = strchr(l, '\n');
			size_t k = nl ? (size_t)(nl - l) + 1 : strlen(l);
			if (strncmp(l, "/*M!100001 SET @@session.gtid_seq_no=", 37) != 0) {
				memcpy(w, l, k);
				w += k;
			}
			l += k;
		}
		*w = 0;
		assert_string_equal(out, want);
		free(want);
	}
	/* a GTID range ends with its own frame */
	decode(text, sizeof text, "--start-position=0-1-2 --stop-position=0-1-5");
	assert_int_equal(filter(text, 4096, NULL), 0);
	decode(text, sizeof text, "--database=practice_a");
	if (filter(text, 4096, "practice_a") != 0) {
		char line[DRB_ERROR_LINE];
		drb_error_line(line, sizeof line);
		print_error("refused with --database: %s\n", line);
		fail();
	}
}

static void refused_before_client(const char *events, const char *mark)
{
	int rc = forged(events, NULL);
	if (rc != DRB_ERR_REFUSED) {
		print_error("not refused (%d): %s\n", rc, events);
		fail();
	}
	if (strstr(out, mark)) {
		print_error("'%s' reached the client:\n%s\n", mark, out);
		fail();
	}
	char line[DRB_ERROR_LINE];
	drb_error_line(line, sizeof line);
	assert_non_null(strstr(line, "refused"));
}

static void test_forged_output_is_refused(void **state)
{
	(void)state;
	/* a second statement in the query the client sends with multi-statements on */
	refused_before_client("use `practice_a`/*!*/;\nDO 1; SET GLOBAL general_log=1\n/*!*/;\n",
	                      "GLOBAL");
	/* behind a leading comment, or a comment between the words */
	refused_before_client("/* x */ SET GLOBAL general_log=1\n/*!*/;\n", "GLOBAL");
	refused_before_client("SET/**/GLOBAL general_log=1\n/*!*/;\n", "GLOBAL");
	/* executable comments */
	refused_before_client("/*M!100001 SET @@global.general_log=1*//*!*/;\n", "global");
	refused_before_client("CREATE TABLE t (a int) /*!999999 ; SET GLOBAL x = 1 */\n/*!*/;\n",
	                      "GLOBAL");
	/* a query that ends early on the delimiter, then a statement of its own */
	refused_before_client("CREATE TABLE t (a int)\n/*!*/;\nSET GLOBAL general_log=1\n/*!*/;\n",
	                      "GLOBAL");
	/* a DELIMITER line the client would obey */
	refused_before_client("DELIMITER ;;\nSET GLOBAL general_log=1;;\n", "GLOBAL");
	refused_before_client("CREATE TABLE t (a int)\nDELIMITER ;\nSET GLOBAL x=1;\n", "GLOBAL");
	/* a client command, and a charset whose bytes hide quotes */
	refused_before_client("/*!\\C gbk *//*!*/;\n", "gbk");
	refused_before_client("CREATE TABLE t (a int) \\! cat /etc/drbackup/dr.key\n/*!*/;\n",
	                      "dr.key");
	/* files of the restore host */
	refused_before_client(
	    "LOAD DATA LOCAL INFILE '/etc/drbackup/dr.key' INTO TABLE t\n/*!*/;\n", "dr.key");
	/* rows of a system schema, and a base64 block that is not */
	refused_before_client("#261125  8:12:31 server id 1  end_log_pos 1022 CRC32 0xea96e2fb \t"
	                      "Table_map: `mysql`.`global_priv` mapped to number 18\n"
	                      "BINLOG '\nAAAA\n'/*!*/;\n",
	                      "AAAA");
	refused_before_client("BINLOG '\nAAAA\n'/*!*/; SET GLOBAL x=1;\n", "GLOBAL");
	refused_before_client("BINLOG '\nAA;AA\n'/*!*/;\n", "AA;AA");
	/* a newline in a name breaks out of mariadb-binlog's comment line */
	refused_before_client(
	    "#261125 server id 1 \tTable_map: `practice_a\nSET GLOBAL x=1\n/*!*/;\n", "GLOBAL");
	/* a statement-format DML of another practice */
	refused_before_client("INSERT INTO practice_a.t SELECT * FROM practice_b.patient_data\n"
	                      "/*!*/;\n",
	                      "patient_data");
	/* a statement cut short at the end of the text */
	refused_before_client("CREATE TABLE t (a int) COMMENT '\n", "CREATE");
}

static void test_accounts_are_left_out(void **state)
{
	(void)state;
	assert_int_equal(forged("GRANT ALL ON *.* TO 'x'@'%'\n/*!*/;\nCREATE TABLE t (a int)\n"
	                        "/*!*/;\n",
	                        NULL),
	                 0);
	assert_null(strstr(out, "GRANT"));
	assert_non_null(strstr(out, "CREATE TABLE t (a int)\n/*!*/;"));
	/* an event arrives disabled, with the restoring account as definer */
	assert_int_equal(forged("CREATE DEFINER=`root`@`localhost` EVENT e ON SCHEDULE EVERY 1 "
	                        "SECOND DO INSERT INTO t VALUES (1)\n/*!*/;\n",
	                        NULL),
	                 0);
	assert_non_null(strstr(out,
	                       "CREATE DEFINER=CURRENT_USER EVENT e ON SCHEDULE EVERY 1 SECOND "
	                       "DISABLE DO INSERT INTO t VALUES (1)/*!*/;"));
	assert_null(strstr(out, "root"));
}

static void test_one_practice(void **state)
{
	(void)state;
	assert_int_equal(
	    forged("use `practice_a`/*!*/;\nCREATE TABLE t (a int)\n/*!*/;\n", "practice_a"), 0);
	assert_int_equal(forged("use `practice_b`/*!*/;\n", "practice_a"), DRB_ERR_REFUSED);
	assert_int_equal(forged("CREATE TABLE practice_b.t (a int)\n/*!*/;\n", "practice_a"),
	                 DRB_ERR_REFUSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_output_passes),
	    cmocka_unit_test(test_forged_output_is_refused),
	    cmocka_unit_test(test_accounts_are_left_out),
	    cmocka_unit_test(test_one_practice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
