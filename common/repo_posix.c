/* The posix repository driver: a local folder, a second disk or a network mount. An object is
 * written to a hidden temporary name in its folder, synced, renamed into place and the folder
 * synced, so it is either whole or absent, even across a crash. */
#include "config.h"
#include "common/error.h"
#include "common/repo.h"

#include <dirent.h>
#include <sodium.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WRITEBACK_EVERY (8u << 20) /* start writeback early so the final fsync is short */
#define READ_BUF (1u << 20)

typedef struct posix_repo {
	char *root;
} posix_repo;

static int posix_open(const drb_repo_config *cfg, void **impl)
{
	posix_repo *p = calloc(1, sizeof *p);
	if (!p)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	p->root = strdup(cfg->path);
	size_t n = strlen(p->root);
	while (n > 1 && p->root[n - 1] == '/')
		p->root[--n] = 0;
	*impl = p;
	return 0;
}

static void posix_close(void *impl)
{
	posix_repo *p = impl;
	free(p->root);
	free(p);
}

static void posix_describe(void *impl, char *buf, size_t len)
{
	posix_repo *p = impl;
	snprintf(buf, len, "%s", p->root);
}

static int full_path(posix_repo *p, const char *path, char *out)
{
	if (snprintf(out, PATH_MAX, "%s/%s", p->root, path) >= PATH_MAX)
		return drb_error(DRB_ERR_USAGE, "path too long: %s", path);
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return drb_error_errno(0, errno, "opening folder %s", dir);
	int rc = 0;
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = drb_error_errno(0, errno, "syncing folder %s", dir);
	close(fd);
	return rc;
}

/* mkdir -p for the folders below the root, syncing each parent that got a new entry. */
static int make_parents(posix_repo *p, const char *file)
{
	char buf[PATH_MAX];
	struct stat st;
	if (stat(p->root, &st) < 0)
		return drb_error_errno(0, errno, "repository folder %s", p->root);
	if (!S_ISDIR(st.st_mode))
		return drb_error(DRB_ERR_IO, "repository folder %s is not a folder", p->root);
	snprintf(buf, sizeof buf, "%s", file);
	size_t root_len = strlen(p->root);
	for (char *s = buf + root_len + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		if (mkdir(buf, 0700) == 0) {
			char *parent_end = strrchr(buf, '/');
			*parent_end = 0;
			int rc = fsync_dir(buf);
			*parent_end = '/';
			if (rc < 0)
				return rc;
		} else if (errno != EEXIST) {
			return drb_error_errno(0, errno, "creating folder %s", buf);
		}
		*s = '/';
	}
	return 0;
}

/* ---- writer ---- */

typedef struct posix_writer {
	drb_sink base;
	int fd;
	char final[PATH_MAX];
	char tmp[PATH_MAX];
	uint64_t written;
	uint64_t synced_to;
} posix_writer;

static int pw_write(drb_sink *s, const void *buf, size_t len)
{
	posix_writer *w = (posix_writer *)s;
	const uint8_t *b = buf;
	if (w->fd < 0)
		return drb_error(DRB_ERR_IO, "%s: write after close", w->final);
	while (len) {
		ssize_t n = write(w->fd, b, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return drb_error_errno(0, errno, "writing %s", w->final);
		}
		b += n;
		len -= (size_t)n;
		w->written += (uint64_t)n;
	}
	if (w->written - w->synced_to >= WRITEBACK_EVERY) {
		/* a hint only: errors surface at fsync */
		(void)sync_file_range(w->fd, (off_t)w->synced_to, (off_t)(w->written - w->synced_to),
				      SYNC_FILE_RANGE_WRITE);
		w->synced_to = w->written;
	}
	return 0;
}

static int pw_finish(drb_sink *s)
{
	posix_writer *w = (posix_writer *)s;
	struct stat st;
	if (w->fd < 0)
		return drb_error(DRB_ERR_IO, "%s: finished twice", w->final);
	if (fsync(w->fd) < 0)
		return drb_error_errno(0, errno, "syncing %s", w->final);
	if (fstat(w->fd, &st) < 0)
		return drb_error_errno(0, errno, "%s", w->final);
	if ((uint64_t)st.st_size != w->written)
		return drb_error(DRB_ERR_INTEGRITY, "%s holds %lld bytes after writing %llu",
				 w->tmp, (long long)st.st_size, (unsigned long long)w->written);
	if (close(w->fd) < 0) {
		w->fd = -1;
		return drb_error_errno(0, errno, "closing %s", w->final);
	}
	w->fd = -1;
	if (rename(w->tmp, w->final) < 0)
		return drb_error_errno(0, errno, "renaming %s to %s", w->tmp, w->final);
	w->tmp[0] = 0;
	char *slash = strrchr(w->final, '/');
	*slash = 0;
	int rc = fsync_dir(w->final);
	*slash = '/';
	return rc;
}

static void pw_abort(drb_sink *s)
{
	posix_writer *w = (posix_writer *)s;
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
	if (w->tmp[0]) {
		unlink(w->tmp);
		w->tmp[0] = 0;
	}
}

static void pw_free(drb_sink *s)
{
	pw_abort(s);
	free(s);
}

static const drb_sink_ops pw_ops = {"posix", pw_write, pw_finish, pw_abort, pw_free};

static int posix_put(void *impl, const char *path, const drb_put_opts *opts, drb_sink **out)
{
	posix_repo *p = impl;
	posix_writer *w = calloc(1, sizeof *w);
	int rc;
	(void)opts;
	if (!w)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	w->base.ops = &pw_ops;
	w->fd = -1;
	if ((rc = full_path(p, path, w->final)) < 0 || (rc = make_parents(p, w->final)) < 0)
		goto fail;
	char *slash = strrchr(w->final, '/');
	*slash = 0;
	int n = snprintf(w->tmp, sizeof w->tmp, "%s/.%s.tmp.%ld.%08x", w->final, slash + 1,
			 (long)getpid(), randombytes_random());
	*slash = '/';
	if (n < 0 || (size_t)n >= sizeof w->tmp) {
		w->tmp[0] = 0;
		rc = drb_error(DRB_ERR_USAGE, "path too long: %s", path);
		goto fail;
	}
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		rc = drb_error_errno(0, errno, "creating %s", w->tmp);
		w->tmp[0] = 0;
		goto fail;
	}
	*out = &w->base;
	return 0;
fail:
	free(w);
	return rc;
}

static int posix_get(void *impl, const char *path, drb_sink *out)
{
	posix_repo *p = impl;
	char file[PATH_MAX];
	int rc = full_path(p, path, file);
	if (rc < 0)
		return rc;
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return drb_error_errno(0, errno, "%s", file);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	rc = drb_pump_fd(fd, out, file, NULL);
	close(fd);
	return rc;
}

static int posix_stat(void *impl, const char *path, drb_obj_stat *st)
{
	posix_repo *p = impl;
	char file[PATH_MAX];
	struct stat s;
	int rc = full_path(p, path, file);
	if (rc < 0)
		return rc;
	if (stat(file, &s) < 0)
		return drb_error_errno(0, errno, "%s", file);
	if (!S_ISREG(s.st_mode))
		return drb_error(DRB_ERR_NOT_FOUND, "%s is not an object", file);
	st->size = (uint64_t)s.st_size;
	st->mtime = s.st_mtim.tv_sec;
	return 0;
}

static int posix_remove(void *impl, const char *const *paths, size_t n)
{
	posix_repo *p = impl;
	char file[PATH_MAX];
	for (size_t i = 0; i < n; i++) {
		int rc = full_path(p, paths[i], file);
		if (rc < 0)
			return rc;
		if (unlink(file) < 0 && errno != ENOENT)
			return drb_error_errno(0, errno, "deleting %s", file);
		/* folders left empty go too (an S3 prefix has no folder): listings then show no
		 * empty backup folder, as S3 would not */
		size_t root = strlen(p->root);
		char *slash = strrchr(file, '/');
		*slash = 0;
		while (strlen(file) > root && rmdir(file) == 0 && (slash = strrchr(file, '/')))
			*slash = 0;
		(void)fsync_dir(file);
	}
	return 0;
}

/* ---- listing: collect, sort, call back ---- */

typedef struct entry {
	char *path;
	drb_obj_stat st;
	bool dir;
} entry;

typedef struct collect {
	entry *v;
	size_t n, cap;
	const char *prefix;
	size_t prefix_len;
	bool recursive;
	const char *after; /* list_after: only names that sort after this */
} collect;

static int add(collect *c, const char *path, const struct stat *s, bool dir)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		entry *v = realloc(c->v, cap * sizeof *v);
		if (!v)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		c->v = v;
		c->cap = cap;
	}
	entry *e = &c->v[c->n];
	e->path = strdup(path);
	if (!e->path)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	e->dir = dir;
	e->st.size = s ? (uint64_t)s->st_size : 0;
	e->st.mtime = s ? s->st_mtim.tv_sec : 0;
	c->n++;
	return 0;
}

/* rel: the folder's path relative to the root ("" or "a/b/"). */
static int walk(posix_repo *p, collect *c, const char *rel)
{
	char dirpath[PATH_MAX];
	snprintf(dirpath, sizeof dirpath, "%s/%s", p->root, rel);
	DIR *d = opendir(dirpath);
	int rc = 0;
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return drb_error_errno(0, errno, "listing %s", dirpath);
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		char relpath[PATH_MAX];
		struct stat s;
		if (de->d_name[0] == '.')
			continue; /* ".", "..", and temporary files of unfinished writes */
		if (snprintf(relpath, sizeof relpath, "%s%s", rel, de->d_name) >= PATH_MAX - 2)
			continue;
		/* prune folders that cannot hold a match */
		size_t rl = strlen(relpath);
		size_t cmp = rl < c->prefix_len ? rl : c->prefix_len;
		if (strncmp(relpath, c->prefix, cmp) != 0)
			continue;
		/* list_after: a name at or before the bound is passed over unread (no stat, no
		 * copy): a binlog folder holds two files a segment, the day catalogs cover most */
		if (c->after && rl >= c->prefix_len && de->d_type != DT_DIR &&
		    de->d_type != DT_UNKNOWN && strcmp(relpath, c->after) <= 0)
			continue;
		char full[PATH_MAX];
		if (snprintf(full, sizeof full, "%s/%s", p->root, relpath) >= (int)sizeof full ||
		    lstat(full, &s) < 0)
			continue;
		if (S_ISDIR(s.st_mode)) {
			strcat(relpath, "/");
			bool below_prefix = strlen(relpath) > c->prefix_len;
			if (!c->recursive && below_prefix) {
				if (strncmp(relpath, c->prefix, c->prefix_len) == 0)
					rc = add(c, relpath, NULL, true);
			} else {
				rc = walk(p, c, relpath);
			}
		} else if (S_ISREG(s.st_mode) && rl >= c->prefix_len &&
			   (!c->after || strcmp(relpath, c->after) > 0)) {
			rc = add(c, relpath, &s, false);
		}
		if (rc < 0)
			break;
	}
	closedir(d);
	return rc;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const entry *)a)->path, ((const entry *)b)->path);
}

static int posix_list(void *impl, const char *prefix, bool recursive, drb_repo_list_fn fn, void *ud)
{
	posix_repo *p = impl;
	collect c = {.prefix = prefix, .prefix_len = strlen(prefix), .recursive = recursive};
	struct stat st;
	if (stat(p->root, &st) < 0)
		return drb_error_errno(0, errno, "repository folder %s", p->root);
	int rc = walk(p, &c, "");
	if (rc == 0) {
		if (c.n) /* qsort(NULL, 0) is undefined */
			qsort(c.v, c.n, sizeof *c.v, by_path);
		for (size_t i = 0; i < c.n && rc == 0; i++)
			rc = fn(ud, c.v[i].path, c.v[i].dir ? NULL : &c.v[i].st);
	}
	for (size_t i = 0; i < c.n; i++)
		free(c.v[i].path);
	free(c.v);
	return rc;
}

static int posix_list_after(void *impl, const char *prefix, const char *after,
			    drb_repo_list_fn fn, void *ud)
{
	posix_repo *p = impl;
	collect c = {.prefix = prefix, .prefix_len = strlen(prefix), .recursive = true,
		     .after = after};
	struct stat st;
	if (stat(p->root, &st) < 0)
		return drb_error_errno(0, errno, "repository folder %s", p->root);
	int rc = walk(p, &c, "");
	if (rc == 0) {
		if (c.n)
			qsort(c.v, c.n, sizeof *c.v, by_path);
		for (size_t i = 0; i < c.n && rc == 0; i++)
			if (!c.v[i].dir)
				rc = fn(ud, c.v[i].path, &c.v[i].st);
	}
	for (size_t i = 0; i < c.n; i++)
		free(c.v[i].path);
	free(c.v);
	return rc;
}

const drb_repo_driver drb_posix_driver = {
	.type = "posix",
	.open = posix_open,
	.close = posix_close,
	.put = posix_put,
	.get = posix_get,
	.list = posix_list,
	.list_after = posix_list_after,
	.stat = posix_stat,
	.remove = posix_remove,
	.describe = posix_describe,
};
