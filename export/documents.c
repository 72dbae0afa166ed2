/* Walking the documents tree with openat: a path is never re-resolved from the root, so a link
 * planted inside the tree cannot lead the export out of it. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "export/documents.h"

char *drb_docs_dir(const char *templ, const char *practice)
{
	const char *at = strstr(templ, "{practice}");
	char *out = NULL;
	if (!at)
		return strdup(templ);
	if (asprintf(&out, "%.*s%s%s", (int)(at - templ), templ, practice, at + 10) < 0)
		return NULL;
	return out;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(int fd0, const char *rel, drb_docs_fn fn, drb_docs_skip_fn skip, void *ud)
{
	DIR *d = fdopendir(fd0);
	char **names = NULL;
	size_t n = 0;
	int rc = 0;
	struct dirent *de;
	if (!d) {
		close(fd0);
		return drb_error(DRB_ERR_IO, "documents: reading folder %s: %s", rel[0] ? rel : ".",
		                 strerror(errno));
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char **v = realloc(names, (n + 1) * sizeof *v);
		if (!v || !(v[n] = strdup(de->d_name))) {
			if (v)
				names = v;
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			goto out;
		}
		names = v;
		n++;
	}
	qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *path = NULL;
		struct stat st;
		if (asprintf(&path, "%s%s%s", rel, rel[0] ? "/" : "", names[i]) < 0) {
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			break;
		}
		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
			rc = drb_error(DRB_ERR_IO, "documents: %s: %s", path, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), names[i],
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			rc = sub < 0
			         ? drb_error(DRB_ERR_IO, "documents: %s: %s", path, strerror(errno))
			         : walk(sub, path, fn, skip, ud);
		} else if (S_ISREG(st.st_mode)) {
			int fd = openat(dirfd(d), names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0 || fstat(fd, &st) != 0)
				rc = drb_error(DRB_ERR_IO, "documents: %s: %s", path,
				               strerror(errno));
			else
				rc = fn(ud, path, fd, &st);
			if (fd >= 0)
				close(fd);
		} else {
			skip(ud, path,
			     S_ISLNK(st.st_mode) ? "symbolic link (not followed)"
			                         : "not a regular file");
		}
		free(path);
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

int drb_docs_walk(const char *root, drb_docs_fn fn, drb_docs_skip_fn skip, void *ud)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return drb_error(errno == ENOENT ? DRB_ERR_NOT_FOUND : DRB_ERR_IO,
		                 "documents folder %s: %s", root, strerror(errno));
	return walk(fd, "", fn, skip, ud);
}
