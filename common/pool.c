#include "config.h"
#include "common/pool.h"

#include <pthread.h>
#include <stdlib.h>

void drb_pool_run(int n, void *(*fn)(void *), void *arg)
{
	pthread_t *t = n > 0 ? calloc((size_t)n, sizeof *t) : NULL;
	int started = 0;
	for (int i = 0; t && i < n; i++) {
		if (pthread_create(&t[started], NULL, fn, arg) != 0)
			break; /* the ones running pull the rest of the queue */
		started++;
	}
	if (started == 0)
		fn(arg);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
}
