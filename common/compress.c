#include "config.h"
#include "common/compress.h"
#include "common/error.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* Compression with workers adapts to the data, one zstd frame per stretch (a DRB1 plaintext is
 * "one or more frames", which every reader takes): each stream starts on one thread; a sample
 * that compresses by a tenth or more moves it to a frame on zstd's workers, and a stretch that
 * stops compressing there (backups of media, already compressed or encrypted files) moves it
 * back. On incompressible bytes zstd at low levels emits raw blocks at gigabytes a second on one
 * thread, while its workers would hold about 3 job sizes of buffers each for nothing; on text the
 * workers pay back their memory. The first sample costs the same either way. */
#define SAMPLE_ONE  (8u << 20)  /* input between checks on one thread */
#define SAMPLE_MANY (32u << 20) /* and on the workers */

typedef struct zfilter {
	drb_sink base;
	drb_sink *next;
	ZSTD_CCtx *c;    /* the context of the frame being written: one or many */
	ZSTD_CCtx *one;  /* on the calling thread; NULL while on workers */
	ZSTD_CCtx *many; /* on workers; NULL while unused */
	int level, threads;
	uint64_t frame_in;          /* input given to the current frame */
	uint64_t next_check;        /* frame_in at which the frame's compression is judged */
	uint64_t frame_out;         /* what it gave back so far (with workers, a few jobs behind) */
	uint64_t seen_in, seen_out; /* both at the previous check */
	unsigned frames;            /* ended so far, for tests */
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
	if (!z->c) /* a move between contexts failed */
		return drb_error(DRB_ERR_NOMEM, "compressing %s: no compression context",
		                 z->what ? z->what : "stream");
	for (;;) {
		ZSTD_outBuffer out = {z->out, z->out_cap, 0};
		size_t left = ZSTD_compressStream2(z->c, &out, &in, mode);
		if (ZSTD_isError(left))
			return z_fail(left, "compressing", z->what);
		if (out.pos) {
			int rc = drb_sink_write(z->next, z->out, out.pos);
			if (rc < 0)
				return rc;
			z->frame_out += out.pos;
		}
		if (mode == ZSTD_e_continue ? in.pos == in.size : left == 0)
			return 0;
	}
}

static ZSTD_CCtx *cctx_new(int level, int threads)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	if (!c)
		return NULL;
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	if (threads > 0) {
		if (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, threads))) {
			ZSTD_freeCCtx(c);
			return NULL;
		}
		/* Smaller jobs than zstd's default (4x the window: 8 MiB at level 3) bound the
		 * memory per stream: measured on dump text against RGW, 2 MiB jobs with 2 workers
		 * ran as fast as 4 MiB ones (faster in 2 of 3 runs) with 27 MiB of buffers instead
		 * of 55 on incompressible input; 1 MiB jobs were 20% slower. */
		ZSTD_CCtx_setParameter(c, ZSTD_c_jobSize, 2 << 20);
	}
	return c;
}

/* At a check: move to the other context when the data asks for it. */
static int zc_judge(zfilter *z)
{
	uint64_t in = z->frame_in - z->seen_in, out = z->frame_out - z->seen_out;
	bool on_many = z->c == z->many;
	z->seen_in = z->frame_in;
	z->seen_out = z->frame_out;
	z->next_check = z->frame_in + (on_many ? SAMPLE_MANY : SAMPLE_ONE);
	if (!in)
		return 0;
	bool compresses = out * 10 <= in * 9, stored = out * 100 >= in * 98;
	if (on_many ? !stored : !compresses)
		return 0;
	/* end this frame; the next one starts on the other context */
	int rc = zc_run(z, NULL, 0, ZSTD_e_end);
	if (rc < 0)
		return rc;
	z->frames++;
	/* the context left behind goes, with its buffers: only one is held at a time */
	if (on_many) {
		ZSTD_freeCCtx(z->many);
		z->many = NULL;
		if (!(z->c = z->one = cctx_new(z->level, 0)))
			return drb_error(DRB_ERR_NOMEM, "out of memory for compression");
	} else {
		ZSTD_freeCCtx(z->one);
		z->one = NULL;
		if (!(z->c = z->many = cctx_new(z->level, z->threads)))
			return drb_error(DRB_ERR_NOMEM, "out of memory for compression workers");
	}
	z->frame_in = z->frame_out = z->seen_in = z->seen_out = 0;
	z->next_check = on_many ? SAMPLE_ONE : SAMPLE_MANY;
	return 0;
}

static int zc_write(drb_sink *s, const void *buf, size_t len)
{
	zfilter *z = (zfilter *)s;
	const uint8_t *p = buf;
	while (len) {
		size_t take = len;
		if (z->threads > 0 && z->next_check - z->frame_in < take)
			take = (size_t)(z->next_check - z->frame_in);
		int rc = zc_run(z, p, take, ZSTD_e_continue);
		if (rc < 0)
			return rc;
		z->frame_in += take;
		p += take;
		len -= take;
		if (z->threads > 0 && z->frame_in >= z->next_check && (rc = zc_judge(z)) < 0)
			return rc;
	}
	return 0;
}

static int zc_finish(drb_sink *s)
{
	zfilter *z = (zfilter *)s;
	int rc = zc_run(z, NULL, 0, ZSTD_e_end);
	if (rc == 0)
		z->frames++;
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
	ZSTD_freeCCtx(z->one);
	ZSTD_freeCCtx(z->many);
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
	z->level = level;
	z->threads = threads > 0 ? threads : 0;
	z->c = z->one = cctx_new(level, 0);
	z->next_check = SAMPLE_ONE;
	z->out_cap = ZSTD_CStreamOutSize();
	z->out = malloc(z->out_cap);
	if (!z->c || !z->out) {
		z->next = NULL; /* on failure next stays the caller's */
		z_free(&z->base);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	if (threads > 0) {
		/* refuse a worker count zstd cannot have now rather than at the first sample */
		ZSTD_CCtx *probe = cctx_new(level, threads);
		if (!probe) {
			z->next = NULL;
			z_free(&z->base);
			return drb_error(DRB_ERR_FORMAT,
			                 "setting up compression: zstd refuses %d "
			                 "workers",
			                 threads);
		}
		ZSTD_freeCCtx(probe);
	}
	*out = &z->base;
	return 0;
}

unsigned drb_zstd_frames(drb_sink *s)
{
	return ((zfilter *)s)->frames;
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
			return 0; /* nothing held back; r would describe the next frame, not this
			             one */
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
