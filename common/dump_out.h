/* The dumper's output buffer, shared by its SQL and CSV writers: text is gathered here and handed
 * to the chain in pieces of about 1 MiB, so a writer formats rows without a call per value.
 * Internal to common/dump*.c. */
#ifndef DRB_COMMON_DUMP_OUT_H
#define DRB_COMMON_DUMP_OUT_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/sink.h"

#define DRB_OUT_FLUSH (1u << 20)

typedef struct drb_out {
	drb_sink *sink;
	char *buf;
	size_t len, cap;
	uint64_t total; /* bytes handed to the sink */
	int rc;         /* the first failure; later writes are dropped */
} drb_out;

static inline int drb_out_init(drb_out *o, drb_sink *sink)
{
	*o = (drb_out){.sink = sink, .cap = DRB_OUT_FLUSH + 65536};
	if (!(o->buf = malloc(o->cap)))
		return o->rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	return 0;
}

static inline void drb_out_free(drb_out *o)
{
	free(o->buf);
	o->buf = NULL;
}

static inline int drb_out_flush(drb_out *o)
{
	if (o->rc == 0 && o->len) {
		o->rc = drb_sink_write(o->sink, o->buf, o->len);
		o->total += o->len;
	}
	o->len = 0;
	return o->rc;
}

/* Room for n more bytes at the end of the buffer (the caller advances len), or NULL. */
static inline char *drb_out_room(drb_out *o, size_t n)
{
	if (o->len + n > o->cap) {
		if (o->len && drb_out_flush(o) < 0)
			return NULL;
		if (n > o->cap) {
			char *b = realloc(o->buf, n);
			if (!b) {
				o->rc = drb_error(DRB_ERR_NOMEM, "out of memory");
				return NULL;
			}
			o->buf = b;
			o->cap = n;
		}
	}
	return o->rc < 0 ? NULL : o->buf + o->len;
}

static inline void drb_out_put(drb_out *o, const char *s, size_t n)
{
	char *d = drb_out_room(o, n);
	if (!d)
		return;
	memcpy(d, s, n);
	o->len += n;
	if (o->len >= DRB_OUT_FLUSH)
		drb_out_flush(o);
}

static inline void drb_out_str(drb_out *o, const char *s)
{
	drb_out_put(o, s, strlen(s));
}

static inline void drb_out_fmt(drb_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void drb_out_fmt(drb_out *o, const char *fmt, ...)
{
	char small[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < (int)sizeof small) {
		drb_out_put(o, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		o->rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	drb_out_put(o, big, (size_t)n);
	free(big);
}

#endif
