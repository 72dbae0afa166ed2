#include "config.h"
#include "common/compress.h"
#include "common/error.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* Compression adapts to the data, one zstd frame per stretch (a DRB1 plaintext is "one or more
 * frames", which every reader takes). Each stream starts on the calling thread at the configured
 * level; every SAMPLE_ONE bytes its output is judged:
 *  - a sample that compresses by a tenth or more moves it to a frame on zstd's workers (when it
 *    has any), which pay back their memory on text; a stretch that stops compressing there
 *    (media, compressed or encrypted files) leaves them;
 *  - a sample that does not shrink by 2% (incompressible: zstd emitted raw blocks) is "stored":
 *    from then on the bytes go as independent frames of STORE_PIECE bytes, compressed in one
 *    call each straight from the caller's buffer at zstd's fastest level, which on such data is
 *    raw blocks at 3x the speed of the level's match finder and without the streaming copy.
 *    After every PROBE_EVERY stored bytes one piece is compressed at the configured level
 *    instead (the probe: its frame is kept either way); a probe that shrinks its piece by 2%
 *    ends the stored stretch, and the stream goes back to the configured level on the calling
 *    thread. Text after noise is stored raw for at most PROBE_EVERY + STORE_PIECE bytes.
 * Restic and borg's "auto" compression make the same call; the bytes stored are the same as at
 * the configured level (zstd stores incompressible blocks raw at every level). */
#define SAMPLE_ONE  (8u << 20)   /* input between checks on one thread */
#define SAMPLE_MANY (32u << 20)  /* and on the workers */
#define STORE_PIECE (256u << 10) /* input per frame while stored */
#define PROBE_EVERY (2u << 20)   /* stored input between probes */

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
	/* stored stretches (st != NULL): one frame per piece, from the caller's buffer */
	ZSTD_CCtx *st;  /* one-shot context: the fastest level, the configured one for probes */
	uint8_t *stage; /* a piece gathered from smaller writes */
	size_t stage_len;
	uint8_t *sout; /* one piece's frame */
	size_t sout_cap;
	uint64_t probe_in;  /* stored input since the last probe */
	uint64_t stored_in; /* total input that went stored, for tests */
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

/* Start a stored stretch: the streaming context is gone (its frame ended); the one-shot one
 * and a piece's buffers come. */
static int st_enter(zfilter *z)
{
	z->c = NULL;
	z->st = ZSTD_createCCtx();
	z->sout_cap = ZSTD_compressBound(STORE_PIECE);
	z->stage = malloc(STORE_PIECE);
	z->sout = malloc(z->sout_cap);
	if (!z->st || !z->stage || !z->sout ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(z->st, ZSTD_c_checksumFlag, 1))) {
		ZSTD_freeCCtx(z->st);
		free(z->stage);
		free(z->sout);
		z->st = NULL; /* no context: later writes fail */
		z->stage = z->sout = NULL;
		return drb_error(DRB_ERR_NOMEM, "out of memory for compression");
	}
	z->stage_len = 0;
	z->probe_in = 0;
	return 0;
}

/* End a stored stretch: back to the configured level on the calling thread. */
static int st_leave(zfilter *z)
{
	ZSTD_freeCCtx(z->st);
	free(z->stage);
	free(z->sout);
	z->st = NULL;
	z->stage = z->sout = NULL;
	z->stage_len = 0;
	if (!(z->c = z->one = cctx_new(z->level, 0)))
		return drb_error(DRB_ERR_NOMEM, "out of memory for compression");
	z->frame_in = z->frame_out = z->seen_in = z->seen_out = 0;
	z->next_check = SAMPLE_ONE;
	return 0;
}

/* One stored piece as a frame of its own: at the fastest level, or as the probe at the
 * configured one, which ends the stretch when it shrinks the piece by 2% or more. */
static int st_piece(zfilter *z, const uint8_t *p, size_t len)
{
	bool probe = z->probe_in >= PROBE_EVERY;
	size_t r;
	if (ZSTD_isError(r = ZSTD_CCtx_setParameter(z->st, ZSTD_c_compressionLevel,
	                                            probe ? z->level : ZSTD_minCLevel())) ||
	    ZSTD_isError(r = ZSTD_compress2(z->st, z->sout, z->sout_cap, p, len)))
		return z_fail(r, "compressing", z->what);
	int rc = drb_sink_write(z->next, z->sout, r);
	if (rc < 0)
		return rc;
	z->frames++;
	z->stored_in += len;
	z->probe_in = probe ? 0 : z->probe_in + len;
	if (probe && r * 100 < (uint64_t)len * 98)
		return st_leave(z);
	return 0;
}

/* Stored input: whole pieces straight from the caller's buffer, the rest gathered. Returns the
 * bytes taken: all of them, or fewer when a probe ended the stretch. */
static int st_write(zfilter *z, const uint8_t *p, size_t len, size_t *took)
{
	size_t done = 0;
	int rc = 0;
	while (done < len && z->st && rc == 0) {
		size_t n = len - done;
		if (z->stage_len == 0 && n >= STORE_PIECE) {
			rc = st_piece(z, p + done, STORE_PIECE);
			done += STORE_PIECE;
			continue;
		}
		if (n > STORE_PIECE - z->stage_len)
			n = STORE_PIECE - z->stage_len;
		memcpy(z->stage + z->stage_len, p + done, n);
		z->stage_len += n;
		done += n;
		if (z->stage_len == STORE_PIECE) {
			z->stage_len = 0;
			rc = st_piece(z, z->stage, STORE_PIECE);
		}
	}
	*took = done;
	return rc;
}

/* At a check: move to another context when the data asks for it. */
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
	if (!stored && (on_many || !compresses || z->threads == 0))
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
	} else {
		ZSTD_freeCCtx(z->one);
		z->one = NULL;
	}
	if (stored)
		return st_enter(z);
	if (!(z->c = z->many = cctx_new(z->level, z->threads)))
		return drb_error(DRB_ERR_NOMEM, "out of memory for compression workers");
	z->frame_in = z->frame_out = z->seen_in = z->seen_out = 0;
	z->next_check = SAMPLE_MANY;
	return 0;
}

static int zc_write(drb_sink *s, const void *buf, size_t len)
{
	zfilter *z = (zfilter *)s;
	const uint8_t *p = buf;
	while (len) {
		size_t take = len;
		int rc;
		if (z->st) {
			rc = st_write(z, p, len, &take);
		} else {
			if (z->next_check - z->frame_in < take)
				take = (size_t)(z->next_check - z->frame_in);
			if ((rc = zc_run(z, p, take, ZSTD_e_continue)) == 0) {
				z->frame_in += take;
				if (z->frame_in >= z->next_check)
					rc = zc_judge(z);
			}
		}
		if (rc < 0)
			return rc;
		p += take;
		len -= take;
	}
	return 0;
}

static int zc_finish(drb_sink *s)
{
	zfilter *z = (zfilter *)s;
	int rc = 0;
	if (z->st) {
		/* the last piece; a stored stretch always follows a frame, so the stream has one */
		if (z->stage_len) {
			size_t n = z->stage_len;
			z->stage_len = 0;
			rc = st_piece(z, z->stage, n);
		}
		/* a probe that ended the stretch left an empty frame open: end it too */
		if (rc == 0 && !z->st && (rc = zc_run(z, NULL, 0, ZSTD_e_end)) == 0)
			z->frames++;
	} else if ((rc = zc_run(z, NULL, 0, ZSTD_e_end)) == 0) {
		z->frames++;
	}
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
	ZSTD_freeCCtx(z->st);
	free(z->stage);
	free(z->sout);
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

uint64_t drb_zstd_stored(drb_sink *s)
{
	return ((zfilter *)s)->stored_in;
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
