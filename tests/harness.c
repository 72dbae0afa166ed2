#include "config.h"
#include "tests/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* every server started, so an exit or a signal stops them all */
#define MAX_CHILDREN 32
static pid_t children[MAX_CHILDREN];
static bool hooks_installed;

static void kill_children(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
}

static void on_signal(int sig)
{
	kill_children();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void track(pid_t pid)
{
	if (!hooks_installed) {
		atexit(kill_children);
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		signal(SIGABRT, on_signal);
		signal(SIGSEGV, on_signal);
		hooks_installed = true;
	}
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == 0) {
			children[i] = pid;
			return;
		}
}

static void untrack(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

const char *drbt_bin(void)
{
	const char *b = getenv("DRB_BIN");
	return b ? b : "./drbackup";
}

const char *drbt_srcdir(void)
{
	const char *s = getenv("DRB_SRCDIR");
	return s ? s : ".";
}

char *drbt_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *p = malloc(PATH_MAX);
	snprintf(p, PATH_MAX, "%s/drbt-%s-XXXXXX", base && *base ? base : "/tmp", tag);
	if (!mkdtemp(p)) {
		free(p);
		return NULL;
	}
	return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	chmod(path, 0700);
	return remove(path);
}

void drbt_rmtree(const char *path)
{
	if (path && *path && strcmp(path, "/") != 0)
		nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

int drbt_write_file(const char *path, const char *text, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	ssize_t w = write(fd, text, len);
	fchmod(fd, (mode_t)mode);
	close(fd);
	return w == (ssize_t)len ? 0 : -1;
}

char *drbt_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	size_t got = fread(b, 1, (size_t)n, f);
	fclose(f);
	b[got] = 0;
	if (len)
		*len = got;
	return b;
}

static void slurp(int fd, char *buf, size_t len)
{
	size_t used = 0;
	char tmp[65536];
	for (;;) {
		ssize_t r = read(fd, tmp, sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (buf && used + 1 < len) {
			size_t take = (size_t)r < len - 1 - used ? (size_t)r : len - 1 - used;
			memcpy(buf + used, tmp, take);
			used += take;
		}
	}
	if (buf && len)
		buf[used] = 0;
}

int drbt_sh(char *out, size_t outlen, char *err, size_t errlen, const char *fmt, ...)
{
	char cmd[16384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	/* stderr goes to a file so the two streams cannot deadlock each other */
	char errfile[] = "/tmp/drbt-err-XXXXXX";
	int efd = mkstemp(errfile);
	unlink(errfile);
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(efd, 2);
		close(p[0]);
		close(p[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	slurp(p[0], out, outlen);
	close(p[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	lseek(efd, 0, SEEK_SET);
	slurp(efd, err, errlen);
	close(efd);
	if (getenv("DRBT_TRACE"))
		fprintf(stderr, "$ %s\n-> %d\n%s%s", cmd, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
			out ? out : "", err ? err : "");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---------------------------------------------------------------- mariadbd */

static const char *mariadbd_path(void)
{
	return access("/usr/sbin/mariadbd", X_OK) == 0 ? "/usr/sbin/mariadbd" : "mariadbd";
}

/* mariadb-install-db takes seconds; do it once per build tree and copy the result. */
static int template_datadir(char *out, size_t len)
{
	const char *build = getenv("DRB_BUILDDIR");
	char lock[PATH_MAX];
	snprintf(out, len, "%s/tests/.mariadb-template", build ? build : ".");
	snprintf(lock, sizeof lock, "%s.lock", out);
	int lfd = open(lock, O_CREAT | O_RDWR, 0600);
	if (lfd >= 0)
		lockf(lfd, F_LOCK, 0);
	char marker[PATH_MAX + 16];
	snprintf(marker, sizeof marker, "%s/.ready", out);
	int rc = 0;
	if (access(marker, F_OK) != 0) {
		char cmd[PATH_MAX * 3];
		snprintf(cmd, sizeof cmd,
			 "rm -rf '%s' && mkdir -p '%s' && mariadb-install-db --no-defaults --user=%s "
			 "--datadir='%s' --auth-root-authentication-method=normal "
			 "--skip-test-db >'%s.log' 2>&1 && touch '%s'",
			 out, out, getuid() == 0 ? "root" : getenv("USER"), out, out, marker);
		rc = system(cmd) == 0 ? 0 : -1;
		if (rc < 0)
			fprintf(stderr, "harness: mariadb-install-db failed, see %s.log\n", out);
	}
	if (lfd >= 0) {
		lockf(lfd, F_ULOCK, 0);
		close(lfd);
	}
	return rc;
}

static int spawn_server(drbt_mariadb *m, const char *extra);

int drbt_mariadb_start(drbt_mariadb *m, const char *extra)
{
	char tmpl[PATH_MAX], cmd[PATH_MAX * 4];
	char *dir = drbt_tmpdir("mariadb");
	memset(m, 0, sizeof *m);
	if (!dir || template_datadir(tmpl, sizeof tmpl) < 0)
		return -1;
	snprintf(m->dir, sizeof m->dir, "%s", dir);
	free(dir);
	snprintf(m->datadir, sizeof m->datadir, "%s/data", m->dir);
	snprintf(m->socket, sizeof m->socket, "%s/mysqld.sock", m->dir);
	snprintf(m->binlog_base, sizeof m->binlog_base, "%s/mysql-bin", m->datadir);
	snprintf(cmd, sizeof cmd, "cp -a '%s' '%s' && rm -f '%s/.ready'", tmpl, m->datadir,
		 m->datadir);
	if (system(cmd) != 0)
		return -1;
	return spawn_server(m, extra);
}

int drbt_mariadb_restart(drbt_mariadb *m, const char *extra)
{
	if (m->pid > 0) {
		kill(m->pid, SIGTERM);
		waitpid(m->pid, NULL, 0);
		untrack(m->pid);
		m->pid = 0;
	}
	return spawn_server(m, extra);
}

static int spawn_server(drbt_mariadb *m, const char *extra)
{
	char log[PATH_MAX + 16];
	snprintf(log, sizeof log, "%s/error.log", m->dir);
	pid_t pid = fork();
	if (pid == 0) {
		char a_datadir[PATH_MAX + 16], a_socket[PATH_MAX + 16], a_logbin[PATH_MAX + 16],
			a_pid[PATH_MAX + 32], a_err[PATH_MAX + 32], a_user[64];
		snprintf(a_datadir, sizeof a_datadir, "--datadir=%s", m->datadir);
		snprintf(a_socket, sizeof a_socket, "--socket=%s", m->socket);
		snprintf(a_logbin, sizeof a_logbin, "--log-bin=%s", m->binlog_base);
		snprintf(a_pid, sizeof a_pid, "--pid-file=%s/mysqld.pid", m->dir);
		snprintf(a_err, sizeof a_err, "--log-error=%s", log);
		snprintf(a_user, sizeof a_user, "--user=%s", getuid() == 0 ? "root" : "nobody");
		const char *argv[40] = {mariadbd_path(), "--no-defaults", a_datadir, a_socket,
					"--skip-networking", a_logbin, "--server-id=1",
					"--binlog-format=ROW", a_pid, a_err, a_user,
					"--innodb-buffer-pool-size=128M", "--innodb-log-file-size=64M",
					"--skip-name-resolve", "--max-allowed-packet=64M"};
		int n = 15;
		char extra_buf[4096];
		if (extra && *extra) {
			snprintf(extra_buf, sizeof extra_buf, "%s", extra);
			for (char *save = NULL, *t = strtok_r(extra_buf, " ", &save); t && n < 38;
			     t = strtok_r(NULL, " ", &save))
				argv[n++] = t;
		}
		argv[n] = NULL;
		int devnull = open("/dev/null", O_RDWR);
		int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(devnull, 0);
		dup2(logfd >= 0 ? logfd : devnull, 1);
		dup2(logfd >= 0 ? logfd : devnull, 2);
		setpgid(0, 0);
		execv(argv[0], (char **)argv);
		execvp("mariadbd", (char **)argv);
		_exit(127);
	}
	m->pid = pid;
	track(pid);
	/* ready when a client can connect */
	for (int i = 0; i < 300; i++) {
		char c[PATH_MAX + 200];
		snprintf(c, sizeof c, "mariadb --no-defaults -uroot -S '%s' -e 'SELECT 1' >/dev/null 2>&1",
			 m->socket);
		if (system(c) == 0)
			return 0;
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			untrack(pid);
			m->pid = 0;
			fprintf(stderr, "harness: mariadbd exited; see %s\n", log);
			return -1;
		}
		usleep(100000);
	}
	fprintf(stderr, "harness: mariadbd did not become ready; see %s\n", log);
	drbt_mariadb_kill(m);
	return -1;
}

void drbt_mariadb_stop(drbt_mariadb *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGTERM);
		for (int i = 0; i < 300; i++) {
			if (waitpid(m->pid, NULL, WNOHANG) == m->pid)
				break;
			usleep(50000);
			if (i == 299) {
				kill(m->pid, SIGKILL);
				waitpid(m->pid, NULL, 0);
			}
		}
		untrack(m->pid);
		m->pid = 0;
	}
	if (m->dir[0] && !getenv("DRBT_KEEP"))
		drbt_rmtree(m->dir);
	m->dir[0] = 0;
}

void drbt_mariadb_kill(drbt_mariadb *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, NULL, 0);
		untrack(m->pid);
		m->pid = 0;
	}
}

int drbt_sql(drbt_mariadb *m, char *out, size_t outlen, const char *fmt, ...)
{
	char sql[8192], path[PATH_MAX + 16], err[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	snprintf(path, sizeof path, "%s/q.sql", m->dir);
	drbt_write_file(path, sql, 0600);
	int rc = drbt_sh(out, outlen, err, sizeof err,
			 "mariadb --no-defaults -uroot -S '%s' -N -B < '%s'", m->socket, path);
	if (rc != 0)
		fprintf(stderr, "harness: SQL failed (%d): %.300s\n%s", rc, sql, err);
	if (out && outlen) {
		size_t n = strlen(out);
		while (n && out[n - 1] == '\n')
			out[--n] = 0;
	}
	return rc;
}

/* ---------------------------------------------------------------- s3rver */

static int s3rver_js(char *buf, size_t len)
{
	snprintf(buf, len, "%s/tests/node_modules/s3rver/bin/s3rver.js", drbt_srcdir());
	return access(buf, R_OK) == 0 ? 0 : -1;
}

bool drbt_s3_available(void)
{
	char p[PATH_MAX];
	return s3rver_js(p, sizeof p) == 0;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(a.sin_port);
}

static int s3_spawn(drbt_s3 *s, const char *buckets)
{
	char js[PATH_MAX], port[16], log[PATH_MAX + 16];
	if (s3rver_js(js, sizeof js) < 0)
		return -1;
	snprintf(port, sizeof port, "%d", s->port);
	snprintf(log, sizeof log, "%s.log", s->dir);
	pid_t pid = fork();
	if (pid == 0) {
		const char *argv[64] = {"node", "--openssl-legacy-provider", js, "-d", s->dir, "-a",
					"127.0.0.1", "-p", port, "-s"};
		int n = 10;
		char b[1024];
		snprintf(b, sizeof b, "%s", buckets ? buckets : "");
		for (char *save = NULL, *t = strtok_r(b, ",", &save); t && n < 60;
		     t = strtok_r(NULL, ",", &save)) {
			argv[n++] = "--configure-bucket";
			argv[n++] = t;
		}
		argv[n] = NULL;
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(out, 1);
		dup2(out, 2);
		setpgid(0, 0);
		execvp("node", (char **)argv);
		_exit(127);
	}
	s->pid = pid;
	track(pid);
	for (int i = 0; i < 200; i++) {
		char c[256];
		snprintf(c, sizeof c, "curl -s -o /dev/null http://127.0.0.1:%d/", s->port);
		if (system(c) == 0)
			return 0;
		usleep(50000);
	}
	fprintf(stderr, "harness: s3rver did not start; see %s\n", log);
	drbt_s3_kill(s);
	return -1;
}

int drbt_s3_start(drbt_s3 *s, const char *buckets)
{
	char *dir = drbt_tmpdir("s3");
	memset(s, 0, sizeof *s);
	if (!dir)
		return -1;
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	free(dir);
	s->port = free_port();
	snprintf(s->endpoint, sizeof s->endpoint, "http://127.0.0.1:%d", s->port);
	return s3_spawn(s, buckets);
}

int drbt_s3_restart(drbt_s3 *s, const char *buckets)
{
	drbt_s3_kill(s);
	return s3_spawn(s, buckets);
}

void drbt_s3_kill(drbt_s3 *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		untrack(s->pid);
		s->pid = 0;
	}
}

void drbt_s3_stop(drbt_s3 *s)
{
	drbt_s3_kill(s);
	if (s->dir[0] && !getenv("DRBT_KEEP")) {
		char log[PATH_MAX + 16];
		snprintf(log, sizeof log, "%s.log", s->dir);
		unlink(log);
		drbt_rmtree(s->dir);
	}
	s->dir[0] = 0;
}

/* ---------------------------------------------------------------- config */

int drbt_keygen(const char *dir)
{
	char err[2048];
	return drbt_sh(NULL, 0, err, sizeof err,
		       "'%s' keygen --out '%s/dr' >/dev/null && '%s' keygen --sign --out '%s/sign' "
		       ">/dev/null",
		       drbt_bin(), dir, drbt_bin(), dir);
}

const char *drbt_signing(const char *dir, const char *host)
{
	static __thread char text[8192];
	snprintf(text, sizeof text,
		 "signing {\n  key = \"%s/sign.key\"\n}\n"
		 "trust {\n  host \"%s\" {\n    signing_keys = {\"%s/sign.pub\"}\n  }\n}\n",
		 dir, host, dir);
	return text;
}

int drbt_write_config(const char *path, const char *dir, const drbt_mariadb *m, const char *repos,
		      const char *extra)
{
	char text[16384];
	snprintf(text, sizeof text,
		 "host_id = \"testhost\"\n"
		 "spool_dir = \"%s/spool\"\n"
		 "database {\n  socket = \"%s\"\n  user = \"root\"\n}\n"
		 "encryption {\n  public_keys = {\"%s/dr.pub\"}\n  secret_keys = {\"%s/dr.key\"}\n}\n"
		 "compression { level = 3 threads = 2 }\n"
		 "%s\n%s\n%s\n",
		 dir, m ? m->socket : "/nonexistent.sock", dir, dir, repos ? repos : "",
		 drbt_signing(dir, "testhost"), extra ? extra : "");
	return drbt_write_file(path, text, 0600);
}

void drbt_fingerprint(drbt_mariadb *m, char *buf, size_t len, const char *only)
{
	char list[8192] = "", sql[16384];
	char where[256], pattern[128];
	if (only)
		snprintf(pattern, sizeof pattern, "= '%s'", only);
	else
		snprintf(pattern, sizeof pattern, "LIKE 'practice\\_%%'");
	snprintf(where, sizeof where, "TABLE_SCHEMA %s", pattern);
	snprintf(sql, sizeof sql,
		 "SELECT GROUP_CONCAT(CONCAT('`', TABLE_SCHEMA, '`.`', TABLE_NAME, '`') ORDER BY "
		 "TABLE_SCHEMA, TABLE_NAME SEPARATOR ', ') FROM information_schema.TABLES WHERE %s "
		 "AND TABLE_TYPE = 'BASE TABLE'",
		 where);
	drbt_sql(m, list, sizeof list, "%s", sql);
	char sums[32768] = "", objs[8192] = "";
	if (list[0] && strcmp(list, "NULL") != 0)
		drbt_sql(m, sums, sizeof sums, "CHECKSUM TABLE %s EXTENDED", list);
	/* the triggers, views and routines, one plain query each: the three as scalar subqueries
	 * of one SELECT once crashed mariadbd 10.11.19 here (SIGSEGV, a NULL handler in
	 * ha_maria::drop_table as the statement freed its temporary tables) */
	static const char *const kinds[3][3] = {{"TRIGGERS", "TRIGGER_SCHEMA", "TRIGGER_NAME"},
						{"VIEWS", "TABLE_SCHEMA", "TABLE_NAME"},
						{"ROUTINES", "ROUTINE_SCHEMA", "ROUTINE_NAME"}};
	char names[3][2048] = {"", "", ""};
	for (int k = 0; k < 3; k++)
		drbt_sql(m, names[k], sizeof names[k],
			 "SELECT GROUP_CONCAT(CONCAT(%s, '.', %s) ORDER BY 1) FROM "
			 "information_schema.%s WHERE %s %s",
			 kinds[k][1], kinds[k][2], kinds[k][0], kinds[k][1], pattern);
	snprintf(objs, sizeof objs, "%s|%s|%s", names[0], names[1], names[2]);
	snprintf(buf, len, "%s\n%s", sums, objs);
}

void drbt_expect(int got, int want, const char *what, const char *out, const char *err)
{
	if (got != want) {
		print_error("%s: exit %d, expected %d\nstdout:\n%.8000s\nstderr:\n%.8000s\n", what, got,
			    want, out, err);
		fail();
	}
}

void drbt_contains(const char *text, const char *what, const char *err)
{
	if (!strstr(text, what)) {
		print_error("'%s' not found in:\n%.8000s\n(stderr:\n%.4000s)\n", what, text, err);
		fail();
	}
}
