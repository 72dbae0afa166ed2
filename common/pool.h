/* A few threads running the same worker over a shared queue the worker pulls from. If no
 * thread can be started, the calling thread does the work alone: slower, never skipped. */
#ifndef DRB_POOL_H
#define DRB_POOL_H

/* Run fn(arg) on up to n threads at once and wait for all of them. */
void drb_pool_run(int n, void *(*fn)(void *), void *arg);

#endif
