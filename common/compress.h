/* zstd as filters on the chain. Compression runs on zstd's own worker threads, so the thread
 * that pushes bytes only feeds input and forwards output. */
#ifndef DRB_COMPRESS_H
#define DRB_COMPRESS_H

#include "common/sink.h"

/* threads: 0 compresses on the calling thread; N >= 1 uses N workers. Owns next once it
 * succeeds; on failure next is still the caller's. */
int drb_zstd_new(drb_sink *next, int level, int threads, drb_sink **out);
/* Decompress one or more concatenated frames; a stream that ends inside a frame is an error. */
int drb_unzstd_new(drb_sink *next, const char *what, drb_sink **out);

#endif
