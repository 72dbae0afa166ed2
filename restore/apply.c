#include "config.h"
#include "restore/apply.h"
#include "restore/fetch.h"
#include "restore/load.h"
#include "restore/replay.h"
#include "restore/seen.h"
#include "common/context.h"
#include "common/error.h"
#include "common/lock.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ loading dumps */

typedef struct loader {
	const drb_restore_opts *o;
	drb_fetch *dumps;
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
	const drb_fetch *f;
	int fd;
	int rc;
	drb_error_state err;
} pipe_feed;

static void *feed_pipe(void *arg)
{
	pipe_feed *p = arg;
	p->rc = drb_fetch_stream(p->o->keys, p->f, p->fd, "the loader");
	if (p->rc < 0)
		drb_error_save(&p->err);
	close(p->fd);
	return NULL;
}

/* The dump is opened on one thread and loaded on this one, over a pipe: decryption and
 * decompression overlap with the server's work. */
static int load_one(const drb_restore_opts *o, drb_fetch *f, drb_restore_db *d)
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


/* ------------------------------------------------------------------ the plan */

/* One restore in progress: the catalogs of every repository, the plan, and its objects. */
typedef struct job {
	drb_restore_opts o; /* prepare_target may set the destination */
	drb_catalog **cats;
	size_t from; /* the repository the plan comes from */
	drb_plan plan;
	drb_fetch *objs;
	size_t n_objs, n_dumps;
	char **dbs;
	size_t n_dbs;
	char spool[PATH_MAX];
} job;

/* Does plan a reach further than plan b? By GTID where they can be compared, else by time. */
static bool further(const drb_plan *a, const drb_plan *b)
{
	if (a->reached_gtid[0] && b->reached_gtid[0]) {
		bool ab = drb_gtid_reached(a->reached_gtid, b->reached_gtid),
		     ba = drb_gtid_reached(b->reached_gtid, a->reached_gtid);
		if (ab != ba)
			return ab;
	}
	return a->covered_until > b->covered_until;
}

static void point(char *buf, size_t len, const drb_plan *p)
{
	char iso[21];
	drb_time_iso(p->covered_until, iso);
	snprintf(buf, len, "%s%s%s", iso, p->reached_gtid[0] ? ", GTID " : "", p->reached_gtid);
}

/* What the catalog left out, or took unsigned, said once per repository; and the history it
 * shows compared with what this host has seen. */
static void trust_notes(const drb_restore_opts *o, drb_repo *r, const drb_catalog *c)
{
	if (c->n_unsigned)
		drb_log_warn("repository %s: %zu metadata object%s of %s carry no signature and are "
			     "used because of --allow-unsigned",
			     r->name, c->n_unsigned, c->n_unsigned == 1 ? "" : "s", c->host_id);
	if (c->n_untrusted)
		drb_log_warn("repository %s: %zu metadata object%s of %s %s not trusted and not used "
			     "(first: %s)",
			     r->name, c->n_untrusted, c->n_untrusted == 1 ? "" : "s", c->host_id,
			     c->n_untrusted == 1 ? "is" : "are", c->untrusted[0].why);
	drb_seen_check(o->cfg, r->name, c);
}

/* A plan that failed while metadata was left out says so: it may be why. */
static void untrusted_hint(const drb_catalog *c, drb_repo *r)
{
	if (!c->n_untrusted)
		return;
	bool only_unsigned = true;
	for (size_t i = 0; i < c->n_untrusted; i++)
		only_unsigned = only_unsigned && c->untrusted[i].unsigned_only;
	drb_error_wrap(0, "repository %s: %zu metadata object%s of %s %s not trusted (%s)%s",
		       r->name, c->n_untrusted, c->n_untrusted == 1 ? "" : "s", c->host_id,
		       c->n_untrusted == 1 ? "is" : "are", c->untrusted[0].why,
		       only_unsigned ? "; backups from before signing restore with --allow-unsigned"
				     : "");
}

/* Plan from every repository that can be read: for latest the one that reaches furthest (a
 * lagging region must not silently restore an older point), for a point the first that
 * reaches it, in the configuration's order. */
static int plan_best(job *j)
{
	const drb_restore_opts *o = &j->o;
	drb_error_state first_err;
	bool have_err = false, planned = false;
	for (size_t i = 0; i < o->set->n; i++) {
		drb_plan p = {0};
		if (drb_catalog_load_opts(o->set->repos[i], o->host_id, DRB_CATALOG_SUMMARY,
					  &j->cats[i]) == 0)
			trust_notes(o, o->set->repos[i], j->cats[i]);
		if (!j->cats[i] || drb_plan_make(j->cats[i], &o->target, &p) < 0) {
			if (j->cats[i])
				untrusted_hint(j->cats[i], o->set->repos[i]);
			if (!have_err) {
				drb_error_save(&first_err);
				have_err = true;
			} else {
				drb_log_debug("repository %s cannot serve the restore either",
					      o->set->repos[i]->name);
			}
			drb_error_clear();
			drb_plan_free(&p);
			continue;
		}
		bool latest = o->target.kind == DRB_TO_LATEST;
		if (planned && !(latest && further(&p, &j->plan))) {
			if (latest) {
				char there[1200], here[1200];
				point(there, sizeof there, &p);
				point(here, sizeof here, &j->plan);
				if (further(&j->plan, &p))
					drb_log_warn("repository %s lags: it reaches only %s (repository "
						     "%s reaches %s)",
						     o->set->repos[i]->name, there,
						     o->set->repos[j->from]->name, here);
			}
			drb_plan_free(&p);
			continue;
		}
		if (planned) {
			char there[1200], here[1200];
			point(there, sizeof there, &p);
			point(here, sizeof here, &j->plan);
			drb_log_warn("repository %s lags: it reaches only %s; restoring from repository "
				     "%s, which reaches %s",
				     o->set->repos[j->from]->name, here, o->set->repos[i]->name, there);
			drb_plan_free(&j->plan);
		}
		j->plan = p;
		j->from = i;
		planned = true;
		if (!latest)
			break;
	}
	if (!planned) {
		drb_error_restore(&first_err);
		return drb_error_code();
	}
	return 0;
}

/* ------------------------------------------------------------------ the objects */

static void objects_free(job *j)
{
	for (size_t i = 0; j->objs && i < j->n_objs; i++)
		drb_fetch_clear(&j->objs[i]);
	free(j->objs);
	j->objs = NULL;
	j->n_objs = j->n_dumps = 0;
	drb_strv_free(j->dbs, j->n_dbs);
	j->dbs = NULL;
	j->n_dbs = 0;
}

/* For restore-test: a time inside the newest replayed segment whose events span more than one
 * second, where a point-in-time restore must stop in the middle of the segment. */
static void probe_point(const job *j, drb_restore_result *r)
{
	for (size_t i = j->plan.n_files; i-- > 0;)
		for (size_t k = j->plan.files[i].n; k-- > 0;) {
			const drb_segment *s = j->plan.files[i].segs[k];
			if (s->first_event <= 0 || s->last_event <= s->first_event)
				continue;
			int64_t t = s->first_event + (s->last_event - s->first_event + 1) / 2;
			/* the first segment may begin before the snapshot: the point must come after it */
			if (t <= j->plan.full->snapshot_time)
				t = j->plan.full->snapshot_time + 1;
			if (t > s->last_event)
				continue;
			r->probe.time = t;
			snprintf(r->probe.segment, sizeof r->probe.segment, "%s:%llu", s->file,
				 (unsigned long long)s->start);
			snprintf(r->probe.start_gtid, sizeof r->probe.start_gtid, "%s", s->start_gtid);
			snprintf(r->probe.end_gtid, sizeof r->probe.end_gtid, "%s", s->end_gtid);
			return;
		}
}

/* The plan's dumps and segments as objects to fetch, and what the result says of them. */
static int objects_from_plan(job *j, drb_restore_result *r)
{
	const drb_restore_opts *o = &j->o;
	const drb_manifest *m = j->plan.full;
	size_t n_segs = 0;
	int rc = 0;
	objects_free(j);
	drb_restore_result_free(r);
	for (size_t i = 0; i < j->plan.n_files; i++)
		n_segs += j->plan.files[i].n;
	size_t live = 0;
	for (size_t i = 0; i < m->n_dbs; i++)
		live += !m->dbs[i].expired;
	j->n_dbs = o->dbs ? o->n_dbs : live;
	j->dbs = calloc(j->n_dbs + 1, sizeof *j->dbs);
	r->dbs = calloc(j->n_dbs + 1, sizeof *r->dbs);
	j->objs = calloc(j->n_dbs + n_segs + 1, sizeof *j->objs);
	char *dir = drb_path_full_dir(o->host_id, m->backup_id);
	if (!j->dbs || !r->dbs || !j->objs || !dir) {
		free(dir);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	snprintf(r->backup_id, sizeof r->backup_id, "%s", m->backup_id);
	snprintf(r->repo, sizeof r->repo, "%s", o->set->repos[j->from]->name);
	if (!(r->manifest = drb_manifest_copy(m)))
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	for (size_t i = 0, next = 0; rc == 0 && i < j->n_dbs; i++) {
		const drb_db_entry *e = NULL;
		if (o->dbs) {
			e = drb_manifest_db(m, o->dbs[i]);
		} else {
			while (next < m->n_dbs && m->dbs[next].expired) {
				drb_log_warn("full backup %s: practice %s was deleted by retention (%s): "
					     "not restored",
					     m->backup_id, m->dbs[next].name,
					     m->dbs[next].expired_why ? m->dbs[next].expired_why : "");
				next++;
			}
			e = &m->dbs[next++];
		}
		if (!e) {
			rc = drb_error(DRB_ERR_REFUSED, "full backup %s of %s has no database %s",
				       m->backup_id, o->host_id, o->dbs[i]);
			break;
		}
		if (drb_db_is_system(e->name)) {
			/* no dump holds one; a manifest that names one is forged (--force drops it) */
			rc = drb_error(DRB_ERR_REFUSED,
				       "full backup %s of %s names the system schema %s: refused",
				       m->backup_id, o->host_id, e->name);
			break;
		}
		if (e->expired) {
			rc = drb_error(DRB_ERR_REFUSED,
				       "practice %s of full backup %s was deleted by retention (%s): it "
				       "cannot be restored from this backup",
				       e->name, m->backup_id, e->expired_why ? e->expired_why : "");
			break;
		}
		j->dbs[i] = strdup(e->name);
		r->dbs[i].name = strdup(e->name);
		r->dbs[i].plain_bytes = e->plain_bytes;
		r->dbs[i].stored_bytes = e->stored_bytes;
		r->n_dbs++;
		drb_fetch *f = &j->objs[j->n_objs++];
		if (asprintf(&f->path, "%s/%s", dir, e->object) < 0)
			f->path = NULL;
		memcpy(f->sha256, e->sha256, 65);
		f->size = e->stored_bytes;
		r->bytes += e->stored_bytes;
	}
	free(dir);
	j->n_dumps = j->n_objs;
	for (size_t i = 0; rc == 0 && i < j->plan.n_files; i++)
		for (size_t k = 0; k < j->plan.files[i].n; k++) {
			const drb_segment *s = j->plan.files[i].segs[k];
			drb_fetch *f = &j->objs[j->n_objs++];
			f->path = drb_segment_path(o->host_id, s, "drb");
			memcpy(f->sha256, s->sha256, 65);
			f->size = s->stored_bytes;
			r->bytes += s->stored_bytes;
		}
	for (size_t i = 0; rc == 0 && i < j->n_objs; i++)
		if (!j->objs[i].path)
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
	r->n_segments = n_segs;
	r->n_files = j->plan.n_files;
	if (j->plan.n_files) {
		snprintf(r->first_file, sizeof r->first_file, "%s", j->plan.files[0].name);
		snprintf(r->last_file, sizeof r->last_file, "%s",
			 j->plan.files[j->plan.n_files - 1].name);
		probe_point(j, r);
	}
	r->reached_time = j->plan.reached_time;
	snprintf(r->reached_gtid, sizeof r->reached_gtid, "%s", j->plan.reached_gtid);
	return rc;
}

/* Fetch and check every object. When a dump of the chosen full backup cannot be had intact
 * from any repository, the next older full backup and the longer chain after it serve. */
static int fetch_objects(job *j, drb_restore_result *r)
{
	const drb_restore_opts *o = &j->o;
	for (;;) {
		size_t failed = 0;
		for (size_t i = 0; i < j->n_objs; i++) {
			free(j->objs[i].local);
			free(j->objs[i].err);
			j->objs[i].err = NULL;
			if (asprintf(&j->objs[i].local, "%s/%zu.drb", j->spool, i) < 0) {
				j->objs[i].local = NULL;
				return drb_error(DRB_ERR_NOMEM, "out of memory");
			}
		}
		int rc = drb_fetch_all(o->set, o->keys, j->from, j->objs, j->n_objs, o->jobs, &failed);
		if (rc == 0 || failed >= j->n_dumps || rc == DRB_ERR_CANCELLED || o->newest_only)
			return rc < 0 ? drb_error_wrap(0, "nothing was restored") : 0;
		char why[DRB_ERROR_LINE], skipped[32];
		drb_error_line(why, sizeof why);
		snprintf(skipped, sizeof skipped, "%s", j->plan.full->backup_id);
		drb_error_state err;
		drb_error_save(&err);
		drb_plan older;
		if (drb_plan_make_older(j->cats[j->from], &o->target, skipped, &older) < 0) {
			drb_plan_free(&older);
			drb_error_restore(&err);
			return drb_error_wrap(0, "nothing was restored, and no older full backup can "
						 "take its place");
		}
		drb_log_warn("full backup %s is skipped: %s; restoring from the older full backup "
			     "%s and the longer binlog chain after it",
			     skipped, why, older.full->backup_id);
		drb_plan_free(&j->plan);
		j->plan = older;
		if ((rc = objects_from_plan(j, r)) < 0)
			return rc;
	}
}

/* ------------------------------------------------------------------ the steps */

/* The target: set up when asked, then empty, or emptied with --force. */
static int ready_target(job *j, drb_restore_result *r)
{
	if (j->o.prepare_target) {
		uint64_t need = 0;
		for (size_t i = 0; i < r->n_dbs; i++)
			need += r->dbs[i].plain_bytes;
		int rc = j->o.prepare_target(j->o.ud, need, &j->o.dest);
		if (rc < 0)
			return rc;
	}
	return check_target(&j->o, j->dbs, j->n_dbs);
}

/* The dumps, several at once. */
static int load_dumps(job *j, drb_restore_result *r)
{
	const drb_restore_opts *o = &j->o;
	int64_t t0 = now_ms();
	int nt = o->jobs > 0 ? o->jobs : 1;
	pthread_t *threads = calloc((size_t)nt, sizeof *threads);
	loader ld = {.o = o, .dumps = j->objs, .dbs = r->dbs, .n = j->n_dumps,
		     .state = calloc(j->n_dumps + 1, sizeof(int)), .lock = PTHREAD_MUTEX_INITIALIZER};
	if (!threads || !ld.state) {
		free(threads);
		free(ld.state);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	int nl = nt < (int)j->n_dumps ? nt : (int)j->n_dumps, started = 0;
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
		load_progress(&ld, t0);
		usleep(200000);
	}
	for (int i = 0; i < nl; i++)
		pthread_join(threads[i], NULL);
	drb_progress_clear();
	free(threads);
	free(ld.state);
	r->millis_load = now_ms() - t0;
	if (ld.failed) {
		drb_error_restore(&ld.err);
		return drb_error_code();
	}
	return 0;
}

/* The binlog chain, once, from the snapshot's coordinate (once per database with --db). */
static int replay_chain(job *j, drb_restore_result *r)
{
	const drb_restore_opts *o = &j->o;
	int64_t t0 = now_ms();
	int rc = 0;
	snprintf(r->replayed_gtid, sizeof r->replayed_gtid, "%s", j->plan.full->gtid);
	if (!j->plan.n_files)
		return 0;
	const drb_fetch *segs = j->objs + j->n_dumps;
	if (o->dbs) {
		for (size_t i = 0; i < j->n_dbs && rc == 0; i++)
			rc = drb_replay_chain(o->cfg, &o->dest, o->keys, &o->target, &j->plan, segs,
					      j->dbs[i], r->replayed_gtid, sizeof r->replayed_gtid);
	} else {
		rc = drb_replay_chain(o->cfg, &o->dest, o->keys, &o->target, &j->plan, segs, NULL,
				      r->replayed_gtid, sizeof r->replayed_gtid);
	}
	r->millis_replay = now_ms() - t0;
	return rc;
}

static int make_spool(job *j)
{
	int rc = drb_spool_ready(j->o.spool);
	if (rc < 0)
		return rc;
	snprintf(j->spool, sizeof j->spool, "%s/restore-XXXXXX", j->o.spool);
	if (!mkdtemp(j->spool)) {
		rc = drb_error_errno(0, errno, "creating a spool folder in %s", j->o.spool);
		j->spool[0] = 0;
	}
	return rc;
}

/* An object in an archive class (GLACIER, DEEP_ARCHIVE) reads only once thawed: say so, and how,
 * before the target is touched. The dumps are looked at always (a lifecycle rule of the
 * operator's may have moved them); segments when the repository tiers (tier { }). */
static int check_thawed(job *j)
{
	drb_repo *r = j->o.set->repos[j->from];
	char first[400] = "";
	size_t frozen = 0, thawing = 0;
	if (!r->driver->info)
		return 0;
	size_t n = r->cfg->tier_after_days > 0 ? j->n_objs : j->n_dumps;
	for (size_t i = 0; i < n; i++) {
		drb_obj_info info;
		if (drb_repo_info(r, j->objs[i].path, &info) < 0) {
			drb_error_clear(); /* the fetch says what is wrong with it */
			continue;
		}
		if (strcmp(info.storage_class, "GLACIER") != 0 &&
		    strcmp(info.storage_class, "DEEP_ARCHIVE") != 0)
			continue;
		if (strstr(info.restore, "ongoing-request=\"false\""))
			continue; /* thawed: a readable copy exists until its expiry-date */
		if (strstr(info.restore, "ongoing-request=\"true\""))
			thawing++;
		if (!first[0])
			snprintf(first, sizeof first, "%s (%s)", j->objs[i].path, info.storage_class);
		frozen++;
	}
	if (!frozen)
		return 0;
	return drb_error(DRB_ERR_REFUSED,
			 "%zu object%s this restore needs %s in archive storage and not thawed%s, "
			 "first %s in repository %s (%s): thaw %s first (S3 RestoreObject, e.g. "
			 "'aws s3api restore-object --bucket BUCKET --key KEY --restore-request "
			 "Days=7,GlacierJobParameters={Tier=Standard}': hours for GLACIER, up to 12 "
			 "for DEEP_ARCHIVE; HEAD shows x-amz-restore ongoing-request=\"false\" when "
			 "done), then run the restore again; the target was not touched",
			 frozen, frozen == 1 ? "" : "s", frozen == 1 ? "is" : "are",
			 thawing ? " (some thaws are under way)" : "", first, r->name, r->where,
			 frozen == 1 ? "it" : "them");
}

int drb_restore_run(const drb_restore_opts *opts, drb_restore_result *r)
{
	job j = {.o = *opts};
	int64_t t0 = now_ms(), t1;
	int rc;
	memset(r, 0, sizeof *r);
	if (!(j.cats = calloc(opts->set->n, sizeof *j.cats)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	if ((rc = plan_best(&j)) < 0 || (rc = objects_from_plan(&j, r)) < 0 ||
	    (rc = check_thawed(&j)) < 0 || opts->dry_run)
		goto out;
	t1 = now_ms();
	if ((rc = make_spool(&j)) < 0 || (rc = fetch_objects(&j, r)) < 0)
		goto out;
	r->millis_fetch = now_ms() - t1;
	drb_log_info("fetched and checked %zu object%s (%.1f MB) from repository %s in %.1f s",
		     j.n_objs, j.n_objs == 1 ? "" : "s", r->bytes / 1e6, r->repo,
		     r->millis_fetch / 1000.0);
	if ((rc = ready_target(&j, r)) < 0 || (rc = load_dumps(&j, r)) < 0)
		goto out;
	if (j.o.after_load && (rc = j.o.after_load(j.o.ud, j.plan.full)) < 0)
		goto out;
	rc = replay_chain(&j, r);
out:
	r->millis_total = now_ms() - t0;
	objects_free(&j);
	if (j.spool[0])
		rmdir(j.spool);
	drb_plan_free(&j.plan);
	for (size_t i = 0; i < opts->set->n; i++)
		drb_catalog_free(j.cats[i]);
	free(j.cats);
	return rc;
}

int drb_restore_default_jobs(void)
{
	return 2 * drb_ncpu();
}

void drb_restore_result_free(drb_restore_result *r)
{
	for (size_t i = 0; r->dbs && i < r->n_dbs; i++)
		free(r->dbs[i].name);
	free(r->dbs);
	drb_manifest_free(r->manifest);
	memset(r, 0, sizeof *r);
}
