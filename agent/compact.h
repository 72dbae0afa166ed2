/* Compaction from the source: a run of small segments that a level's span has left behind is
 * shipped again as one segment, re-read from the local binlog file they came from (the host
 * holds only public keys: it cannot open its own segments). The bytes are checked against a
 * keyed hash of each small segment's plaintext recorded when it was cut; the key and the hashes
 * stay in spool_dir, never in a repository (a plaintext hash there would let anyone holding the
 * metadata confirm a guess of its contents). Once every repository holds the compacted segment
 * (and a grace period for restores that planned with the small ones has passed), the small ones
 * are deleted, descriptions first, and day catalogs that named them are rewritten. */
#ifndef DRB_AGENT_COMPACT_H
#define DRB_AGENT_COMPACT_H

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/catalog.h"
#include "common/conf.h"
#include "common/keys.h"
#include "common/repo.h"

#define DRB_COMPACT_HASH 32

typedef struct drb_compactor drb_compactor;

/* NULL in *out (and 0) when the configuration has no compact_levels: nothing is recorded. */
int drb_compact_open(const drb_config *c, drb_compactor **out);
void drb_compact_close(drb_compactor *cp);

/* The keyed hash of a segment's plaintext, fed as it is read. */
void drb_compact_hash_init(const drb_compactor *cp, crypto_generichash_state *st);

/* Record a segment just shipped (its description stored) with its hash. */
int drb_compact_note(drb_compactor *cp, const drb_segment *s,
		     const uint8_t hash[DRB_COMPACT_HASH]);

typedef struct drb_compact_env {
	drb_repo_set *set;
	const drb_keyring *keys;
	const char *binlog_dir;    /* where the files named by the segments are */
	int64_t now;               /* the agent's clock (drb_state_now) */
} drb_compact_env;

typedef struct drb_compact_stats {
	uint64_t compacted; /* segments written this pass */
	uint64_t replaced;  /* small segments deleted this pass (in every repository) */
	uint64_t pending;   /* compacted segments whose small ones are not deleted yet */
	bool held;          /* an active hold kept small segments */
} drb_compact_stats;

/* One pass: finish deletions whose compacted segment is everywhere, then compact every window
 * that is over. Idle (nothing due): no request is made and nothing is written. */
int drb_compact_pass(drb_compactor *cp, const drb_compact_env *env, drb_compact_stats *st);

#endif
