#include "config.h"
#include "common/proc.h"
#include "common/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int drb_proc_start(drb_proc *p, const char *const argv[], const drb_proc_opts *o)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, rc = 0;
	posix_spawn_file_actions_t fa;
	char **env = NULL;
	memset(p, 0, sizeof *p);
	p->in = p->out = -1;
	snprintf(p->name, sizeof p->name, "%s", strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1
									: argv[0]);
	p->err = memfd_create("drbackup-child-stderr", MFD_CLOEXEC);
	if (p->err < 0)
		return drb_error_errno(DRB_ERR_IO, errno, "starting %s", p->name);
	if ((o->pipe_stdin && pipe2(in, O_CLOEXEC) < 0) || (o->pipe_stdout && pipe2(out, O_CLOEXEC) < 0)) {
		rc = drb_error_errno(DRB_ERR_IO, errno, "starting %s", p->name);
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	if (o->pipe_stdin)
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (o->pipe_stdout)
		posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	else if (o->stdout_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, o->stdout_fd, 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p->err, 2);
	if (o->option_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, o->option_fd, 3);
	/* every other descriptor of ours is O_CLOEXEC */
	/* a minimal environment: a child needs no variable of ours (MYSQL_PWD, AWS_*, ...) */
	static const char *const keep[] = {"PATH=", "TZ=", "LANG=", "LC_ALL=", "TMPDIR=", NULL};
	size_t n_env = 0, n_extra = 0;
	while (environ[n_env])
		n_env++;
	while (o->env && o->env[n_extra])
		n_extra++;
	env = calloc(n_env + n_extra + 2, sizeof *env);
	if (!env) {
		posix_spawn_file_actions_destroy(&fa);
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto fail;
	}
	size_t k = 0;
	bool have_path = false;
	for (size_t i = 0; i < n_env; i++) {
		bool kept = false, replaced = false;
		for (int w = 0; keep[w]; w++)
			kept |= strncmp(environ[i], keep[w], strlen(keep[w])) == 0;
		for (size_t e = 0; e < n_extra; e++) {
			size_t nl = strcspn(o->env[e], "=");
			replaced |= strncmp(environ[i], o->env[e], nl + 1) == 0;
		}
		if (kept && !replaced) {
			env[k++] = environ[i];
			have_path |= strncmp(environ[i], "PATH=", 5) == 0;
		}
	}
	for (size_t e = 0; e < n_extra; e++) {
		env[k++] = (char *)o->env[e];
		have_path |= strncmp(o->env[e], "PATH=", 5) == 0;
	}
	if (!have_path)
		env[k++] = (char *)"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
	int e = posix_spawnp(&p->pid, argv[0], &fa, NULL, (char *const *)argv, env);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	if (e != 0) {
		rc = drb_error_errno(e == ENOENT ? DRB_ERR_NOT_FOUND : DRB_ERR_CHILD, e, "starting %s",
				     argv[0]);
		goto fail;
	}
	if (o->pipe_stdin) {
		close(in[0]);
		p->in = in[1];
	}
	if (o->pipe_stdout) {
		close(out[1]);
		p->out = out[0];
	}
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	close(p->err);
	p->err = -1;
	return rc;
}

void drb_proc_close_in(drb_proc *p)
{
	if (p->in >= 0) {
		close(p->in);
		p->in = -1;
	}
}

void drb_proc_stderr_tail(drb_proc *p, char *buf, size_t len)
{
	buf[0] = 0;
	if (p->err < 0 || len < 2)
		return;
	off_t size = lseek(p->err, 0, SEEK_END);
	if (size <= 0)
		return;
	off_t from = size > (off_t)(len - 1) ? size - (off_t)(len - 1) : 0;
	ssize_t n = pread(p->err, buf, len - 1, from);
	buf[n > 0 ? n : 0] = 0;
	/* whole lines only, newlines folded */
	char *start = buf;
	if (from > 0 && strchr(buf, '\n'))
		start = strchr(buf, '\n') + 1;
	size_t l = strlen(start);
	while (l && (start[l - 1] == '\n' || start[l - 1] == '\r'))
		start[--l] = 0;
	for (char *c = start; *c; c++)
		if (*c == '\n')
			*c = ' ';
	memmove(buf, start, strlen(start) + 1);
}

int drb_proc_wait(drb_proc *p, const char *what)
{
	int st = 0, rc = 0;
	drb_proc_close_in(p);
	if (p->out >= 0) {
		close(p->out);
		p->out = -1;
	}
	if (p->pid > 0) {
		while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
			;
		p->pid = 0;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			char tail[600];
			drb_proc_stderr_tail(p, tail, sizeof tail);
			drb_redact_quoted(tail); /* a server's message quotes values: patient data */
			if (WIFSIGNALED(st))
				rc = drb_error(DRB_ERR_CHILD, "%s (%s) was killed by signal %d%s%s", what,
					       p->name, WTERMSIG(st), tail[0] ? ": " : "", tail);
			else
				rc = drb_error(DRB_ERR_CHILD, "%s (%s) failed with exit status %d%s%s",
					       what, p->name, WEXITSTATUS(st), tail[0] ? ": " : "",
					       tail);
		}
	}
	if (p->err >= 0) {
		close(p->err);
		p->err = -1;
	}
	return rc;
}

void drb_proc_kill(drb_proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
		p->pid = 0;
	}
	drb_proc_close_in(p);
	if (p->out >= 0)
		close(p->out);
	p->out = -1;
	if (p->err >= 0)
		close(p->err);
	p->err = -1;
}
