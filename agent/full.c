/* drbackup full: every practice database from one consistent snapshot, several at once, each
 * streamed through zstd and the seal into every repository; the manifest is written last, and
 * only to the repositories that hold every object. */
#include "config.h"

#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/binlog_scan.h"
#include "common/dump.h"
#include "agent/heal.h"
#include "agent/state.h"
#include "common/catalog.h"
#include "common/db.h"
#include "common/drb1.h"
#include "common/error.h"
#include "common/fault.h"
#include "common/keys.h"
#include "common/lock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/object.h"

typedef struct job {
	char *db;
	uint64_t size_estimate;
	drb_db_entry entry;
	int state; /* 0 waiting, 1 running, 2 done, 3 failed */
	volatile uint64_t bytes;
	uint64_t failed_mask;
	drb_error_state err;
} job;

typedef struct run {
	const drb_config *cfg;
	drb_repo_set *set;
	drb_keyring *keys;
	drb_snapshot *snap;
	const char *backup_id;
	job *jobs;
	size_t n_jobs;
	size_t next;
	int zstd_threads;
	bool failed;
	pthread_mutex_t lock;
} run;

/* Counts what the dumper hands to the chain, for the progress line. */
typedef struct counter {
	drb_sink base;
	drb_sink *next;
	job *j;
} counter;

static int counter_write(drb_sink *s, const void *buf, size_t len)
{
	counter *c = (counter *)s;
	__atomic_add_fetch(&c->j->bytes, len, __ATOMIC_RELAXED);
	return drb_sink_write(c->next, buf, len);
}
static int counter_finish(drb_sink *s)
{
	(void)s;
	return 0;
}
static void counter_abort(drb_sink *s)
{
	(void)s;
}
static void counter_free(drb_sink *s)
{
	(void)s;
}
static const drb_sink_ops counter_ops = {"count", counter_write, counter_finish, counter_abort,
					 counter_free};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dump_one(run *r, drb_db *session, job *j)
{
	drb_object_writer w;
	drb_object_info info;
	drb_dump_stats st;
	char *object = drb_path_dump_object(j->db);
	char *path = drb_path_dump(r->cfg->host_id, r->backup_id, j->db);
	int64_t t0 = now_ms();
	int rc = 0;
	if (!object || !path) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	drb_object_params p = {.keys = r->keys,
			       .kind = DRB1_KIND_DUMP,
			       .level = (int)r->cfg->compression.level,
			       .threads = r->zstd_threads,
			       .size_hint = j->size_estimate / 4,
			       .immutable = true};
	if ((rc = drb_object_create(r->set, path, &p, &w)) < 0)
		goto out;
	counter c = {.base.ops = &counter_ops, .next = w.head, .j = j};
	rc = drb_dump_database(session, j->db, &c.base, &st);
	if (rc < 0) {
		drb_object_discard(&w);
		goto out;
	}
	w.plain_bytes = st.bytes;
	if ((rc = drb_object_commit(&w, &info)) < 0) {
		drb_dump_stats_free(&st);
		goto out;
	}
	j->failed_mask = info.failed_mask;
	if (info.failed)
		drb_log_warn("%s: %s", path, info.why);
	drb_db_entry *e = &j->entry;
	e->name = strdup(j->db);
	e->object = object;
	object = NULL;
	e->plain_bytes = info.plain_bytes;
	e->stored_bytes = info.stored_bytes;
	memcpy(e->sha256, info.sha256, 65);
	e->rows = st.rows;
	e->n_tables = st.n_tables;
	e->tables = calloc(st.n_tables + 1, sizeof *e->tables);
	for (size_t i = 0; e->tables && i < st.n_tables; i++) {
		e->tables[i].name = st.tables[i].name;
		e->tables[i].rows = st.tables[i].rows;
		st.tables[i].name = NULL;
	}
	e->millis = now_ms() - t0;
	drb_dump_stats_free(&st);
out:
	free(object);
	free(path);
	return rc;
}

/* Test fault: hold here until the test has done its damage (spool_dir/fault-continue). */
static void fault_wait(const drb_config *c)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/fault-continue", c->spool_dir);
	drb_log_info("fault: waiting for %s", path);
	while (access(path, F_OK) != 0)
		usleep(50000);
	unlink(path);
}

static void *worker(void *arg)
{
	void **a = arg;
	run *r = a[0];
	drb_db *session = a[1];
	for (;;) {
		pthread_mutex_lock(&r->lock);
		job *j = (!r->failed && r->next < r->n_jobs) ? &r->jobs[r->next++] : NULL;
		if (j)
			j->state = 1;
		pthread_mutex_unlock(&r->lock);
		if (!j)
			break;
		int rc = dump_one(r, session, j);
		if (rc == 0 && drb_fault("full-wait-after-first"))
			fault_wait(r->cfg);
		pthread_mutex_lock(&r->lock);
		if (rc < 0) {
			drb_error_save(&j->err);
			j->state = 3;
			r->failed = true;
		} else {
			j->state = 2;
		}
		pthread_mutex_unlock(&r->lock);
		if (rc < 0)
			break;
	}
	return NULL;
}

/* ---- which databases ---- */

typedef struct sizes {
	job *v;
	size_t n;
} sizes;

static int add_size(void *ud, char **row, unsigned long *len, unsigned n)
{
	sizes *s = ud;
	(void)len, (void)n;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].db, row[0]) == 0)
			s->v[i].size_estimate = row[1] ? strtoull(row[1], NULL, 10) : 0;
	return 0;
}

static int by_size_desc(const void *a, const void *b)
{
	const job *x = a, *y = b;
	if (x->size_estimate != y->size_estimate)
		return x->size_estimate > y->size_estimate ? -1 : 1;
	return strcmp(x->db, y->db);
}

static int choose(const drb_config *c, const drb_db_target *t, char **wanted, size_t n_wanted,
		  job **out, size_t *n_out)
{
	drb_db *db = NULL;
	char **all = NULL;
	size_t n_all = 0;
	sizes s = {0};
	int rc;
	if ((rc = drb_db_connect(t, &db)) < 0)
		return rc;
	if ((rc = drb_db_user_databases(db, &all, &n_all)) < 0)
		goto out;
	const char *const *pick = (const char *const *)all;
	size_t n_pick = n_all;
	if (n_wanted) {
		pick = (const char *const *)wanted;
		n_pick = n_wanted;
	} else if (c->db.n_databases) {
		pick = c->db.databases;
		n_pick = c->db.n_databases;
	}
	s.v = calloc(n_pick + 1, sizeof *s.v);
	if (!s.v) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_pick; i++) {
		bool exists = false;
		for (size_t k = 0; k < n_all; k++)
			exists |= strcmp(all[k], pick[i]) == 0;
		for (size_t k = 0; k < s.n; k++)
			if (strcmp(s.v[k].db, pick[i]) == 0)
				exists = false; /* named twice: once is enough */
		if (!exists) {
			bool dup = false;
			for (size_t k = 0; k < s.n; k++)
				dup |= strcmp(s.v[k].db, pick[i]) == 0;
			if (dup)
				continue;
			rc = drb_error(n_wanted ? DRB_ERR_USAGE : DRB_ERR_CONFIG,
				       "database %s does not exist on the server", pick[i]);
			goto out;
		}
		s.v[s.n++].db = strdup(pick[i]);
	}
	if (s.n == 0) {
		rc = drb_error(DRB_ERR_FAILED, "there is no database to back up");
		goto out;
	}
	rc = drb_db_rows(db,
			 "SELECT TABLE_SCHEMA, SUM(DATA_LENGTH + INDEX_LENGTH) FROM "
			 "information_schema.TABLES GROUP BY TABLE_SCHEMA",
			 add_size, &s);
	if (rc < 0)
		goto out;
	qsort(s.v, s.n, sizeof *s.v, by_size_desc); /* biggest first: the last job is not alone */
	*out = s.v;
	*n_out = s.n;
	s.v = NULL;
out:
	if (s.v) {
		for (size_t i = 0; i < s.n; i++)
			free(s.v[i].db);
		free(s.v);
	}
	drb_strv_free(all, n_all);
	drb_db_close(db);
	return rc;
}

/* ---- after a failure: the objects of an unfinished backup are removed ---- */

static void remove_partial(drb_repo_set *set, const char *host, const char *backup_id, job *jobs,
			   size_t n)
{
	for (size_t r = 0; r < set->n; r++)
		for (size_t i = 0; i < n; i++) {
			char *path = drb_path_dump(host, backup_id, jobs[i].db);
			if (path) {
				const char *p[] = {path};
				if (drb_repo_remove(set->repos[r], p, 1) < 0)
					drb_error_clear(); /* best effort: list shows it as incomplete */
			}
			free(path);
		}
}

/* The first event time of the snapshot's binlog file, so a restore finds the right history
 * even when no binlog was shipped yet and file names repeat after a reset. 0 when unreadable. */
static int64_t snapshot_file_created(const drb_config *c, drb_snapshot *snap)
{
	char base[4096], path[4400];
	int64_t t = 0;
	if (c->db.binlog_dir)
		snprintf(base, sizeof base, "%s/x", c->db.binlog_dir);
	else if (drb_db_value(snap->sessions[0], "SELECT @@log_bin_basename", base, sizeof base) < 0)
		base[0] = 0;
	char *slash = strrchr(base, '/');
	if (slash) {
		*slash = 0;
		snprintf(path, sizeof path, "%s/%s", base, snap->coord.file);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			drb_binlog_file_created(fd, &t);
			close(fd);
		}
	}
	drb_error_clear();
	return t;
}

static void progress(run *r, int64_t t0)
{
	char line[400] = "";
	size_t used = 0, done = 0;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n_jobs; i++) {
		if (r->jobs[i].state == 2)
			done++;
		if (r->jobs[i].state == 1 && used < sizeof line - 60)
			used += (size_t)snprintf(line + used, sizeof line - used, "  %s %.0f MB",
						 r->jobs[i].db, r->jobs[i].bytes / 1e6);
	}
	pthread_mutex_unlock(&r->lock);
	drb_progress("full %s: %zu/%zu databases done, %.0f s%s", r->backup_id, done, r->n_jobs,
		     (now_ms() - t0) / 1000.0, line);
}

static void print_result(drb_ctx *ctx, const drb_manifest *m, const drb_repo_set *set,
			 uint64_t bad_mask, int64_t ms)
{
	uint64_t plain = 0, stored = 0;
	for (size_t i = 0; i < m->n_dbs; i++) {
		plain += m->dbs[i].plain_bytes;
		stored += m->dbs[i].stored_bytes;
	}
	if (ctx->json) {
		char *text = NULL;
		if (drb_manifest_to_json(m, &text) == 0) {
			json_t *j = json_loads(text, 0, NULL), *repos = json_array();
			for (size_t i = 0; i < set->n; i++)
				json_array_append_new(repos, json_pack("{s:s, s:b}", "name",
								       set->repos[i]->name, "complete",
								       !(bad_mask & (1ull << i))));
			json_object_set_new(j, "repositories", repos);
			json_object_set_new(j, "millis", json_integer(ms));
			json_dumpf(j, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
			putchar('\n');
			json_decref(j);
		}
		free(text);
		return;
	}
	drb_log_info("full backup %s: %zu database%s, %.1f MB of SQL stored as %.1f MB, in %.1f s "
		     "(snapshot %s:%llu, GTID %s)",
		     m->backup_id, m->n_dbs, m->n_dbs == 1 ? "" : "s", plain / 1e6, stored / 1e6,
		     ms / 1000.0, m->binlog_file, (unsigned long long)m->binlog_pos,
		     m->gtid[0] ? m->gtid : "none");
}

int drb_cmd_full(drb_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
					     {"jobs", required_argument, NULL, 'j'},
					     {0, 0, 0, 0}};
	char **wanted = NULL;
	size_t n_wanted = 0;
	long jobs_opt = -1;
	int opt, rc, lock = -1;
	drb_config *c;
	run r = {.lock = PTHREAD_MUTEX_INITIALIZER};
	drb_manifest m = {0};
	pthread_t *threads = NULL;
	void **args = NULL;
	char backup_id[17];
	int64_t t0 = now_ms();
	uint64_t bad_mask = 0;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'd') {
			char **v = realloc(wanted, (n_wanted + 1) * sizeof *v);
			if (!v)
				return drb_error(DRB_ERR_NOMEM, "out of memory");
			wanted = v;
			wanted[n_wanted++] = optarg;
		} else if (opt == 'j') {
			char *end;
			jobs_opt = strtol(optarg, &end, 10);
			if (*end || jobs_opt < 1 || jobs_opt > 256) {
				free(wanted);
				return drb_error(DRB_ERR_USAGE, "--jobs takes a number from 1 to 256");
			}
		} else {
			free(wanted);
			return drb_error(DRB_ERR_USAGE, "unknown option '%s' (see 'drbackup full --help')",
					 argv[optind - 1]);
		}
	}
	if (optind < argc) {
		free(wanted);
		return drb_error(DRB_ERR_USAGE, "unexpected argument '%s'", argv[optind]);
	}
	if ((rc = drb_ctx_config(ctx, &c)) < 0)
		goto out;
	r.cfg = c;
	if ((rc = drb_lock_take(c->spool_dir, "full", false, &lock)) < 0)
		goto out;
	if ((rc = drb_keyring_load(c, 0, &r.keys)) < 0 ||
	    (rc = drb_repo_set_open(c, ctx->repo_name, &r.set)) < 0)
		goto out;
	if ((rc = drb_heal(c, r.set)) < 0 && rc != DRB_ERR_DEGRADED)
		goto out;
	drb_error_clear();
	drb_db_target t = drb_db_target_from_config(c);
	if ((rc = choose(c, &t, wanted, n_wanted, &r.jobs, &r.n_jobs)) < 0)
		goto out;
	long jobs = jobs_opt > 0 ? jobs_opt : c->db.jobs > 0 ? c->db.jobs : drb_ncpu();
	if ((size_t)jobs > r.n_jobs)
		jobs = (long)r.n_jobs;
	long zt = c->compression.threads ? c->compression.threads : drb_ncpu();
	r.zstd_threads = (int)(zt / jobs > 0 ? zt / jobs : 1);

	/* one backup a second at most: its id is its start time */
	drb_time_id(time(NULL), backup_id);
	r.backup_id = backup_id;
	if ((rc = drb_snapshot_open(&t, (int)jobs, &r.snap)) < 0)
		goto out;
	drb_log_debug("backup %s: %zu database(s), %ld job(s), %d zstd worker(s) each", backup_id,
		      r.n_jobs, jobs, r.zstd_threads);

	threads = calloc((size_t)jobs, sizeof *threads);
	args = calloc((size_t)jobs * 2, sizeof *args);
	if (!threads || !args) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	long started = 0;
	for (long i = 0; i < jobs; i++) {
		args[2 * i] = &r;
		args[2 * i + 1] = r.snap->sessions[i];
		if (pthread_create(&threads[started], NULL, worker, &args[2 * i]) != 0)
			break; /* fewer jobs: the running ones take the rest of the queue */
		started++;
	}
	if (started == 0)
		worker(&args[0]);
	for (;;) {
		pthread_mutex_lock(&r.lock);
		bool busy = false;
		for (size_t i = 0; i < r.n_jobs; i++)
			busy |= r.jobs[i].state == 1 || (r.jobs[i].state == 0 && !r.failed);
		pthread_mutex_unlock(&r.lock);
		if (!busy)
			break;
		progress(&r, t0);
		usleep(200000);
	}
	for (long i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	drb_progress_clear();
	for (size_t i = 0; i < r.n_jobs; i++)
		if (r.jobs[i].state == 3) {
			drb_error_restore(&r.jobs[i].err);
			rc = drb_error_code();
			remove_partial(r.set, c->host_id, backup_id, r.jobs, r.n_jobs);
			drb_error_restore(&r.jobs[i].err);
			drb_error_wrap(0, "full backup %s failed; nothing was recorded", backup_id);
			goto out;
		}

	/* the manifest: written last, only where every object landed */
	m.host_id = (char *)c->host_id;
	m.backup_id = backup_id;
	m.started = r.snap->taken;
	m.snapshot_time = r.snap->taken;
	m.finished = time(NULL);
	m.server_version = r.snap->server_version;
	m.server_id = r.snap->server_id;
	m.binlog_file = r.snap->coord.file;
	m.binlog_pos = r.snap->coord.pos;
	m.gtid = r.snap->coord.gtid;
	m.generation = drb_state_generation(c, r.snap->server_id);
	m.binlog_file_created = snapshot_file_created(c, r.snap);
	m.jobs = (int)jobs;
	m.block_micros = r.snap->block_micros;
	m.n_dbs = r.n_jobs;
	m.dbs = calloc(r.n_jobs, sizeof *m.dbs);
	m.key_ids = calloc(r.keys->n_pub + 1, sizeof *m.key_ids);
	if (!m.dbs || !m.key_ids) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < r.keys->n_pub; i++) {
		m.key_ids[i] = malloc(17);
		drb_key_id_hex(r.keys->pub[i].id, m.key_ids[i]);
		m.n_key_ids++;
	}
	for (size_t i = 0; i < r.n_jobs; i++) {
		m.dbs[i] = r.jobs[i].entry;
		bad_mask |= r.jobs[i].failed_mask;
	}
	size_t stored = 0;
	char why[1024] = "";
	for (size_t i = 0; i < r.set->n; i++) {
		if (bad_mask & (1ull << i)) {
			snprintf(why + strlen(why), sizeof why - strlen(why), "%s%s", why[0] ? ", " : "",
				 r.set->repos[i]->name);
			continue;
		}
		if (drb_manifest_put(r.set->repos[i], &m) < 0) {
			drb_log_current_error("storing the manifest");
			bad_mask |= 1ull << i;
			snprintf(why + strlen(why), sizeof why - strlen(why), "%s%s", why[0] ? ", " : "",
				 r.set->repos[i]->name);
			continue;
		}
		stored++;
	}
	if (stored == 0) {
		rc = drb_error(DRB_ERR_FAILED,
			       "full backup %s could not be completed in any repository", backup_id);
		goto out;
	}
	int64_t ms = now_ms() - t0;
	print_result(ctx, &m, r.set, bad_mask, ms);
	uint64_t total = 0;
	for (size_t i = 0; i < m.n_dbs; i++)
		total += m.dbs[i].stored_bytes;
	drb_metric met[] = {
		{"drbackup_duration_seconds", "command=\"full\"", "how long the last run took",
		 ms / 1000.0},
		{"drbackup_bytes", "command=\"full\"", "bytes stored by the last run", (double)total},
		{"drbackup_full_databases", NULL, "databases in the newest full backup",
		 (double)m.n_dbs},
		{"drbackup_degraded", "command=\"full\"",
		 "1 when the last run left a repository without its copy", bad_mask ? 1 : 0},
		/* a degraded run is not a success: the alert on its age must fire */
		{"drbackup_last_success_timestamp_seconds", "command=\"full\"",
		 "when the command last succeeded in every repository", (double)time(NULL)},
	};
	drb_metrics_update(c, met, (int)(sizeof met / sizeof *met) - (bad_mask ? 1 : 0));
	if (bad_mask) {
		drb_state_note_heal(c); /* the next run copies what is missing */
		rc = drb_error(DRB_ERR_DEGRADED,
			       "full backup %s is complete in %zu of %zu repositories; missing in %s "
			       "(the next run copies it)",
			       backup_id, stored, r.set->n, why);
	}
out:
	if (m.dbs) {
		for (size_t i = 0; i < m.n_dbs; i++)
			r.jobs[i].entry = m.dbs[i];
		free(m.dbs);
	}
	for (size_t i = 0; i < m.n_key_ids; i++)
		free(m.key_ids[i]);
	free(m.key_ids);
	free(m.generation);
	for (size_t i = 0; i < r.n_jobs; i++) {
		drb_db_entry *e = &r.jobs[i].entry;
		free(e->name);
		free(e->object);
		for (size_t k = 0; k < e->n_tables; k++)
			free(e->tables[k].name);
		free(e->tables);
		free(r.jobs[i].db);
	}
	free(r.jobs);
	free(threads);
	free(args);
	drb_snapshot_close(r.snap);
	drb_repo_set_close(r.set);
	drb_keyring_free(r.keys);
	drb_lock_release(lock);
	free(wanted);
	return rc;
}
