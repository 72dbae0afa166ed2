/* The export's container: an AES-256 encrypted zip (WinZip AE-2, libarchive's zip writer) built
 * as a stream into a sink, entry by entry, each entry counted and hashed (SHA-256) on its way
 * in. Entry sizes need not be known in advance (data descriptors, zip64 past 4 GiB), so nothing
 * is staged on disk. Entry names are not encrypted by the zip format: callers keep them neutral. */
#ifndef DRB_EXPORT_ZIP_H
#define DRB_EXPORT_ZIP_H

#include <stdint.h>

#include "common/sink.h"

typedef struct drb_zip drb_zip;

/* A zip writing into out (borrowed: neither finished nor freed here), every entry encrypted with
 * passphrase. */
int drb_zip_open(drb_sink *out, const char *passphrase, int64_t mtime, drb_zip **z);

/* Start the entry name; what is written to the returned sink (owned by z, valid until
 * drb_zip_entry_end) becomes its content. */
int drb_zip_entry_begin(drb_zip *z, const char *name, drb_sink **content);
/* End the current entry: its size and SHA-256 (64 hex characters) of the plaintext. */
int drb_zip_entry_end(drb_zip *z, uint64_t *size, char sha256_hex[65]);
/* A whole entry from memory. */
int drb_zip_add(drb_zip *z, const char *name, const void *buf, size_t len, uint64_t *size,
                char sha256_hex[65]);

/* Write the central directory and flush; the output sink is then complete (not finished). */
int drb_zip_close(drb_zip *z);
/* Release z (after close, or to give up). */
void drb_zip_free(drb_zip *z);
/* Call fn every few MiB of content, with the current entry's name, the content bytes taken and
 * the archive bytes written so far (a progress line). */
void drb_zip_set_progress(drb_zip *z,
                          void (*fn)(void *ud, const char *entry, uint64_t in, uint64_t out),
                          void *ud);
/* The archive bytes written into out so far. */
uint64_t drb_zip_bytes(const drb_zip *z);

#endif
