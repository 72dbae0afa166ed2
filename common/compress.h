/* zstd as filters on the chain. With workers, compression of compressible stretches runs on
 * zstd's own worker threads, so the thread that pushes bytes only feeds input and forwards
 * output; incompressible stretches stay on that thread (raw blocks, gigabytes a second). */
#ifndef DRB_COMPRESS_H
#define DRB_COMPRESS_H

#include "common/sink.h"

/* threads: 0 compresses on the calling thread, in one frame; N >= 1 uses N workers where the
 * data compresses, and a new frame each time it moves between them and the calling thread. Owns
 * next once it succeeds; on failure next is still the caller's. */
int drb_zstd_new(drb_sink *next, int level, int threads, drb_sink **out);
/* Frames a compressing filter has ended so far (the last one at finish). */
unsigned drb_zstd_frames(drb_sink *s);
/* Decompress one or more concatenated frames; a stream that ends inside a frame is an error. */
int drb_unzstd_new(drb_sink *next, const char *what, drb_sink **out);

#endif
