/* Signed origin. Every metadata object a host writes (manifest, segment description, day
 * catalog, restore-test report) ends with one signature line: Ed25519 over the object's bytes
 * bound to a domain tag, the signer's host id, the object's key and kind, and the signing time.
 * A database host holds its signing secret (it writes) and only public sealing keys (it cannot
 * read); a restore host pins each host id's signing public keys and plans only from metadata
 * that verifies: tarsnap's split of write keys and read keys. drbackup-format(5) gives the bytes.
 *
 *   <the JSON body, ending with a newline>
 *   #drbackup-signature v1 signer=<host_id> key=<key id, 16 hex> at=<YYYY-MM-DDTHH:MM:SSZ> sig=<base64>
 */
#ifndef DRB_SIGN_H
#define DRB_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/keys.h"

#define DRB_SIG_DOMAIN "drbackup metadata signature v1"

typedef struct drb_signer {
	char host_id[128];
	drb_signsec *key;
} drb_signer;

typedef struct drb_trusted_key {
	drb_pubkey pub;
	int64_t until; /* 0: trusted now; >0: retired, trusted for signatures made up to then */
	bool revoked;
} drb_trusted_key;

typedef struct drb_trust {
	struct {
		char *host_id;
		drb_trusted_key *keys;
		size_t n;
	} *hosts;
	size_t n_hosts;
	bool allow_unsigned; /* accept metadata without a signature (older backups), with a warning */
} drb_trust;

/* This host's signer from signing { key }; *out NULL when none is configured. */
int drb_signer_load(const drb_config *c, drb_signer **out);
void drb_signer_free(drb_signer *s);

/* The pinned keys of trust { host ... }, plus this host's own signing key when it has one. */
int drb_trust_load(const drb_config *c, const drb_signer *self, drb_trust **out);
void drb_trust_free(drb_trust *t);
/* Does the trust pin any key for host? */
bool drb_trust_knows(const drb_trust *t, const char *host);

/* body (len bytes, ending with '\n') signed for the object at key of kind: a new text (malloc). */
int drb_meta_sign(const drb_signer *s, const char *key, const char *kind, const char *body,
		  size_t len, char **out, size_t *out_len);

typedef enum drb_meta_status {
	DRB_META_VERIFIED,
	DRB_META_UNSIGNED,
	DRB_META_BAD, /* a signature that fails, a key not pinned, revoked, or another host's */
} drb_meta_status;

typedef struct drb_meta_check {
	drb_meta_status status;
	size_t body_len;     /* the JSON part of the text */
	char signer[128];    /* who signed it, when signed */
	int64_t signed_at;
	char why[300];       /* for UNSIGNED and BAD, one line */
} drb_meta_check;

/* Check text, the stored bytes of the object at key of kind whose owner is host (the first
 * component of key). Restore-test reports and audit records may be signed by another trusted
 * host (the restore host that ran the action); everything else must be signed by its owner. */
void drb_meta_verify(const drb_trust *t, const char *host, const char *key, const char *kind,
		     const char *text, size_t len, drb_meta_check *out);
/* The length of text without its signature line (all of it when it has none), for readers that
 * copy metadata as it is (heal) and only need to look inside. */
size_t drb_meta_body_len(const char *text, size_t len);
/* What planning may use: verified, or unsigned when the trust allows it. */
bool drb_meta_usable(const drb_trust *t, const drb_meta_check *c);

#endif
