#include "config.h"
#include "common/sink.h"
#include "common/error.h"

#include <errno.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PUMP_BUF (1u << 20)

void drb_sink_free(drb_sink *s)
{
	if (s)
		s->ops->free(s);
}

int drb_pump_fd(int fd, drb_sink *sink, const char *what, uint64_t *total)
{
	uint8_t *buf = malloc(PUMP_BUF);
	uint64_t n = 0;
	int rc = 0;
	if (!buf)
		return drb_error(DRB_ERR_NOMEM, "out of memory reading %s", what);
	for (;;) {
		ssize_t r = read(fd, buf, PUMP_BUF);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = drb_error_errno(DRB_ERR_IO, errno, "reading %s", what);
			break;
		}
		if (r == 0)
			break;
		n += (uint64_t)r;
		rc = drb_sink_write(sink, buf, (size_t)r);
		if (rc < 0)
			break;
	}
	free(buf);
	if (total)
		*total = n;
	return rc;
}

/* ---- fd sink ---- */

typedef struct fd_sink {
	drb_sink base;
	int fd;
	char *what;
} fd_sink;

static int fd_write(drb_sink *s, const void *buf, size_t len)
{
	fd_sink *f = (fd_sink *)s;
	const uint8_t *p = buf;
	while (len) {
		ssize_t w = write(f->fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return drb_error_errno(0, errno, "writing to %s", f->what);
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int fd_finish(drb_sink *s)
{
	(void)s;
	return 0;
}

static void fd_abort(drb_sink *s)
{
	(void)s;
}

static void fd_free(drb_sink *s)
{
	fd_sink *f = (fd_sink *)s;
	free(f->what);
	free(f);
}

static const drb_sink_ops fd_ops = {"fd", fd_write, fd_finish, fd_abort, fd_free};

drb_sink *drb_fd_sink_new(int fd, const char *what)
{
	fd_sink *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->base.ops = &fd_ops;
	f->fd = fd;
	f->what = strdup(what ? what : "output");
	return &f->base;
}

/* ---- null sink ---- */

static int null_write(drb_sink *s, const void *buf, size_t len)
{
	(void)s, (void)buf, (void)len;
	return 0;
}

static void null_free(drb_sink *s)
{
	free(s);
}

static const drb_sink_ops null_ops = {"null", null_write, fd_finish, fd_abort, null_free};

drb_sink *drb_null_sink_new(void)
{
	drb_sink *s = calloc(1, sizeof *s);
	if (s)
		s->ops = &null_ops;
	return s;
}

/* ---- memory sink ---- */

typedef struct mem_sink {
	drb_sink base;
	uint8_t *data;
	size_t len, cap, max;
} mem_sink;

static int mem_write(drb_sink *s, const void *buf, size_t len)
{
	mem_sink *m = (mem_sink *)s;
	if (len > m->max - m->len)
		return drb_error(DRB_ERR_FORMAT, "object larger than the %zu bytes expected", m->max);
	if (m->len + len + 1 > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		while (cap < m->len + len + 1)
			cap *= 2;
		uint8_t *d = realloc(m->data, cap);
		if (!d)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		m->data = d;
		m->cap = cap;
	}
	memcpy(m->data + m->len, buf, len);
	m->len += len;
	m->data[m->len] = 0;
	return 0;
}

static void mem_abort(drb_sink *s)
{
	mem_sink *m = (mem_sink *)s;
	m->len = 0;
}

static void mem_free(drb_sink *s)
{
	mem_sink *m = (mem_sink *)s;
	free(m->data);
	free(m);
}

static const drb_sink_ops mem_ops = {"memory", mem_write, fd_finish, mem_abort, mem_free};

drb_sink *drb_mem_sink_new(size_t max)
{
	mem_sink *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->base.ops = &mem_ops;
	m->max = max;
	return &m->base;
}

const uint8_t *drb_mem_sink_data(drb_sink *s, size_t *len)
{
	mem_sink *m = (mem_sink *)s;
	*len = m->len;
	return m->data ? m->data : (const uint8_t *)"";
}

char *drb_mem_sink_take(drb_sink *s, size_t *len)
{
	mem_sink *m = (mem_sink *)s;
	char *d = (char *)m->data;
	if (!d)
		d = calloc(1, 1);
	if (len)
		*len = m->len;
	m->data = NULL;
	m->len = m->cap = 0;
	return d;
}

/* ---- hash filter ---- */

typedef struct hash_filter {
	drb_sink base;
	drb_sink *next;
	EVP_MD_CTX *md; /* OpenSSL's SHA-256 uses the CPU's SHA extensions: 5x libsodium's */
	uint64_t bytes;
	char hex[crypto_hash_sha256_BYTES * 2 + 1];
	char expect[crypto_hash_sha256_BYTES * 2 + 1];
	char *what;
} hash_filter;

static int hash_write(drb_sink *s, const void *buf, size_t len)
{
	hash_filter *h = (hash_filter *)s;
	EVP_DigestUpdate(h->md, buf, len);
	h->bytes += len;
	return drb_sink_write(h->next, buf, len);
}

static int hash_finish(drb_sink *s)
{
	hash_filter *h = (hash_filter *)s;
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;
	if (EVP_DigestFinal_ex(h->md, d, &dl) != 1 || dl != crypto_hash_sha256_BYTES)
		return drb_error(DRB_ERR_FAILED, "SHA-256 failed");
	sodium_bin2hex(h->hex, sizeof h->hex, d, dl);
	if (h->expect[0] && strcmp(h->expect, h->hex) != 0)
		return drb_error(DRB_ERR_INTEGRITY, "%s has SHA-256 %.16s..., %.16s... was recorded",
				 h->what ? h->what : "stream", h->hex, h->expect);
	return drb_sink_finish(h->next);
}

static void hash_abort(drb_sink *s)
{
	hash_filter *h = (hash_filter *)s;
	drb_sink_abort(h->next);
}

static void hash_free(drb_sink *s)
{
	hash_filter *h = (hash_filter *)s;
	drb_sink_free(h->next);
	EVP_MD_CTX_free(h->md);
	free(h->what);
	free(h);
}

static const drb_sink_ops hash_ops = {"sha256", hash_write, hash_finish, hash_abort, hash_free};

drb_sink *drb_hash_filter_new(drb_sink *next)
{
	hash_filter *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->base.ops = &hash_ops;
	h->next = next;
	h->md = EVP_MD_CTX_new();
	if (!h->md || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->md);
		free(h);
		return NULL;
	}
	return &h->base;
}

uint64_t drb_hash_filter_bytes(drb_sink *s)
{
	return ((hash_filter *)s)->bytes;
}

const char *drb_hash_filter_hex(drb_sink *s)
{
	return ((hash_filter *)s)->hex;
}

/* ---- borrow ---- */

typedef struct borrow {
	drb_sink base;
	drb_sink *target;
} borrow;

static int borrow_write(drb_sink *s, const void *buf, size_t len)
{
	return drb_sink_write(((borrow *)s)->target, buf, len);
}

static int borrow_finish(drb_sink *s)
{
	return drb_sink_finish(((borrow *)s)->target);
}

static void borrow_abort(drb_sink *s)
{
	drb_sink_abort(((borrow *)s)->target);
}

static const drb_sink_ops borrow_ops = {"borrow", borrow_write, borrow_finish, borrow_abort,
					null_free};

drb_sink *drb_borrow_sink_new(drb_sink *target)
{
	borrow *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->base.ops = &borrow_ops;
	b->target = target;
	return &b->base;
}

void drb_hash_filter_expect(drb_sink *s, const char *hex, const char *what)
{
	hash_filter *h = (hash_filter *)s;
	snprintf(h->expect, sizeof h->expect, "%s", hex ? hex : "");
	free(h->what);
	h->what = what ? strdup(what) : NULL;
}

/* ---- tee ---- */

typedef struct tee {
	drb_sink base;
	drb_sink *a, *b;
} tee;

static int tee_write(drb_sink *s, const void *buf, size_t len)
{
	tee *t = (tee *)s;
	int rc = drb_sink_write(t->a, buf, len);
	return rc < 0 ? rc : drb_sink_write(t->b, buf, len);
}

static int tee_finish(drb_sink *s)
{
	tee *t = (tee *)s;
	int rc = drb_sink_finish(t->a);
	return rc < 0 ? rc : drb_sink_finish(t->b);
}

static void tee_abort(drb_sink *s)
{
	tee *t = (tee *)s;
	drb_sink_abort(t->a);
	drb_sink_abort(t->b);
}

static void tee_free(drb_sink *s)
{
	tee *t = (tee *)s;
	drb_sink_free(t->a);
	drb_sink_free(t->b);
	free(t);
}

static const drb_sink_ops tee_ops = {"tee", tee_write, tee_finish, tee_abort, tee_free};

drb_sink *drb_tee_new(drb_sink *a, drb_sink *b)
{
	tee *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->base.ops = &tee_ops;
	t->a = a;
	t->b = b;
	return &t->base;
}
