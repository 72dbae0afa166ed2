#include "config.h"
#include "common/drb1.h"
#include "common/compress.h"
#include "common/error.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FIXED_LEN      10
#define SEALED_KEY_LEN (crypto_secretstream_xchacha20poly1305_KEYBYTES + crypto_box_SEALBYTES)
#define RECIPIENT_LEN  (DRB_KEY_ID_BYTES + SEALED_KEY_LEN)
#define SS_HEADER_LEN  crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define ABYTES         crypto_secretstream_xchacha20poly1305_ABYTES
#define MAX_CIPHER     (DRB1_CHUNK + ABYTES)
#define OUT_BATCH      (256u << 10)

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The keyed state lives in guarded memory. */
typedef struct guarded {
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
} guarded;

/* ---------------------------------------------------------------- seal */

typedef struct seal {
	drb_sink base;
	drb_sink *next;
	guarded *g;
	uint8_t *header;
	size_t header_len;
	char *identity;
	uint8_t *plain; /* one chunk being filled */
	size_t plain_len;
	uint8_t *out; /* ciphertext batched for next */
	size_t out_len;
	uint64_t chunks;
	int header_sent;
} seal;

static int seal_flush(seal *s)
{
	int rc = 0;
	if (s->out_len)
		rc = drb_sink_write(s->next, s->out, s->out_len);
	s->out_len = 0;
	return rc;
}

/* Seal m (s->plain, or a whole chunk of the caller's) as the next chunk. */
static int seal_chunk_of(seal *s, const uint8_t *m, size_t mlen, uint8_t tag)
{
	int rc;
	if (!s->header_sent) {
		if ((rc = drb_sink_write(s->next, s->header, s->header_len)) < 0)
			return rc;
		s->header_sent = 1;
	}
	if (s->out_len + 4 + mlen + ABYTES > OUT_BATCH && (rc = seal_flush(s)) < 0)
		return rc;
	uint8_t *dst = s->out + s->out_len;
	unsigned long long clen = 0;
	const uint8_t *ad = NULL;
	size_t ad_len = 0;
	uint8_t *adbuf = NULL;
	if (s->chunks == 0) {
		size_t id_len = strlen(s->identity);
		ad_len = s->header_len + id_len;
		adbuf = malloc(ad_len);
		if (!adbuf)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		memcpy(adbuf, s->header, s->header_len);
		memcpy(adbuf + s->header_len, s->identity, id_len);
		ad = adbuf;
	}
	crypto_secretstream_xchacha20poly1305_push(&s->g->st, dst + 4, &clen, m, mlen, ad, ad_len,
	                                           tag);
	free(adbuf);
	put_le32(dst, (uint32_t)clen);
	s->out_len += 4 + (size_t)clen;
	if (m == s->plain)
		s->plain_len = 0;
	s->chunks++;
	return 0;
}

static int seal_chunk(seal *s, uint8_t tag)
{
	return seal_chunk_of(s, s->plain, s->plain_len, tag);
}

static int seal_write(drb_sink *sk, const void *buf, size_t len)
{
	seal *s = (seal *)sk;
	const uint8_t *p = buf;
	while (len) {
		/* a whole chunk of the caller's, with more after it: sealed where it is */
		if (s->plain_len == 0 && len > DRB1_CHUNK) {
			int rc = seal_chunk_of(s, p, DRB1_CHUNK,
			                       crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
			if (rc < 0)
				return rc;
			p += DRB1_CHUNK;
			len -= DRB1_CHUNK;
			continue;
		}
		size_t take = DRB1_CHUNK - s->plain_len;
		if (take > len)
			take = len;
		memcpy(s->plain + s->plain_len, p, take);
		s->plain_len += take;
		p += take;
		len -= take;
		/* a full chunk is sealed only once more data proves it is not the last */
		if (s->plain_len == DRB1_CHUNK && len) {
			int rc = seal_chunk(s, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int seal_finish(drb_sink *sk)
{
	seal *s = (seal *)sk;
	int rc = seal_chunk(s, crypto_secretstream_xchacha20poly1305_TAG_FINAL);
	if (rc == 0)
		rc = seal_flush(s);
	if (rc == 0)
		rc = drb_sink_finish(s->next);
	return rc;
}

static void seal_abort(drb_sink *sk)
{
	seal *s = (seal *)sk;
	drb_sink_abort(s->next);
}

static void seal_free(drb_sink *sk)
{
	seal *s = (seal *)sk;
	drb_sink_free(s->next);
	if (s->g)
		sodium_free(s->g);
	if (s->plain)
		sodium_free(s->plain); /* plaintext: wiped on free */
	free(s->header);
	free(s->identity);
	free(s->out);
	free(s);
}

static const drb_sink_ops seal_ops = {"seal", seal_write, seal_finish, seal_abort, seal_free};

int drb_seal_new(drb_sink *next, const drb_keyring *kr, const char *identity, uint8_t kind,
                 uint8_t compression, drb_sink **out)
{
	if (kr->n_pub == 0)
		return drb_error(DRB_ERR_CONFIG,
		                 "no public key to seal %s to: set encryption { public_keys }",
		                 identity);
	if (kr->n_pub > DRB1_MAX_RECIPIENTS)
		return drb_error(DRB_ERR_CONFIG, "at most %d public keys", DRB1_MAX_RECIPIENTS);
	seal *s = calloc(1, sizeof *s);
	if (!s)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	s->base.ops = &seal_ops;
	s->next = next;
	s->header_len = FIXED_LEN + kr->n_pub * RECIPIENT_LEN + SS_HEADER_LEN;
	s->header = calloc(1, s->header_len);
	s->identity = strdup(identity);
	s->g = sodium_malloc(sizeof *s->g);
	s->plain = sodium_malloc(DRB1_CHUNK);
	s->out = malloc(OUT_BATCH);
	if (!s->header || !s->identity || !s->g || !s->plain || !s->out) {
		s->next = NULL;
		seal_free(&s->base);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	uint8_t *h = s->header;
	memcpy(h, DRB1_MAGIC, 4);
	h[4] = DRB1_VERSION;
	h[5] = compression;
	h[6] = kind;
	h[7] = 0;
	put_le16(h + 8, (uint16_t)kr->n_pub);
	crypto_secretstream_xchacha20poly1305_keygen(s->g->key);
	uint8_t *r = h + FIXED_LEN;
	for (size_t i = 0; i < kr->n_pub; i++, r += RECIPIENT_LEN) {
		memcpy(r, kr->pub[i].id, DRB_KEY_ID_BYTES);
		crypto_box_seal(r + DRB_KEY_ID_BYTES, s->g->key, sizeof s->g->key, kr->pub[i].pk);
	}
	crypto_secretstream_xchacha20poly1305_init_push(&s->g->st, r, s->g->key);
	sodium_memzero(s->g->key, sizeof s->g->key);
	*out = &s->base;
	return 0;
}

/* ---------------------------------------------------------------- open */

enum stage { ST_FIXED, ST_RECIPIENTS, ST_SSHEADER, ST_LEN, ST_CHUNK, ST_DONE };

typedef struct opener {
	drb_sink base;
	drb_sink *final_next; /* the caller's sink */
	drb_sink *next;       /* final_next, or a decompressor in front of it */
	const drb_keyring *kr;
	char *identity;
	guarded *g;
	enum stage stage;
	uint8_t *buf; /* bytes of the current stage being gathered */
	size_t have, need;
	uint8_t *header; /* everything before the first chunk: AD of chunk 0 */
	size_t header_len;
	uint16_t n_recipients;
	uint8_t *plain;
	uint64_t chunks;
	uint64_t offset; /* bytes of the object consumed */
	int kind;
	bool raw; /* do not decompress */
} opener;

static int bad(opener *o, int code, const char *what)
{
	return drb_error(code, "object %s: %s", o->identity, what);
}

static int header_append(opener *o, const uint8_t *p, size_t n)
{
	uint8_t *h = realloc(o->header, o->header_len + n);
	if (!h)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	memcpy(h + o->header_len, p, n);
	o->header = h;
	o->header_len += n;
	return 0;
}

static int find_key(opener *o)
{
	char have_ids[DRB1_MAX_RECIPIENTS * 18 + 1] = "", want_ids[16 * 18 + 1] = "";
	const uint8_t *r = o->buf;
	for (uint16_t i = 0; i < o->n_recipients; i++, r += RECIPIENT_LEN) {
		char hex[17];
		drb_key_id_hex(r, hex);
		snprintf(have_ids + strlen(have_ids), sizeof have_ids - strlen(have_ids), "%s%s",
		         i ? ", " : "", hex);
		for (size_t k = 0; k < o->kr->n_sec; k++) {
			const drb_seckey *sk = o->kr->sec[k];
			if (sodium_memcmp(sk->id, r, DRB_KEY_ID_BYTES) != 0)
				continue;
			if (crypto_box_seal_open(o->g->key, r + DRB_KEY_ID_BYTES, SEALED_KEY_LEN,
			                         sk->pk, sk->sk) == 0)
				return 0;
			return bad(
			    o, DRB_ERR_CRYPTO,
			    "the file key sealed to this host's key could not be opened (damaged "
			    "header)");
		}
	}
	for (size_t k = 0; k < o->kr->n_sec && k < 16; k++) {
		char hex[17];
		drb_key_id_hex(o->kr->sec[k]->id, hex);
		snprintf(want_ids + strlen(want_ids), sizeof want_ids - strlen(want_ids), "%s%s",
		         k ? ", " : "", hex);
	}
	if (o->kr->n_sec == 0)
		return drb_error(
		    DRB_ERR_CRYPTO,
		    "object %s: no secret key is configured (encryption { secret_keys }); "
		    "it is sealed to key id %s",
		    o->identity, have_ids);
	return drb_error(DRB_ERR_CRYPTO,
	                 "object %s: none of this host's secret keys (%s) is a recipient; it is "
	                 "sealed to key id %s",
	                 o->identity, want_ids, have_ids);
}

/* The stage's bytes are complete in o->buf; act on them and set up the next stage. */
static int stage_done(opener *o)
{
	int rc;
	switch (o->stage) {
	case ST_FIXED:
		if (memcmp(o->buf, DRB1_MAGIC, 4) != 0)
			return bad(o, DRB_ERR_FORMAT, "not a DRB1 object (bad magic)");
		if (o->buf[4] != DRB1_VERSION)
			return drb_error(DRB_ERR_FORMAT,
			                 "object %s: format version %u is not supported",
			                 o->identity, o->buf[4]);
		if (o->buf[5] > DRB1_COMP_ZSTD)
			return drb_error(DRB_ERR_FORMAT, "object %s: unknown compression %u",
			                 o->identity, o->buf[5]);
		if (o->buf[7] != 0)
			return bad(o, DRB_ERR_FORMAT, "reserved header byte is not zero");
		o->kind = o->buf[6];
		o->n_recipients = (uint16_t)(o->buf[8] | o->buf[9] << 8);
		if (o->n_recipients == 0 || o->n_recipients > DRB1_MAX_RECIPIENTS)
			return drb_error(DRB_ERR_FORMAT,
			                 "object %s: %u recipients (1 to %d allowed)", o->identity,
			                 o->n_recipients, DRB1_MAX_RECIPIENTS);
		if ((rc = header_append(o, o->buf, FIXED_LEN)) < 0)
			return rc;
		if (o->buf[5] == DRB1_COMP_ZSTD && !o->raw) {
			if ((rc = drb_unzstd_new(o->final_next, o->identity, &o->next)) < 0)
				return rc;
		}
		o->stage = ST_RECIPIENTS;
		o->need = (size_t)o->n_recipients * RECIPIENT_LEN;
		break;
	case ST_RECIPIENTS:
		if ((rc = header_append(o, o->buf, o->need)) < 0 || (rc = find_key(o)) < 0)
			return rc;
		o->stage = ST_SSHEADER;
		o->need = SS_HEADER_LEN;
		break;
	case ST_SSHEADER:
		if ((rc = header_append(o, o->buf, SS_HEADER_LEN)) < 0)
			return rc;
		if (crypto_secretstream_xchacha20poly1305_init_pull(&o->g->st, o->buf, o->g->key) !=
		    0)
			return bad(o, DRB_ERR_FORMAT, "invalid stream header");
		sodium_memzero(o->g->key, sizeof o->g->key);
		o->stage = ST_LEN;
		o->need = 4;
		break;
	case ST_LEN: {
		uint32_t l = get_le32(o->buf);
		if (l < ABYTES || l > MAX_CIPHER)
			return drb_error(
			    DRB_ERR_FORMAT,
			    "object %s: chunk %llu has an impossible length %u (damaged)",
			    o->identity, (unsigned long long)o->chunks, l);
		o->stage = ST_CHUNK;
		o->need = l;
		break;
	}
	case ST_CHUNK: {
		unsigned long long plen = 0;
		uint8_t tag = 0;
		uint8_t *ad = NULL;
		size_t ad_len = 0;
		if (o->chunks == 0) {
			size_t id_len = strlen(o->identity);
			ad_len = o->header_len + id_len;
			ad = malloc(ad_len);
			if (!ad)
				return drb_error(DRB_ERR_NOMEM, "out of memory");
			memcpy(ad, o->header, o->header_len);
			memcpy(ad + o->header_len, o->identity, id_len);
		}
		int ok = crypto_secretstream_xchacha20poly1305_pull(
		    &o->g->st, o->plain, &plen, &tag, o->buf, o->need, ad, ad_len);
		free(ad);
		if (ok != 0) {
			if (o->chunks == 0)
				return bad(o, DRB_ERR_CRYPTO,
				           "the first chunk fails authentication: the object is "
				           "damaged, or it was stored at another path");
			return drb_error(
			    DRB_ERR_CRYPTO,
			    "object %s: chunk %llu (at byte %llu) fails authentication: "
			    "damaged or reordered",
			    o->identity, (unsigned long long)o->chunks,
			    (unsigned long long)(o->offset - o->need - 4));
		}
		if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE &&
		    tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL)
			return bad(o, DRB_ERR_FORMAT, "a chunk carries an unknown tag");
		o->chunks++;
		if (plen && (rc = drb_sink_write(o->next, o->plain, (size_t)plen)) < 0)
			return rc;
		if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
			o->stage = ST_DONE;
			o->need = 0;
		} else {
			o->stage = ST_LEN;
			o->need = 4;
		}
		break;
	}
	case ST_DONE:
		break;
	}
	o->have = 0;
	return 0;
}

static int open_write(drb_sink *sk, const void *data, size_t len)
{
	opener *o = (opener *)sk;
	const uint8_t *p = data;
	while (len) {
		if (o->stage == ST_DONE)
			return drb_error(DRB_ERR_FORMAT,
			                 "object %s: %zu bytes follow the final chunk (damaged)",
			                 o->identity, len);
		size_t take = o->need - o->have;
		if (take > len)
			take = len;
		memcpy(o->buf + o->have, p, take);
		o->have += take;
		o->offset += take;
		p += take;
		len -= take;
		if (o->have == o->need) {
			int rc = stage_done(o);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int open_finish(drb_sink *sk)
{
	opener *o = (opener *)sk;
	if (o->stage != ST_DONE) {
		if (o->stage < ST_LEN)
			return drb_error(
			    DRB_ERR_FORMAT,
			    "object %s is truncated: it ends inside its header (%llu bytes)",
			    o->identity, (unsigned long long)o->offset);
		return drb_error(
		    DRB_ERR_FORMAT,
		    "object %s is truncated: it ends after %llu bytes without its final "
		    "chunk",
		    o->identity, (unsigned long long)o->offset);
	}
	return drb_sink_finish(o->next);
}

static void open_abort(drb_sink *sk)
{
	opener *o = (opener *)sk;
	drb_sink_abort(o->next);
}

static void open_free(drb_sink *sk)
{
	opener *o = (opener *)sk;
	if (o->next)
		drb_sink_free(o->next); /* a decompressor frees final_next with it */
	if (o->g)
		sodium_free(o->g);
	if (o->plain)
		sodium_free(o->plain);
	free(o->buf);
	free(o->header);
	free(o->identity);
	free(o);
}

static const drb_sink_ops open_ops = {"open", open_write, open_finish, open_abort, open_free};

int drb_open_new(drb_sink *next, const drb_keyring *kr, const char *identity, drb_sink **out)
{
	opener *o = calloc(1, sizeof *o);
	if (!o)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	o->base.ops = &open_ops;
	o->final_next = o->next = next;
	o->kr = kr;
	o->kind = -1;
	o->identity = strdup(identity);
	o->g = sodium_malloc(sizeof *o->g);
	o->plain = sodium_malloc(DRB1_CHUNK);
	o->buf = malloc(DRB1_MAX_RECIPIENTS * RECIPIENT_LEN > MAX_CIPHER
	                    ? DRB1_MAX_RECIPIENTS * RECIPIENT_LEN
	                    : MAX_CIPHER);
	if (!o->identity || !o->g || !o->plain || !o->buf) {
		o->next = NULL;
		open_free(&o->base);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	o->stage = ST_FIXED;
	o->need = FIXED_LEN;
	*out = &o->base;
	return 0;
}

int drb_open_raw_new(drb_sink *next, const drb_keyring *kr, const char *identity, drb_sink **out)
{
	int rc = drb_open_new(next, kr, identity, out);
	if (rc == 0)
		((opener *)*out)->raw = true;
	return rc;
}

int drb_open_kind(drb_sink *sk)
{
	return ((opener *)sk)->kind;
}
