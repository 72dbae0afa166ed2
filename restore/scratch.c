#include "config.h"
#include "restore/scratch.h"
#include "common/db.h"
#include "common/error.h"
#include "common/lock.h"
#include "common/log.h"
#include "common/proc.h"

#include <errno.h>
#include <ftw.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* The end of the scratch server's error log, folded into one line, for the message. */
static void log_tail(const char *dir, char *buf, size_t len)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/error.log", dir);
	buf[0] = 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, n > (long)len - 1 ? n - (long)len + 1 : 0, SEEK_SET);
	size_t got = fread(buf, 1, len - 1, f);
	buf[got] = 0;
	fclose(f);
	for (char *c = buf; *c; c++)
		if (*c == '\n')
			*c = ' ';
}

/* The account the scratch server runs as. A dump is not signed yet: whoever holds the public
 * key can seal one, so the server that runs it gets as little as possible: as root, it runs as
 * nobody (owning only its scratch folder); otherwise as this user. */
static const char *scratch_user(const char *dir, const char *base)
{
	struct stat st;
	/* nobody must be able to reach its folder: true of /dev/shm, not of a 0700 spool_dir */
	if (geteuid() == 0 && stat(base, &st) == 0 && (st.st_mode & S_IXOTH)) {
		struct passwd *nobody = getpwnam("nobody");
		if (nobody && chown(dir, nobody->pw_uid, nobody->pw_gid) == 0)
			return "nobody";
		return "root";
	}
	if (geteuid() == 0)
		return "root";
	struct passwd *pw = getpwuid(geteuid());
	return pw ? pw->pw_name : "root";
}

/* restore_test { scratch_dir } when set; else memory when it can hold the data with room to
 * spare; else spool_dir, with a warning: the datadir is plaintext until the test removes it. */
static const char *scratch_base(const drb_config *c, uint64_t need)
{
	struct statvfs v;
	if (c->restore_test.scratch_dir)
		return c->restore_test.scratch_dir;
	if (statvfs("/dev/shm", &v) == 0 && (uint64_t)v.f_bavail * v.f_frsize > need * 2 + (256u << 20))
		return "/dev/shm";
	drb_log_warn("restore-test: /dev/shm cannot hold %.0f MB, so the scratch datadir goes to %s "
		     "(plaintext on disk until the test removes it; set restore_test { scratch_dir } "
		     "to choose)",
		     need * 2 / 1e6, c->spool_dir);
	return c->spool_dir;
}

int drb_scratch_start(const drb_config *c, uint64_t need, drb_scratch *s)
{
	char datadir[PATH_MAX + 8], arg_dir[PATH_MAX + 16], arg_sock[PATH_MAX + 16],
		arg_user[300], arg_err[PATH_MAX + 32], arg_pid[PATH_MAX + 32], bin[PATH_MAX];
	const char *base = scratch_base(c, need);
	int rc;
	memset(s, 0, sizeof *s);
	if ((rc = drb_spool_ready(base)) < 0)
		return rc;
	snprintf(s->dir, sizeof s->dir, "%s/scratch-XXXXXX", base);
	if (!mkdtemp(s->dir)) {
		s->dir[0] = 0;
		return drb_error_errno(0, errno, "creating a scratch folder in %s", base);
	}
	snprintf(datadir, sizeof datadir, "%s/data", s->dir);
	/* a Unix socket path holds at most 107 bytes */
	if (strlen(s->dir) + sizeof "/mysqld.sock" > 108) {
		rc = drb_error(DRB_ERR_CONFIG,
			       "%s is too long a path for the scratch server's socket: set "
			       "restore_test { scratch_dir } to a shorter folder",
			       s->dir);
		goto fail;
	}
	snprintf(s->socket, sizeof s->socket, "%.*s/mysqld.sock", (int)(sizeof s->socket - 20),
		 s->dir);
	snprintf(arg_dir, sizeof arg_dir, "--datadir=%.*s", (int)(sizeof arg_dir - 20), datadir);
	snprintf(arg_user, sizeof arg_user, "--user=%s", scratch_user(s->dir, base));
	/* no file outside an empty folder can be read or written through SQL */
	char files[PATH_MAX + 16], arg_files[PATH_MAX + 40];
	snprintf(files, sizeof files, "%.*s/files", (int)(sizeof files - 16), s->dir);
	if (mkdir(files, 0700) < 0) {
		rc = drb_error_errno(0, errno, "creating %s", files);
		goto fail;
	}
	if (geteuid() == 0 && strcmp(arg_user, "--user=nobody") == 0) {
		struct passwd *nobody = getpwnam("nobody");
		if (nobody && chown(files, nobody->pw_uid, nobody->pw_gid) != 0) {
			rc = drb_error_errno(0, errno, "chown %s", files);
			goto fail;
		}
	}
	snprintf(arg_files, sizeof arg_files, "--secure-file-priv=%s", files);
	/* 1. a fresh datadir; root authenticates without password on the private socket */
	if ((rc = drb_db_tool(NULL, "mariadb-install-db", bin, sizeof bin)) < 0)
		goto fail;
	const char *install[] = {bin, "--no-defaults", arg_user, arg_dir,
				 "--auth-root-authentication-method=normal", "--skip-test-db", NULL};
	drb_proc p;
	drb_proc_opts po = {.stdout_fd = -1, .option_fd = -1};
	if ((rc = drb_proc_start(&p, install, &po)) < 0 ||
	    (rc = drb_proc_wait(&p, "initialising the scratch server")) < 0)
		goto fail;
	/* 2. the server */
	snprintf(arg_sock, sizeof arg_sock, "--socket=%s", s->socket);
	snprintf(arg_err, sizeof arg_err, "--log-error=%s/error.log", s->dir);
	snprintf(arg_pid, sizeof arg_pid, "--pid-file=%s/mysqld.pid", s->dir);
	const char *server[] = {c->restore_test.mariadbd, "--no-defaults", arg_user, arg_dir,
				arg_sock, arg_err, arg_pid, "--skip-networking", "--skip-log-bin",
				"--server-id=4242", "--innodb-buffer-pool-size=256M",
				"--innodb-log-file-size=256M", "--innodb-flush-log-at-trx-commit=0",
				"--innodb-doublewrite=0", "--skip-name-resolve",
				"--max-allowed-packet=1G", "--event-scheduler=OFF", arg_files,
				"--local-infile=1", NULL};
	drb_proc srv;
	if ((rc = drb_proc_start(&srv, server, &po)) < 0)
		goto fail;
	s->pid = srv.pid;
	close(srv.err);
	/* 3. ready when it answers */
	drb_db_target t = {.socket = s->socket, .user = "root"};
	for (int i = 0; i < 600; i++) {
		drb_db *db = NULL;
		if (drb_db_connect(&t, &db) == 0) {
			drb_db_close(db);
			drb_error_clear();
			drb_log_debug("scratch server ready at %s", s->socket);
			return 0;
		}
		int st;
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			char tail[400];
			log_tail(s->dir, tail, sizeof tail);
			rc = drb_error(DRB_ERR_CHILD, "the scratch server exited at start: %s", tail);
			goto fail_keep;
		}
		usleep(100000);
	}
	char tail[400];
	log_tail(s->dir, tail, sizeof tail);
	rc = drb_error(DRB_ERR_CHILD, "the scratch server did not answer within 60 s: %s", tail);
	goto fail_keep;
fail:
	drb_error_wrap(0, "starting the scratch server");
	drb_scratch_stop(s);
	return rc;
fail_keep:
	drb_scratch_stop(s);
	return rc;
}

void drb_scratch_stop(drb_scratch *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		for (int i = 0; i < 600; i++) {
			if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
				s->pid = 0;
				break;
			}
			usleep(100000);
		}
		if (s->pid > 0) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
			s->pid = 0;
		}
	}
	if (s->dir[0])
		nftw(s->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = 0;
}
