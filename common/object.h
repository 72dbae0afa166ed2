/* Objects as commands see them: a chain that compresses, seals, hashes and stores a stream in
 * every repository at once, and the reverse that fetches, checks and opens one. */
#ifndef DRB_OBJECT_H
#define DRB_OBJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/keys.h"
#include "common/repo.h"
#include "common/sink.h"

typedef struct drb_object_params {
	const drb_keyring *keys;
	uint8_t kind;        /* enum drb1_kind */
	int level;           /* zstd level; 0: store uncompressed */
	int threads;         /* zstd workers; 0: on the calling thread */
	uint64_t size_hint;  /* expected stored size when known */
	bool immutable;
} drb_object_params;

typedef struct drb_object_writer {
	drb_sink *head;   /* write the plaintext here */
	drb_sink *hash;   /* inside the chain: stored bytes and their SHA-256 */
	drb_sink *fanout; /* inside the chain: which repositories took the copy */
	uint64_t plain_bytes;
	char *path;
} drb_object_writer;

typedef struct drb_object_info {
	uint64_t plain_bytes;  /* before compression */
	uint64_t stored_bytes; /* the DRB1 object */
	char sha256[65];       /* of the DRB1 object */
	size_t failed;         /* repositories that missed the copy */
	uint64_t failed_mask;  /* bit i: repository i of the set missed it */
	char why[1024];        /* which ones, and why */
} drb_object_info;

int drb_object_create(drb_repo_set *set, const char *path, const drb_object_params *p,
		      drb_object_writer *w);
int drb_object_write(drb_object_writer *w, const void *buf, size_t len);
/* Finish: every live copy is committed. 0 also when some repositories failed (info->failed). */
int drb_object_commit(drb_object_writer *w, drb_object_info *info);
void drb_object_discard(drb_object_writer *w);

/* Fetch path from r, check its SHA-256 when expect_sha256 is set, open it, and write the
 * plaintext into out (which is finished on success, aborted on failure, and not freed). */
int drb_object_read(drb_repo *r, const char *path, const drb_keyring *keys,
		    const char *expect_sha256, drb_sink *out);

/* A small object (metadata) sealed from memory to every repository. */
int drb_object_put_buf(drb_repo_set *set, const char *path, const drb_object_params *p,
		       const void *buf, size_t len, drb_object_info *info);

#endif
