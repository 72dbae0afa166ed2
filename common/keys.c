#include "config.h"
#include "common/keys.h"
#include "common/error.h"
#include "common/secret.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PUB_TAG "drbackup-public-key-v1"
#define SEC_TAG "drbackup-secret-key-v1"
#define SIGN_PUB_TAG "drbackup-signing-public-key-v1"
#define SIGN_SEC_TAG "drbackup-signing-secret-key-v1"

static const struct {
	const char *tag, *what;
} key_kinds[] = {
	{PUB_TAG, "public sealing key"},
	{SEC_TAG, "secret sealing key"},
	{SIGN_PUB_TAG, "public signing key"},
	{SIGN_SEC_TAG, "secret signing key"},
};

static const char *kind_name(const char *tag)
{
	for (size_t i = 0; i < sizeof key_kinds / sizeof *key_kinds; i++)
		if (strcmp(key_kinds[i].tag, tag) == 0)
			return key_kinds[i].what;
	return "key";
}
#define B64_VARIANT sodium_base64_VARIANT_ORIGINAL

void drb_key_id(const uint8_t pk[DRB_KEY_BYTES], uint8_t id[DRB_KEY_ID_BYTES])
{
	uint8_t h[32];
	crypto_generichash(h, sizeof h, pk, DRB_KEY_BYTES, NULL, 0);
	memcpy(id, h, DRB_KEY_ID_BYTES);
}

void drb_key_id_hex(const uint8_t id[DRB_KEY_ID_BYTES], char out[17])
{
	sodium_bin2hex(out, 17, id, DRB_KEY_ID_BYTES);
}

static int write_new_file(const char *path, mode_t mode, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			return drb_error(DRB_ERR_EXISTS, "%s already exists; keygen never replaces a key",
					 path);
		return drb_error_errno(0, errno, "creating %s", path);
	}
	size_t len = strlen(text);
	ssize_t w = write(fd, text, len);
	int e = errno;
	if (w != (ssize_t)len || fsync(fd) < 0 || fchmod(fd, mode) < 0) {
		e = w < 0 ? e : errno ? errno : EIO;
		close(fd);
		unlink(path);
		return drb_error_errno(0, e, "writing %s", path);
	}
	close(fd);
	return 0;
}

/* A new pair under PREFIX.pub and PREFIX.key: sealing (X25519) or signing (Ed25519, whose secret
 * file holds the 32-byte seed). */
static int keygen_pair(const char *prefix, bool sign, uint8_t pk[DRB_KEY_BYTES],
		       uint8_t id[DRB_KEY_ID_BYTES])
{
	char pub_path[4096], sec_path[4096], ts[32], idhex[17];
	char pk64[sodium_base64_ENCODED_LEN(DRB_KEY_BYTES, B64_VARIANT)];
	int rc;
	if (snprintf(pub_path, sizeof pub_path, "%s.pub", prefix) >= (int)sizeof pub_path ||
	    snprintf(sec_path, sizeof sec_path, "%s.key", prefix) >= (int)sizeof sec_path)
		return drb_error(DRB_ERR_USAGE, "key path too long");
	if (access(pub_path, F_OK) == 0 || access(sec_path, F_OK) == 0)
		return drb_error(DRB_ERR_EXISTS, "%s already exists; keygen never replaces a key",
				 access(pub_path, F_OK) == 0 ? pub_path : sec_path);

	/* the secret key and the text holding it stay in guarded memory */
	/* a sealing key, or a signing seed followed by the secret key derived from it */
	uint8_t *sk = sodium_malloc(DRB_KEY_BYTES + crypto_sign_SECRETKEYBYTES);
	char *text = sodium_malloc(1024);
	if (!sk || !text) {
		rc = drb_error(DRB_ERR_NOMEM, "cannot allocate guarded memory");
		goto out;
	}
	if (sign) {
		randombytes_buf(sk, DRB_KEY_BYTES); /* the seed; the rest is derived from it */
		crypto_sign_seed_keypair(pk, sk + DRB_KEY_BYTES, sk);
	} else {
		crypto_box_keypair(pk, sk);
	}
	drb_key_id(pk, id);
	drb_key_id_hex(id, idhex);
	sodium_bin2base64(pk64, sizeof pk64, pk, DRB_KEY_BYTES, B64_VARIANT);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);

	char sk64[sodium_base64_ENCODED_LEN(DRB_KEY_BYTES, B64_VARIANT)];
	sodium_bin2base64(sk64, sizeof sk64, sk, DRB_KEY_BYTES, B64_VARIANT);
	snprintf(text, 1024,
		 sign ? "# drbackup signing key (Ed25519 seed). It stays on the database host that "
			"signs with it, mode 0600.\n# key id: %s\n# created: %s\n" SIGN_SEC_TAG " %s\n"
		      : "# drbackup secret key (X25519). Keep it on restore hosts only, mode 0600.\n"
			"# key id: %s\n# created: %s\n" SEC_TAG " %s\n",
		 idhex, ts, sk64);
	sodium_memzero(sk64, sizeof sk64);
	rc = write_new_file(sec_path, 0600, text);
	if (rc < 0)
		goto out;
	snprintf(text, 1024,
		 sign ? "# drbackup signing public key (Ed25519). Restore hosts pin it for the host "
			"that signs with it.\n# key id: %s\n# created: %s\n" SIGN_PUB_TAG " %s\n"
		      : "# drbackup public key (X25519). Backups are sealed to it.\n"
			"# key id: %s\n# created: %s\n" PUB_TAG " %s\n",
		 idhex, ts, pk64);
	rc = write_new_file(pub_path, 0644, text);
	if (rc < 0)
		unlink(sec_path);
out:
	sodium_free(sk);
	sodium_free(text);
	return rc;
}

int drb_keygen(const char *prefix, drb_pubkey *pub_out)
{
	drb_pubkey k;
	int rc = keygen_pair(prefix, false, k.pk, k.id);
	if (rc == 0 && pub_out)
		*pub_out = k;
	return rc;
}

int drb_signkey_gen(const char *prefix, drb_pubkey *pub_out)
{
	drb_pubkey k;
	int rc = keygen_pair(prefix, true, k.pk, k.id);
	if (rc == 0 && pub_out)
		*pub_out = k;
	return rc;
}

/* Find "TAG <base64>" in text and decode exactly 32 bytes into out. */
static int parse_key_text(const char *text, const char *tag, const char *path, uint8_t *out)
{
	const char *line = text;
	size_t tag_len = strlen(tag);
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		if (len > tag_len && strncmp(line, tag, tag_len) == 0 && line[tag_len] == ' ') {
			const char *b64 = line + tag_len + 1;
			size_t b64_len = len - tag_len - 1;
			size_t bin_len = 0;
			while (b64_len && (b64[b64_len - 1] == '\r' || b64[b64_len - 1] == ' '))
				b64_len--;
			if (sodium_base642bin(out, DRB_KEY_BYTES, b64, b64_len, NULL, &bin_len, NULL,
					      B64_VARIANT) != 0 ||
			    bin_len != DRB_KEY_BYTES)
				return drb_error(DRB_ERR_FORMAT, "%s: the key is not 32 bytes of base64",
						 path);
			return 0;
		}
		line = end ? end + 1 : NULL;
	}
	for (size_t i = 0; i < sizeof key_kinds / sizeof *key_kinds; i++) {
		const char *at = strstr(text, key_kinds[i].tag);
		size_t n = strlen(key_kinds[i].tag);
		if (at && at[n] == ' ' && strcmp(key_kinds[i].tag, tag) != 0)
			return drb_error(DRB_ERR_FORMAT, "%s holds a %s where a %s was expected", path,
					 key_kinds[i].what, kind_name(tag));
	}
	return drb_error(DRB_ERR_FORMAT, "%s: no line \"%s <base64>\": not a drbackup key file",
			 path, tag);
}

static int pub_load(const char *path, const char *tag, drb_pubkey *out)
{
	char text[4096];
	FILE *f = fopen(path, "re");
	if (!f)
		return drb_error_errno(0, errno, "public key %s", path);
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = 0;
	int rc = parse_key_text(text, tag, path, out->pk);
	if (rc < 0)
		return rc;
	drb_key_id(out->pk, out->id);
	return 0;
}

int drb_pubkey_load(const char *path, drb_pubkey *out)
{
	return pub_load(path, PUB_TAG, out);
}

int drb_signpub_load(const char *path, drb_pubkey *out)
{
	return pub_load(path, SIGN_PUB_TAG, out);
}

int drb_signsec_load(const char *path, drb_signsec **out)
{
	char *text = NULL;
	drb_signsec *k = NULL;
	int rc = drb_secret_read(path, &text, NULL);
	if (rc < 0)
		return drb_error_wrap(0, "signing key");
	k = sodium_malloc(sizeof *k);
	if (!k) {
		rc = drb_error(DRB_ERR_NOMEM, "cannot allocate guarded memory for %s", path);
		goto out;
	}
	uint8_t seed[DRB_KEY_BYTES];
	rc = parse_key_text(text, SIGN_SEC_TAG, path, seed);
	if (rc < 0)
		goto out;
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	sodium_memzero(seed, sizeof seed);
	drb_key_id(k->pk, k->id);
	sodium_mprotect_readonly(k);
	*out = k;
	k = NULL;
out:
	drb_secret_free(text);
	if (k)
		sodium_free(k);
	return rc;
}

void drb_signsec_free(drb_signsec *k)
{
	if (k)
		sodium_free(k);
}

int drb_seckey_load(const char *path, drb_seckey **out)
{
	char *text = NULL;
	drb_seckey *k = NULL;
	int rc = drb_secret_read(path, &text, NULL);
	if (rc < 0)
		return drb_error_wrap(0, "secret key");
	k = sodium_malloc(sizeof *k);
	if (!k) {
		rc = drb_error(DRB_ERR_NOMEM, "cannot allocate guarded memory for %s", path);
		goto out;
	}
	rc = parse_key_text(text, SEC_TAG, path, k->sk);
	if (rc < 0)
		goto out;
	crypto_scalarmult_base(k->pk, k->sk);
	drb_key_id(k->pk, k->id);
	sodium_mprotect_readonly(k);
	*out = k;
	k = NULL;
out:
	drb_secret_free(text);
	if (k)
		sodium_free(k);
	return rc;
}

void drb_seckey_free(drb_seckey *k)
{
	if (k)
		sodium_free(k); /* wipes and unlocks */
}

drb_keyring *drb_keyring_new(void)
{
	return calloc(1, sizeof(drb_keyring));
}

int drb_keyring_add_pub(drb_keyring *kr, const drb_pubkey *pk)
{
	drb_pubkey *v = realloc(kr->pub, (kr->n_pub + 1) * sizeof *v);
	if (!v)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	kr->pub = v;
	kr->pub[kr->n_pub++] = *pk;
	return 0;
}

int drb_keyring_add_sec(drb_keyring *kr, drb_seckey *sk)
{
	drb_seckey **v = realloc(kr->sec, (kr->n_sec + 1) * sizeof *v);
	if (!v) {
		drb_seckey_free(sk);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	kr->sec = v;
	kr->sec[kr->n_sec++] = sk;
	return 0;
}

void drb_keyring_free(drb_keyring *kr)
{
	if (!kr)
		return;
	for (size_t i = 0; i < kr->n_sec; i++)
		drb_seckey_free(kr->sec[i]);
	free(kr->sec);
	free(kr->pub);
	free(kr);
}

int drb_keyring_load(const drb_config *c, int want_secret, drb_keyring **out)
{
	drb_keyring *kr = drb_keyring_new();
	int rc = 0;
	if (!kr)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < c->enc.n_public_keys; i++) {
		drb_pubkey pk;
		if ((rc = drb_pubkey_load(c->enc.public_keys[i], &pk)) < 0 ||
		    (rc = drb_keyring_add_pub(kr, &pk)) < 0)
			goto fail;
	}
	for (size_t i = 0; want_secret && i < c->enc.n_secret_keys; i++) {
		drb_seckey *sk;
		if ((rc = drb_seckey_load(c->enc.secret_keys[i], &sk)) < 0 ||
		    (rc = drb_keyring_add_sec(kr, sk)) < 0)
			goto fail;
	}
	*out = kr;
	return 0;
fail:
	drb_keyring_free(kr);
	return rc;
}
