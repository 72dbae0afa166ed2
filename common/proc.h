/* Child processes (the mariadb client, mariadb-binlog, a scratch mariadbd): started with pipes,
 * an in-memory option file as fd 3 when given, stderr kept in memory so a failure can say what
 * the child said, and every other descriptor closed. */
#ifndef DRB_PROC_H
#define DRB_PROC_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct drb_proc_opts {
	bool pipe_stdin;  /* in: write end for us */
	bool pipe_stdout; /* out: read end for us */
	int stdout_fd;    /* or hand the child this fd as stdout (-1: /dev/null unless piped) */
	int option_fd;    /* becomes fd 3 in the child (-1: none) */
	const char *const *env; /* "NAME=value" entries besides PATH, TZ, LANG, LC_ALL, TMPDIR:
				 * the only variables of ours a child sees */
} drb_proc_opts;

typedef struct drb_proc {
	pid_t pid;
	int in;  /* -1 when not piped */
	int out; /* -1 when not piped */
	int err; /* memfd holding the child's stderr */
	char name[64];
} drb_proc;

int drb_proc_start(drb_proc *p, const char *const argv[], const drb_proc_opts *o);
/* Close our end of stdin (end of input for the child). */
void drb_proc_close_in(drb_proc *p);
/* Wait; a non-zero exit is an error whose message ends with the child's last stderr line(s). */
int drb_proc_wait(drb_proc *p, const char *what);
void drb_proc_kill(drb_proc *p);
/* The last lines the child wrote to stderr (for messages and reports). */
void drb_proc_stderr_tail(drb_proc *p, char *buf, size_t len);

#endif
