/* A private scratch server for restore tests: a fresh datadir in a 0700 folder, socket only, no
 * networking, no binary log, durability relaxed (it is thrown away), stopped and removed after.
 * The datadir holds restored patient data in the clear, so by default it lives in memory
 * (/dev/shm) when there is room for it, not on a disk. */
#ifndef DRB_RESTORE_SCRATCH_H
#define DRB_RESTORE_SCRATCH_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/conf.h"

typedef struct drb_scratch {
	char dir[PATH_MAX];
	char socket[PATH_MAX];
	pid_t pid;
} drb_scratch;

/* need: the bytes the restored data will take, to choose where the datadir goes. */
int drb_scratch_start(const drb_config *c, uint64_t need, drb_scratch *s);
void drb_scratch_stop(drb_scratch *s);

#endif
