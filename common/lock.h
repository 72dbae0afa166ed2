/* Locks in spool_dir, one per kind of work (full, binlog): a second run waits for the first or
 * says which process holds the lock. Released when the process ends, however it ends. */
#ifndef DRB_LOCK_H
#define DRB_LOCK_H

#include <stdbool.h>

/* Take spool_dir/NAME.lock; wait when asked, else fail with DRB_ERR_LOCKED. Returns the fd. */
int drb_lock_take(const char *spool_dir, const char *name, bool wait, int *fd_out);
void drb_lock_release(int fd);

/* Create spool_dir (0700) when missing. */
int drb_spool_ready(const char *spool_dir);

#endif
