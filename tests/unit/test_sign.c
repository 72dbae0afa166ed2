/* common/sign: metadata signed by a host's Ed25519 key and verified against pinned keys. One
 * changed byte, another object's key, another host, a key not pinned, a revoked key, a retired
 * key past its date, and a malformed signature line are all refused; unsigned metadata is
 * usable only when the trust allows it. */
#include "config.h"

#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/error.h"
#include "common/keys.h"
#include "common/sign.h"

static const char body[] = "{\n \"end_gtid\": \"0-1-42\",\n \"kind\": \"binlog\"\n}\n";
#define KEY "db01/binlog/1-G/mysql-bin.000001-000000000000.json"

static drb_signer *new_signer(const char *host)
{
	drb_signer *s = calloc(1, sizeof *s);
	snprintf(s->host_id, sizeof s->host_id, "%s", host);
	s->key = sodium_malloc(sizeof *s->key);
	uint8_t seed[32];
	randombytes_buf(seed, sizeof seed);
	crypto_sign_seed_keypair(s->key->pk, s->key->sk, seed);
	drb_key_id(s->key->pk, s->key->id);
	return s;
}

static drb_trust *trust_for(const char *host, const drb_signer *s, int64_t until, bool revoked)
{
	drb_trust *t = calloc(1, sizeof *t);
	t->hosts = calloc(1, sizeof *t->hosts);
	t->n_hosts = 1;
	t->hosts[0].host_id = strdup(host);
	t->hosts[0].keys = calloc(1, sizeof *t->hosts[0].keys);
	t->hosts[0].n = 1;
	memcpy(t->hosts[0].keys[0].pub.pk, s->key->pk, 32);
	memcpy(t->hosts[0].keys[0].pub.id, s->key->id, 8);
	t->hosts[0].keys[0].until = until;
	t->hosts[0].keys[0].revoked = revoked;
	return t;
}

static char *signed_text(const drb_signer *s, const char *key, const char *kind, size_t *len)
{
	char *out = NULL;
	assert_int_equal(drb_meta_sign(s, key, kind, body, strlen(body), &out, len), 0);
	return out;
}

static void test_round_trip(void **state)
{
	(void)state;
	drb_signer *s = new_signer("db01");
	drb_trust *t = trust_for("db01", s, 0, false);
	size_t len;
	char *text = signed_text(s, KEY, "binlog", &len);
	drb_meta_check c;
	drb_meta_verify(t, "db01", KEY, "binlog", text, len, &c);
	assert_int_equal(c.status, DRB_META_VERIFIED);
	assert_int_equal(c.body_len, strlen(body));
	assert_memory_equal(text, body, strlen(body));
	assert_string_equal(c.signer, "db01");
	assert_true(drb_meta_usable(t, &c));
	free(text);
	drb_trust_free(t);
	drb_signer_free(s);
}

static void test_every_changed_byte_is_refused(void **state)
{
	(void)state;
	drb_signer *s = new_signer("db01");
	drb_trust *t = trust_for("db01", s, 0, false);
	size_t len;
	char *text = signed_text(s, KEY, "binlog", &len);
	for (size_t i = 0; i < strlen(body); i++) {
		drb_meta_check c;
		text[i] ^= 0x01;
		drb_meta_verify(t, "db01", KEY, "binlog", text, len, &c);
		assert_int_not_equal(c.status, DRB_META_VERIFIED);
		assert_false(drb_meta_usable(t, &c));
		text[i] ^= 0x01;
	}
	free(text);
	drb_trust_free(t);
	drb_signer_free(s);
}

static void test_bound_to_key_kind_and_host(void **state)
{
	(void)state;
	drb_signer *s = new_signer("db01");
	drb_trust *t = trust_for("db01", s, 0, false);
	size_t len;
	char *text = signed_text(s, KEY, "binlog", &len);
	drb_meta_check c;
	/* moved to another object */
	drb_meta_verify(t, "db01", "db01/binlog/1-G/mysql-bin.000002-000000000000.json", "binlog", text,
			len, &c);
	assert_int_equal(c.status, DRB_META_BAD);
	assert_non_null(strstr(c.why, "does not verify"));
	/* read as another kind */
	drb_meta_verify(t, "db01", KEY, "full", text, len, &c);
	assert_int_equal(c.status, DRB_META_BAD);
	/* presented under another host: db01's signature on db02's object */
	drb_trust *both = trust_for("db02", s, 0, false);
	drb_meta_verify(both, "db02", "db02/binlog/1-G/x.json", "binlog", text, len, &c);
	assert_int_equal(c.status, DRB_META_BAD);
	assert_non_null(strstr(c.why, "not by the host it belongs to"));
	free(text);
	drb_trust_free(both);
	drb_trust_free(t);
	drb_signer_free(s);
}

static void test_unpinned_revoked_retired(void **state)
{
	(void)state;
	drb_signer *s = new_signer("db01"), *other = new_signer("db01");
	size_t len;
	char *text = signed_text(s, KEY, "binlog", &len);
	drb_meta_check c;
	/* a key not pinned for the host (a forger holding only public keys has one of its own) */
	drb_trust *t = trust_for("db01", other, 0, false);
	drb_meta_verify(t, "db01", KEY, "binlog", text, len, &c);
	assert_int_equal(c.status, DRB_META_BAD);
	assert_non_null(strstr(c.why, "not pinned"));
	drb_trust_free(t);
	/* no trust at all */
	drb_meta_verify(NULL, "db01", KEY, "binlog", text, len, &c);
	assert_int_equal(c.status, DRB_META_BAD);
	/* revoked */
	t = trust_for("db01", s, 0, true);
	drb_meta_verify(t, "db01", KEY, "binlog", text, len, &c);
	assert_int_equal(c.status, DRB_META_BAD);
	assert_non_null(strstr(c.why, "revoked"));
	drb_trust_free(t);
	/* retired before this signature was made, then after */
	t = trust_for("db01", s, time(NULL) - 3600, false);
	drb_meta_verify(t, "db01", KEY, "binlog", text, len, &c);
	assert_int_equal(c.status, DRB_META_BAD);
	assert_non_null(strstr(c.why, "retired"));
	drb_trust_free(t);
	t = trust_for("db01", s, time(NULL) + 3600, false);
	drb_meta_verify(t, "db01", KEY, "binlog", text, len, &c);
	assert_int_equal(c.status, DRB_META_VERIFIED);
	drb_trust_free(t);
	free(text);
	drb_signer_free(s);
	drb_signer_free(other);
}

static void test_unsigned_and_malformed(void **state)
{
	(void)state;
	drb_signer *s = new_signer("db01");
	drb_trust *t = trust_for("db01", s, 0, false);
	drb_meta_check c;
	drb_meta_verify(t, "db01", KEY, "binlog", body, strlen(body), &c);
	assert_int_equal(c.status, DRB_META_UNSIGNED);
	assert_int_equal(c.body_len, strlen(body));
	assert_false(drb_meta_usable(t, &c));
	t->allow_unsigned = true;
	assert_true(drb_meta_usable(t, &c));
	/* a signature line that does not parse is bad, never unsigned */
	char text[1024];
	snprintf(text, sizeof text, "%s#drbackup-signature v1 signer=db01 key=zz at=x sig=!!\n", body);
	drb_meta_verify(t, "db01", KEY, "binlog", text, strlen(text), &c);
	assert_int_equal(c.status, DRB_META_BAD);
	assert_false(drb_meta_usable(t, &c));
	drb_trust_free(t);
	drb_signer_free(s);
}

/* A restore-test report is written by the restore host under the tested host's key. */
static void test_restore_test_report_by_another_host(void **state)
{
	(void)state;
	drb_signer *rh = new_signer("restore01");
	drb_trust *t = trust_for("restore01", rh, 0, false);
	size_t len;
	char *text = signed_text(rh, "db01/restore-tests/20261201T000000Z.json", "restore-test", &len);
	drb_meta_check c;
	drb_meta_verify(t, "db01", "db01/restore-tests/20261201T000000Z.json", "restore-test", text,
			len, &c);
	assert_int_equal(c.status, DRB_META_VERIFIED);
	assert_string_equal(c.signer, "restore01");
	free(text);
	drb_trust_free(t);
	drb_signer_free(rh);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_every_changed_byte_is_refused),
		cmocka_unit_test(test_bound_to_key_kind_and_host),
		cmocka_unit_test(test_unpinned_revoked_retired),
		cmocka_unit_test(test_unsigned_and_malformed),
		cmocka_unit_test(test_restore_test_report_by_another_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
