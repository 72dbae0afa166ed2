#include "config.h"
#include "restore/replay.h"
#include "common/error.h"
#include "common/log.h"
#include "common/proc.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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
/* ------------------------------------------------------------------ the decoder hand-off */

typedef struct feed_thread {
	drb_feed_fn fn;
	void *ud;
	int fd;
	int rc;
	drb_error_state err;
} feed_thread;

static void *feed_run(void *arg)
{
	feed_thread *ft = arg;
	ft->rc = ft->fn(ft->ud, ft->fd);
	if (ft->rc < 0)
		drb_error_save(&ft->err);
	close(ft->fd);
	return NULL;
}

int drb_decode_pipe(const char *const argv[], const char *const env[], drb_feed_fn feed, void *ud,
		    drb_sink *out, bool stop_early, const char *what)
{
	drb_proc dec;
	drb_proc_opts po = {.pipe_stdin = true, .pipe_stdout = true, .option_fd = -1, .env = env};
	int rc = drb_proc_start(&dec, argv, &po);
	if (rc < 0)
		return rc;
	feed_thread ft = {.fn = feed, .ud = ud, .fd = dec.in};
	dec.in = -1; /* the feeder owns it now */
	pthread_t t;
	if (pthread_create(&t, NULL, feed_run, &ft) != 0) {
		close(ft.fd);
		drb_proc_kill(&dec);
		drb_proc_wait(&dec, what);
		return drb_error(DRB_ERR_FAILED, "%s: cannot start a thread", what);
	}
	rc = drb_pump_fd(dec.out, out, what, NULL);
	if (rc < 0)
		drb_proc_kill(&dec); /* unblocks the feeder */
	pthread_join(t, NULL);
	int drc = drb_proc_wait(&dec, what);
	if (rc < 0)
		return rc;
	if (drc < 0)
		return drc; /* the decoder's own message says why */
	if (ft.rc == DRB_ERR_CLOSED && stop_early) {
		drb_log_debug("%s: the decoder stopped at the target; the rest is not needed", what);
		return 0;
	}
	if (ft.rc < 0) {
		drb_error_restore(&ft.err);
		if (ft.rc == DRB_ERR_CLOSED)
			return drb_error_wrap(DRB_ERR_CHILD, "%s: the decoder stopped reading before the "
						 "end of its input", what);
		return drb_error_wrap(0, "%s", what);
	}
	return 0;
}

/* ------------------------------------------------------------------ the chain */

typedef struct seg_feed {
	const drb_keyring *keys;
	const drb_fetch *segs;
	size_t n;
} seg_feed;

static int feed_segments(void *ud, int fd)
{
	seg_feed *sf = ud;
	int rc = 0;
	for (size_t i = 0; i < sf->n && rc == 0; i++)
		rc = drb_fetch_stream(sf->keys, &sf->segs[i], fd, "mariadb-binlog");
	return rc;
}

static int client_start(const drb_config *cfg, const drb_db_target *dest, drb_proc *p)
{
	char bin[PATH_MAX];
	int optfd = -1, rc;
	if ((rc = drb_db_tool(cfg, "mariadb", bin, sizeof bin)) < 0 ||
	    (rc = drb_db_option_file(dest, &optfd)) < 0)
		return rc;
	const char *argv[] = {bin, "--defaults-file=/dev/fd/3", "--binary-mode", "--batch",
			      "--silent", "--max-allowed-packet=1G", NULL};
	drb_proc_opts po = {.pipe_stdin = true, .stdout_fd = -1, .option_fd = optfd};
	rc = drb_proc_start(p, argv, &po);
	close(optfd);
	return rc;
}

int drb_replay_chain(const drb_config *cfg, const drb_db_target *dest, const drb_keyring *keys,
		     const drb_target *target, const drb_plan *plan, const drb_fetch *segs,
		     const char *db, char *replayed, size_t replayed_len)
{
	drb_proc client;
	char bin[PATH_MAX], what[300];
	int rc;
	size_t at = 0;
	snprintf(what, sizeof what, "replaying the binlog chain%s%s", db ? " for " : "", db ? db : "");
	if ((rc = drb_db_tool(cfg, "mariadb-binlog", bin, sizeof bin)) < 0 ||
	    (rc = client_start(cfg, dest, &client)) < 0)
		return drb_error_wrap(0, "%s", what);
	seqno_filter filter = {.base.ops = &sf_ops, .fd = client.in, .replayed = replayed,
			       .replayed_len = replayed_len};
	for (size_t i = 0; i < plan->n_files && rc == 0; i++) {
		const drb_plan_file *pf = &plan->files[i];
		bool stop = i + 1 == plan->n_files && plan->stop_in_chain &&
			    target->kind != DRB_TO_LATEST;
		char start[64] = "", stopopt[300] = "", dbopt[300] = "", step[600];
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
		if (stop && target->kind == DRB_TO_TIME) {
			char iso[21];
			drb_time_iso(target->time, iso);
			iso[10] = ' ';
			iso[19] = 0;
			snprintf(stopopt, sizeof stopopt, "--stop-datetime=%s", iso);
			argv[a++] = stopopt;
		} else if (stop) {
			snprintf(stopopt, sizeof stopopt, "--stop-position=%s", target->gtid);
			argv[a++] = stopopt;
		}
		if (db) {
			snprintf(dbopt, sizeof dbopt, "--database=%s", db);
			argv[a++] = dbopt;
		}
		argv[a++] = "-";
		argv[a] = NULL;
		static const char *const env[] = {"TZ=UTC", NULL};
		seg_feed sf = {.keys = keys, .segs = segs + at, .n = pf->n};
		snprintf(step, sizeof step, "decoding %s", pf->name);
		rc = drb_decode_pipe(argv, env, feed_segments, &sf, &filter.base, stop, step);
		if (rc == 0)
			rc = drb_sink_finish(&filter.base);
		at += pf->n;
		if (rc == 0)
			drb_log_debug("replayed %s (%zu segment%s)", pf->name, pf->n, pf->n == 1 ? "" : "s");
	}
	drb_proc_close_in(&client);
	/* a client that stopped reading usually said why: prefer its message to our EPIPE */
	int crc = drb_proc_wait(&client, what);
	if (crc < 0)
		rc = crc;
	sf_free(&filter.base);
	if (rc < 0)
		drb_error_wrap(0, "%s", what);
	return rc;
}
