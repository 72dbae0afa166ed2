/* restore/sqlcheck: what the dumper and mariadb-binlog write passes (definers rewritten, events
 * disabled); each way a forged dump or segment hides a statement is refused, read as the server
 * reads it: executable comments either way round, backslashes under NO_BACKSLASH_ESCAPES,
 * ANSI_QUOTES, a second statement, other practices and the system schemas. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "restore/sqlcheck.h"

static drb_sqlcheck c;

static int dump(const char *s)
{
	return drb_sqlcheck_dump(&c, s, strlen(s));
}

static int replay(const char *s)
{
	return drb_sqlcheck_replay(&c, s, strlen(s));
}

static void passes(int rc, const char *s)
{
	if (rc != 0) {
		print_error("refused (%s): %s\n", c.why, s);
		fail();
	}
}

static void refused(int rc, const char *s)
{
	if (rc != DRB_ERR_REFUSED) {
		print_error("not refused (rc %d): %s\n", rc, s);
		fail();
	}
}

static int setup(void **state)
{
	(void)state;
	memset(&c, 0, sizeof c);
	c.db = "practice_a";
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	drb_sqlcheck_free(&c);
	return 0;
}

/* Statements exactly as agent/dump.c writes them (SHOW CREATE output of MariaDB 10.11). */
static void test_dumper_output_passes(void **state)
{
	static const char *const ok[] = {
	    "SET NAMES utf8mb4",
	    "SET time_zone = '+00:00'",
	    "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
	    "SET unique_checks = 0",
	    "SET foreign_key_checks = 0",
	    "SET sql_notes = 0",
	    "SET autocommit = 0",
	    "COMMIT",
	    "SET autocommit = 1",
	    "SET character_set_client = utf8mb4, collation_connection = utf8mb4_general_ci",
	    "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_"
	    "USER,NO_ENGINE_SUBSTITUTION'",
	    "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `practice_a` /*!40100 DEFAULT CHARACTER SET "
	    "utf8mb4 COLLATE utf8mb4_general_ci */",
	    "USE `practice_a`",
	    "DROP TABLE IF EXISTS `patient_data`",
	    "CREATE TABLE `patient_data` (\n  `pid` int(11) NOT NULL AUTO_INCREMENT,\n  `fname` "
	    "varchar(64) DEFAULT NULL,\n  `DOB` date DEFAULT NULL,\n  `updated` timestamp NOT NULL "
	    "DEFAULT current_timestamp() ON UPDATE current_timestamp(),\n  `doc` longtext "
	    "CHARACTER "
	    "SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`doc`)),\n  PRIMARY "
	    "KEY "
	    "(`pid`),\n  KEY `fk` (`fname`),\n  CONSTRAINT `c1` FOREIGN KEY (`pid`) REFERENCES "
	    "`other_table` (`id`) ON DELETE CASCADE ON UPDATE CASCADE\n) ENGINE=InnoDB "
	    "AUTO_INCREMENT=4 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci COMMENT='it''s'",
	    "INSERT INTO `patient_data` (`pid`,`fname`,`DOB`,`doc`) VALUES (1,'Ada','1815-12-10',"
	    "'{\\\"a\\\": "
	    "1}'),(2,'O\\'Brien',NULL,NULL),(3,'x\\\\',0x00FF,''),(-4,'',1.5e-3,'0000-00-00')",
	    "DROP SEQUENCE IF EXISTS `s`",
	    "CREATE SEQUENCE `s` start with 1 minvalue 1 maxvalue 9223372036854775806 increment by "
	    "1 "
	    "cache 1000 nocycle ENGINE=InnoDB",
	    "DO SETVAL(`s`, 1001, 0)",
	    "CREATE TABLE `v` (`a` tinyint, `b` tinyint)",
	    "DROP VIEW IF EXISTS `v`",
	    "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v` "
	    "AS "
	    "select `practice_a`.`t`.`a` AS `a`,`x`.`b` AS `b` from (`practice_a`.`t` join "
	    "`practice_a`.`u` `x` on(`practice_a`.`t`.`a` = `x`.`a`))",
	    "DROP TRIGGER IF EXISTS `trg`",
	    "CREATE DEFINER=`root`@`localhost` TRIGGER `trg` BEFORE INSERT ON `patient_data` FOR "
	    "EACH ROW BEGIN\n  IF NEW.fname IS NULL THEN SET NEW.fname = 'x'; END IF;\n  SET "
	    "NEW.DOB = IF(NEW.DOB IS NULL, '2000-01-01', NEW.DOB);\nEND",
	    "CREATE DEFINER=`app`@`%` PROCEDURE `p`(IN n INT)\nBEGIN\n  DECLARE i INT DEFAULT 0;\n"
	    "  lbl: WHILE i < n DO\n    INSERT INTO tick VALUES (i);\n    SET i = i + 1;\n  END "
	    "WHILE lbl;\n  SELECT COUNT(*) INTO @c FROM tick;\n  CASE WHEN @c > 1 THEN SELECT 1; "
	    "ELSE SELECT 2; END CASE;\nEND",
	    "CREATE DEFINER='root'@'localhost' FUNCTION `f`(a INT) RETURNS int(11)\n    "
	    "DETERMINISTIC\nRETURN a + 1",
	    "CREATE DEFINER=`root`@`localhost` EVENT `ev` ON SCHEDULE EVERY 1 DAY STARTS "
	    "'2026-01-01 00:00:00' ON COMPLETION NOT PRESERVE ENABLE DO DELETE FROM tick WHERE n < "
	    "0",
	};
	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		passes(dump(ok[i]), ok[i]);
}

static void test_definer_and_event_are_rewritten(void **state)
{
	(void)state;
	passes(dump("CREATE DEFINER=`root`@`localhost` EVENT `ev` ON SCHEDULE EVERY 1 SECOND ON "
	            "COMPLETION NOT PRESERVE ENABLE DO INSERT INTO tick VALUES (1)"),
	       "event");
	assert_non_null(c.rewritten);
	assert_string_equal(c.rewritten,
	                    "CREATE DEFINER=CURRENT_USER EVENT `ev` ON SCHEDULE EVERY 1 "
	                    "SECOND ON COMPLETION NOT PRESERVE DISABLE DO INSERT INTO "
	                    "tick VALUES (1)");
	/* no status at all: DISABLE goes in before COMMENT */
	passes(dump("CREATE EVENT e ON SCHEDULE EVERY 1 SECOND COMMENT 'c' DO SET @a = 1"), "bare");
	assert_string_equal(
	    c.rewritten,
	    "CREATE EVENT e ON SCHEDULE EVERY 1 SECOND DISABLE COMMENT 'c' DO SET @a = 1");
	passes(dump("CREATE DEFINER=root@localhost PROCEDURE p() SELECT 1"), "unquoted definer");
	assert_string_equal(c.rewritten, "CREATE DEFINER=CURRENT_USER PROCEDURE p() SELECT 1");
	passes(dump("CREATE DEFINER='admin'@'%' TRIGGER t AFTER UPDATE ON x FOR EACH ROW SET @a=1"),
	       "trigger");
	assert_string_equal(
	    c.rewritten,
	    "CREATE DEFINER=CURRENT_USER TRIGGER t AFTER UPDATE ON x FOR EACH ROW SET @a=1");
	/* a definer glued to the next word keeps them apart (found by the fuzzer) */
	passes(dump("CREATE DEFINER=`root`@`h`EVENT e ON SCHEDULE EVERY 1 SECOND ENABLE`x` DO SET "
		    "@a = 1"),
	       "glued");
	assert_string_equal(c.rewritten, "CREATE DEFINER=CURRENT_USER EVENT e ON SCHEDULE EVERY 1 "
					 "SECOND DISABLE `x` DO SET @a = 1");
	/* a NUL byte, even in a comment, would let the text be read two ways */
	static const char nul[] = "SET NAMES utf8mb4 # \0\n";
	refused(drb_sqlcheck_dump(&c, nul, sizeof nul - 1), "a NUL in a comment");
	passes(dump("SET NAMES utf8mb4"), "no rewrite");
	assert_null(c.rewritten);
}

static void test_forged_dump_statements_are_refused(void **state)
{
	static const char *const bad[] = {
	    /* server settings, accounts, files */
	    "SET GLOBAL general_log = 1",
	    "SET @@global.general_log = 1",
	    "SET SESSION sql_log_bin = 1",
	    "SET PASSWORD FOR root@localhost = PASSWORD('x')",
	    "SET @x = (SELECT 1)",
	    "SET time_zone = '+00:00', @@global.event_scheduler = ON",
	    "SET NAMES gbk",
	    "SET character_set_client = big5",
	    "SET SESSION sql_mode = 'ORACLE'",
	    "GRANT ALL ON *.* TO 'x'@'%'",
	    "CREATE USER x IDENTIFIED BY 'y'",
	    "INSTALL SONAME 'ha_connect'",
	    "SELECT * FROM mysql.user INTO OUTFILE '/tmp/x'",
	    "LOAD DATA LOCAL INFILE '/etc/drbackup/dr.key' INTO TABLE t",
	    /* executable comments, either way round */
	    "/*M!100000 SET GLOBAL general_log = 1*/",
	    "SET NAMES utf8mb4 /*M!100000 , @@global.general_log = 1*/",
	    "SET NAMES utf8mb4 /*!100000 , @@global.general_log = 1*/",
	    "CREATE TABLE `t` (a int) /*!999999 ' */ , b int) -- '",
	    "CREATE DATABASE /*!32312 IF NOT EXISTS; DROP DATABASE x*/ `practice_a`",
	    "CREATE DATABASE `practice_a` /*!40100 DEFAULT CHARACTER SET 'x*/' */",
	    /* more than one statement */
	    "DO SETVAL(`s`, 1, 0); SET GLOBAL x = 1",
	    "COMMIT; SET GLOBAL x = 1",
	    "USE `practice_a`; GRANT ALL ON *.* TO x",
	    "CREATE PROCEDURE p() SELECT 1; SET GLOBAL general_log = 1",
	    "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET @a = 1; SET GLOBAL y = 1",
	    "INSERT INTO `t` (`a`) VALUES (1); SET GLOBAL x = 1",
	    /* INSERT ... SELECT and other-practice reads */
	    "INSERT INTO `t` (`a`) SELECT `a` FROM `practice_b`.`patient_data`",
	    "INSERT INTO `t` (`a`) VALUES ((SELECT `a` FROM `practice_b`.`patient_data` LIMIT 1))",
	    "INSERT INTO `t` (`a`) VALUES (LOAD_FILE('/etc/drbackup/dr.key'))",
	    "INSERT INTO `practice_b`.`t` (`a`) VALUES (1)",
	    "INSERT INTO t VALUES (1)",
	    "INSERT INTO `t` (`a`) VALUES (e)",
	    "CREATE VIEW v AS SELECT * FROM practice_b.patient_data",
	    "CREATE VIEW v AS SELECT * FROM t JOIN `practice_b`.`patient_data` p ON 1",
	    "CREATE VIEW v AS SELECT * FROM t, practice_b.patient_data",
	    "CREATE VIEW v AS SELECT `practice_b`.`p`.`fname` FROM t",
	    "CREATE VIEW v AS SELECT practice_b.f(1)",
	    "CREATE VIEW v AS SELECT * FROM mysql.user",
	    "CREATE VIEW v AS SELECT user FROM `mysql` . `global_priv`",
	    "CREATE TABLE `t` (a int) ENGINE=CONNECT TABLE_TYPE=CSV FILE_NAME='/etc/passwd'",
	    "CREATE TABLE `t` (a int) ENGINE=FEDERATED CONNECTION='mysql://x@10.0.0.1/db/t'",
	    "CREATE TABLE `t` (a int) DATA DIRECTORY='/etc'",
	    "CREATE TABLE `practice_b`.`t` (a int)",
	    "CREATE TABLE `t` (a int) SELECT * FROM practice_b.patient_data",
	    /* routines and events that reach past the practice */
	    "CREATE DEFINER=`root`@`localhost` EVENT e ON SCHEDULE EVERY 1 SECOND DO GRANT ALL ON "
	    "*.* TO 'x'@'%'",
	    "CREATE PROCEDURE p() BEGIN SET @s = 'GRANT ALL ON *.* TO x'; PREPARE q FROM @s; "
	    "EXECUTE q; END",
	    "CREATE PROCEDURE p() BEGIN INSERT INTO practice_b.t VALUES (1); END",
	    "CREATE PROCEDURE p() BEGIN CALL practice_b.q(); END",
	    "CREATE PROCEDURE p() BEGIN DROP DATABASE practice_b; END",
	    "CREATE PROCEDURE p() BEGIN DROP TABLE IF EXISTS practice_b.t; END",
	    "CREATE TRIGGER t AFTER INSERT ON x FOR EACH ROW UPDATE mysql.user SET x = 1",
	    "CREATE TRIGGER t AFTER INSERT ON x FOR EACH ROW BEGIN SET @@global.y = 1; END",
	    "CREATE FUNCTION f RETURNS STRING SONAME 'lib_mysqludf_sys.so'",
	    "CREATE PROCEDURE p() BEGIN SELECT 1; END; SET GLOBAL x = 1",
	    "CREATE PROCEDURE p() BEGIN SELECT 1; END END",
	    "CREATE DEFINER=(SELECT 1) PROCEDURE p() SELECT 1",
	    /* other databases and the system schemas */
	    "USE `practice_b`",
	    "USE `mysql`",
	    "CREATE DATABASE `mysql`",
	    "CREATE DATABASE IF NOT EXISTS `practice_b`",
	    "DROP TABLE IF EXISTS `practice_b`.`t`",
	    "DROP DATABASE `practice_a`",
	    "DO SETVAL(`practice_b`.`s`, 1, 0)",
	    "DO SLEEP(10)",
	    "SELECT 1",
	    "ALTER TABLE t ADD b int",
	    "/* a comment */",
	    "",
	    /* text that does not tokenize */
	    "SET time_zone = '+00:00",
	    "CREATE TABLE `t (a int)",
	    "CREATE TABLE t (a int) /* never ends",
	};
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		refused(dump(bad[i]), bad[i]);
	static const char nul[] = "SET time_zone = '+00:00\0', @@global.x = 1";
	refused(drb_sqlcheck_dump(&c, nul, sizeof nul - 1), "a NUL byte");
}

/* A backslash is plain under NO_BACKSLASH_ESCAPES: 'x\' ends the string, and what follows is
 * code the checker must see. */
static void test_backslashes_read_as_the_server_does(void **state)
{
	static const char hidden[] = "INSERT INTO `t` (`a`) VALUES ('x\\'), (SELECT `b` FROM "
	                             "`practice_b`.`t`) -- ')";
	(void)state;
	c.no_backslash = false;
	/* with escapes the string runs to the last quote: one value, as the server reads it */
	passes(dump(hidden), hidden);
	c.no_backslash = true;
	refused(dump(hidden), hidden);
	static const char view[] = "CREATE VIEW v AS SELECT 'x\\' AS a FROM practice_b.t -- '";
	c.no_backslash = false;
	passes(dump(view), "the whole tail is a string with escapes");
	c.no_backslash = true;
	refused(dump(view), view);
	c.no_backslash = false;
	/* the sql_mode a dump sets is tracked: ANSI_QUOTES makes "x" an identifier */
	passes(dump("SET SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'"), "ansi");
	assert_true(c.ansi_quotes);
	assert_true(c.no_backslash);
	refused(dump("CREATE VIEW v AS SELECT \"x\\\" FROM practice_b.t -- \""), "ansi view");
	passes(dump("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'"), "back");
	assert_false(c.ansi_quotes);
	assert_false(c.no_backslash);
}

static void test_system_schema_is_never_the_database(void **state)
{
	(void)state;
	c.db = "mysql";
	refused(dump("SET NAMES utf8mb4"), "db mysql");
	c.db = "INFORMATION_SCHEMA";
	refused(dump("COMMIT"), "db information_schema");
	c.db = "practice_a";
}

/* mariadb-binlog's text for a ROW-format binlog of DML and DDL (10.11). */
static void test_binlog_output_passes(void **state)
{
	static const char *const ok[] = {
	    "/*!50530 SET @@SESSION.PSEUDO_SLAVE_MODE=1*/",
	    "/*!40019 SET @@session.max_delayed_threads=0*/",
	    "/*!32316 SET @OLD_SQL_LOG_BIN=@@SQL_LOG_BIN, SQL_LOG_BIN=0*/",
	    "/*!50003 SET @OLD_COMPLETION_TYPE=@@COMPLETION_TYPE,COMPLETION_TYPE=0*/",
	    "ROLLBACK",
	    "BINLOG '\nb5gGaw8BAAAA/AAAAAABAAAAAAQAMTAuMTEu\nAAAAAAAAAAAEEwQADQgICAoKCgF9bgo7\n'",
	    "/*M!100101 SET @@session.skip_parallel_replication=0*/",
	    "/*M!100001 SET @@session.gtid_domain_id=0*/",
	    "/*M!100001 SET @@session.server_id=1*/",
	    "/*M!100001 SET @@session.gtid_seq_no=8*/",
	    "use `practice_a`",
	    "SET TIMESTAMP=1795594351",
	    "SET TIMESTAMP=1795594351.123456",
	    "SET @@session.pseudo_thread_id=6",
	    "SET @@session.foreign_key_checks=1, @@session.sql_auto_is_null=0, "
	    "@@session.unique_checks=1, @@session.autocommit=1, "
	    "@@session.check_constraint_checks=1, "
	    "@@session.sql_if_exists=0, @@session.explicit_defaults_for_timestamp=1, "
	    "@@session.system_versioning_insert_history=0",
	    "SET @@session.sql_mode=1411383296",
	    "SET @@session.auto_increment_increment=1, @@session.auto_increment_offset=1",
	    "SET @@session.character_set_client=utf8mb3,@@session.collation_connection=33,"
	    "@@session.collation_server=8",
	    "SET @@session.lc_time_names=0",
	    "SET @@session.collation_database=DEFAULT",
	    "SET @@session.time_zone='SYSTEM'",
	    "CREATE DATABASE practice_b",
	    "CREATE TABLE practice_a.patient_data (pid INT PRIMARY KEY AUTO_INCREMENT, fname "
	    "VARCHAR(64),\n      lname VARCHAR(64), DOB DATE) ENGINE=InnoDB",
	    "START TRANSACTION",
	    "COMMIT",
	    "ALTER TABLE patient_data ADD COLUMN email varchar(64)",
	    "DROP TABLE IF EXISTS `t` /* generated by server */",
	    "CREATE INDEX i ON patient_data (lname)",
	    "TRUNCATE TABLE tick",
	    "RENAME TABLE a TO b",
	    "ROLLBACK /* added by mysqlbinlog */",
	    "/*!50003 SET COMPLETION_TYPE=@OLD_COMPLETION_TYPE*/",
	    "/*!50530 SET @@SESSION.PSEUDO_SLAVE_MODE=0*/",
	};
	(void)state;
	c.db = NULL;
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		passes(replay(ok[i]), ok[i]);
	/* an event's DDL arrives disabled, with the restoring account as definer */
	passes(replay("CREATE DEFINER=`root`@`localhost` EVENT e ON SCHEDULE EVERY 1 SECOND DO "
	              "INSERT INTO tick VALUES (1)"),
	       "event");
	assert_string_equal(c.rewritten, "CREATE DEFINER=CURRENT_USER EVENT e ON SCHEDULE EVERY 1 "
	                                 "SECOND DISABLE DO INSERT INTO tick VALUES (1)");
	passes(replay("ALTER EVENT e ENABLE"), "alter event");
	assert_string_equal(c.rewritten, "ALTER EVENT e DISABLE");
	/* accounts are not data: left out, not run */
	assert_int_equal(replay("GRANT ALL ON practice_a.* TO 'app'@'%'"), DRB_SQLCHECK_SKIP);
	assert_int_equal(replay("CREATE USER 'x'@'%' IDENTIFIED BY 'y'"), DRB_SQLCHECK_SKIP);
	assert_int_equal(replay("DROP USER x"), DRB_SQLCHECK_SKIP);
	c.db = "practice_a";
}

static void test_forged_replay_statements_are_refused(void **state)
{
	static const char *const bad[] = {
	    "SET GLOBAL general_log = 1",
	    "SET @@global.general_log=1",
	    "DO 1; SET GLOBAL general_log = 1",
	    "/* a comment */ SET GLOBAL general_log = 1",
	    "/*!*/ SET GLOBAL general_log = 1",
	    "SET/**/GLOBAL general_log = 1",
	    "/*M!100001 SET @@global.general_log=1*/",
	    "/*M!100001 SET @@session.gtid_seq_no=8; SET GLOBAL x=1*/",
	    "/*M!100001 SET @@session.gtid_seq_no=8*/ /*!100000 ; SET GLOBAL x=1*/",
	    "SET TIMESTAMP=1; SET GLOBAL x=1",
	    "SET @@session.sql_mode=512",
	    "SET @@session.character_set_client=gbk",
	    "SET @`x`:=1",
	    "LOAD DATA LOCAL INFILE '/etc/drbackup/dr.key' INTO TABLE t",
	    "SELECT LOAD_FILE('/etc/drbackup/dr.key')",
	    "INSERT INTO practice_a.t SELECT * FROM practice_b.t",
	    "INSERT INTO t VALUES (1)",
	    "UPDATE t SET a = 1",
	    "CALL p()",
	    "INSTALL SONAME 'ha_connect'",
	    "SHUTDOWN",
	    "use `mysql`",
	    "use `practice_b`",
	    "CREATE DATABASE mysql",
	    "DROP DATABASE sys",
	    "ALTER TABLE mysql.user ADD x int",
	    "CREATE TABLE practice_b.t (a int)",
	    "CREATE TABLE t (a int) ENGINE=CONNECT TABLE_TYPE=CSV FILE_NAME='/etc/drbackup/dr.key'",
	    "CREATE TABLE t (a int); SET GLOBAL x = 1",
	    "CREATE TABLE t (a int) /*!999999 ; SET GLOBAL x = 1 */",
	    "CREATE PROCEDURE p() SELECT 1; SET GLOBAL x = 1",
	    "CREATE TRIGGER t AFTER INSERT ON x FOR EACH ROW BEGIN GRANT ALL ON *.* TO y; END",
	    "BINLOG 'abc' ; SET GLOBAL x=1",
	    "BINLOG 'ab;c'",
	    "BINLOG 0x41",
	    "ROLLBACK; SET GLOBAL x=1",
	    "START TRANSACTION; DO 1",
	    "CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (HOST '10.0.0.1')",
	    "ALTER SERVER s OPTIONS (HOST 'x')",
	    "FLUSH PRIVILEGES; SET GLOBAL x = 1",
	};
	(void)state;
	c.db = "practice_a";
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int rc = replay(bad[i]);
		if (strncmp(bad[i], "FLUSH", 5) == 0)
			assert_int_equal(rc, DRB_SQLCHECK_SKIP); /* left out whole, never run */
		else
			refused(rc, bad[i]);
	}
	/* under a binlog's NO_BACKSLASH_ESCAPES, 'x\' ends the string */
	passes(replay("SET @@session.sql_mode=1048576"), "nbe");
	assert_true(c.no_backslash);
	refused(replay("CREATE TABLE t (a int) COMMENT 'x\\'; SET GLOBAL x = 1; -- '"),
	        "nbe hides");
	passes(replay("SET @@session.sql_mode=1411383296"), "back");
	assert_false(c.no_backslash);
	passes(replay("CREATE TABLE t (a int) COMMENT 'x\\'; SET GLOBAL x = 1; -- '"), "a comment");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_dumper_output_passes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_definer_and_event_are_rewritten, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forged_dump_statements_are_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_backslashes_read_as_the_server_does, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_system_schema_is_never_the_database, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_binlog_output_passes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forged_replay_statements_are_refused, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
