/* Compaction from the source (see compact.h). Litestream's levels are the model: level k holds
 * one segment per window of compact_levels[k-1] seconds, made of the segments below it; here a
 * window is over when its span has passed by the shipped time of the segments in it, and a
 * compacted segment stays inside one binlog file (a range of its bytes, as every segment is).
 *
 * The record (spool_dir/compact-record.jsonl, one JSON object a line) holds what this agent
 * shipped and has not compacted to the top level yet: each segment's description and the keyed
 * BLAKE2b hash of its plaintext (key: spool_dir/compact.key, 32 random bytes, 0600, made once).
 * It is a cache like the rest of spool_dir: a segment missing from it (a lost spool_dir, a line
 * lost in a crash) is never compacted, which is always safe. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/binlog_scan.h"
#include "agent/compact.h"
#include "agent/state.h"
#include "common/context.h"
#include "common/drb1.h"
#include "common/error.h"
#include "common/fault.h"
#include "common/layout.h"
#include "common/lock.h"
#include "common/log.h"
#include "common/object.h"
#include "common/sign.h"

#define READ_CHUNK (1u << 20)
#define SETTLE 3 /* seconds after a window's end before it is compacted: its last cut is out */

typedef struct entry {
	drb_segment s;
	uint8_t hash[DRB_COMPACT_HASH];
	int64_t landed; /* compacted: when every repository was seen to hold it (0: not yet) */
	bool gone;      /* dropped from the record at the next save */
	bool retry;     /* its compaction failed this pass: kept */
} entry;

struct drb_compactor {
	const drb_config *c;
	uint8_t key[crypto_generichash_KEYBYTES];
	entry *v;
	size_t n, cap;
	char path[PATH_MAX];
	FILE *log; /* appends */
	bool dirty;
};

/* ------------------------------------------------------------------ the key and the record */

static int load_key(drb_compactor *cp)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/compact.key", cp->c->spool_dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, cp->key, sizeof cp->key);
		close(fd);
		if (n == (ssize_t)sizeof cp->key)
			return 0;
		return drb_error(DRB_ERR_FORMAT, "%s is damaged: remove it (the segments recorded "
						 "with it are then left as they are)",
				 path);
	}
	if (errno != ENOENT)
		return drb_error_errno(0, errno, "%s", path);
	randombytes_buf(cp->key, sizeof cp->key);
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return drb_error_errno(0, errno, "%s", tmp);
	bool ok = write(fd, cp->key, sizeof cp->key) == (ssize_t)sizeof cp->key && fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return drb_error_errno(0, errno, "writing %s", path);
	}
	return 0;
}

static json_t *entry_json(const entry *e)
{
	char hex[2 * DRB_COMPACT_HASH + 1];
	sodium_bin2hex(hex, sizeof hex, e->hash, sizeof e->hash);
	const drb_segment *s = &e->s;
	return json_pack("{s:s, s:s, s:I, s:I, s:b, s:I, s:I, s:I, s:s, s:s, s:I, s:I, s:I, s:I, "
			 "s:i, s:s, s:I, s:s, s:I, s:I}",
			 "generation", s->generation, "file", s->file, "start", (json_int_t)s->start,
			 "end", (json_int_t)s->end, "closed", s->closed, "file_created",
			 (json_int_t)s->file_created, "first_event", (json_int_t)s->first_event,
			 "last_event", (json_int_t)s->last_event, "start_gtid",
			 s->start_gtid ? s->start_gtid : "", "end_gtid", s->end_gtid ? s->end_gtid : "",
			 "events", (json_int_t)s->events, "shipped", (json_int_t)s->shipped,
			 "complete_until", (json_int_t)s->complete_until, "server_id",
			 (json_int_t)s->server_id, "level", s->level, "hash", hex, "landed",
			 (json_int_t)e->landed, "sha256", s->sha256, "stored_bytes",
			 (json_int_t)s->stored_bytes, "compacted", (json_int_t)s->compacted);
}

static int entry_from(json_t *j, entry *e)
{
	memset(e, 0, sizeof *e);
	const char *g = json_string_value(json_object_get(j, "generation"));
	const char *f = json_string_value(json_object_get(j, "file"));
	const char *sg = json_string_value(json_object_get(j, "start_gtid"));
	const char *eg = json_string_value(json_object_get(j, "end_gtid"));
	const char *h = json_string_value(json_object_get(j, "hash"));
	const char *sha = json_string_value(json_object_get(j, "sha256"));
	size_t hl = 0;
	if (!g || !f || !sg || !eg || !h || !sha || strlen(sha) != 64 ||
	    sodium_hex2bin(e->hash, sizeof e->hash, h, strlen(h), NULL, &hl, NULL) != 0 ||
	    hl != sizeof e->hash)
		return -1;
	drb_segment *s = &e->s;
	s->generation = strdup(g);
	s->file = strdup(f);
	s->start_gtid = strdup(sg);
	s->end_gtid = strdup(eg);
	s->start = (uint64_t)json_integer_value(json_object_get(j, "start"));
	s->end = (uint64_t)json_integer_value(json_object_get(j, "end"));
	s->closed = json_is_true(json_object_get(j, "closed"));
	s->file_created = json_integer_value(json_object_get(j, "file_created"));
	s->first_event = json_integer_value(json_object_get(j, "first_event"));
	s->last_event = json_integer_value(json_object_get(j, "last_event"));
	s->events = (uint64_t)json_integer_value(json_object_get(j, "events"));
	s->shipped = json_integer_value(json_object_get(j, "shipped"));
	s->complete_until = json_integer_value(json_object_get(j, "complete_until"));
	s->server_id = (long)json_integer_value(json_object_get(j, "server_id"));
	s->level = (int)json_integer_value(json_object_get(j, "level"));
	s->stored_bytes = (uint64_t)json_integer_value(json_object_get(j, "stored_bytes"));
	memcpy(s->sha256, sha, 65);
	e->landed = json_integer_value(json_object_get(j, "landed"));
	s->compacted = json_integer_value(json_object_get(j, "compacted"));
	if (!s->generation || !s->file || !s->start_gtid || !s->end_gtid || s->end < s->start) {
		drb_segment_clear(s);
		return -1;
	}
	return 0;
}

static int push(drb_compactor *cp, entry *e)
{
	if (cp->n == cp->cap) {
		size_t cap = cp->cap ? cp->cap * 2 : 256;
		entry *v = realloc(cp->v, cap * sizeof *v);
		if (!v)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		cp->v = v;
		cp->cap = cap;
	}
	cp->v[cp->n++] = *e;
	return 0;
}

static int load_record(drb_compactor *cp)
{
	FILE *f = fopen(cp->path, "re");
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;
	if (!f)
		return errno == ENOENT ? 0 : drb_error_errno(0, errno, "%s", cp->path);
	while (rc == 0 && getline(&line, &cap, f) > 0) {
		json_t *j = json_loads(line, 0, NULL);
		entry e;
		if (j && entry_from(j, &e) == 0)
			rc = push(cp, &e);
		else
			cp->dirty = true; /* a line torn by a crash: written out without it */
		json_decref(j);
	}
	free(line);
	fclose(f);
	return rc;
}

static int write_line(FILE *f, const entry *e)
{
	json_t *j = entry_json(e);
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!text)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	int rc = fprintf(f, "%s\n", text) < 0 ? -1 : 0;
	free(text);
	return rc;
}

static int open_log(drb_compactor *cp)
{
	if (cp->log)
		fclose(cp->log);
	cp->log = fopen(cp->path, "ae");
	if (!cp->log)
		return drb_error_errno(0, errno, "%s", cp->path);
	return 0;
}

/* Rewrite the record without what is gone. */
static int save_record(drb_compactor *cp)
{
	char tmp[PATH_MAX + 8];
	size_t kept = 0;
	for (size_t i = 0; i < cp->n; i++) {
		if (cp->v[i].gone) {
			drb_segment_clear(&cp->v[i].s);
			continue;
		}
		cp->v[kept++] = cp->v[i];
	}
	cp->n = kept;
	snprintf(tmp, sizeof tmp, "%s.tmp", cp->path);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return drb_error_errno(0, errno, "%s", tmp);
	int rc = 0;
	for (size_t i = 0; i < cp->n && rc == 0; i++)
		rc = write_line(f, &cp->v[i]);
	if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	if (rc < 0 || rename(tmp, cp->path) < 0) {
		unlink(tmp);
		return drb_error_errno(0, errno, "writing %s", cp->path);
	}
	cp->dirty = false;
	return open_log(cp);
}

int drb_compact_open(const drb_config *c, drb_compactor **out)
{
	*out = NULL;
	if (!c->binlog.n_compact_levels)
		return 0;
	drb_compactor *cp = calloc(1, sizeof *cp);
	if (!cp)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	cp->c = c;
	snprintf(cp->path, sizeof cp->path, "%s/compact-record.jsonl", c->spool_dir);
	int rc = drb_spool_ready(c->spool_dir);
	if (rc == 0)
		rc = load_key(cp);
	if (rc == 0)
		rc = load_record(cp);
	if (rc == 0)
		rc = cp->dirty ? save_record(cp) : open_log(cp);
	if (rc < 0) {
		drb_compact_close(cp);
		return drb_error_wrap(0, "binlog compaction");
	}
	*out = cp;
	return 0;
}

void drb_compact_close(drb_compactor *cp)
{
	if (!cp)
		return;
	for (size_t i = 0; i < cp->n; i++)
		drb_segment_clear(&cp->v[i].s);
	free(cp->v);
	if (cp->log)
		fclose(cp->log);
	sodium_memzero(cp->key, sizeof cp->key);
	free(cp);
}

void drb_compact_hash_init(const drb_compactor *cp, crypto_generichash_state *st)
{
	crypto_generichash_init(st, cp->key, sizeof cp->key, DRB_COMPACT_HASH);
}

static int add_entry(drb_compactor *cp, const drb_segment *s, const uint8_t hash[], int64_t landed)
{
	entry e = {.landed = landed};
	memcpy(e.hash, hash, sizeof e.hash);
	int rc = drb_segment_copy(&e.s, s);
	if (rc < 0)
		return rc;
	if ((rc = push(cp, &e)) < 0) {
		drb_segment_clear(&e.s);
		return rc;
	}
	/* not synced: a line lost in a crash only leaves that segment as it is */
	if (!cp->log || write_line(cp->log, &cp->v[cp->n - 1]) < 0 || fflush(cp->log) != 0)
		return drb_error_errno(0, errno, "appending to %s", cp->path);
	return 0;
}

int drb_compact_note(drb_compactor *cp, const drb_segment *s, const uint8_t hash[DRB_COMPACT_HASH])
{
	if (!cp || s->end == s->start)
		return 0; /* an empty segment only closes a file: nothing to compact */
	return add_entry(cp, s, hash, 0);
}

/* ------------------------------------------------------------------ a pass */

static int by_key(const void *a, const void *b)
{
	const drb_segment *x = &((const entry *)a)->s, *y = &((const entry *)b)->s;
	int c = strcmp(x->generation, y->generation);
	if (!c)
		c = strcmp(x->file, y->file);
	if (c)
		return c;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1;
	return y->level - x->level;
}

typedef struct pass {
	drb_compactor *cp;
	const drb_compact_env *env;
	drb_compact_stats *st;
	int holds; /* -1 not looked yet, 0 none, 1 an active hold */
} pass;

static int collect_holds(void *ud, const char *path, const drb_obj_stat *st)
{
	(void)st;
	size_t n = strlen(path);
	if (n > 5 && strcmp(path + n - 5, ".json") == 0) {
		char ***v = ud;
		size_t k = 0;
		while ((*v)[k])
			k++;
		char **nv = realloc(*v, (k + 2) * sizeof *nv);
		if (!nv)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		nv[k] = strdup(path);
		nv[k + 1] = NULL;
		*v = nv;
	}
	return 0;
}

/* Is any practice under an active hold in any repository? A hold asks for everything of a
 * practice to stay as it is, and binlog segments hold every practice: then nothing is deleted.
 * A repository that cannot be read counts as holding one. */
static bool held(pass *p)
{
	if (p->holds >= 0)
		return p->holds == 1;
	p->holds = 0;
	char prefix[300];
	snprintf(prefix, sizeof prefix, "%s/holds/", p->cp->c->host_id);
	for (size_t i = 0; i < p->env->set->n && p->holds == 0; i++) {
		drb_repo *r = p->env->set->repos[i];
		char **v = calloc(1, sizeof *v);
		if (!v || drb_repo_list(r, prefix, true, collect_holds, &v) < 0) {
			drb_error_clear();
			p->holds = 1;
		}
		for (size_t k = 0; v && v[k]; k++) {
			char *text = NULL;
			size_t len = 0;
			if (p->holds == 0 && drb_repo_get_buf(r, v[k], 1 << 20, &text, &len) == 0) {
				json_t *j = json_loadb(text, drb_meta_body_len(text, len), 0, NULL);
				if (!j || !json_is_true(json_object_get(j, "released")))
					p->holds = 1;
				json_decref(j);
			} else if (p->holds == 0) {
				drb_error_clear();
				p->holds = 1;
			}
			free(text);
			free(v[k]);
		}
		free(v);
	}
	if (p->holds)
		drb_log_info("binlog compaction: a practice is under a legal hold (or the holds "
			     "cannot be read): small segments are kept");
	return p->holds == 1;
}

static bool present_everywhere(pass *p, const drb_segment *s)
{
	const char *host = p->cp->c->host_id;
	char *d = drb_segment_path(host, s, "drb"), *j = drb_segment_path(host, s, "json");
	bool all = d && j;
	for (size_t i = 0; i < p->env->set->n && all; i++) {
		drb_obj_stat st;
		if (drb_repo_stat(p->env->set->repos[i], d, &st) < 0 ||
		    drb_repo_stat(p->env->set->repos[i], j, &st) < 0)
			all = false;
		drb_error_clear();
	}
	free(d);
	free(j);
	return all;
}

/* Delete the small segments big replaces, in every repository: day catalogs that name them
 * first (rewritten with big in their place), then descriptions (the segment is no longer
 * planned from), then objects. Every step can be repeated: the next pass finishes a killed one. */
static int delete_smalls(pass *p, const entry *big, size_t *idx, size_t n)
{
	const char *host = p->cp->c->host_id;
	int rc = 0;
	if (drb_fault("compact-die-before-delete")) {
		drb_log_warn("fault injected: killed before deleting the segments %s replaces",
			     big->s.file);
		raise(SIGKILL);
	}
	for (size_t r = 0; r < p->env->set->n && rc == 0; r++) {
		drb_repo *repo = p->env->set->repos[r];
		char last[9] = "";
		for (size_t k = 0; k < n && rc == 0; k++) {
			char day[9];
			drb_day_name(p->cp->v[idx[k]].s.shipped, day);
			if (strcmp(day, last) == 0)
				continue;
			snprintf(last, sizeof last, "%s", day);
			char *cat = drb_path_day_catalog(host, big->s.generation, day);
			rc = cat ? drb_catalog_day_supersede(repo, host, cat, &big->s)
				 : drb_error(DRB_ERR_NOMEM, "out of memory");
			free(cat);
		}
		/* descriptions, then objects: each one batched request set (DeleteObjects takes
		 * a thousand keys), not a request a segment */
		char **paths = calloc(n ? n : 1, sizeof *paths);
		if (!paths)
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		for (int pass_ = 0; pass_ < 2 && rc == 0; pass_++) {
			for (size_t k = 0; k < n && rc == 0; k++) {
				free(paths[k]);
				paths[k] = drb_segment_path(host, &p->cp->v[idx[k]].s,
							    pass_ == 0 ? "json" : "drb");
				if (!paths[k])
					rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			}
			if (rc == 0)
				rc = drb_repo_remove(repo, (const char *const *)paths, n);
		}
		for (size_t k = 0; paths && k < n; k++)
			free(paths[k]);
		free(paths);
		if (rc < 0)
			drb_error_wrap(0, "repository %s", repo->name);
	}
	return rc;
}

/* Deletions whose compacted segment is in every repository and past the grace period. */
static int finish_deletions(pass *p)
{
	drb_compactor *cp = p->cp;
	size_t *idx = malloc((cp->n + 1) * sizeof *idx);
	if (!idx)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	int lock = -1;
	bool locked = false;
	for (size_t b = 0; b < cp->n && !drb_stop_requested(); b++) {
		entry *big = &cp->v[b];
		if (big->gone || big->s.level == 0)
			continue;
		size_t n = 0;
		for (size_t k = 0; k < cp->n; k++)
			if (!cp->v[k].gone && drb_segment_supersedes(&big->s, &cp->v[k].s))
				idx[n++] = k;
		if (n == 0) {
			/* the top level is never compacted again */
			if ((size_t)big->s.level >= cp->c->binlog.n_compact_levels) {
				big->gone = true;
				cp->dirty = true;
			}
			continue;
		}
		p->st->pending++;
		if (!big->landed) {
			if (!present_everywhere(p, &big->s))
				continue; /* heal copies it where it is missing */
			big->landed = p->env->now;
			cp->dirty = true;
		}
		if (p->env->now - big->landed < cp->c->binlog.compact_grace || held(p))
			continue;
		if (!locked) {
			/* expire deletes segments too: never both at once */
			int rc = drb_lock_take(cp->c->spool_dir, "expire", false, &lock);
			if (rc < 0) {
				drb_error_clear();
				break;
			}
			locked = true;
		}
		if (delete_smalls(p, big, idx, n) < 0) {
			drb_log_current_error("binlog compaction: deleting replaced segments (the "
					      "next pass tries again)");
			drb_error_clear();
			continue;
		}
		for (size_t k = 0; k < n; k++)
			cp->v[idx[k]].gone = true;
		p->st->replaced += n;
		p->st->pending--;
		cp->dirty = true;
		drb_log_debug("binlog compaction: %zu segments of %s replaced by level %d [%llu, %llu)",
			      n, big->s.file, big->s.level, (unsigned long long)big->s.start,
			      (unsigned long long)big->s.end);
	}
	if (locked)
		drb_lock_release(lock);
	free(idx);
	return 0;
}

/* Ship run[0..n) again as one segment of level from the local file, each small range checked
 * against its recorded hash. 0 with nothing shipped when the file is not theirs any more. */
static int compact_run(pass *p, int level, size_t *run, size_t n)
{
	drb_compactor *cp = p->cp;
	const drb_config *c = cp->c;
	entry *first = &cp->v[run[0]], *last = &cp->v[run[n - 1]];
	char fpath[PATH_MAX];
	drb_segment big = {0};
	drb_object_writer w;
	drb_object_info info;
	crypto_generichash_state part, whole;
	uint8_t *buf = NULL, sum[DRB_COMPACT_HASH], total[DRB_COMPACT_HASH];
	char *path = NULL;
	int rc = 0;
	bool open_w = false, mismatch = false;
	snprintf(fpath, sizeof fpath, "%s/%s", p->env->binlog_dir, first->s.file);
	int fd = open(fpath, O_RDONLY | O_CLOEXEC);
	struct stat fst;
	int64_t created = 0;
	uint8_t checksum = 0;
	if (fd < 0 || fstat(fd, &fst) < 0 || drb_binlog_file_info(fd, &created, &checksum) < 0 ||
	    created != first->s.file_created || (uint64_t)fst.st_size < last->s.end) {
		/* purged or replaced: its small segments stay as they are */
		drb_error_clear();
		drb_log_info("binlog compaction: %s is no longer the file its segments came from "
			     "(purged or replaced): they stay as shipped",
			     first->s.file);
		for (size_t k = 0; k < n; k++)
			cp->v[run[k]].gone = true;
		cp->dirty = true;
		goto out;
	}
	big.generation = first->s.generation;
	big.file = first->s.file;
	big.start = first->s.start;
	big.end = last->s.end;
	big.closed = last->s.closed;
	big.file_created = created;
	big.start_gtid = first->s.start_gtid;
	big.end_gtid = last->s.end_gtid;
	big.server_id = first->s.server_id;
	/* its content was shipped with the last small one: the same day catalog */
	big.shipped = last->s.shipped;
	big.complete_until = last->s.complete_until;
	big.level = level;
	big.compacted = p->env->now;
	for (size_t k = 0; k < n; k++) {
		const drb_segment *s = &cp->v[run[k]].s;
		if (!big.first_event && s->first_event)
			big.first_event = s->first_event;
		if (s->last_event)
			big.last_event = s->last_event;
		big.events += s->events;
	}
	path = drb_segment_path(c->host_id, &big, "drb");
	buf = malloc(READ_CHUNK);
	if (!path || !buf) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	uint64_t len = big.end - big.start;
	drb_object_params op = {.keys = p->env->keys,
				.kind = DRB1_KIND_BINLOG,
				.level = (int)c->compression.level,
				.threads = len > (8u << 20) ? (int)(c->compression.threads
									? c->compression.threads
									: drb_ncpu())
							    : 0,
				.size_hint = len / 3,
				.immutable = true};
	if ((rc = drb_object_create(p->env->set, path, &op, &w)) < 0)
		goto out;
	open_w = true;
	crypto_generichash_init(&whole, cp->key, sizeof cp->key, DRB_COMPACT_HASH);
	size_t k = 0;
	drb_compact_hash_init(cp, &part);
	for (uint64_t at = big.start; at < big.end && rc == 0;) {
		const drb_segment *s = &cp->v[run[k]].s;
		uint64_t stop = s->end < at + READ_CHUNK ? s->end : at + READ_CHUNK;
		ssize_t got = pread(fd, buf, (size_t)(stop - at), (off_t)at);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = got < 0 ? drb_error_errno(0, errno, "reading %s", fpath)
				     : drb_error(DRB_ERR_IO, "%s shrank while compacting", fpath);
			break;
		}
		crypto_generichash_update(&part, buf, (size_t)got);
		crypto_generichash_update(&whole, buf, (size_t)got);
		if ((rc = drb_object_write(&w, buf, (size_t)got)) < 0)
			break;
		at += (uint64_t)got;
		if (at == s->end) {
			crypto_generichash_final(&part, sum, sizeof sum);
			if (sodium_memcmp(sum, cp->v[run[k]].hash, sizeof sum) != 0) {
				drb_log_error("binlog compaction: %s [%llu, %llu) does not hold the "
					      "bytes shipped from it (the file was changed): its "
					      "segments stay as shipped",
					      first->s.file, (unsigned long long)s->start,
					      (unsigned long long)s->end);
				for (size_t q = 0; q < n; q++)
					cp->v[run[q]].gone = true;
				cp->dirty = true;
				mismatch = true;
				break;
			}
			k++;
			drb_compact_hash_init(cp, &part);
		}
	}
	if (rc < 0 || mismatch)
		goto out;
	crypto_generichash_final(&whole, total, sizeof total);
	if ((rc = drb_object_commit(&w, &info)) < 0) {
		open_w = false;
		goto out;
	}
	open_w = false;
	big.stored_bytes = info.stored_bytes;
	memcpy(big.sha256, info.sha256, 65);
	size_t described = 0;
	for (size_t i = 0; i < p->env->set->n; i++) {
		if (info.failed_mask & (1ull << i))
			continue;
		if (drb_segment_put(p->env->set->repos[i], c->host_id, &big) < 0) {
			drb_log_current_error("storing a compacted segment's description");
			drb_error_clear();
			info.failed_mask |= 1ull << i;
			continue;
		}
		described++;
	}
	if (!described) {
		rc = drb_error(DRB_ERR_FAILED, "compacted segment %s could not be stored anywhere",
			       path);
		goto out;
	}
	if (info.failed_mask) {
		drb_state_note_heal(c); /* heal copies it; the small ones stay until then */
		drb_log_warn("compacted segment %s missed a repository: the small segments stay until "
			     "it is healed",
			     path);
	}
	rc = add_entry(cp, &big, total, info.failed_mask ? 0 : p->env->now);
	p->st->compacted++;
	drb_log_debug("binlog compaction: %s [%llu, %llu) as one level-%d segment for %zu", big.file,
		      (unsigned long long)big.start, (unsigned long long)big.end, level, n);
out:
	if (rc < 0)
		for (size_t q = 0; q < n; q++)
			cp->v[run[q]].retry = true;
	if (open_w)
		drb_object_discard(&w);
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	return rc;
}

static bool same_run(const drb_segment *a, const drb_segment *b, int64_t span)
{
	return strcmp(a->generation, b->generation) == 0 && strcmp(a->file, b->file) == 0 &&
	       a->file_created == b->file_created && a->end == b->start &&
	       drb_segment_gtids_continue(a, b) && a->shipped / span == b->shipped / span;
}

/* Every window of level that is over: runs of two or more segments below it. */
static int compact_level(pass *p, int level)
{
	drb_compactor *cp = p->cp;
	int64_t span = cp->c->binlog.compact_levels[level - 1];
	size_t *top = malloc((cp->n + 1) * sizeof *top), nt = 0;
	int rc = 0;
	if (!top)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	/* what the chain holds: entries no other covers (sorted: a cover comes first) */
	size_t cover = SIZE_MAX;
	for (size_t k = 0; k < cp->n; k++) {
		entry *e = &cp->v[k];
		if (e->gone)
			continue;
		if (cover != SIZE_MAX && drb_segment_supersedes(&cp->v[cover].s, &e->s))
			continue;
		if (cover == SIZE_MAX || e->s.end > cp->v[cover].s.end ||
		    strcmp(e->s.file, cp->v[cover].s.file) != 0 ||
		    strcmp(e->s.generation, cp->v[cover].s.generation) != 0)
			cover = k;
		top[nt++] = k;
	}
	/* compact_run appends to the record: what it adds waits for the next level */
	/* a stop request ends the pass: what is left is due again next time */
	for (size_t i = 0; i < nt && rc == 0 && !drb_stop_requested();) {
		size_t j = i + 1;
		const drb_segment *a = &cp->v[top[i]].s;
		if (a->level >= level) {
			i++;
			continue;
		}
		while (j < nt && cp->v[top[j]].s.level < level &&
		       same_run(&cp->v[top[j - 1]].s, &cp->v[top[j]].s, span))
			j++;
		bool over = (a->shipped / span + 1) * span + SETTLE <= p->env->now;
		if (over && j - i >= 2)
			rc = compact_run(p, level, &top[i], j - i);
		i = j;
	}
	free(top);
	return rc;
}

int drb_compact_pass(drb_compactor *cp, const drb_compact_env *env, drb_compact_stats *st)
{
	pass p = {.cp = cp, .env = env, .st = st, .holds = -1};
	memset(st, 0, sizeof *st);
	if (!cp)
		return 0;
	for (size_t i = 0; i < cp->n; i++)
		cp->v[i].retry = false;
	if (cp->n)
		qsort(cp->v, cp->n, sizeof *cp->v, by_key);
	int rc = finish_deletions(&p);
	for (size_t level = 1; rc == 0 && level <= cp->c->binlog.n_compact_levels; level++) {
		rc = compact_level(&p, (int)level);
		if (cp->n)
			qsort(cp->v, cp->n, sizeof *cp->v, by_key);
	}
	/* what no window will take any more (a lone segment, a failure long past) leaves the
	 * record: its top-level window and one more are over */
	int64_t top = cp->c->binlog.compact_levels[cp->c->binlog.n_compact_levels - 1];
	for (size_t i = 0; i < cp->n; i++) {
		entry *e = &cp->v[i];
		if (e->gone || e->retry || e->s.shipped / top + 2 > (env->now - SETTLE) / top)
			continue;
		bool involved = false;
		for (size_t k = 0; k < cp->n && !involved; k++)
			involved = !cp->v[k].gone && (drb_segment_supersedes(&e->s, &cp->v[k].s) ||
						      drb_segment_supersedes(&cp->v[k].s, &e->s));
		if (!involved) {
			e->gone = true;
			cp->dirty = true;
		}
	}
	st->held = p.holds == 1;
	if (cp->dirty) {
		int s = save_record(cp);
		if (rc == 0)
			rc = s;
	}
	return rc;
}
