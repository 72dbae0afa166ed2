/* Files that hold secrets (passwords, S3 keys, secret keys): refused when group or others have
 * any access, and read into guarded memory (sodium_malloc) that is wiped when freed. */
#ifndef DRB_SECRET_H
#define DRB_SECRET_H

#include <stddef.h>

/* 0 when path is a regular file owned by this user (or root) with no group/other access. */
int drb_secret_file_check(const char *path);

/* Read a secret file (checked as above) into guarded memory, NUL-terminated, with trailing
 * newlines and spaces removed. Free with drb_secret_free. */
int drb_secret_read(const char *path, char **out, size_t *len);
void drb_secret_free(char *s);

#endif
