#include "config.h"
#include "restore/fetch.h"
#include "common/drb1.h"
#include "common/context.h"
#include "common/lock.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fetcher {
	drb_repo_set *set;
	const drb_keyring *keys;
	size_t first;
	drb_fetch *v;
	size_t n, next;
	bool failed;
	pthread_mutex_t lock;
} fetcher;

/* Fetch into the spool while checking the SHA-256 and every chunk's authentication. */
static int fetch_from(const drb_keyring *keys, drb_repo *r, drb_fetch *f)
{
	int fd = open(f->local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return drb_error_errno(0, errno, "spool file %s", f->local);
	drb_sink *file = drb_fd_sink_new(fd, f->local), *check = NULL, *tee = NULL, *hash = NULL;
	int rc = drb_open_raw_new(drb_null_sink_new(), keys, f->path, &check);
	if (rc == 0 && (!(tee = drb_tee_new(file, check)) || !(hash = drb_hash_filter_new(tee))))
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	if (rc < 0) {
		drb_sink_free(tee ? tee : file);
		if (!tee)
			drb_sink_free(check);
		close(fd);
		return rc;
	}
	char what[1200];
	snprintf(what, sizeof what, "object %s in repository %s", f->path, r->name);
	drb_hash_filter_expect(hash, f->sha256, what);
	rc = drb_repo_get(r, f->path, hash);
	if (rc == 0)
		rc = drb_sink_finish(hash);
	drb_sink_free(hash);
	if (rc == 0 && fsync(fd) < 0)
		rc = drb_error_errno(0, errno, "spool file %s", f->local);
	close(fd);
	if (rc < 0)
		unlink(f->local);
	return rc;
}

/* Each repository in turn, the first one's error kept for the message. */
static int fetch_one(fetcher *fe, drb_fetch *f)
{
	int rc = DRB_ERR_NOT_FOUND;
	drb_error_state first;
	bool have_first = false;
	for (size_t k = 0; k < fe->set->n && rc < 0; k++) {
		size_t i = (fe->first + k) % fe->set->n;
		if (drb_stop_requested())
			break;
		rc = fetch_from(fe->keys, fe->set->repos[i], f);
		if (rc < 0) {
			if (!have_first) {
				drb_error_save(&first);
				have_first = true;
			}
			if (k + 1 < fe->set->n) {
				char line[DRB_ERROR_LINE];
				drb_error_line(line, sizeof line);
				drb_log_warn("%s; trying the next repository", line);
			}
		}
	}
	if (rc < 0) {
		if (have_first)
			drb_error_restore(&first);
		else
			drb_error(DRB_ERR_CANCELLED, "stopped by a signal");
		drb_error_wrap(0, "no repository holds an intact copy of %s", f->path);
	}
	return rc;
}

static void *fetch_worker(void *arg)
{
	fetcher *fe = arg;
	for (;;) {
		pthread_mutex_lock(&fe->lock);
		drb_fetch *f = !fe->failed && fe->next < fe->n ? &fe->v[fe->next++] : NULL;
		pthread_mutex_unlock(&fe->lock);
		if (!f)
			return NULL;
		int rc = fetch_one(fe, f);
		pthread_mutex_lock(&fe->lock);
		if (rc < 0) {
			if (!f->err)
				f->err = calloc(1, sizeof *f->err);
			if (f->err)
				drb_error_save(f->err);
			f->done = -1;
			fe->failed = true;
		} else {
			f->done = 1;
		}
		pthread_mutex_unlock(&fe->lock);
	}
}

int drb_fetch_all(drb_repo_set *set, const drb_keyring *keys, size_t first, drb_fetch *v, size_t n,
		  int jobs, size_t *failed)
{
	fetcher fe = {.set = set, .keys = keys, .first = first, .v = v, .n = n,
		      .lock = PTHREAD_MUTEX_INITIALIZER};
	drb_pool_run(jobs > 0 ? jobs : 1, fetch_worker, &fe);
	for (size_t i = 0; i < n; i++)
		if (v[i].done < 0) {
			*failed = i;
			if (!v[i].err)
				return drb_error(DRB_ERR_NOMEM, "out of memory");
			drb_error_restore(v[i].err);
			return drb_error_code();
		}
	if (drb_stop_requested())
		return drb_error(DRB_ERR_CANCELLED, "stopped by a signal");
	return 0;
}

int drb_fetch_stream(const drb_keyring *keys, const drb_fetch *f, int to_fd, const char *to_what)
{
	drb_sink *out = drb_fd_sink_new(to_fd, to_what), *opened = NULL;
	int rc = out ? drb_open_new(out, keys, f->path, &opened)
		     : drb_error(DRB_ERR_NOMEM, "out of memory");
	if (rc < 0) {
		drb_sink_free(out);
		return rc;
	}
	int fd = open(f->local, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		drb_sink_free(opened);
		return drb_error_errno(0, errno, "spool file %s", f->local);
	}
	rc = drb_pump_fd(fd, opened, f->local, NULL);
	close(fd);
	if (rc == 0)
		rc = drb_sink_finish(opened); /* the final chunk must be there */
	drb_sink_free(opened);
	return rc;
}

void drb_fetch_clear(drb_fetch *f)
{
	if (f->local && f->local[0])
		unlink(f->local);
	free(f->local);
	f->local = NULL;
	free(f->err);
	f->err = NULL;
	free(f->path);
	f->path = NULL;
	f->done = 0;
}
