# s3/: the S3 repository driver (SigV4, requests with retries, multipart, listing).
libdrbackup_a_SOURCES += \
	s3/s3.h \
	s3/internal.h \
	s3/driver.c \
	s3/sign.c \
	s3/request.c \
	s3/xml.c \
	s3/read.c \
	s3/write.c \
	s3/list.c \
	s3/remove.c \
	s3/lock.c \
	s3/versions.c

unit_s3 = \
	tests/unit/test_s3_sign \
	tests/unit/test_s3_xml \
	tests/unit/test_s3_write
integration_s3 = \
	tests/integration/test_s3 \
	tests/integration/test_s3_fault \
	tests/integration/test_s3_lock
check_PROGRAMS += $(unit_s3) $(integration_s3)
TESTS += $(unit_s3) $(integration_s3)

tests_unit_test_s3_sign_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_s3_sign_LDADD = $(TEST_LIBS)
tests_unit_test_s3_xml_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_s3_xml_LDADD = $(TEST_LIBS)
tests_unit_test_s3_write_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_s3_write_LDADD = $(TEST_LIBS)
s3_support = tests/integration/test_s3_support.c tests/integration/test_s3_support.h
tests_integration_test_s3_SOURCES = tests/integration/test_s3.c $(s3_support)
tests_integration_test_s3_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_s3_LDADD = $(TEST_LIBS)
tests_integration_test_s3_fault_SOURCES = tests/integration/test_s3_fault.c $(s3_support)
tests_integration_test_s3_fault_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_s3_fault_LDADD = $(TEST_LIBS)
tests_integration_test_s3_lock_SOURCES = tests/integration/test_s3_lock.c $(s3_support)
tests_integration_test_s3_lock_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_s3_lock_LDADD = $(TEST_LIBS)

# the listing parser (and the other answer parsers) on arbitrary bytes
fuzz_more += tests/fuzz/fuzz_s3_list
# xml.c is compiled into the target itself so that libFuzzer sees its coverage (the library is
# built without -fsanitize=fuzzer)
tests_fuzz_fuzz_s3_list_SOURCES = tests/fuzz/fuzz_s3_list.c s3/xml.c $(FUZZ_REPLAY)
tests_fuzz_fuzz_s3_list_CFLAGS = $(FUZZ_COMPILEFLAGS)
tests_fuzz_fuzz_s3_list_LDFLAGS = $(FUZZ_LINKFLAGS)
tests_fuzz_fuzz_s3_list_LDADD = $(FUZZ_LINKLIBS)

# the ListObjectVersions parser (--repo-as-of, delete_versions) on arbitrary bytes
fuzz_more += tests/fuzz/fuzz_s3_versions
tests_fuzz_fuzz_s3_versions_SOURCES = tests/fuzz/fuzz_s3_versions.c s3/xml.c $(FUZZ_REPLAY)
tests_fuzz_fuzz_s3_versions_CFLAGS = $(FUZZ_COMPILEFLAGS)
tests_fuzz_fuzz_s3_versions_LDFLAGS = $(FUZZ_LINKFLAGS)
tests_fuzz_fuzz_s3_versions_LDADD = $(FUZZ_LINKLIBS)
