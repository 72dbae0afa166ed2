/* A restore into the server that is being backed up forks its history: its binlog files keep
 * their names while the data goes back in time. The restore rotates the server's binlog and
 * leaves a marker in spool_dir naming the first file of the new history; the agent starts a new
 * binlog generation there (agent/binlog.c). */
#ifndef DRB_FORK_H
#define DRB_FORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/db.h"

/* Is t the server the configuration backs up (the same socket, or host and port)? */
bool drb_fork_is_source(const drb_config *c, const drb_db_target *t);
/* After a restore into t: FLUSH BINARY LOGS there and record the new file as the fork. */
int drb_fork_note(const drb_config *c, const drb_db_target *t);
/* The fork recorded and not taken yet: the first file of the new history and when the restore
 * ended. DRB_ERR_NOT_FOUND when there is none. */
int drb_fork_read(const drb_config *c, char *file, size_t len, int64_t *at);
/* The agent has made the fork part of its own state. */
void drb_fork_taken(const drb_config *c);

#endif
