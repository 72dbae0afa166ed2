/* common/keys: key files, their modes, and what loading refuses. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/error.h"
#include "common/keys.h"
#include "tests/harness.h"

static char *dir;

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	dir = drbt_tmpdir("keys");
	return dir ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	drbt_rmtree(dir);
	free(dir);
	return 0;
}

static void test_keygen_files(void **state)
{
	char prefix[4200], p[4300];
	struct stat st;
	drb_pubkey pub, loaded;
	drb_seckey *sk = NULL;
	(void)state;
	snprintf(prefix, sizeof prefix, "%s/k1", dir);
	assert_int_equal(drb_keygen(prefix, &pub), 0);
	snprintf(p, sizeof p, "%s.key", prefix);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(drb_seckey_load(p, &sk), 0);
	snprintf(p, sizeof p, "%s.pub", prefix);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(drb_pubkey_load(p, &loaded), 0);
	assert_memory_equal(loaded.pk, pub.pk, DRB_KEY_BYTES);
	assert_memory_equal(loaded.id, pub.id, DRB_KEY_ID_BYTES);
	/* the secret key derives the same public key and id */
	assert_memory_equal(sk->pk, pub.pk, DRB_KEY_BYTES);
	assert_memory_equal(sk->id, pub.id, DRB_KEY_ID_BYTES);
	drb_seckey_free(sk);
}

static void test_keygen_never_overwrites(void **state)
{
	char prefix[4200], p[4300];
	(void)state;
	snprintf(prefix, sizeof prefix, "%s/k2", dir);
	assert_int_equal(drb_keygen(prefix, NULL), 0);
	char *before = drbt_read_file((snprintf(p, sizeof p, "%s.key", prefix), p), NULL);
	assert_int_equal(drb_keygen(prefix, NULL), DRB_ERR_EXISTS);
	char *after = drbt_read_file(p, NULL);
	assert_string_equal(before, after);
	free(before);
	free(after);
	/* a lone .pub also blocks */
	snprintf(prefix, sizeof prefix, "%s/k3", dir);
	snprintf(p, sizeof p, "%s.pub", prefix);
	drbt_write_file(p, "x", 0644);
	assert_int_equal(drb_keygen(prefix, NULL), DRB_ERR_EXISTS);
	snprintf(p, sizeof p, "%s.key", prefix);
	assert_int_equal(access(p, F_OK), -1);
}

static void test_secret_key_refused_when_readable(void **state)
{
	char prefix[4200], p[4300], msg[2048];
	drb_seckey *sk = NULL;
	(void)state;
	snprintf(prefix, sizeof prefix, "%s/k4", dir);
	assert_int_equal(drb_keygen(prefix, NULL), 0);
	snprintf(p, sizeof p, "%s.key", prefix);
	chmod(p, 0644);
	assert_int_equal(drb_seckey_load(p, &sk), DRB_ERR_PERMISSION);
	drb_error_line(msg, sizeof msg);
	assert_non_null(strstr(msg, "k4.key"));
	assert_non_null(strstr(msg, "chmod 600"));
	chmod(p, 0600);
	assert_int_equal(drb_seckey_load(p, &sk), 0);
	drb_seckey_free(sk);
}

static void test_wrong_files(void **state)
{
	char prefix[4200], p[4300], msg[2048];
	drb_pubkey pk;
	drb_seckey *sk = NULL;
	(void)state;
	snprintf(prefix, sizeof prefix, "%s/k5", dir);
	assert_int_equal(drb_keygen(prefix, NULL), 0);
	/* a secret key where a public one is expected */
	snprintf(p, sizeof p, "%s.key", prefix);
	assert_int_equal(drb_pubkey_load(p, &pk), DRB_ERR_FORMAT);
	drb_error_line(msg, sizeof msg);
	assert_non_null(
		strstr(msg, "holds a secret sealing key where a public sealing key was expected"));
	/* and the other way round (made 0600 so only the content is wrong) */
	snprintf(p, sizeof p, "%s.pub", prefix);
	chmod(p, 0600);
	assert_int_equal(drb_seckey_load(p, &sk), DRB_ERR_FORMAT);
	/* damaged base64 and a short key */
	snprintf(p, sizeof p, "%s/bad.pub", dir);
	drbt_write_file(p, "drbackup-public-key-v1 !!!notbase64\n", 0644);
	assert_int_equal(drb_pubkey_load(p, &pk), DRB_ERR_FORMAT);
	drbt_write_file(p, "drbackup-public-key-v1 AAAA\n", 0644);
	assert_int_equal(drb_pubkey_load(p, &pk), DRB_ERR_FORMAT);
	drbt_write_file(p, "hello\n", 0644);
	assert_int_equal(drb_pubkey_load(p, &pk), DRB_ERR_FORMAT);
	snprintf(p, sizeof p, "%s/missing.pub", dir);
	assert_int_equal(drb_pubkey_load(p, &pk), DRB_ERR_NOT_FOUND);
}

static void test_key_id_is_blake2b_prefix(void **state)
{
	uint8_t pk[32], id[8], h[32];
	(void)state;
	memset(pk, 7, sizeof pk);
	drb_key_id(pk, id);
	crypto_generichash(h, sizeof h, pk, sizeof pk, NULL, 0);
	assert_memory_equal(id, h, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keygen_files),
		cmocka_unit_test(test_keygen_never_overwrites),
		cmocka_unit_test(test_secret_key_refused_when_readable),
		cmocka_unit_test(test_wrong_files),
		cmocka_unit_test(test_key_id_is_blake2b_prefix),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
