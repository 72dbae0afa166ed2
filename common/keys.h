/* Key pairs (X25519) that objects are sealed to. Hosts that back up hold public keys only; the
 * secret keys live on restore hosts, in guarded memory (sodium_malloc: locked, fenced, wiped).
 * Files are text: comment lines starting with '#', then one line
 *   drbackup-public-key-v1 <base64 of 32 bytes>   or   drbackup-secret-key-v1 <base64 of 32 bytes>
 * and for signing (Ed25519, the database host's write key) the same with
 *   drbackup-signing-public-key-v1 / drbackup-signing-secret-key-v1 <base64 of the 32-byte seed>
 * A key's id is the first 8 bytes of the unkeyed BLAKE2b-256 hash of its public key. */
#ifndef DRB_KEYS_H
#define DRB_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"

#define DRB_KEY_BYTES 32
#define DRB_KEY_ID_BYTES 8

typedef struct drb_pubkey {
	uint8_t pk[DRB_KEY_BYTES];
	uint8_t id[DRB_KEY_ID_BYTES];
} drb_pubkey;

/* Lives in sodium_malloc memory, read-only while loaded. */
typedef struct drb_seckey {
	uint8_t sk[DRB_KEY_BYTES];
	uint8_t pk[DRB_KEY_BYTES];
	uint8_t id[DRB_KEY_ID_BYTES];
} drb_seckey;

/* An Ed25519 signing key (the host's write key), in sodium_malloc memory. */
typedef struct drb_signsec {
	uint8_t sk[64]; /* crypto_sign_SECRETKEYBYTES: seed and public key */
	uint8_t pk[DRB_KEY_BYTES];
	uint8_t id[DRB_KEY_ID_BYTES];
} drb_signsec;

typedef struct drb_keyring {
	drb_pubkey *pub; /* recipients of what this host seals */
	size_t n_pub;
	drb_seckey **sec; /* keys this host can open with */
	size_t n_sec;
} drb_keyring;

/* Write PREFIX.pub (0644) and PREFIX.key (0600); never replaces an existing file. */
int drb_keygen(const char *prefix, drb_pubkey *pub_out);

/* The same for an Ed25519 signing pair (keygen --sign): PREFIX.key holds the seed. */
int drb_signkey_gen(const char *prefix, drb_pubkey *pub_out);

int drb_pubkey_load(const char *path, drb_pubkey *out);
int drb_signpub_load(const char *path, drb_pubkey *out);
int drb_signsec_load(const char *path, drb_signsec **out);
void drb_signsec_free(drb_signsec *k);
int drb_seckey_load(const char *path, drb_seckey **out);
void drb_seckey_free(drb_seckey *k);

void drb_key_id(const uint8_t pk[DRB_KEY_BYTES], uint8_t id[DRB_KEY_ID_BYTES]);
/* 16 lowercase hex characters and a NUL. */
void drb_key_id_hex(const uint8_t id[DRB_KEY_ID_BYTES], char out[17]);

/* The configured keys. Secret keys are loaded only when want_secret is set. */
int drb_keyring_load(const drb_config *c, int want_secret, drb_keyring **out);
/* A keyring from keys already in memory (tests). Takes ownership of nothing. */
drb_keyring *drb_keyring_new(void);
int drb_keyring_add_pub(drb_keyring *kr, const drb_pubkey *pk);
int drb_keyring_add_sec(drb_keyring *kr, drb_seckey *sk); /* takes ownership */
void drb_keyring_free(drb_keyring *kr);

#endif
