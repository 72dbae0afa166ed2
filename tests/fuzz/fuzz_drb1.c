/* Fuzz target: the DRB1 object reader on arbitrary bytes, with a fixed key that is a recipient
 * of the seed objects, so the fuzzer reaches past the header into the chunks. */
#include "config.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/drb1.h"
#include "common/error.h"
#include "common/keys.h"
#include "common/sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The seeds in tests/fuzz/corpus/drb1 are sealed to the key with this secret (all 0x42). */
static drb_keyring *ring(void)
{
	static drb_keyring *kr;
	if (!kr) {
		if (sodium_init() < 0)
			abort();
		drb_seckey *sk = sodium_malloc(sizeof *sk);
		memset(sk->sk, 0x42, sizeof sk->sk);
		crypto_scalarmult_base(sk->pk, sk->sk);
		drb_key_id(sk->pk, sk->id);
		kr = drb_keyring_new();
		drb_keyring_add_sec(kr, sk);
	}
	return kr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	drb_sink *out = drb_null_sink_new(), *open = NULL;
	if (drb_open_new(out, ring(), "fuzz/object.drb", &open) < 0) {
		drb_sink_free(out);
		return 0;
	}
	/* feed in uneven pieces to exercise the reassembly of headers and chunks */
	size_t off = 0, step = 1;
	int rc = 0;
	while (off < size && rc == 0) {
		size_t n = size - off < step ? size - off : step;
		rc = drb_sink_write(open, data + off, n);
		off += n;
		step = step * 3 + 1;
	}
	if (rc == 0)
		drb_sink_finish(open);
	drb_sink_free(open);
	drb_error_clear();
	return 0;
}
