# tests/: unit tests of common/ and cli/, integration tests of the commands against real servers.
unit_common = \
	tests/unit/test_error \
	tests/unit/test_config \
	tests/unit/test_keys \
	tests/unit/test_drb1 \
	tests/unit/test_repo_posix
integration_common = \
	tests/integration/test_cli \
	tests/integration/test_check

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
tests_integration_test_cli_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_cli_LDADD = $(TEST_LIBS)
tests_integration_test_check_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_check_LDADD = $(TEST_LIBS)

EXTRA_DIST += tests/fuzz tests/bench
