/* Typed errors with a chain of context. A function returns 0 or a negative drb_err and leaves
 * a message in thread-local state; callers add context on the way up. The user sees one line;
 * -v shows every link of the chain. */
#ifndef DRB_ERROR_H
#define DRB_ERROR_H

#include <stdbool.h>
#include <stddef.h>

typedef enum drb_err {
	DRB_OK = 0,
	DRB_ERR_FAILED = -1,          /* anything without a better code */
	DRB_ERR_USAGE = -2,           /* bad command line */
	DRB_ERR_CONFIG = -3,          /* bad configuration file */
	DRB_ERR_IO = -4,              /* local file or pipe I/O */
	DRB_ERR_NOMEM = -5,
	DRB_ERR_FORMAT = -6,          /* bytes that do not parse */
	DRB_ERR_CRYPTO = -7,          /* authentication failed, no usable key */
	DRB_ERR_NOT_FOUND = -8,
	DRB_ERR_EXISTS = -9,
	DRB_ERR_PERMISSION = -10,
	DRB_ERR_NETWORK = -11,        /* connection-level failure */
	DRB_ERR_REMOTE = -12,         /* the server answered with an error */
	DRB_ERR_DATABASE = -13,
	DRB_ERR_INTEGRITY = -14,      /* size or hash of stored bytes differs */
	DRB_ERR_GAP = -15,            /* a hole in the binlog chain */
	DRB_ERR_LOCKED = -16,
	DRB_ERR_NOT_IMPLEMENTED = -17,
	DRB_ERR_DEGRADED = -18,       /* done, but a repository missed a copy */
	DRB_ERR_CANCELLED = -19,
	DRB_ERR_NO_SPACE = -20,
	DRB_ERR_CHILD = -21,          /* a child process failed */
	DRB_ERR_REFUSED = -22,        /* a safety check said no */
	DRB_ERR_CLOSED = -23,         /* the reading end of a pipe went away (EPIPE) */
} drb_err;

#define DRB_ERROR_DEPTH 10
#define DRB_ERROR_LEN 600
#define DRB_ERROR_LINE 4096 /* room for drb_error_line */

/* A snapshot of one thread's error, to hand it to another thread. */
typedef struct drb_error_state {
	int code;
	int depth;
	char msg[DRB_ERROR_DEPTH][DRB_ERROR_LEN];
} drb_error_state;

/* Start a new error: clears the chain, returns code. */
int drb_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, with ": strerror(errnum)" appended. */
int drb_error_errno(int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Add context on top of the current error. code 0 keeps the inner code. Returns the code. */
int drb_error_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int drb_error_code(void);
void drb_error_clear(void);
/* Every link joined, outermost first, root cause last: the one line a user reads. */
void drb_error_line(char *buf, size_t len);
/* Link i of the chain, 0 = outermost. NULL past the end. */
const char *drb_error_link(int i);
int drb_error_depth(void);

void drb_error_save(drb_error_state *st);
void drb_error_restore(const drb_error_state *st);

/* errno to the nearest drb_err (ENOSPC -> NO_SPACE, ENOENT -> NOT_FOUND, ...). */
int drb_err_from_errno(int errnum);
/* Blank out what a server quotes in its messages ('...'): values, possibly patient data, must
 * not reach logs or reports. In place. */
void drb_redact_quoted(char *text);
const char *drb_err_name(int code);

#endif
