/* A restore's objects in the spool: each fetched from the plan's repository first (the others
 * after it), checked on the way in (SHA-256 of the stored bytes, every chunk's authentication),
 * before anything touches the target; then streamed, opened, into a pipe. */
#ifndef DRB_RESTORE_FETCH_H
#define DRB_RESTORE_FETCH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/keys.h"
#include "common/repo.h"

typedef struct drb_fetch {
	char *path; /* in the repository */
	char sha256[65];
	uint64_t size;
	char *local; /* the checked ciphertext in the spool (set by the caller, freed by clear) */
	int done;    /* 1 fetched, -1 no repository holds an intact copy */
	drb_error_state *err; /* why, when done is -1: held only for an object that failed, so a
			       * chain of a year of segments costs a few hundred bytes a segment */
} drb_fetch;

/* Fetch v[0..n) into v[i].local with jobs threads, from set->repos[first] first. Stops at the
 * first object that no repository holds intact: its error, and *failed its index. */
int drb_fetch_all(drb_repo_set *set, const drb_keyring *keys, size_t first, drb_fetch *v, size_t n,
		  int jobs, size_t *failed);
/* The plaintext of a checked spool copy, written to fd. A reader that closes its end early gets
 * DRB_ERR_CLOSED. */
int drb_fetch_stream(const drb_keyring *keys, const drb_fetch *f, int fd, const char *to_what);
/* Remove the spool copy and free the path. */
void drb_fetch_clear(drb_fetch *f);

#endif
