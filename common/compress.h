/* zstd as filters on the chain. With workers, compression of compressible stretches runs on
 * zstd's own worker threads, so the thread that pushes bytes only feeds input and forwards
 * output; incompressible stretches stay on that thread, stored: frames of raw blocks at zstd's
 * fastest level, probed at the configured level every 2 MiB (several gigabytes a second). */
#ifndef DRB_COMPRESS_H
#define DRB_COMPRESS_H

#include <stdint.h>

#include "common/sink.h"

/* threads: 0 compresses on the calling thread; N >= 1 uses N workers where the data compresses.
 * A new frame starts each time the stream moves between the workers, the calling thread and a
 * stored stretch (which is one frame per 256 KiB piece). Owns
 * next once it succeeds; on failure next is still the caller's. */
int drb_zstd_new(drb_sink *next, int level, int threads, drb_sink **out);
/* Frames a compressing filter has ended so far (the last one at finish). */
unsigned drb_zstd_frames(drb_sink *s);
/* Input bytes a compressing filter sent as stored stretches so far. */
uint64_t drb_zstd_stored(drb_sink *s);
/* Decompress one or more concatenated frames; a stream that ends inside a frame is an error. */
int drb_unzstd_new(drb_sink *next, const char *what, drb_sink **out);

#endif
