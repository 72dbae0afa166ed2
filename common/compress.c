#include "config.h"
#include "common/compress.h"
#include "common/error.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

typedef struct zfilter {
	drb_sink base;
	drb_sink *next;
	ZSTD_CCtx *c;
	ZSTD_DCtx *d;
	uint8_t *out;
	size_t out_cap;
	size_t frame_left; /* decompression: non-zero while inside a frame */
	char *what;
} zfilter;

static int z_fail(size_t r, const char *doing, const char *what)
{
	return drb_error(DRB_ERR_FORMAT, "%s %s: zstd: %s", doing, what ? what : "stream",
			 ZSTD_getErrorName(r));
}

static int zc_run(zfilter *z, const void *buf, size_t len, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = {buf, len, 0};
	for (;;) {
		ZSTD_outBuffer out = {z->out, z->out_cap, 0};
		size_t left = ZSTD_compressStream2(z->c, &out, &in, mode);
		if (ZSTD_isError(left))
			return z_fail(left, "compressing", z->what);
		if (out.pos) {
			int rc = drb_sink_write(z->next, z->out, out.pos);
			if (rc < 0)
				return rc;
		}
		if (mode == ZSTD_e_continue ? in.pos == in.size : left == 0)
			return 0;
	}
}

static int zc_write(drb_sink *s, const void *buf, size_t len)
{
	return zc_run((zfilter *)s, buf, len, ZSTD_e_continue);
}

static int zc_finish(drb_sink *s)
{
	zfilter *z = (zfilter *)s;
	int rc = zc_run(z, NULL, 0, ZSTD_e_end);
	return rc < 0 ? rc : drb_sink_finish(z->next);
}

static void z_abort(drb_sink *s)
{
	zfilter *z = (zfilter *)s;
	drb_sink_abort(z->next);
}

static void z_free(drb_sink *s)
{
	zfilter *z = (zfilter *)s;
	drb_sink_free(z->next);
	ZSTD_freeCCtx(z->c);
	ZSTD_freeDCtx(z->d);
	free(z->out);
	free(z->what);
	free(z);
}

static const drb_sink_ops zc_ops = {"zstd", zc_write, zc_finish, z_abort, z_free};

int drb_zstd_new(drb_sink *next, int level, int threads, drb_sink **out)
{
	zfilter *z = calloc(1, sizeof *z);
	if (!z)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	z->base.ops = &zc_ops;
	z->next = next;
	z->c = ZSTD_createCCtx();
	z->out_cap = ZSTD_CStreamOutSize();
	z->out = malloc(z->out_cap);
	if (!z->c || !z->out) {
		z->next = NULL; /* on failure next stays the caller's */
		z_free(&z->base);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	ZSTD_CCtx_setParameter(z->c, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(z->c, ZSTD_c_checksumFlag, 1);
	if (threads > 0) {
		size_t r = ZSTD_CCtx_setParameter(z->c, ZSTD_c_nbWorkers, threads);
		if (ZSTD_isError(r)) {
			z->next = NULL;
			z_free(&z->base);
			return z_fail(r, "setting up", "compression");
		}
		/* Smaller jobs than zstd's default (4x the window: 8 MiB at level 3) bound the memory
		 * per stream: measured on dump text, 4 MiB jobs with 2 workers run as fast as the
		 * default at 60% of its RSS, and 2 MiB jobs suit one worker per stream (parallel
		 * jobs); 1 MiB jobs were 20% slower. */
		ZSTD_CCtx_setParameter(z->c, ZSTD_c_jobSize, threads >= 2 ? 4 << 20 : 2 << 20);
	}
	*out = &z->base;
	return 0;
}

static int zd_write(drb_sink *s, const void *buf, size_t len)
{
	zfilter *z = (zfilter *)s;
	ZSTD_inBuffer in = {buf, len, 0};
	while (in.pos < in.size) {
		ZSTD_outBuffer out = {z->out, z->out_cap, 0};
		size_t r = ZSTD_decompressStream(z->d, &out, &in);
		if (ZSTD_isError(r))
			return z_fail(r, "decompressing", z->what);
		z->frame_left = r;
		if (out.pos) {
			int rc = drb_sink_write(z->next, z->out, out.pos);
			if (rc < 0)
				return rc;
		}
	}
	/* flush what zstd still holds from input already given */
	for (;;) {
		ZSTD_outBuffer out = {z->out, z->out_cap, 0};
		ZSTD_inBuffer none = {NULL, 0, 0};
		size_t r = ZSTD_decompressStream(z->d, &out, &none);
		if (ZSTD_isError(r))
			return z_fail(r, "decompressing", z->what);
		if (!out.pos)
			return 0; /* nothing held back; r would describe the next frame, not this one */
		z->frame_left = r;
		int rc = drb_sink_write(z->next, z->out, out.pos);
		if (rc < 0)
			return rc;
	}
}

static int zd_finish(drb_sink *s)
{
	zfilter *z = (zfilter *)s;
	if (z->frame_left)
		return drb_error(DRB_ERR_FORMAT, "%s: the compressed stream ends inside a frame",
				 z->what ? z->what : "stream");
	return drb_sink_finish(z->next);
}

static const drb_sink_ops zd_ops = {"unzstd", zd_write, zd_finish, z_abort, z_free};

int drb_unzstd_new(drb_sink *next, const char *what, drb_sink **out)
{
	zfilter *z = calloc(1, sizeof *z);
	if (!z)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	z->base.ops = &zd_ops;
	z->next = next;
	z->d = ZSTD_createDCtx();
	z->out_cap = ZSTD_DStreamOutSize();
	z->out = malloc(z->out_cap);
	z->what = strdup(what ? what : "stream");
	if (!z->d || !z->out || !z->what) {
		z->next = NULL;
		z_free(&z->base);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	/* refuse absurd windows from damaged or hostile headers: bounded memory */
	ZSTD_DCtx_setParameter(z->d, ZSTD_d_windowLogMax, 27);
	*out = &z->base;
	return 0;
}
