#include "config.h"
#include "common/sign.h"
#include "common/catalog.h"
#include "common/error.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TRAILER "#drbackup-signature v1 "
#define B64 sodium_base64_VARIANT_ORIGINAL

int drb_signer_load(const drb_config *c, drb_signer **out)
{
	*out = NULL;
	if (!c->signing.key)
		return 0;
	drb_signer *s = calloc(1, sizeof *s);
	if (!s)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	snprintf(s->host_id, sizeof s->host_id, "%s", c->host_id);
	int rc = drb_signsec_load(c->signing.key, &s->key);
	if (rc < 0) {
		free(s);
		return drb_error_wrap(0, "signing { key }");
	}
	*out = s;
	return 0;
}

void drb_signer_free(drb_signer *s)
{
	if (!s)
		return;
	drb_signsec_free(s->key);
	free(s);
}

static int trust_host(drb_trust *t, const char *host, size_t *at)
{
	for (size_t i = 0; i < t->n_hosts; i++)
		if (strcmp(t->hosts[i].host_id, host) == 0) {
			*at = i;
			return 0;
		}
	void *v = realloc(t->hosts, (t->n_hosts + 1) * sizeof *t->hosts);
	if (!v)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	t->hosts = v;
	memset(&t->hosts[t->n_hosts], 0, sizeof *t->hosts);
	if (!(t->hosts[t->n_hosts].host_id = strdup(host)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	*at = t->n_hosts++;
	return 0;
}

static int trust_add(drb_trust *t, const char *host, const drb_pubkey *k, int64_t until,
		     bool revoked)
{
	size_t h = 0;
	int rc = trust_host(t, host, &h);
	if (rc < 0)
		return rc;
	drb_trusted_key *v = realloc(t->hosts[h].keys, (t->hosts[h].n + 1) * sizeof *v);
	if (!v)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	t->hosts[h].keys = v;
	v[t->hosts[h].n++] = (drb_trusted_key){.pub = *k, .until = until, .revoked = revoked};
	return 0;
}

int drb_trust_load(const drb_config *c, const drb_signer *self, drb_trust **out)
{
	drb_trust *t = calloc(1, sizeof *t);
	int rc = 0;
	if (!t)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < c->n_trust && rc == 0; i++) {
		const drb_trust_config *h = &c->trust[i];
		drb_pubkey k;
		for (size_t j = 0; j < h->n_signing_keys && rc == 0; j++)
			if ((rc = drb_signpub_load(h->signing_keys[j], &k)) == 0)
				rc = trust_add(t, h->host_id, &k, 0, false);
		for (size_t j = 0; j < h->n_retired && rc == 0; j++) {
			int64_t until = 0;
			if ((rc = drb_signpub_load(h->retired[j].path, &k)) == 0 &&
			    (rc = drb_time_parse(h->retired[j].until, &until)) == 0)
				rc = trust_add(t, h->host_id, &k, until, false);
		}
		for (size_t j = 0; j < h->n_revoked_keys && rc == 0; j++)
			if ((rc = drb_signpub_load(h->revoked_keys[j], &k)) == 0)
				rc = trust_add(t, h->host_id, &k, 0, true);
		if (rc < 0)
			drb_error_wrap(0, "trust { host \"%s\" }", h->host_id);
	}
	if (rc == 0 && self) {
		drb_pubkey k;
		memcpy(k.pk, self->key->pk, DRB_KEY_BYTES);
		memcpy(k.id, self->key->id, DRB_KEY_ID_BYTES);
		rc = trust_add(t, self->host_id, &k, 0, false);
	}
	if (rc < 0) {
		drb_trust_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void drb_trust_free(drb_trust *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_hosts; i++) {
		free(t->hosts[i].host_id);
		free(t->hosts[i].keys);
	}
	free(t->hosts);
	free(t);
}

bool drb_trust_knows(const drb_trust *t, const char *host)
{
	for (size_t i = 0; t && i < t->n_hosts; i++)
		if (strcmp(t->hosts[i].host_id, host) == 0)
			return true;
	return false;
}

/* The bytes that are signed: the domain, who, where, what and when, then the body. */
static char *message(const char *signer, const char *key, const char *kind, const char *at,
		     const char *body, size_t len, size_t *mlen)
{
	char head[1600];
	int n = snprintf(head, sizeof head, DRB_SIG_DOMAIN "\nsigner %s\nkey %s\nkind %s\nat %s\n\n",
			 signer, key, kind, at);
	if (n < 0 || (size_t)n >= sizeof head)
		return NULL;
	char *m = malloc((size_t)n + len + 1);
	if (!m)
		return NULL;
	memcpy(m, head, (size_t)n);
	memcpy(m + n, body, len);
	*mlen = (size_t)n + len;
	return m;
}

int drb_meta_sign(const drb_signer *s, const char *key, const char *kind, const char *body,
		  size_t len, char **out, size_t *out_len)
{
	char at[21], idhex[17];
	uint8_t sig[crypto_sign_BYTES];
	char sig64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, B64)];
	size_t mlen = 0;
	if (!len || body[len - 1] != '\n')
		return drb_error(DRB_ERR_FAILED, "%s: metadata to sign must end with a newline", key);
	drb_time_iso(time(NULL), at);
	char *m = message(s->host_id, key, kind, at, body, len, &mlen);
	if (!m)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	crypto_sign_detached(sig, NULL, (const uint8_t *)m, mlen, s->key->sk);
	free(m);
	sodium_bin2base64(sig64, sizeof sig64, sig, sizeof sig, B64);
	drb_key_id_hex(s->key->id, idhex);
	char line[512];
	int n = snprintf(line, sizeof line, TRAILER "signer=%s key=%s at=%s sig=%s\n", s->host_id,
			 idhex, at, sig64);
	char *text = malloc(len + (size_t)n + 1);
	if (!text)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	memcpy(text, body, len);
	memcpy(text + len, line, (size_t)n + 1);
	*out = text;
	*out_len = len + (size_t)n;
	return 0;
}

static void why(drb_meta_check *c, drb_meta_status st, const char *fmt, const char *a,
		const char *b)
{
	c->status = st;
	snprintf(c->why, sizeof c->why, fmt, a, b);
}

/* "name=value" at p, up to the next space or end of line. */
static bool field(const char *p, const char *end, const char *name, char *out, size_t len)
{
	size_t n = strlen(name);
	const char *q = p;
	while (q < end) {
		const char *sp = memchr(q, ' ', (size_t)(end - q));
		const char *stop = sp ? sp : end;
		if ((size_t)(stop - q) > n && memcmp(q, name, n) == 0 && q[n] == '=') {
			size_t k = (size_t)(stop - q) - n - 1;
			if (k >= len)
				return false;
			memcpy(out, q + n + 1, k);
			out[k] = 0;
			return true;
		}
		q = stop + 1;
	}
	return false;
}

/* Where the last line of text starts, and where it ends (before its newlines). */
static void last_line(const char *text, size_t len, size_t *start, size_t *end)
{
	size_t e = len;
	while (e && text[e - 1] == '\n')
		e--;
	size_t s = e;
	while (s && text[s - 1] != '\n')
		s--;
	*start = s;
	*end = e;
}

size_t drb_meta_body_len(const char *text, size_t len)
{
	size_t start, end;
	last_line(text, len, &start, &end);
	if (end - start >= sizeof TRAILER - 1 && memcmp(text + start, TRAILER, sizeof TRAILER - 1) == 0)
		return start;
	return len;
}

void drb_meta_verify(const drb_trust *t, const char *host, const char *key, const char *kind,
		     const char *text, size_t len, drb_meta_check *c)
{
	memset(c, 0, sizeof *c);
	c->body_len = len;
	/* the signature is the last line */
	size_t start, end;
	last_line(text, len, &start, &end);
	size_t tl = sizeof TRAILER - 1;
	if (end - start < tl || memcmp(text + start, TRAILER, tl) != 0) {
		why(c, DRB_META_UNSIGNED, "%s has no signature%s", key, "");
		return;
	}
	c->body_len = start;
	const char *p = text + start + tl, *e = text + end;
	char signer[128], idhex[32], at[32], sig64[128];
	uint8_t sig[crypto_sign_BYTES];
	size_t sig_len = 0;
	if (!field(p, e, "signer", signer, sizeof signer) || !field(p, e, "key", idhex, sizeof idhex) ||
	    !field(p, e, "at", at, sizeof at) || !field(p, e, "sig", sig64, sizeof sig64) ||
	    sodium_base642bin(sig, sizeof sig, sig64, strlen(sig64), NULL, &sig_len, NULL, B64) != 0 ||
	    sig_len != sizeof sig || drb_time_parse(at, &c->signed_at) < 0) {
		drb_error_clear();
		why(c, DRB_META_BAD, "%s: the signature line is malformed%s", key, "");
		return;
	}
	snprintf(c->signer, sizeof c->signer, "%s", signer);
	/* a restore host writes restore-test reports and audit records under the path of the host
	 * whose backups it used; every other kind is signed by the host it belongs to */
	if (strcmp(signer, host) != 0 && strcmp(kind, "restore-test") != 0 &&
	    strcmp(kind, "audit") != 0) {
		why(c, DRB_META_BAD, "%s is signed by host %s, not by the host it belongs to", key,
		    signer);
		return;
	}
	size_t h = SIZE_MAX;
	for (size_t i = 0; t && i < t->n_hosts; i++)
		if (strcmp(t->hosts[i].host_id, signer) == 0)
			h = i;
	if (h == SIZE_MAX) {
		why(c, DRB_META_BAD, "%s is signed by host %s, whose signing keys this host does not "
				     "pin (trust { host ... })",
		    key, signer);
		return;
	}
	size_t mlen = 0;
	char *m = message(signer, key, kind, at, text, start, &mlen);
	if (!m) {
		why(c, DRB_META_BAD, "%s: out of memory%s", key, "");
		return;
	}
	bool matched = false;
	const drb_trusted_key *k = NULL;
	for (size_t i = 0; i < t->hosts[h].n && !k; i++) {
		char kh[17];
		drb_key_id_hex(t->hosts[h].keys[i].pub.id, kh);
		if (strcmp(kh, idhex) != 0)
			continue;
		matched = true;
		if (crypto_sign_verify_detached(sig, (const uint8_t *)m, mlen,
						t->hosts[h].keys[i].pub.pk) == 0)
			k = &t->hosts[h].keys[i];
	}
	free(m);
	/* a revoked key is refused even when it is also listed as trusted */
	for (size_t i = 0; k && i < t->hosts[h].n; i++)
		if (t->hosts[h].keys[i].revoked &&
		    memcmp(t->hosts[h].keys[i].pub.pk, k->pub.pk, DRB_KEY_BYTES) == 0) {
			why(c, DRB_META_BAD, "%s is signed with key %s, which is revoked", key, idhex);
			return;
		}
	if (!k) {
		why(c, DRB_META_BAD,
		    matched ? "%s: the signature does not verify (the object was changed after it "
			      "was signed, or moved from another key)%s"
			    : "%s is signed with key %s, which is not pinned for its host",
		    key, matched ? "" : idhex);
		return;
	}
	if (k->until && c->signed_at > k->until) {
		why(c, DRB_META_BAD, "%s is signed with key %s after the date it was retired", key,
		    idhex);
		return;
	}
	c->status = DRB_META_VERIFIED;
}

bool drb_meta_usable(const drb_trust *t, const drb_meta_check *c)
{
	return c->status == DRB_META_VERIFIED ||
	       (c->status == DRB_META_UNSIGNED && t && t->allow_unsigned);
}
