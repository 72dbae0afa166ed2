/* Fuzz target: signed metadata as a restore host reads it from a repository: the signature line
 * is split off and checked against a pinned key, then the body is parsed as a manifest, a
 * segment description and a restore-test report. Nothing from a repository is trusted. */
#include "config.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/catalog.h"
#include "common/error.h"
#include "common/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static drb_trust *t;
	if (!t) {
		/* one pinned key, fixed so that runs repeat */
		static drb_trusted_key k;
		uint8_t seed[32] = {7}, sk[64];
		if (sodium_init() < 0)
			return 0;
		crypto_sign_seed_keypair(k.pub.pk, sk, seed);
		drb_key_id(k.pub.pk, k.pub.id);
		t = calloc(1, sizeof *t);
		t->hosts = calloc(1, sizeof *t->hosts);
		t->n_hosts = 1;
		t->hosts[0].host_id = strdup("db01");
		t->hosts[0].keys = &k;
		t->hosts[0].n = 1;
		t->allow_unsigned = true;
	}
	const char *text = (const char *)data;
	drb_meta_check c;
	drb_meta_verify(t, "db01", "db01/full/20261201T000000Z/manifest.json", "full", text, size, &c);
	if (drb_meta_usable(t, &c)) {
		drb_manifest *m = NULL;
		drb_segment s;
		drb_restore_test r;
		if (drb_manifest_from_json(text, c.body_len, "fuzz", &m) == 0)
			drb_manifest_free(m);
		if (drb_segment_from_json(text, c.body_len, "fuzz", &s) == 0)
			drb_segment_clear(&s);
		if (drb_restore_test_from_json(text, c.body_len, &r) == 0)
			drb_restore_test_clear(&r);
	}
	drb_error_clear();
	return 0;
}
