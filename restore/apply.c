#include "config.h"
#include "restore/apply.h"
#include "restore/load.h"
#include "common/context.h"
#include "common/drb1.h"
#include "common/error.h"
#include "common/lock.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ objects to fetch */

typedef struct fetch {
	char *path;     /* in the repository */
	char sha256[65];
	uint64_t size;
	char local[PATH_MAX]; /* the checked ciphertext in the spool */
	int done;
	drb_error_state err;
} fetch;

typedef struct fetcher {
	const drb_restore_opts *o;
	size_t first_repo;
	fetch *v;
	size_t n, next;
	bool failed;
	pthread_mutex_t lock;
} fetcher;

/* Fetch into the spool while checking the SHA-256 and every chunk's authentication. */
static int fetch_from(const drb_restore_opts *o, drb_repo *r, fetch *f)
{
	int fd = open(f->local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return drb_error_errno(0, errno, "spool file %s", f->local);
	drb_sink *file = drb_fd_sink_new(fd, f->local), *check = NULL, *tee = NULL, *hash = NULL;
	int rc = drb_open_raw_new(drb_null_sink_new(), o->keys, f->path, &check);
	if (rc == 0 && (!(tee = drb_tee_new(file, check)) || !(hash = drb_hash_filter_new(tee))))
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	if (rc < 0) {
		drb_sink_free(tee ? tee : file);
		if (!tee)
			drb_sink_free(check);
		close(fd);
		return rc;
	}
	char what[1200];
	snprintf(what, sizeof what, "object %s in repository %s", f->path, r->name);
	drb_hash_filter_expect(hash, f->sha256, what);
	rc = drb_repo_get(r, f->path, hash);
	if (rc == 0)
		rc = drb_sink_finish(hash);
	drb_sink_free(hash);
	if (rc == 0 && fsync(fd) < 0)
		rc = drb_error_errno(0, errno, "spool file %s", f->local);
	close(fd);
	if (rc < 0)
		unlink(f->local);
	return rc;
}

static void *fetch_worker(void *arg)
{
	fetcher *fe = arg;
	const drb_restore_opts *o = fe->o;
	for (;;) {
		pthread_mutex_lock(&fe->lock);
		fetch *f = !fe->failed && fe->next < fe->n ? &fe->v[fe->next++] : NULL;
		pthread_mutex_unlock(&fe->lock);
		if (!f)
			return NULL;
		int rc = DRB_ERR_NOT_FOUND;
		drb_error_state first;
		bool have_first = false;
		/* the plan's repository first, then the others in configuration order */
		for (size_t k = 0; k < o->set->n && rc < 0; k++) {
			size_t i = (fe->first_repo + k) % o->set->n;
			if (drb_stop_requested())
				break;
			rc = fetch_from(o, o->set->repos[i], f);
			if (rc < 0) {
				if (!have_first) {
					drb_error_save(&first);
					have_first = true;
				}
				if (k + 1 < o->set->n) {
					char line[DRB_ERROR_LINE];
					drb_error_line(line, sizeof line);
					drb_log_warn("%s; trying the next repository", line);
				}
			}
		}
		pthread_mutex_lock(&fe->lock);
		if (rc < 0) {
			if (have_first)
				drb_error_restore(&first);
			else
				drb_error(DRB_ERR_CANCELLED, "stopped by a signal");
			drb_error_wrap(0, "no repository holds an intact copy of %s", f->path);
			drb_error_save(&f->err);
			f->done = -1;
			fe->failed = true;
		} else {
			f->done = 1;
		}
		pthread_mutex_unlock(&fe->lock);
	}
}

/* ------------------------------------------------------------------ child helpers */

static int tool(const drb_restore_opts *o, const char *name, char *buf, size_t len)
{
	return drb_db_tool(o->cfg, name, buf, len);
}

static int client_start(const drb_restore_opts *o, drb_proc *p)
{
	char bin[PATH_MAX];
	int optfd = -1, rc;
	if ((rc = tool(o, "mariadb", bin, sizeof bin)) < 0 ||
	    (rc = drb_db_option_file(&o->dest, &optfd)) < 0)
		return rc;
	const char *argv[] = {bin, "--defaults-file=/dev/fd/3", "--binary-mode", "--batch",
			      "--silent", "--max-allowed-packet=1G", NULL};
	drb_proc_opts po = {.pipe_stdin = true, .stdout_fd = -1, .option_fd = optfd};
	rc = drb_proc_start(p, argv, &po);
	close(optfd);
	return rc;
}

/* Stream a checked spool file, opened and decompressed, into fd (a child's stdin). */
static int stream_object(const drb_restore_opts *o, const fetch *f, int to_fd, const char *to_what)
{
	drb_sink *out = drb_fd_sink_new(to_fd, to_what), *opened = NULL;
	int rc = out ? drb_open_new(out, o->keys, f->path, &opened)
		     : drb_error(DRB_ERR_NOMEM, "out of memory");
	if (rc < 0) {
		drb_sink_free(out);
		return rc;
	}
	int fd = open(f->local, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		drb_sink_free(opened);
		return drb_error_errno(0, errno, "spool file %s", f->local);
	}
	rc = drb_pump_fd(fd, opened, f->local, NULL);
	close(fd);
	if (rc == 0)
		rc = drb_sink_finish(opened); /* the final chunk must be there */
	drb_sink_free(opened);
	return rc;
}

/* A child that stopped reading usually said why: prefer its message to our EPIPE. */
static int child_result(drb_proc *p, int rc, const char *what)
{
	int prc = drb_proc_wait(p, what);
	if (prc < 0)
		return prc;
	return rc;
}

/* ------------------------------------------------------------------ loading dumps */

typedef struct loader {
	const drb_restore_opts *o;
	fetch *dumps;
	drb_restore_db *dbs;
	int *state; /* per database: 0 waiting, 1 loading, 2 loaded */
	size_t n, next, running;
	bool failed;
	drb_error_state err;
	pthread_mutex_t lock;
} loader;

/* Session settings for a fast load that the dump's own header does not set. */
static const char load_prelude[] = "SET SESSION sql_log_bin = 0";

typedef struct pipe_feed {
	const drb_restore_opts *o;
	const fetch *f;
	int fd;
	int rc;
	drb_error_state err;
} pipe_feed;

static void *feed_pipe(void *arg)
{
	pipe_feed *p = arg;
	p->rc = stream_object(p->o, p->f, p->fd, "the loader");
	if (p->rc < 0)
		drb_error_save(&p->err);
	close(p->fd);
	return NULL;
}

/* The dump is opened on one thread and loaded on this one, over a pipe: decryption and
 * decompression overlap with the server's work. */
static int load_one(const drb_restore_opts *o, fetch *f, drb_restore_db *d)
{
	char what[300];
	int fds[2], rc;
	drb_load_stats st;
	int64_t t0 = now_ms();
	snprintf(what, sizeof what, "loading database %s", d->name);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return drb_error_errno(0, errno, "%s", what);
	pipe_feed pf = {.o = o, .f = f, .fd = fds[1]};
	pthread_t t;
	if (pthread_create(&t, NULL, feed_pipe, &pf) != 0) {
		close(fds[0]);
		close(fds[1]);
		return drb_error(DRB_ERR_FAILED, "%s: cannot start a thread", what);
	}
	rc = drb_load_sql(&o->dest, fds[0], what, load_prelude, d->name, &st);
	close(fds[0]); /* a feeder still writing gets EPIPE and stops */
	pthread_join(t, NULL);
	if (rc == 0 && pf.rc < 0) {
		drb_error_restore(&pf.err);
		rc = drb_error_wrap(0, "%s", what);
	}
	d->millis = now_ms() - t0;
	if (rc == 0)
		drb_log_info("loaded %s (%.1f MB of SQL, %llu rows streamed, %llu statements) in %.1f s",
			     d->name, d->plain_bytes / 1e6, (unsigned long long)st.rows_streamed,
			     (unsigned long long)st.statements, d->millis / 1000.0);
	return rc;
}

static void *load_worker(void *arg)
{
	loader *l = arg;
	for (;;) {
		pthread_mutex_lock(&l->lock);
		size_t i = !l->failed && l->next < l->n ? l->next++ : SIZE_MAX;
		if (i != SIZE_MAX)
			l->state[i] = 1;
		pthread_mutex_unlock(&l->lock);
		if (i == SIZE_MAX)
			break;
		int rc = drb_stop_requested() ? drb_error(DRB_ERR_CANCELLED, "stopped by a signal")
					      : load_one(l->o, &l->dumps[i], &l->dbs[i]);
		pthread_mutex_lock(&l->lock);
		l->state[i] = rc == 0 ? 2 : 0;
		pthread_mutex_unlock(&l->lock);
		if (rc < 0) {
			pthread_mutex_lock(&l->lock);
			if (!l->failed)
				drb_error_save(&l->err);
			l->failed = true;
			pthread_mutex_unlock(&l->lock);
			break;
		}
	}
	pthread_mutex_lock(&l->lock);
	l->running--;
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/* A terminal line: how many databases are loaded, and which are loading now. */
static void load_progress(loader *l, int64_t t0)
{
	char line[400] = "";
	size_t used = 0, done = 0;
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->n; i++) {
		done += l->state[i] == 2;
		if (l->state[i] == 1 && used < sizeof line - 80)
			used += (size_t)snprintf(line + used, sizeof line - used, " %s", l->dbs[i].name);
	}
	pthread_mutex_unlock(&l->lock);
	drb_progress("restore: %zu/%zu databases loaded, %.0f s; loading:%s", done, l->n,
		     (now_ms() - t0) / 1000.0, line);
}

/* ------------------------------------------------------------------ replay */

/* mariadb-binlog writes one "SET @@session.gtid_seq_no=N" per transaction; a target in
 * gtid_strict_mode with a history of its own refuses those (error 1950) even with -D, and with
 * -D they are not logged anyway: drop exactly those lines. */
typedef struct seqno_filter {
	drb_sink base;
	int fd;
	char *replayed; /* the GTIDs seen in mariadb-binlog's comments: what the replay carried */
	size_t replayed_len;
	char *line; /* a line cut by a buffer boundary */
	size_t len, cap;
	uint64_t dropped;
} seqno_filter;

static const char seqno_prefix[] = "/*M!100001 SET @@session.gtid_seq_no=";
static const char seqno_suffix[] = "*//*!*/;";

static bool is_seqno_line(const char *l, size_t n)
{
	size_t p = sizeof seqno_prefix - 1, s = sizeof seqno_suffix - 1;
	if (n < p + s + 1 || memcmp(l, seqno_prefix, p) != 0 || memcmp(l + n - s, seqno_suffix, s) != 0)
		return false;
	for (size_t i = p; i < n - s; i++)
		if (l[i] < '0' || l[i] > '9')
			return false;
	return true;
}

static int raw_write(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return drb_error_errno(0, errno, "feeding the replay session");
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* "#261125  7:33:42 server id 1  end_log_pos 968 CRC32 0x...  GTID 0-1-28 trans" */
static void note_gtid(seqno_filter *f, const char *l, size_t n)
{
	const char *g = memmem(l, n, "\tGTID ", 6);
	unsigned long d, sv;
	unsigned long long q;
	char tmp[64];
	if (!g || !f->replayed)
		return;
	size_t k = (size_t)(l + n - (g + 6));
	snprintf(tmp, sizeof tmp, "%.*s", (int)(k < 63 ? k : 63), g + 6);
	if (sscanf(tmp, "%lu-%lu-%llu", &d, &sv, &q) == 3)
		drb_gtid_apply(f->replayed, f->replayed_len, (uint32_t)d, (uint32_t)sv, q);
}

/* Statements no server writes into a binlog of row events, and a replay must never run: they
 * reach past the restored data (server settings, plugins, files). A forged segment could
 * carry them until metadata is signed. */
static bool forbidden(const char *l, size_t n)
{
	static const char *const heads[] = {"SET GLOBAL", "SET @@GLOBAL", "SET PERSIST", "INSTALL ",
					    "UNINSTALL ", "SHUTDOWN", "LOAD DATA", "LOAD XML", NULL};
	for (int i = 0; heads[i]; i++) {
		size_t k = strlen(heads[i]);
		if (n >= k && strncasecmp(l, heads[i], k) == 0)
			return true;
	}
	return n > 7 && strncasecmp(l, "CREATE ", 7) == 0 && memmem(l, n, " SONAME ", 8);
}

static int sf_line(seqno_filter *f, const char *l, size_t n /* with its newline */)
{
	if (*l == '#')
		note_gtid(f, l, n - 1);
	if (forbidden(l, n - 1))
		return drb_error(DRB_ERR_REFUSED,
				 "the binlog holds a statement a restore never runs (%.16s...): refused, "
				 "the replay stops here",
				 l);
	if (is_seqno_line(l, n - 1)) {
		f->dropped++;
		return 0;
	}
	return raw_write(f->fd, l, n);
}

/* Keep n more bytes of a line cut by a buffer boundary. */
static int sf_carry(seqno_filter *f, const char *p, size_t n)
{
	if (f->len + n > f->cap) {
		size_t cap = (f->len + n) * 2;
		char *v = realloc(f->line, cap);
		if (!v)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		f->line = v;
		f->cap = cap;
	}
	memcpy(f->line + f->len, p, n);
	f->len += n;
	return 0;
}

static int sf_write(drb_sink *s, const void *buf, size_t len)
{
	seqno_filter *f = (seqno_filter *)s;
	const char *p = buf, *end = p + len;
	int rc = 0;
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return sf_carry(f, p, (size_t)(end - p));
		size_t n = (size_t)(nl - p) + 1;
		if (f->len) {
			/* finish the carried line */
			if ((rc = sf_carry(f, p, n)) < 0)
				return rc;
			rc = sf_line(f, f->line, f->len);
			f->len = 0;
		} else if ((*p == '/' && n < 80) || *p == '#') {
			rc = sf_line(f, p, n);
		} else {
			/* most lines: pass a run of them in one write */
			const char *run_end = nl + 1;
			if (forbidden(p, n - 1))
				return sf_line(f, p, n); /* says why */
			while (run_end < end) {
				const char *nx = memchr(run_end, '\n', (size_t)(end - run_end));
				if (!nx || *run_end == '#' ||
				    (*run_end == '/' && (size_t)(nx - run_end) < 80))
					break;
				if (forbidden(run_end, (size_t)(nx - run_end)))
					break; /* handled, and refused, as a line of its own */
				run_end = nx + 1;
			}
			rc = raw_write(f->fd, p, (size_t)(run_end - p));
			n = (size_t)(run_end - p);
		}
		p += n;
	}
	return rc;
}

static int sf_finish(drb_sink *s)
{
	seqno_filter *f = (seqno_filter *)s;
	int rc = f->len ? raw_write(f->fd, f->line, f->len) : 0;
	f->len = 0;
	return rc;
}

static void sf_abort(drb_sink *s)
{
	(void)s;
}

static void sf_free(drb_sink *s)
{
	seqno_filter *f = (seqno_filter *)s;
	free(f->line);
}

static const drb_sink_ops sf_ops = {"gtid_seq_no filter", sf_write, sf_finish, sf_abort, sf_free};

typedef struct feeder {
	const drb_restore_opts *o;
	fetch *segs;
	size_t n;
	int fd;
	int rc;
	drb_error_state err;
} feeder;

static void *feed(void *arg)
{
	feeder *fd = arg;
	fd->rc = 0;
	for (size_t i = 0; i < fd->n && fd->rc == 0; i++)
		fd->rc = stream_object(fd->o, &fd->segs[i], fd->fd, "mariadb-binlog");
	if (fd->rc < 0)
		drb_error_save(&fd->err);
	close(fd->fd);
	return NULL;
}

/* One pass over the chain into one client session; db filters row events when set. */
static int replay(const drb_restore_opts *o, const drb_plan *plan, fetch *segs, const char *db,
		  char *replayed, size_t replayed_len)
{
	drb_proc client;
	char bin[PATH_MAX], what[300];
	int rc;
	size_t at = 0;
	snprintf(what, sizeof what, "replaying the binlog chain%s%s", db ? " for " : "", db ? db : "");
	if ((rc = tool(o, "mariadb-binlog", bin, sizeof bin)) < 0 || (rc = client_start(o, &client)) < 0)
		return drb_error_wrap(0, "%s", what);
	seqno_filter filter = {.base.ops = &sf_ops, .fd = client.in, .replayed = replayed,
			       .replayed_len = replayed_len};
	for (size_t i = 0; i < plan->n_files && rc == 0; i++) {
		const drb_plan_file *pf = &plan->files[i];
		bool last = i + 1 == plan->n_files;
		char start[64] = "", stop[300] = "", dbopt[300] = "";
		const char *argv[12];
		int a = 0;
		argv[a++] = bin;
		argv[a++] = "--no-defaults";
		argv[a++] = "--disable-log-bin";
		if (pf->start_pos > 4) {
			snprintf(start, sizeof start, "--start-position=%llu",
				 (unsigned long long)pf->start_pos);
			argv[a++] = start;
		}
		if (last && plan->stop_in_chain && o->target.kind == DRB_TO_TIME) {
			char iso[21];
			drb_time_iso(o->target.time, iso);
			iso[10] = ' ';
			iso[19] = 0;
			snprintf(stop, sizeof stop, "--stop-datetime=%s", iso);
			argv[a++] = stop;
		} else if (last && plan->stop_in_chain && o->target.kind == DRB_TO_GTID) {
			snprintf(stop, sizeof stop, "--stop-position=%s", o->target.gtid);
			argv[a++] = stop;
		}
		if (db) {
			snprintf(dbopt, sizeof dbopt, "--database=%s", db);
			argv[a++] = dbopt;
		}
		argv[a++] = "-";
		argv[a] = NULL;
		static const char *const env[] = {"TZ=UTC", NULL};
		drb_proc mbl;
		drb_proc_opts po = {.pipe_stdin = true, .pipe_stdout = true, .option_fd = -1, .env = env};
		if ((rc = drb_proc_start(&mbl, argv, &po)) < 0)
			break;
		feeder fd = {.o = o, .segs = segs + at, .n = pf->n, .fd = mbl.in};
		mbl.in = -1; /* the feeder owns it now */
		pthread_t t;
		if (pthread_create(&t, NULL, feed, &fd) != 0) {
			close(fd.fd);
			drb_proc_kill(&mbl);
			rc = drb_error(DRB_ERR_FAILED, "%s: cannot start a thread", what);
			break;
		}
		rc = drb_pump_fd(mbl.out, &filter.base, "mariadb-binlog output", NULL);
		if (rc == 0)
			rc = drb_sink_finish(&filter.base);
		if (rc < 0)
			drb_proc_kill(&mbl); /* unblocks the feeder */
		pthread_join(t, NULL);
		int mrc = drb_proc_wait(&mbl, "decoding the binlog");
		if (fd.rc < 0) {
			drb_error_restore(&fd.err);
			rc = fd.rc;
		} else if (rc == 0 && mrc < 0) {
			rc = mrc;
		}
		at += pf->n;
		if (rc == 0)
			drb_log_debug("replayed %s (%zu segment%s)", pf->name, pf->n, pf->n == 1 ? "" : "s");
	}
	drb_proc_close_in(&client);
	rc = child_result(&client, rc, what);
	sf_free(&filter.base);
	if (rc < 0)
		drb_error_wrap(0, "%s", what);
	return rc;
}

/* ------------------------------------------------------------------ the target */

static int check_target(const drb_restore_opts *o, char **dbs, size_t n)
{
	drb_db *db = NULL;
	int rc = drb_db_connect(&o->dest, &db);
	if (rc < 0)
		return drb_error_wrap(0, "the restore target");
	for (size_t i = 0; i < n && rc == 0; i++) {
		char sql[800], count[32] = "0", esc[300];
		if ((rc = drb_db_literal(db, dbs[i], esc, sizeof esc)) < 0)
			break;
		snprintf(sql, sizeof sql,
			 "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '%s'", esc);
		if ((rc = drb_db_value(db, sql, count, sizeof count)) < 0)
			break;
		if (atol(count) > 0 && !o->force) {
			rc = drb_error(DRB_ERR_REFUSED,
				       "database %s exists on the target and holds %s table%s: restore "
				       "replaces it only with --force",
				       dbs[i], count, atol(count) == 1 ? "" : "s");
			break;
		}
	}
	if (rc == 0 && o->force) {
		for (size_t i = 0; i < n && rc == 0; i++) {
			char q[300], sql[400];
			drb_db_ident(dbs[i], q, sizeof q);
			snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", q);
			rc = drb_db_exec(db, "SET SESSION sql_log_bin = 0");
			if (rc == 0)
				rc = drb_db_exec(db, sql);
		}
	}
	drb_db_close(db);
	return rc;
}

/* ------------------------------------------------------------------ the whole restore */

static drb_manifest *copy_manifest(const drb_manifest *m)
{
	char *text = NULL;
	drb_manifest *c = NULL;
	if (drb_manifest_to_json(m, &text) == 0)
		drb_manifest_from_json(text, strlen(text), "manifest", &c);
	free(text);
	return c;
}

int drb_restore_run(const drb_restore_opts *opts, drb_restore_result *r)
{
	drb_restore_opts local = *opts; /* prepare_target may set the destination */
	const drb_restore_opts *o = &local;
	drb_catalog **cats = calloc(o->set->n, sizeof *cats);
	drb_plan plan = {0};
	fetch *objs = NULL;
	size_t n_objs = 0, n_dumps = 0, from = 0;
	char spool[PATH_MAX] = "";
	char **dbs = NULL;
	int rc = 0;
	int64_t t0 = now_ms();
	drb_error_state first_err;
	bool planned = false, have_err = false;
	size_t n_dbs = 0;
	memset(r, 0, sizeof *r);
	if (!cats)
		return drb_error(DRB_ERR_NOMEM, "out of memory");

	/* plan from the first repository that can serve the target */
	for (size_t i = 0; i < o->set->n && !planned; i++) {
		if (drb_catalog_load(o->set->repos[i], o->host_id, &cats[i]) < 0 ||
		    drb_plan_make(cats[i], &o->target, &plan) < 0) {
			if (!have_err) {
				drb_error_save(&first_err);
				have_err = true;
			}
			drb_plan_free(&plan);
			continue;
		}
		planned = true;
		from = i;
	}
	if (!planned) {
		drb_error_restore(&first_err);
		rc = drb_error_code();
		goto out;
	}
	const drb_manifest *m = plan.full;
	snprintf(r->backup_id, sizeof r->backup_id, "%s", m->backup_id);
	snprintf(r->repo, sizeof r->repo, "%s", o->set->repos[from]->name);
	r->manifest = copy_manifest(m);

	/* which databases */
	n_dbs = o->dbs ? o->n_dbs : m->n_dbs;
	dbs = calloc(n_dbs + 1, sizeof *dbs);
	r->dbs = calloc(n_dbs + 1, sizeof *r->dbs);
	objs = calloc(n_dbs + 1 + (plan.n_files ? 0 : 0) + 1, sizeof *objs);
	if (!dbs || !r->dbs || !objs) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	size_t n_segs = 0;
	for (size_t i = 0; i < plan.n_files; i++)
		n_segs += plan.files[i].n;
	fetch *grown = realloc(objs, (n_dbs + n_segs + 1) * sizeof *objs);
	if (!grown) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	objs = grown;
	memset(objs, 0, (n_dbs + n_segs + 1) * sizeof *objs);
	char *dir = drb_path_full_dir(o->host_id, m->backup_id);
	for (size_t i = 0; i < n_dbs; i++) {
		const drb_db_entry *e = o->dbs ? drb_manifest_db(m, o->dbs[i]) : &m->dbs[i];
		if (!e) {
			rc = drb_error(DRB_ERR_REFUSED, "full backup %s of %s has no database %s",
				       m->backup_id, o->host_id, o->dbs[i]);
			free(dir);
			goto out;
		}
		dbs[i] = strdup(e->name);
		r->dbs[i].name = strdup(e->name);
		r->dbs[i].plain_bytes = e->plain_bytes;
		r->dbs[i].stored_bytes = e->stored_bytes;
		r->n_dbs++;
		fetch *f = &objs[n_objs++];
		if (asprintf(&f->path, "%s/%s", dir, e->object) < 0)
			f->path = NULL;
		memcpy(f->sha256, e->sha256, 65);
		f->size = e->stored_bytes;
		r->bytes += e->stored_bytes;
	}
	free(dir);
	n_dumps = n_objs;
	for (size_t i = 0; i < plan.n_files; i++)
		for (size_t k = 0; k < plan.files[i].n; k++) {
			const drb_segment *s = plan.files[i].segs[k];
			fetch *f = &objs[n_objs++];
			f->path = drb_path_segment(o->host_id, s->generation, s->file, s->start, "drb");
			memcpy(f->sha256, s->sha256, 65);
			f->size = s->stored_bytes;
			r->bytes += s->stored_bytes;
		}
	r->n_segments = n_segs;
	r->n_files = plan.n_files;
	if (plan.n_files) {
		snprintf(r->first_file, sizeof r->first_file, "%s", plan.files[0].name);
		snprintf(r->last_file, sizeof r->last_file, "%s", plan.files[plan.n_files - 1].name);
	}
	r->reached_time = plan.reached_time;
	snprintf(r->reached_gtid, sizeof r->reached_gtid, "%s", plan.reached_gtid);
	if (o->dry_run)
		goto out;

	/* 1. fetch and check everything; the target is untouched until all of it opens */
	int64_t t1 = now_ms();
	snprintf(spool, sizeof spool, "%s/restore-XXXXXX", o->spool);
	if ((rc = drb_spool_ready(o->spool)) < 0)
		goto out;
	if (!mkdtemp(spool)) {
		rc = drb_error_errno(0, errno, "creating a spool folder in %s", o->spool);
		spool[0] = 0;
		goto out;
	}
	for (size_t i = 0; i < n_objs; i++)
		snprintf(objs[i].local, sizeof objs[i].local, "%s/%zu.drb", spool, i);
	fetcher fe = {.o = o, .first_repo = from, .v = objs, .n = n_objs, .lock = PTHREAD_MUTEX_INITIALIZER};
	int nt = o->jobs > 0 ? o->jobs : 1;
	pthread_t *threads = calloc((size_t)nt, sizeof *threads);
	if (!threads) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	drb_pool_run(nt, fetch_worker, &fe);
	for (size_t i = 0; i < n_objs; i++)
		if (objs[i].done < 0) {
			drb_error_restore(&objs[i].err);
			rc = drb_error_wrap(0, "nothing was restored");
			free(threads);
			goto out;
		}
	if (drb_stop_requested()) {
		rc = drb_error(DRB_ERR_CANCELLED, "stopped by a signal; nothing was restored");
		free(threads);
		goto out;
	}
	r->millis_fetch = now_ms() - t1;
	drb_log_info("fetched and checked %zu object%s (%.1f MB) from repository %s in %.1f s",
		     n_objs, n_objs == 1 ? "" : "s", r->bytes / 1e6, r->repo, r->millis_fetch / 1000.0);

	/* 2. the target: set up when asked, then empty, or emptied with --force */
	if (local.prepare_target) {
		uint64_t need = 0;
		for (size_t i = 0; i < r->n_dbs; i++)
			need += r->dbs[i].plain_bytes;
		if ((rc = local.prepare_target(local.ud, need, &local.dest)) < 0) {
			free(threads);
			goto out;
		}
	}
	if ((rc = check_target(o, dbs, n_dbs)) < 0) {
		free(threads);
		goto out;
	}

	/* 3. the dumps, several at once */
	int64_t t2 = now_ms();
	loader ld = {.o = o, .dumps = objs, .dbs = r->dbs, .n = n_dumps,
		     .state = calloc(n_dumps + 1, sizeof(int)), .lock = PTHREAD_MUTEX_INITIALIZER};
	if (!ld.state) {
		free(threads);
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	int nl = nt < (int)n_dumps ? nt : (int)n_dumps, started = 0;
	ld.running = (size_t)nl;
	for (int i = 0; i < nl; i++) {
		if (pthread_create(&threads[i], NULL, load_worker, &ld) != 0)
			break;
		started++;
	}
	if (started < nl) {
		pthread_mutex_lock(&ld.lock);
		ld.running -= (size_t)(nl - started);
		pthread_mutex_unlock(&ld.lock);
		nl = started;
		if (started == 0) {
			ld.running = 1;
			load_worker(&ld); /* no thread: this one does the loading */
		}
	}
	for (;;) {
		pthread_mutex_lock(&ld.lock);
		size_t running = ld.running;
		pthread_mutex_unlock(&ld.lock);
		if (!running)
			break;
		load_progress(&ld, t2);
		usleep(200000);
	}
	for (int i = 0; i < nl; i++)
		pthread_join(threads[i], NULL);
	drb_progress_clear();
	free(threads);
	free(ld.state);
	if (ld.failed) {
		drb_error_restore(&ld.err);
		rc = drb_error_code();
		goto out;
	}
	r->millis_load = now_ms() - t2;
	if (o->after_load && (rc = o->after_load(o->ud, m)) < 0)
		goto out;

	/* 4. the binlog chain, once, from the snapshot's coordinate */
	int64_t t3 = now_ms();
	snprintf(r->replayed_gtid, sizeof r->replayed_gtid, "%s", m->gtid);
	if (plan.n_files) {
		if (o->dbs) {
			for (size_t i = 0; i < n_dbs && rc == 0; i++)
				rc = replay(o, &plan, objs + n_dumps, dbs[i], r->replayed_gtid,
					    sizeof r->replayed_gtid);
		} else {
			rc = replay(o, &plan, objs + n_dumps, NULL, r->replayed_gtid,
				    sizeof r->replayed_gtid);
		}
		if (rc < 0)
			goto out;
	}
	r->millis_replay = now_ms() - t3;
out:
	r->millis_total = now_ms() - t0;
	for (size_t i = 0; objs && i < n_objs; i++) {
		if (objs[i].local[0])
			unlink(objs[i].local);
		free(objs[i].path);
	}
	if (spool[0])
		rmdir(spool);
	free(objs);
	drb_strv_free(dbs, n_dbs);
	drb_plan_free(&plan);
	for (size_t i = 0; i < o->set->n; i++)
		drb_catalog_free(cats[i]);
	free(cats);
	return rc;
}

int drb_restore_default_jobs(void)
{
	return 2 * drb_ncpu();
}

void drb_restore_result_free(drb_restore_result *r)
{
	for (size_t i = 0; i < r->n_dbs; i++)
		free(r->dbs[i].name);
	free(r->dbs);
	drb_manifest_free(r->manifest);
	memset(r, 0, sizeof *r);
}
