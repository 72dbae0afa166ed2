/* DRB1, the object format (man/drbackup-format.5 is the specification). A seal filter encrypts a
 * stream to every recipient public key with a fresh per-object key; an open filter checks and
 * decrypts it and hands the plaintext on, decompressed when the header says it is compressed.
 * The object's identity (its path in the repository) is bound into the first chunk, so an
 * object moved to another path does not open; a stream without its FINAL chunk is an error. */
#ifndef DRB_DRB1_H
#define DRB_DRB1_H

#include <stdint.h>

#include "common/keys.h"
#include "common/sink.h"

#define DRB1_MAGIC "DRB1"
#define DRB1_VERSION 1
#define DRB1_CHUNK 65536 /* plaintext bytes per chunk, at most */
#define DRB1_MAX_RECIPIENTS 64

enum drb1_compression { DRB1_COMP_NONE = 0, DRB1_COMP_ZSTD = 1 };

enum drb1_kind {
	DRB1_KIND_DATA = 0,   /* repo put: anything */
	DRB1_KIND_DUMP = 1,   /* a database's logical dump */
	DRB1_KIND_BINLOG = 2, /* a binlog segment */
	DRB1_KIND_EXPORT = 3, /* a practice export */
};

/* Seal what is written (already compressed as compression says) to every public key of kr.
 * Owns next. */
int drb_seal_new(drb_sink *next, const drb_keyring *kr, const char *identity, uint8_t kind,
		 uint8_t compression, drb_sink **out);

/* Open an object stored at identity with one of kr's secret keys; writes the plaintext (after
 * decompression) into next, which it owns. */
int drb_open_new(drb_sink *next, const drb_keyring *kr, const char *identity, drb_sink **out);
/* The same, but hand on the plaintext as stored (still compressed): a verification pass. */
int drb_open_raw_new(drb_sink *next, const drb_keyring *kr, const char *identity, drb_sink **out);
/* After the header has been read: the kind, or -1. */
int drb_open_kind(drb_sink *open);

#endif
