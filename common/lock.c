#include "config.h"
#include "common/lock.h"
#include "common/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int drb_spool_ready(const char *spool_dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s", spool_dir);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return drb_error_errno(0, errno, "creating %s", path);
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return drb_error_errno(0, errno, "creating spool_dir %s", path);
	return 0;
}

int drb_lock_take(const char *spool_dir, const char *name, bool wait, int *fd_out)
{
	char path[PATH_MAX], holder[32] = "";
	int rc = drb_spool_ready(spool_dir);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof path, "%s/%s.lock", spool_dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return drb_error_errno(0, errno, "lock file %s", path);
	if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		int e = errno;
		ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
		holder[n > 0 ? n : 0] = 0;
		holder[strcspn(holder, "\n")] = 0;
		close(fd);
		if (e == EWOULDBLOCK)
			return drb_error(DRB_ERR_LOCKED,
					 "another drbackup %s is running (pid %s, lock %s); this run "
					 "stops",
					 name, holder[0] ? holder : "?", path);
		return drb_error_errno(0, e, "locking %s", path);
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, pid, (size_t)n, 0);
	*fd_out = fd;
	return 0;
}

void drb_lock_release(int fd)
{
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
}
