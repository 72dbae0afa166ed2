#include "config.h"
#include "restore/replay.h"
#include "common/error.h"
#include "common/log.h"
#include "common/proc.h"
#include "restore/sqlcheck.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* mariadb-binlog's text goes through this filter on its way to the mariadb client. The client
 * cuts it into queries at its delimiter and sends each with several statements allowed, so the
 * filter cuts it the same way and passes a query only when the checker reads it, as the server
 * will, as what mariadb-binlog writes for a ROW-format binlog of DML and DDL (restore/sqlcheck).
 * A forged segment can carry anything; what the checker does not know stops the replay. It also
 * drops the "SET @@session.gtid_seq_no=N" lines a target in gtid_strict_mode refuses (error 1950)
 * even with -D, where they are not logged anyway. */
#define STATEMENT_MAX (64u << 20)

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
static void note_gtid(drb_replay_filter *f, const char *l, size_t n)
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

static int refused(drb_replay_filter *f, const char *why)
{
	(void)f;
	return drb_error(DRB_ERR_REFUSED,
			 "the binlog holds a statement a restore never runs (%s): refused, the "
			 "replay stops here",
			 why);
}

/* "...\tTable_map: `db`.`t` mapped to number N": rows of a system schema are never replayed
 * (a forged row event into mysql.global_priv is a grant). */
static int check_table_map(drb_replay_filter *f, const char *l, size_t n)
{
	const char *m = memmem(l, n, "\tTable_map: `", 13);
	char db[256];
	size_t k = 0;
	if (!m)
		return 0;
	const char *p = m + 13, *end = l + n;
	for (; p < end; p++) {
		if (*p == '`') {
			if (p + 1 < end && p[1] == '`')
				p++;
			else
				break;
		}
		if (k + 1 < sizeof db)
			db[k++] = *p;
	}
	db[k] = 0;
	if (p >= end || p + 1 >= end || p[1] != '.')
		return refused(f, "a table map that does not read as one");
	if (drb_db_is_system(db))
		return refused(f, "rows of a system schema");
	return 0;
}

static int sf_buf(drb_replay_filter *f, const char *p, size_t n)
{
	if (f->len + n > STATEMENT_MAX)
		return refused(f, "a statement too long to check");
	if (f->len + n > f->cap) {
		size_t cap = (f->len + n) * 2;
		char *v = realloc(f->stmt, cap);
		if (!v)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		f->stmt = v;
		f->cap = cap;
	}
	memcpy(f->stmt + f->len, p, n);
	f->len += n;
	return 0;
}

/* The statement in f->stmt is complete: check it, then send it with the delimiter. */
static int sf_statement(drb_replay_filter *f)
{
	int rc = drb_sqlcheck_replay(&f->check, f->stmt, f->len);
	f->in_stmt = false;
	if (rc == DRB_SQLCHECK_SKIP) {
		f->skipped++;
		drb_log_warn("the binlog holds %s: a restore does not replay accounts; left out",
			     f->check.why);
		f->len = 0;
		return 0;
	}
	if (rc < 0)
		return rc == DRB_ERR_REFUSED ? refused(f, f->check.why) : rc;
	if (f->check.rewritten)
		rc = raw_write(f->fd, f->check.rewritten, f->check.rewritten_len);
	else
		rc = raw_write(f->fd, f->stmt, f->len);
	if (rc == 0)
		rc = raw_write(f->fd, f->delim, f->dlen);
	f->len = 0;
	return rc;
}

static bool base64_byte(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/' || c == '=';
}

/* Bytes of a statement, read as the mariadb client reads them (it treats a backslash in a
 * string as an escape whatever the server's sql_mode; the checker reads the server's way). */
static int sf_scan(drb_replay_filter *f, const char *p, size_t n)
{
	const char *end = p + n;
	int rc;
	while (p < end) {
		char c = *p;
		if (f->quote == 'L') {
			if (c == '\n')
				f->quote = 0;
		} else if (f->quote == 'B') {
			if (c == '*' && p + 1 < end && p[1] == '/') {
				if ((rc = sf_buf(f, p, 1)) < 0)
					return rc;
				p++;
				f->quote = 0;
			}
		} else if (f->quote) {
			if (c == '\\' && f->quote != '`' && p + 1 < end) {
				if ((rc = sf_buf(f, p, 2)) < 0)
					return rc;
				p += 2;
				continue;
			}
			if (c == f->quote)
				f->quote = 0;
		} else {
			if ((size_t)(end - p) >= f->dlen && memcmp(p, f->delim, f->dlen) == 0) {
				if ((rc = sf_statement(f)) < 0)
					return rc;
				p += f->dlen;
				/* the rest of the line: blank, or the start of the next statement */
				while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
					p++;
				if (p < end && *p == '\n') {
					if ((rc = raw_write(f->fd, "\n", 1)) < 0)
						return rc;
					return 0;
				}
				f->in_stmt = p < end;
				continue;
			}
			if (c == '\'' || c == '"' || c == '`')
				f->quote = c;
			else if (c == '#' || (c == '-' && end - p >= 3 && p[1] == '-' &&
					      (unsigned char)p[2] <= ' '))
				f->quote = 'L';
			else if (c == '/' && end - p >= 3 && p[1] == '*' && p[2] != '!' &&
				 !(p[2] == 'M' && end - p >= 4 && p[3] == '!'))
				f->quote = 'B';
			else if (c == '\\')
				return refused(f, "a client command");
			else if (c == 0)
				return refused(f, "a NUL byte");
		}
		if ((rc = sf_buf(f, p, 1)) < 0)
			return rc;
		p++;
	}
	return 0;
}

/* One line of mariadb-binlog's output, with its newline. */
static int sf_line(drb_replay_filter *f, const char *l, size_t n)
{
	if (f->in_binlog) {
		/* a row event's base64, then '/+!+/; */
		if (n >= 1 && l[0] == '\'') {
			if (n - 1 < f->dlen + 1 || memcmp(l + 1, f->delim, f->dlen) != 0 ||
			    n != f->dlen + 2)
				return refused(f, "a BINLOG statement that does not end as one");
			f->in_binlog = false;
			return raw_write(f->fd, l, n);
		}
		for (size_t i = 0; i + 1 < n; i++)
			if (!base64_byte(l[i]) && l[i] != '\r')
				return refused(f, "a BINLOG statement that is not base64");
		return raw_write(f->fd, l, n);
	}
	if (f->in_stmt) {
		if (!f->quote && n >= 10 && strncasecmp(l, "DELIMITER", 9) == 0 &&
		    (l[9] == ' ' || l[9] == '\t'))
			return refused(f, "a DELIMITER inside a statement");
		return sf_scan(f, l, n);
	}
	size_t k = 0;
	while (k < n && (l[k] == ' ' || l[k] == '\t' || l[k] == '\r' || l[k] == '\n'))
		k++;
	if (k == n)
		return raw_write(f->fd, l, n);
	if (l[0] == '#') {
		note_gtid(f, l, n - 1);
		int rc = check_table_map(f, l, n - 1);
		return rc < 0 ? rc : raw_write(f->fd, l, n);
	}
	if (n >= 10 && strncasecmp(l, "DELIMITER", 9) == 0 && (l[9] == ' ' || l[9] == '\t')) {
		if (n == 17 && memcmp(l, "DELIMITER /*!*/;\n", 17) == 0) {
			memcpy(f->delim, "/*!*/;", 7);
			f->dlen = 6;
		} else if (n == 12 && memcmp(l, "DELIMITER ;\n", 12) == 0) {
			memcpy(f->delim, ";", 2);
			f->dlen = 1;
		} else {
			return refused(f, "a DELIMITER mariadb-binlog does not write");
		}
		return raw_write(f->fd, l, n);
	}
	if (is_seqno_line(l, n - 1)) {
		f->dropped++;
		return 0;
	}
	if (n > 4 && memcmp(l, "/*!\\C ", 6) == 0) {
		/* the client's own charset command: "/+!\C utf8mb4 +//+!+/;" */
		char cs[64];
		const char *e = memmem(l, n, " *//*!*/;\n", 10);
		if (!e || e + 10 != l + n || (size_t)(e - (l + 6)) >= sizeof cs)
			return refused(f, "a client command");
		snprintf(cs, sizeof cs, "%.*s", (int)(e - (l + 6)), l + 6);
		if (!drb_sqlcheck_safe_charset(cs))
			return refused(f, "a character set whose bytes hide quotes");
		return raw_write(f->fd, l, n);
	}
	if (n == 9 && memcmp(l, "BINLOG '\n", 9) == 0) {
		f->in_binlog = true;
		return raw_write(f->fd, l, n);
	}
	f->in_stmt = true;
	f->len = 0;
	f->quote = 0;
	return sf_scan(f, l, n);
}

/* Keep n more bytes of a line cut by a buffer boundary. */
static int sf_carry(drb_replay_filter *f, const char *p, size_t n)
{
	if (f->line_len + n > STATEMENT_MAX)
		return refused(f, "a line too long to check");
	if (f->line_len + n > f->line_cap) {
		size_t cap = (f->line_len + n) * 2;
		char *v = realloc(f->line, cap);
		if (!v)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		f->line = v;
		f->line_cap = cap;
	}
	memcpy(f->line + f->line_len, p, n);
	f->line_len += n;
	return 0;
}

static int sf_write(drb_sink *s, const void *buf, size_t len)
{
	drb_replay_filter *f = (drb_replay_filter *)s;
	const char *p = buf, *end = p + len;
	int rc = 0;
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return sf_carry(f, p, (size_t)(end - p));
		size_t n = (size_t)(nl - p) + 1;
		if (f->line_len) {
			if ((rc = sf_carry(f, p, n)) < 0)
				return rc;
			rc = sf_line(f, f->line, f->line_len);
			f->line_len = 0;
		} else {
			rc = sf_line(f, p, n);
		}
		p += n;
	}
	return rc;
}

static int sf_finish(drb_sink *s)
{
	drb_replay_filter *f = (drb_replay_filter *)s;
	int rc = 0;
	if (f->line_len) {
		/* a last line without its newline */
		rc = sf_carry(f, "\n", 1);
		if (rc == 0)
			rc = sf_line(f, f->line, f->line_len);
		f->line_len = 0;
	}
	if (rc == 0 && (f->in_stmt || f->in_binlog || f->quote))
		rc = refused(f, "a statement cut short at the end of a file");
	return rc;
}

static void sf_abort(drb_sink *s)
{
	(void)s;
}

static void sf_free(drb_sink *s)
{
	drb_replay_filter *f = (drb_replay_filter *)s;
	free(f->line);
	free(f->stmt);
	drb_sqlcheck_free(&f->check);
	f->line = f->stmt = NULL;
}

static const drb_sink_ops sf_ops = {"replay filter", sf_write, sf_finish, sf_abort, sf_free};

void drb_replay_filter_init(drb_replay_filter *f, int fd, const char *db, char *replayed,
			    size_t replayed_len)
{
	memset(f, 0, sizeof *f);
	f->base.ops = &sf_ops;
	f->fd = fd;
	f->check.db = db;
	f->replayed = replayed;
	f->replayed_len = replayed_len;
	memcpy(f->delim, ";", 2);
	f->dlen = 1;
}

void drb_replay_filter_free(drb_replay_filter *f)
{
	sf_free(&f->base);
}

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
	/* --local-infile=0: a LOAD DATA LOCAL the filter missed still reads no file of this host
	 * (the secret key); --binary-mode: no client command but DELIMITER and \C */
	const char *argv[] = {bin, "--defaults-file=/dev/fd/3", "--local-infile=0", "--binary-mode",
			      "--batch", "--silent", "--max-allowed-packet=1G", NULL};
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
	drb_replay_filter filter;
	drb_replay_filter_init(&filter, client.in, db, replayed, replayed_len);
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
	if (rc == DRB_ERR_REFUSED) {
		/* nothing more reaches the server, not even the end of a statement begun */
		drb_proc_kill(&client);
	} else {
		drb_proc_close_in(&client);
		/* a client that stopped reading usually said why: prefer its message to EPIPE */
		int crc = drb_proc_wait(&client, what);
		if (crc < 0)
			rc = crc;
	}
	if (filter.skipped)
		drb_log_warn("%s: %llu statement%s about accounts left out", what,
			     (unsigned long long)filter.skipped, filter.skipped == 1 ? "" : "s");
	drb_replay_filter_free(&filter);
	if (rc < 0)
		drb_error_wrap(0, "%s", what);
	return rc;
}
