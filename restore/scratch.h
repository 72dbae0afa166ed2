/* A private scratch server for restore tests: a fresh datadir in a 0700 folder, socket only, no
 * networking, no binary log, durability relaxed (it is thrown away), stopped and removed after. */
#ifndef DRB_RESTORE_SCRATCH_H
#define DRB_RESTORE_SCRATCH_H

#include <limits.h>
#include <sys/types.h>

#include "common/conf.h"

typedef struct drb_scratch {
	char dir[PATH_MAX];
	char socket[PATH_MAX];
	pid_t pid;
} drb_scratch;

int drb_scratch_start(const drb_config *c, drb_scratch *s);
void drb_scratch_stop(drb_scratch *s);

#endif
