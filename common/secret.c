#include "config.h"
#include "common/secret.h"
#include "common/error.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_MAX 65536

static int check_fd(int fd, const char *path)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return drb_error_errno(DRB_ERR_IO, errno, "%s", path);
	if (!S_ISREG(st.st_mode))
		return drb_error(DRB_ERR_PERMISSION, "%s is not a regular file", path);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return drb_error(DRB_ERR_PERMISSION,
				 "%s holds a secret but is accessible by group or others (mode %04o); "
				 "run: chmod 600 %s",
				 path, (unsigned)(st.st_mode & 07777), path);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return drb_error(DRB_ERR_PERMISSION,
				 "%s holds a secret but belongs to uid %u, not to this user (%u) or root",
				 path, (unsigned)st.st_uid, (unsigned)geteuid());
	return 0;
}

int drb_secret_file_check(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return drb_error_errno(0, errno, "%s", path);
	int rc = check_fd(fd, path);
	close(fd);
	return rc;
}

int drb_secret_read(const char *path, char **out, size_t *len)
{
	int rc = 0;
	char *buf = NULL;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return drb_error_errno(0, errno, "%s", path);
	rc = check_fd(fd, path);
	if (rc < 0)
		goto out;
	buf = sodium_malloc(SECRET_MAX + 1);
	if (!buf) {
		rc = drb_error(DRB_ERR_NOMEM, "cannot allocate guarded memory for %s", path);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, SECRET_MAX - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = drb_error_errno(DRB_ERR_IO, errno, "reading %s", path);
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == SECRET_MAX) {
			rc = drb_error(DRB_ERR_FORMAT, "%s is larger than %d bytes", path, SECRET_MAX);
			goto out;
		}
	}
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = 0;
	*out = buf;
	if (len)
		*len = n;
	buf = NULL;
out:
	if (buf)
		sodium_free(buf); /* sodium_free wipes */
	close(fd);
	return rc;
}

void drb_secret_free(char *s)
{
	if (s)
		sodium_free(s);
}
