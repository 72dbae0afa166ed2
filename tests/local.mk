# tests/: unit tests of common/ and cli/, integration tests of the commands against real servers.
unit_common = \
	tests/unit/test_error \
	tests/unit/test_config \
	tests/unit/test_keys \
	tests/unit/test_drb1 \
	tests/unit/test_repo_posix \
	tests/unit/test_plan \
	tests/unit/test_replay \
	tests/unit/test_sign \
	tests/unit/test_retention \
	tests/unit/test_sqlcheck \
	tests/unit/test_replay_filter \
	tests/unit/test_binlog_scan
integration_common = \
	tests/integration/test_cli \
	tests/integration/test_check \
	tests/integration/test_backup_restore \
	tests/integration/test_pitr \
	tests/integration/test_compact \
	tests/integration/test_signing \
	tests/integration/test_agent \
	tests/integration/test_expire \
	tests/integration/test_fences \
	tests/integration/test_fleet \
	tests/integration/test_export

check_PROGRAMS += $(unit_common) $(integration_common)
TESTS += $(unit_common) $(integration_common)

tests_unit_test_error_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_error_LDADD = $(TEST_LIBS)
tests_unit_test_config_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_config_LDADD = $(TEST_LIBS)
tests_unit_test_keys_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_keys_LDADD = $(TEST_LIBS)
tests_unit_test_drb1_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_drb1_LDADD = $(TEST_LIBS)
tests_unit_test_repo_posix_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_repo_posix_LDADD = $(TEST_LIBS)
tests_unit_test_plan_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_plan_LDADD = $(TEST_LIBS)
tests_unit_test_retention_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_retention_LDADD = $(TEST_LIBS)
tests_unit_test_sign_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_sign_LDADD = $(TEST_LIBS)
tests_unit_test_replay_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_replay_LDADD = $(TEST_LIBS)
tests_unit_test_sqlcheck_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_sqlcheck_LDADD = $(TEST_LIBS)
tests_unit_test_replay_filter_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_replay_filter_LDADD = $(TEST_LIBS)
tests_unit_test_binlog_scan_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_binlog_scan_LDADD = $(TEST_LIBS)
tests_integration_test_cli_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_cli_LDADD = $(TEST_LIBS)
tests_integration_test_check_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_check_LDADD = $(TEST_LIBS)
# the S3 support (Ceph RGW, s3t_rgw_start) is linked in for the two-region case
tests_integration_test_backup_restore_SOURCES = tests/integration/test_backup_restore.c $(s3_support)
tests_integration_test_backup_restore_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_backup_restore_LDADD = $(TEST_LIBS)
tests_integration_test_pitr_SOURCES = tests/integration/test_pitr.c $(s3_support)
tests_integration_test_pitr_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_pitr_LDADD = $(TEST_LIBS)
tests_integration_test_compact_SOURCES = tests/integration/test_compact.c $(s3_support)
tests_integration_test_compact_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_compact_LDADD = $(TEST_LIBS)
tests_integration_test_signing_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_signing_LDADD = $(TEST_LIBS)
tests_integration_test_agent_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_agent_LDADD = $(TEST_LIBS)
tests_integration_test_expire_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_expire_LDADD = $(TEST_LIBS)
tests_integration_test_fences_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_fences_LDADD = $(TEST_LIBS)
tests_integration_test_fleet_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_fleet_LDADD = $(TEST_LIBS)
tests_integration_test_export_SOURCES = tests/integration/test_export.c $(s3_support)
tests_integration_test_export_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_export_LDADD = $(TEST_LIBS)

EXTRA_DIST += tests/fuzz tests/bench tests/rgw.sh

# Fuzz targets: replayed over their seed corpus in every `make check`; real libFuzzer binaries
# with CC=clang ./configure --enable-fuzzers (quickstart test runs each for a while).
if FUZZERS
FUZZ_REPLAY =
FUZZ_COMPILEFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
FUZZ_LINKFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
else
FUZZ_REPLAY = tests/fuzz/replay.c
FUZZ_COMPILEFLAGS = $(AM_CFLAGS)
FUZZ_LINKFLAGS = $(AM_LDFLAGS)
endif
FUZZ_LINKLIBS = libdrbackup.a $(DRB_LIBS)
fuzz_targets = tests/fuzz/fuzz_drb1 tests/fuzz/fuzz_config tests/fuzz/fuzz_binlog \
	tests/fuzz/fuzz_sqlcheck tests/fuzz/fuzz_meta
tests_fuzz_fuzz_meta_SOURCES = tests/fuzz/fuzz_meta.c $(FUZZ_REPLAY)
tests_fuzz_fuzz_meta_CFLAGS = $(FUZZ_COMPILEFLAGS)
tests_fuzz_fuzz_meta_LDFLAGS = $(FUZZ_LINKFLAGS)
tests_fuzz_fuzz_meta_LDADD = $(FUZZ_LINKLIBS)
tests_fuzz_fuzz_drb1_SOURCES = tests/fuzz/fuzz_drb1.c $(FUZZ_REPLAY)
tests_fuzz_fuzz_drb1_CFLAGS = $(FUZZ_COMPILEFLAGS)
tests_fuzz_fuzz_drb1_LDFLAGS = $(FUZZ_LINKFLAGS)
tests_fuzz_fuzz_drb1_LDADD = $(FUZZ_LINKLIBS)
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c $(FUZZ_REPLAY)
tests_fuzz_fuzz_config_CFLAGS = $(FUZZ_COMPILEFLAGS)
tests_fuzz_fuzz_config_LDFLAGS = $(FUZZ_LINKFLAGS)
tests_fuzz_fuzz_config_LDADD = $(FUZZ_LINKLIBS)
tests_fuzz_fuzz_binlog_SOURCES = tests/fuzz/fuzz_binlog.c $(FUZZ_REPLAY)
tests_fuzz_fuzz_binlog_CFLAGS = $(FUZZ_COMPILEFLAGS)
tests_fuzz_fuzz_binlog_LDFLAGS = $(FUZZ_LINKFLAGS)
tests_fuzz_fuzz_binlog_LDADD = $(FUZZ_LINKLIBS)
tests_fuzz_fuzz_sqlcheck_SOURCES = tests/fuzz/fuzz_sqlcheck.c $(FUZZ_REPLAY)
tests_fuzz_fuzz_sqlcheck_CFLAGS = $(FUZZ_COMPILEFLAGS)
tests_fuzz_fuzz_sqlcheck_LDFLAGS = $(FUZZ_LINKFLAGS)
tests_fuzz_fuzz_sqlcheck_LDADD = $(FUZZ_LINKLIBS)
if FUZZERS
noinst_PROGRAMS = $(fuzz_targets) $(fuzz_more)
else
check_PROGRAMS += $(fuzz_targets) $(fuzz_more)
TESTS += $(fuzz_targets) $(fuzz_more)
endif
