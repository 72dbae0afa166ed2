/* drbackup binlog [--follow]: ship the binary log as segments, each a byte range of one binlog
 * file ending at a transaction boundary, sealed and stored in every repository with a
 * description (GTID state before and after, first and last commit time).
 *
 * Files are read from the server's binlog folder, not through the replication protocol: the
 * bytes are exactly what the server wrote (so a file can be recognised again), no server thread
 * is taken, and a server that has crashed or stopped still has its last files shipped. The index
 * file says which files exist, so --follow keeps going while the server restarts. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sys/inotify.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/binlog_scan.h"
#include "agent/compact.h"
#include "agent/heal.h"
#include "agent/state.h"
#include "common/catalog.h"
#include "common/context.h"
#include "common/db.h"
#include "common/drb1.h"
#include "common/error.h"
#include "common/fault.h"
#include "common/fork.h"
#include "common/keys.h"
#include "common/layout.h"
#include "common/lock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/object.h"

#define READ_CHUNK (1u << 20)

typedef struct binfile {
	char name[256];
	char path[PATH_MAX];
	uint64_t size;
} binfile;

typedef struct shipper {
	drb_ctx *ctx;
	const drb_config *c;
	drb_repo_set *set;
	drb_keyring *keys;
	drb_ship_state st;
	drb_db *db; /* NULL while the server is away (--follow) */
	long server_id;
	char dir[PATH_MAX];
	binfile *files; /* from the index, oldest first; the last one is being written */
	size_t n;
	uint64_t segments, bytes;
	bool degraded;
	int gaps;
	bool follow;
	bool damaged;           /* the last pass refused a damaged range */
	char damage_seen[600];  /* ... which one: said once, not on every pass */
	bool damage_quiet;
	uint64_t torn_bytes;    /* left out as torn by a crash, this run */
	drb_compactor *cp;      /* compact_levels: what was shipped, for compaction; or NULL */
	drb_compact_stats cst;  /* the last compaction pass */
	uint64_t compacted, replaced;
	uint64_t today_mark; /* segments + compacted + replaced when today's catalog was written */
	uint64_t today_failed; /* repositories whose last try failed: left alone while degraded */
} shipper;

/* ------------------------------------------------------------------ the server's files */

static int read_index(shipper *s)
{
	FILE *f = fopen(s->st.index_path, "re");
	char line[PATH_MAX];
	if (!f)
		return drb_error_errno(0, errno, "binlog index %s", s->st.index_path);
	free(s->files);
	s->files = NULL;
	s->n = 0;
	size_t cap = 0;
	int rc = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (!line[0])
			continue;
		if (s->n == cap) {
			cap = cap ? cap * 2 : 64;
			binfile *v = realloc(s->files, cap * sizeof *v);
			if (!v) {
				rc = drb_error(DRB_ERR_NOMEM, "out of memory");
				break;
			}
			s->files = v;
		}
		binfile *b = &s->files[s->n++];
		const char *base = strrchr(line, '/') ? strrchr(line, '/') + 1 : line;
		if (snprintf(b->name, sizeof b->name, "%s", base) >= (int)sizeof b->name ||
		    snprintf(b->path, sizeof b->path, "%s/%s", s->dir, base) >= (int)sizeof b->path) {
			rc = drb_error(DRB_ERR_FORMAT, "%s: a file name is too long", s->st.index_path);
			break;
		}
		struct stat st;
		b->size = stat(b->path, &st) == 0 ? (uint64_t)st.st_size : 0;
	}
	fclose(f);
	return rc;
}

static long file_index(const shipper *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->files[i].name, name) == 0)
			return (long)i;
	return -1;
}

static long number(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot ? atol(dot + 1) : -1;
}

static int connect_server(shipper *s)
{
	drb_db_target t = drb_db_target_from_config(s->c);
	char v[PATH_MAX];
	int rc = drb_db_connect(&t, &s->db);
	if (rc < 0)
		return rc;
	if ((rc = drb_db_value(s->db, "SELECT @@log_bin", v, sizeof v)) < 0)
		return rc;
	if (strcmp(v, "1") != 0)
		return drb_error(DRB_ERR_CONFIG,
				 "the server's binary log is off: nothing can be shipped (see drbackup "
				 "check)");
	if ((rc = drb_db_value(s->db, "SELECT @@server_id", v, sizeof v)) < 0)
		return rc;
	s->server_id = atol(v);
	if (s->c->db.binlog_dir) {
		snprintf(s->dir, sizeof s->dir, "%s", s->c->db.binlog_dir);
	} else {
		if ((rc = drb_db_value(s->db, "SELECT @@log_bin_basename", v, sizeof v)) < 0)
			return rc;
		char *slash = strrchr(v, '/');
		if (slash)
			*slash = 0;
		if (snprintf(s->dir, sizeof s->dir, "%s", v) >= (int)sizeof s->dir)
			return drb_error(DRB_ERR_FORMAT, "the binlog folder's path is too long");
	}
	if ((rc = drb_db_value(s->db, "SELECT @@log_bin_index", v, sizeof v)) < 0)
		return rc;
	const char *base = strrchr(v, '/') ? strrchr(v, '/') + 1 : v;
	if (snprintf(s->st.index_path, sizeof s->st.index_path, "%s/%s", s->dir, base) >=
	    (int)sizeof s->st.index_path)
		return drb_error(DRB_ERR_FORMAT, "the binlog index path is too long");
	return 0;
}

/* ------------------------------------------------------------------ one segment */

/* until: when the range is known complete if the scan does not say (the next file's creation
 * for a file the server left without a rotate event, the read time for a cut of the active one). */
static int ship_range(shipper *s, const binfile *f, uint64_t from, uint64_t to, bool closed,
		      int64_t until)
{
	drb_binlog_scan scan;
	drb_object_writer w;
	drb_object_info info;
	drb_segment seg = {0};
	char *path = drb_path_segment(s->c->host_id, s->st.generation, f->name, from, "drb");
	uint8_t *buf = malloc(READ_CHUNK);
	int fd = open(f->path, O_RDONLY | O_CLOEXEC), rc = 0;
	if (!path || !buf) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (fd < 0) {
		rc = drb_error_errno(0, errno, "binlog %s", f->path);
		goto out;
	}
	int64_t created = 0;
	uint8_t checksum = 0;
	if ((rc = drb_binlog_file_info(fd, &created, &checksum)) < 0)
		goto out;
	drb_binlog_scan_init(&scan, from, from ? s->st.end_gtid : "");
	if (from)
		scan.checksum = checksum;
	drb_object_params p = {.keys = s->keys,
			       .kind = DRB1_KIND_BINLOG,
			       .level = (int)s->c->compression.level,
			       .threads = to - from > (8u << 20) ? (int)(s->c->compression.threads
									    ? s->c->compression.threads
									    : drb_ncpu())
								 : 0,
			       .size_hint = (to - from) / 3,
			       .immutable = true};
	crypto_generichash_state hs;
	uint8_t hash[DRB_COMPACT_HASH];
	if (s->cp)
		drb_compact_hash_init(s->cp, &hs);
	if ((rc = drb_object_create(s->set, path, &p, &w)) < 0)
		goto out;
	for (uint64_t at = from; at < to;) {
		size_t want = to - at < READ_CHUNK ? (size_t)(to - at) : READ_CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? drb_error_errno(0, errno, "reading %s", f->path)
				   : drb_error(DRB_ERR_IO, "%s shrank below %llu bytes while shipping",
					       f->path, (unsigned long long)to);
			break;
		}
		if ((rc = drb_binlog_scan_feed(&scan, buf, (size_t)n)) < 0 ||
		    (rc = drb_object_write(&w, buf, (size_t)n)) < 0)
			break;
		if (s->cp)
			crypto_generichash_update(&hs, buf, (size_t)n);
		at += (uint64_t)n;
	}
	if (rc < 0) {
		drb_error_wrap(0, "shipping %s", f->name);
		drb_object_discard(&w);
		goto out;
	}
	if (drb_fault("binlog-die-before-commit")) {
		drb_object_discard(&w);
		rc = drb_error(DRB_ERR_FAILED, "fault injected: killed before the commit of %s", path);
		goto out;
	}
	if ((rc = drb_object_commit(&w, &info)) < 0)
		goto out;
	seg.generation = s->st.generation;
	seg.file = (char *)f->name;
	seg.start = from;
	seg.end = to;
	seg.closed = closed || scan.closed;
	seg.stored_bytes = info.stored_bytes;
	memcpy(seg.sha256, info.sha256, 65);
	seg.first_event = scan.first_event;
	seg.last_event = scan.last_event;
	seg.start_gtid = scan.start_state;
	seg.end_gtid = scan.state;
	seg.server_id = s->server_id;
	seg.file_created = created;
	seg.events = scan.events;
	seg.shipped = drb_state_now();
	seg.complete_until = scan.closed_at ? scan.closed_at : until;
	if (seg.complete_until < seg.last_event)
		seg.complete_until = seg.last_event;
	/* the description makes the segment visible: only where its object landed */
	size_t described = 0;
	for (size_t i = 0; i < s->set->n; i++) {
		if (info.failed_mask & (1ull << i))
			continue;
		if (drb_segment_put(s->set->repos[i], s->c->host_id, &seg) < 0) {
			drb_log_current_error("storing a segment description");
			info.failed_mask |= 1ull << i;
			continue;
		}
		described++;
	}
	if (described == 0) {
		rc = drb_error(DRB_ERR_FAILED, "segment %s could not be stored in any repository", path);
		goto out;
	}
	if (info.failed_mask) {
		s->degraded = true;
		drb_state_note_heal(s->c);
		drb_log_warn("segment %s missed %zu repositor%s: %s", path, info.failed,
			     info.failed == 1 ? "y" : "ies", info.why);
	}
	/* its keyed hash, for a later compaction: kept in spool_dir only */
	if (s->cp) {
		crypto_generichash_final(&hs, hash, sizeof hash);
		if (drb_compact_note(s->cp, &seg, hash) < 0) {
			drb_log_current_error("recording a segment for compaction (it stays as cut)");
			drb_error_clear();
		}
	}
	/* advance only after the description landed */
	snprintf(s->st.file, sizeof s->st.file, "%s", f->name);
	s->st.end = to;
	s->st.closed = seg.closed;
	snprintf(s->st.end_gtid, sizeof s->st.end_gtid, "%s", scan.state);
	s->st.file_created = created;
	if (scan.last_event)
		s->st.last_event = scan.last_event;
	rc = drb_state_save(s->c, &s->st);
	s->segments++;
	s->bytes += info.stored_bytes;
	drb_log_debug("shipped %s [%llu, %llu) %s: %llu events, GTID %s", f->name,
		      (unsigned long long)from, (unsigned long long)to, seg.closed ? "closed" : "open",
		      (unsigned long long)scan.events, scan.state);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	return rc;
}

/* Read f from offset from to its end through the scanner: where its last complete transaction
 * ends, whether the file is closed, damage (DRB_ERR_FORMAT, scan stopped before it). */
static int scan_file(shipper *s, const binfile *f, uint64_t from, drb_binlog_scan *scan)
{
	uint8_t *buf = malloc(READ_CHUNK);
	int fd = open(f->path, O_RDONLY | O_CLOEXEC), rc = 0;
	drb_binlog_scan_init(scan, from, from ? s->st.end_gtid : "");
	if (!buf) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (fd < 0) {
		rc = drb_error_errno(0, errno, "binlog %s", f->path);
		goto out;
	}
	if (from) {
		int64_t created;
		if ((rc = drb_binlog_file_info(fd, &created, &scan->checksum)) < 0)
			goto out;
	}
	for (uint64_t at = from;;) {
		ssize_t n = pread(fd, buf, READ_CHUNK, (off_t)at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = drb_error_errno(0, errno, "reading %s", f->path);
			break;
		}
		if (n == 0 || (rc = drb_binlog_scan_feed(scan, buf, (size_t)n)) < 0)
			break;
		at += (uint64_t)n;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* A damaged event (bad CRC32, impossible size): what is whole before it still goes out, the
 * rest never does. One line says so (once per place in --follow), the metric stays up. */
static int refuse_damaged(shipper *s, const binfile *f, uint64_t from, const drb_binlog_scan *scan)
{
	char why[DRB_ERROR_LINE], seen[600];
	drb_error_line(why, sizeof why);
	drb_error_clear();
	int rc = 0;
	if (scan->safe_end > from && scan->events > 0)
		rc = ship_range(s, f, from, scan->safe_end, false, 0);
	s->damaged = true;
	snprintf(seen, sizeof seen, "%s@%llu", f->name, (unsigned long long)scan->safe_end);
	s->damage_quiet = strcmp(seen, s->damage_seen) == 0;
	snprintf(s->damage_seen, sizeof s->damage_seen, "%s", seen);
	if (rc < 0)
		return rc;
	return drb_error(DRB_ERR_FORMAT,
			 "REFUSED: %s is not shipped from offset %llu on (%s); restores cannot pass "
			 "this point: keep the file, take a full backup now ('drbackup full')",
			 f->name, (unsigned long long)scan->safe_end, why);
}

static int64_t file_created_at(const binfile *f)
{
	int64_t t = 0;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (drb_binlog_file_created(fd, &t) < 0)
			drb_error_clear();
		close(fd);
	}
	return t;
}

/* ------------------------------------------------------------------ where to start */

/* Is segment a (of generation ga) further along than b (of gb)? */
static bool further(const char *ga, const drb_segment *a, const char *gb, const drb_segment *b)
{
	int c = strcmp(ga, gb);
	if (c)
		return c > 0;
	long na = number(a->file), nb = number(b->file);
	if (na != nb)
		return na > nb;
	return a->end > b->end;
}

/* The furthest point any repository holds for this server: a lagging repository must not make
 * the agent ship again what another already has (overlapping segments read as a gap). */
static int rebuild_state(shipper *s)
{
	char prefix[32], gen[128] = "", from[64] = "";
	drb_segment best = {0};
	bool found = false;
	snprintf(prefix, sizeof prefix, "%ld-", s->server_id);
	for (size_t i = 0; i < s->set->n; i++) {
		drb_catalog *cat = NULL;
		if (drb_catalog_load(s->set->repos[i], s->c->host_id, &cat) < 0) {
			drb_error_clear();
			continue;
		}
		for (size_t g = 0; g < cat->n_gens; g++) {
			const drb_generation *gn = &cat->gens[g];
			if (strncmp(gn->name, prefix, strlen(prefix)) != 0 || !gn->n)
				continue;
			const drb_segment *last = &gn->segs[gn->n - 1];
			if (found && !further(gn->name, last, gen, &best))
				continue;
			drb_segment_clear(&best);
			if (drb_segment_copy(&best, last) < 0)
				break;
			snprintf(gen, sizeof gen, "%s", gn->name);
			snprintf(from, sizeof from, "%s", s->set->repos[i]->name);
			found = true;
		}
		drb_catalog_free(cat);
	}
	if (found) {
		snprintf(s->st.generation, sizeof s->st.generation, "%s", gen);
		snprintf(s->st.file, sizeof s->st.file, "%s", best.file);
		s->st.end = best.end;
		s->st.closed = best.closed;
		snprintf(s->st.end_gtid, sizeof s->st.end_gtid, "%s", best.end_gtid);
		s->st.file_created = best.file_created;
		s->st.last_event = best.last_event;
		s->st.server_id = s->server_id;
		drb_log_info("resuming binlog generation %s after %s:%llu (from repository %s)", gen,
			     best.file, (unsigned long long)best.end, from);
	}
	drb_segment_clear(&best);
	return 0;
}

static void new_generation(shipper *s, const char *why)
{
	char id[17];
	drb_time_id(time(NULL), id);
	char old[128];
	snprintf(old, sizeof old, "%s", s->st.generation);
	snprintf(s->st.generation, sizeof s->st.generation, "%ld-%s", s->server_id, id);
	s->st.server_id = s->server_id;
	s->st.file[0] = 0;
	s->st.end = 0;
	s->st.closed = false;
	s->st.end_gtid[0] = 0;
	s->st.file_created = 0;
	s->st.gaps = 0;
	s->st.compacted_day[0] = 0;
	if (old[0])
		drb_log_warn("starting binlog generation %s: %s (generation %s ends here; restores "
			     "into the new one start from a full backup taken after it)",
			     s->st.generation, why, old);
	else
		drb_log_info("starting binlog generation %s", s->st.generation);
}

/* A restore into this server left its marker: from its file on, a new generation. */
static void take_fork(shipper *s)
{
	char file[256];
	int64_t at = 0;
	int rc = drb_fork_read(s->c, file, sizeof file, &at);
	if (rc == DRB_ERR_NOT_FOUND)
		return;
	if (rc < 0) {
		drb_log_current_error("binlog");
		drb_error_clear();
		return;
	}
	snprintf(s->st.fork_file, sizeof s->st.fork_file, "%s", file);
	s->st.fork_at = at;
	if (drb_state_save(s->c, &s->st) == 0)
		drb_fork_taken(s->c);
	else
		drb_error_clear();
}

static void start_fork(shipper *s)
{
	char why[600], when[21];
	drb_time_iso(s->st.fork_at, when);
	snprintf(why, sizeof why,
		 "a restore into this server (%s) forked its history at %s; take a full backup "
		 "now, restores past the fork start from one",
		 when, s->st.fork_file);
	s->st.fork_file[0] = 0;
	new_generation(s, why);
}

/* The old history up to the fork file goes out in the old generation; from it, the new. */
static void fork_start(shipper *s, long *idx, uint64_t *off)
{
	if (!s->st.fork_file[0])
		return;
	long fi = file_index(s, s->st.fork_file);
	if (fi < 0) {
		if (number(s->st.fork_file) > number(s->files[s->n - 1].name))
			return; /* not written yet */
		fi = 0;         /* gone already: the new history is what the server holds */
	}
	if (*idx < fi)
		return; /* ship_pass switches when it reaches the fork file */
	start_fork(s);
	*idx = fi;
	*off = 0;
}

/* The server's GTID state behind what was shipped: restored or rebuilt under the same names. */
static bool gtid_went_back(shipper *s)
{
	char pos[1024];
	if (!s->db || !s->st.end_gtid[0])
		return false;
	if (drb_db_value(s->db, "SELECT @@gtid_binlog_pos", pos, sizeof pos) < 0) {
		drb_error_clear();
		return false;
	}
	return !drb_gtid_reached(pos, s->st.end_gtid);
}

static int resolve_from(shipper *s, long *idx, uint64_t *off);

/* Decide the first file to ship (*idx) and the offset in it (*off). */
static int resolve_start(shipper *s, long *idx, uint64_t *off)
{
	int rc = resolve_from(s, idx, off);
	if (rc == 0)
		fork_start(s, idx, off);
	return rc;
}

static int resolve_from(shipper *s, long *idx, uint64_t *off)
{
	*idx = 0;
	*off = 0;
	if (s->n == 0)
		return drb_error(DRB_ERR_FAILED, "the binlog index %s lists no file", s->st.index_path);
	if (!s->st.generation[0] || s->st.server_id != s->server_id) {
		s->st.generation[0] = 0;
		rebuild_state(s);
	}
	if (!s->st.generation[0]) {
		new_generation(s, "");
		return 0;
	}
	if (!s->st.file[0])
		return 0; /* a generation with nothing shipped yet */
	long i = file_index(s, s->st.file);
	if (i >= 0) {
		int64_t created = 0;
		int fd = open(s->files[i].path, O_RDONLY | O_CLOEXEC);
		int rc = fd < 0 ? drb_error_errno(0, errno, "%s", s->files[i].path)
				: drb_binlog_file_created(fd, &created);
		if (fd >= 0)
			close(fd);
		if (rc < 0)
			return rc;
		if (created != s->st.file_created || s->files[i].size < s->st.end) {
			char why[400];
			snprintf(why, sizeof why,
				 "%s on the server is not the file shipped under that name (the "
				 "binary log was reset or the server rebuilt)",
				 s->st.file);
			new_generation(s, why);
			return 0;
		}
		if (gtid_went_back(s)) {
			new_generation(s, "the server's GTID state is behind what was shipped (it was "
					  "restored or rebuilt)");
			return 0;
		}
		*idx = i;
		*off = s->st.end;
		/* a file left open and not written since (a crash) is closed by ship_pass */
		if (s->st.closed) {
			*idx = i + 1;
			*off = 0;
		}
		return 0;
	}
	long last = number(s->st.file), first = number(s->files[0].name);
	if (last >= 0 && first > last) {
		if (s->st.closed && first == last + 1)
			return 0; /* the server purged what we had shipped: nothing lost */
		char what[600];
		if (first == last + 1)
			snprintf(what, sizeof what, "the end of %s (from byte %llu)", s->st.file,
				 (unsigned long long)s->st.end);
		else
			snprintf(what, sizeof what, "%s%s up to the file before %s",
				 s->st.closed ? "the files after " : "the end of ", s->st.file,
				 s->files[0].name);
		drb_log_error("GAP: the server purged %s before it was shipped; point-in-time recovery "
			      "across it is impossible until the next full backup. Run 'drbackup "
			      "full' now, and keep binary logs longer (or set binlog { "
			      "purge_after_ship = true } and turn the server's expiry off)",
			      what);
		s->gaps++;
		s->st.gaps++;
		return 0; /* go on with what the server still has, in the same generation */
	}
	new_generation(s, "the binlog file numbers started again (RESET MASTER?)");
	return 0;
}

/* ------------------------------------------------------------------ a pass */

/* Ship every closed file from the start point, and in --follow the active file up to its last
 * complete transaction. A file the server no longer writes goes out up to its last complete
 * transaction and is closed there: a tail torn by a crash never committed and is not shipped. */
static int ship_pass(shipper *s, bool include_active, bool final)
{
	long idx;
	uint64_t off;
	s->damaged = false;
	take_fork(s);
	int rc = read_index(s);
	if (rc < 0 || (rc = resolve_start(s, &idx, &off)) < 0)
		return rc;
	for (long i = idx; i < (long)s->n && rc == 0 && (final || !drb_stop_requested()); i++) {
		binfile *f = &s->files[i];
		bool active = i == (long)s->n - 1;
		uint64_t from = i == idx ? off : 0;
		if (s->st.fork_file[0] && strcmp(f->name, s->st.fork_file) == 0) {
			start_fork(s);
			from = 0;
		}
		if (active && !include_active)
			break;
		/* a commit timed in the second before this read may still be on its way to the
		 * active file, so a cut of it is complete until the second before */
		int64_t read_at = time(NULL) - 1;
		drb_binlog_scan scan;
		rc = scan_file(s, f, from, &scan);
		if (rc == DRB_ERR_FORMAT) {
			rc = refuse_damaged(s, f, from, &scan);
			break; /* nothing after it: that would be a gap */
		}
		if (rc < 0)
			break;
		if (!active) {
			uint64_t torn = drb_binlog_scan_torn(&scan);
			if (torn) {
				drb_log_warn("%s ends with %llu bytes of a transaction that never "
					     "committed (the server stopped while writing it, from offset "
					     "%llu): not shipped",
					     f->name, (unsigned long long)torn,
					     (unsigned long long)scan.safe_end);
				s->torn_bytes += torn;
			}
			/* no commit reached this file after the next one began; an empty range
			 * only closes a file whose end was shipped while it was still open */
			rc = ship_range(s, f, from, scan.safe_end, true, file_created_at(&s->files[i + 1]));
			continue;
		}
		if (scan.safe_end > from && (scan.events > 0 || from == 0)) {
			/* a transaction may be half written: the segment stops before it, and a
			 * transaction being written past the cut may be timed before the read */
			rc = ship_range(s, f, from, scan.safe_end, scan.closed,
					scan.pos > scan.safe_end ? 0 : read_at);
		}
	}
	return rc;
}

/* Rotate when something was written since the last look, so the active file gets shipped. */
static int rotate_if_written(shipper *s)
{
	char pos[1024];
	int rc = drb_db_value(s->db, "SELECT @@gtid_binlog_pos", pos, sizeof pos);
	if (rc < 0)
		return rc;
	if (strcmp(pos, s->st.last_gtid_pos) == 0)
		return 0;
	if ((rc = drb_db_exec(s->db, "FLUSH BINARY LOGS")) < 0)
		return drb_error_wrap(0, "rotating the binary log (needs RELOAD)");
	snprintf(s->st.last_gtid_pos, sizeof s->st.last_gtid_pos, "%s", pos);
	return 0;
}

/* purge_after_ship: delete local files only once every repository holds them. */
static int purge(shipper *s)
{
	char sql[600];
	if (!s->c->binlog.purge_after_ship || s->degraded || drb_state_heal_pending(s->c) || !s->db)
		return 0;
	long keep = file_index(s, s->st.file);
	if (keep < 0)
		return 0;
	if (s->st.closed)
		keep++; /* the shipped file itself can go */
	if (keep <= 0 || keep >= (long)s->n)
		keep = keep >= (long)s->n ? (long)s->n - 1 : keep;
	if (keep <= 0)
		return 0;
	snprintf(sql, sizeof sql, "PURGE BINARY LOGS TO '%s'", s->files[keep].name);
	int rc = drb_db_exec(s->db, sql);
	if (rc == 0)
		drb_log_debug("purged binary logs before %s", s->files[keep].name);
	return rc;
}

/* Day catalogs for the days that are over, at most once a day; a repository that could not be
 * read is tried again on a later call. */
static void compact(shipper *s)
{
	char today[9];
	int64_t now = drb_state_now();
	bool all = true;
	drb_day_name(now, today);
	bool rebuild = drb_state_catalog_rebuild_due(s->c);
	if (strcmp(s->st.compacted_day, today) == 0 && !rebuild)
		return;
	for (size_t i = 0; i < s->set->n; i++) {
		drb_catalog *cat = NULL;
		if (drb_catalog_load(s->set->repos[i], s->c->host_id, &cat) == 0) {
			const drb_generation *g = drb_catalog_generation(cat, s->st.generation);
			if (g && drb_catalog_compact(s->set->repos[i], s->c->host_id, g, now) < 0) {
				drb_log_current_error("compacting the binlog catalog");
				all = false;
			}
		} else {
			all = false;
		}
		drb_error_clear();
		drb_catalog_free(cat);
	}
	if (!all)
		return;
	if (rebuild)
		drb_state_catalog_rebuilt(s->c);
	snprintf(s->st.compacted_day, sizeof s->st.compacted_day, "%s", today);
	if (drb_state_save(s->c, &s->st) < 0)
		drb_error_clear();
}

/* Compaction from the source: windows that are over go out again as one segment each, and the
 * small segments a compacted one replaces are deleted once it is everywhere. */
static void compact_segments(shipper *s)
{
	if (!s->cp || !s->dir[0])
		return;
	drb_compact_env env = {.set = s->set, .keys = s->keys, .binlog_dir = s->dir,
			       .now = drb_state_now()};
	if (drb_compact_pass(s->cp, &env, &s->cst) < 0) {
		drb_log_current_error("binlog compaction (the next pass tries again)");
		drb_error_clear();
	}
	s->compacted += s->cst.compacted;
	s->replaced += s->cst.replaced;
	if (s->cst.compacted || s->cst.replaced)
		drb_log_info("binlog compaction: %llu compacted segment%s stored, %llu small ones "
			     "deleted%s",
			     (unsigned long long)s->cst.compacted, s->cst.compacted == 1 ? "" : "s",
			     (unsigned long long)s->cst.replaced,
			     s->cst.pending ? " (more once every repository holds theirs)" : "");
}

/* The current day's catalog brought up to date in every repository, so a listing reads one
 * object for today instead of a description per segment: after something was shipped or
 * compacted, and only once the finished days' catalogs are written (compact). */
static void catalog_today(shipper *s)
{
	uint64_t mark = s->segments + s->compacted + s->replaced;
	char today[9];
	int64_t now = drb_state_now();
	drb_day_name(now, today);
	if (!s->st.generation[0] || mark == s->today_mark ||
	    strcmp(s->st.compacted_day, today) != 0)
		return;
	bool all = true;
	if (!s->degraded)
		s->today_failed = 0; /* every repository is back: try them all */
	for (size_t i = 0; i < s->set->n && i < 64; i++) {
		size_t added = 0;
		if (s->today_failed & (1ull << i)) {
			all = false; /* down: its turn comes once heal has brought it back */
			continue;
		}
		if (drb_catalog_write_today(s->set->repos[i], s->c->host_id, s->st.generation, now,
		                            &added) < 0) {
			char line[DRB_ERROR_LINE];
			drb_error_line(line, sizeof line);
			drb_log_debug("repository %s: today's catalog not written (%s)",
			              s->set->repos[i]->name, line);
			s->today_failed |= s->degraded ? 1ull << i : 0;
			all = false;
		} else if (added) {
			drb_log_debug("repository %s: today's catalog now names %zu more segment%s",
			              s->set->repos[i]->name, added, added == 1 ? "" : "s");
		}
		drb_error_clear();
	}
	if (all)
		s->today_mark = mark;
}

static void metrics(shipper *s, int64_t ms, bool ok)
{
	int64_t now = time(NULL);
	drb_metric m[] = {
		{"drbackup_binlog_last_event_timestamp_seconds", NULL,
		 "commit time of the newest shipped binlog event", (double)s->st.last_event},
		{"drbackup_binlog_rpo_seconds", NULL,
		 "seconds from the newest shipped event to the last run (the live RPO)",
		 s->st.last_event ? (double)(now - s->st.last_event) : 0},
		{"drbackup_binlog_gaps", NULL, "binlog gaps the last run found (purged before shipped)",
		 (double)s->gaps},
		{"drbackup_binlog_damaged", NULL,
		 "1 when the last pass refused a damaged binlog range (bad event checksum)",
		 s->damaged ? 1 : 0},
		{"drbackup_binlog_torn_bytes", NULL,
		 "bytes of uncommitted transactions cut by a crash, left out by this run",
		 (double)s->torn_bytes},
		{"drbackup_binlog_following", NULL, "1 when the last pass was made by binlog --follow",
		 s->follow ? 1 : 0},
		{"drbackup_binlog_compacted_segments", NULL,
		 "compacted segments this run stored (compact_levels)", (double)s->compacted},
		{"drbackup_binlog_replaced_segments", NULL,
		 "small segments this run deleted once a compacted one held their range everywhere",
		 (double)s->replaced},
		{"drbackup_binlog_compaction_pending", NULL,
		 "compacted segments whose small ones are not deleted yet (grace, hold, a "
		 "repository without its copy)",
		 (double)s->cst.pending},
		{"drbackup_binlog_pass_timestamp_seconds", NULL,
		 "when the last binlog pass ended, shipped or not (the follower's heartbeat)", (double)now},
		{"drbackup_degraded", "command=\"binlog\"",
		 "1 when the last run left a repository without its copy", s->degraded ? 1 : 0},
		{"drbackup_duration_seconds", "command=\"binlog\"", "how long the last run took",
		 ms / 1000.0},
		{"drbackup_bytes", "command=\"binlog\"", "bytes stored by the last run",
		 (double)s->bytes},
		/* only a run that shipped everything everywhere is a success */
		{"drbackup_last_success_timestamp_seconds", "command=\"binlog\"",
		 "when the command last succeeded in every repository", (double)now},
	};
	int n = (int)(sizeof m / sizeof *m);
	drb_metrics_update(s->c, m, ok && !s->degraded ? n : ok ? n - 1 : 11);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A repository that missed copies is healed inside the loop, retried with a growing pause while
 * it stays down. */
typedef struct schedule {
	int64_t next_heal, heal_wait; /* monotonic ms */
	int64_t next_compact;
	int64_t next_today; /* the current day's catalog (catalog_seconds) */
} schedule;

static void follow_heal(shipper *s, schedule *w, int64_t now, long period_ms)
{
	long base = period_ms < 1000 ? 1000 : period_ms > 60000 ? 60000 : period_ms;
	long cap = period_ms * 16 < 30000 ? 30000 : period_ms * 16 > 900000 ? 900000 : period_ms * 16;
	if (s->set->n < 2 || now < w->next_heal || !drb_state_heal_due(s->c, drb_state_now()))
		return;
	int rc = drb_heal(s->c, s->set);
	if (rc == 0) {
		if (s->degraded)
			drb_log_info("every repository holds every copy again");
		s->degraded = false;
		w->heal_wait = 0;
		return;
	}
	if (rc != DRB_ERR_DEGRADED)
		drb_log_current_error("heal");
	drb_error_clear();
	s->degraded = true;
	w->heal_wait = w->heal_wait ? (w->heal_wait * 2 > cap ? cap : w->heal_wait * 2) : base;
	w->next_heal = now + w->heal_wait;
	drb_log_debug("heal: next try in %lld s", (long long)(w->heal_wait / 1000));
}

/* What a timer run does after shipping, on the follower's own schedule. */
static void follow_upkeep(shipper *s, schedule *w, int64_t now, long period_ms, bool shipped_ok)
{
	follow_heal(s, w, now, period_ms);
	if (shipped_ok && s->db) {
		if (purge(s) < 0)
			drb_log_current_error("purging shipped binary logs");
		drb_error_clear();
	}
	if (now >= w->next_compact) {
		compact(s);
		w->next_compact = now + (period_ms > 30000 ? period_ms : 30000);
		char today[9];
		drb_day_name(drb_state_now(), today);
		if (strcmp(today, s->st.compacted_day) == 0)
			w->next_compact = now + period_ms; /* done for today: cheap to look again */
	}
	/* after the day catalogs: a day they already name gets its catalog rewritten */
	compact_segments(s);
	if (s->c->binlog.catalog_seconds > 0 && now >= w->next_today) {
		catalog_today(s);
		w->next_today = now + s->c->binlog.catalog_seconds * 1000;
	}
}

/* follow_delay_ms: the binlog folder watched with inotify (the active file, the index, new
 * files), the active file shipped that long after its last write (at most four times that
 * after the first unshipped one) rather than every segment_seconds. -1 where inotify cannot
 * be used: then it is polled every follow_delay_ms. */
static int watch_open(shipper *s)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) {
		drb_log_warn("inotify is not available (%s): polling the binary log every %ld ms",
			     strerror(errno), s->c->binlog.follow_delay_ms);
		return -1;
	}
	if (inotify_add_watch(fd, s->dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		drb_log_warn("cannot watch %s (%s): polling the binary log every %ld ms", s->dir,
			     strerror(errno), s->c->binlog.follow_delay_ms);
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait up to ms for a change in the folder; true when one came. */
static bool watch_wait(int fd, long ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, (int)ms) <= 0)
		return false;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;
	while (read(fd, buf, sizeof buf) > 0)
		any = true; /* which file does not matter: a pass reads only what is new */
	return any;
}

static int follow(shipper *s)
{
	int64_t last_ship = 0, last_upkeep = 0, dirty_since = 0, last_write = 0;
	long period_ms = s->c->binlog.segment_seconds * 1000;
	long poll_ms = period_ms / 4 < 1000 ? (period_ms / 4 > 100 ? period_ms / 4 : 100) : 1000;
	long delay = s->c->binlog.follow_delay_ms, cap = delay * 4;
	bool server_away = false;
	schedule w = {0};
	int wfd = delay > 0 ? watch_open(s) : -1;
	if (delay > 0)
		drb_log_info("following the binary log of server %ld: shipping %ld ms after a write "
			     "(%s)",
			     s->server_id, delay, wfd >= 0 ? "inotify" : "polled");
	else
		drb_log_info("following the binary log of server %ld, a segment every %ld s",
			     s->server_id, s->c->binlog.segment_seconds);
	while (!drb_stop_requested()) {
		int64_t now = now_ms();
		bool due = now - last_ship >= period_ms;
		if (delay > 0) {
			/* a change seen: ship once writes pause, or when the cap is reached; the
			 * period stays as a fallback in case an event was missed */
			bool quiet = dirty_since && now - last_write >= delay;
			bool capped = dirty_since && now - dirty_since >= cap;
			due = due || quiet || capped || wfd < 0;
		}
		if (wfd >= 0 && !due)
			goto wait; /* nothing to do before the next write or deadline */
		if (due)
			dirty_since = 0;
		/* rotated credentials are picked up between passes, never inside one */
		drb_repo_set_refresh(s->set);
		/* closed files always; the active one when its period is up */
		int rc = ship_pass(s, due, false);
		if (rc < 0) {
			if (!(s->damaged && s->damage_quiet))
				drb_log_current_error("binlog follow");
			drb_error_clear();
		}
		if (due)
			last_ship = now;
		if (due && now - last_upkeep >= (delay > 0 ? period_ms : 0)) {
			last_upkeep = now;
			follow_upkeep(s, &w, now, period_ms, rc == 0);
			metrics(s, 0, rc == 0);
		}
		/* the server's connection is only needed for its id; keep trying quietly */
		if (s->db && drb_db_exec(s->db, "DO 1") < 0) {
			drb_db_close(s->db);
			s->db = NULL;
			drb_error_clear();
		}
		if (!s->db) {
			drb_db_target t = drb_db_target_from_config(s->c);
			if (drb_db_connect(&t, &s->db) < 0) {
				s->db = NULL;
				if (!server_away)
					drb_log_warn("the server is unreachable; shipping what its files "
						     "hold until it is back");
				server_away = true;
				drb_error_clear();
			} else if (server_away) {
				drb_log_info("the server is back");
				server_away = false;
			}
		}
	wait:
		if (delay > 0 && wfd >= 0) {
			/* sleep until a write, or the next moment something is due */
			int64_t t = now_ms(), until = last_ship + period_ms;
			if (dirty_since) {
				int64_t a = last_write + delay, b = dirty_since + cap;
				until = a < b ? a : b;
			}
			long ms = until > t ? (long)(until - t) : 0;
			if (ms > 200)
				ms = 200; /* a stop request is seen within this */
			if (watch_wait(wfd, ms)) {
				last_write = now_ms();
				if (!dirty_since)
					dirty_since = last_write;
			}
			continue;
		}
		long sleep_ms = delay > 0 ? delay : poll_ms;
		for (long t = 0; t < sleep_ms && !drb_stop_requested(); t += 50)
			usleep((sleep_ms - t < 50 ? sleep_ms - t : 50) * 1000);
	}
	if (wfd >= 0)
		close(wfd);
	/* stopping: what is complete goes out before we leave */
	drb_log_info("stopping: shipping the last complete transactions");
	return ship_pass(s, true, true);
}

int drb_cmd_binlog(drb_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"follow", no_argument, NULL, 'f'}, {0, 0, 0, 0}};
	shipper s = {.ctx = ctx};
	int opt, rc, lock = -1;
	int64_t t0 = now_ms();
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt != 'f')
			return drb_error(DRB_ERR_USAGE, "unknown option '%s' (see 'drbackup binlog --help')",
					 argv[optind - 1]);
		s.follow = true;
	}
	if (optind < argc)
		return drb_error(DRB_ERR_USAGE, "unexpected argument '%s'", argv[optind]);
	drb_config *c;
	if ((rc = drb_ctx_config(ctx, &c)) < 0)
		return rc;
	s.c = c;
	rc = drb_lock_take(c->spool_dir, "binlog", false, &lock);
	if (rc == DRB_ERR_LOCKED && !s.follow) {
		/* a follower (or a slow run) is shipping: this cycle has nothing to add */
		char line[DRB_ERROR_LINE];
		drb_error_line(line, sizeof line);
		drb_log_info("%s", line);
		drb_error_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	if (drb_state_load(c, &s.st) < 0)
		drb_error_clear();
	if ((rc = drb_compact_open(c, &s.cp)) < 0)
		goto out;
	if ((rc = drb_keyring_load(c, 0, &s.keys)) < 0 ||
	    (rc = drb_repo_set_open(c, ctx->repo_name, &s.set)) < 0)
		goto out;
	/* its own history, read back to resume and compact: entries from before signing count, a
	 * failing signature does not */
	drb_repo_set_allow_unsigned(s.set, true);
	if ((rc = drb_heal(c, s.set)) < 0 && rc != DRB_ERR_DEGRADED)
		goto out;
	if (rc == DRB_ERR_DEGRADED)
		s.degraded = true;
	drb_error_clear();
	if ((rc = connect_server(&s)) < 0)
		goto out;
	if (s.follow) {
		rc = follow(&s);
	} else {
		if ((rc = rotate_if_written(&s)) == 0)
			rc = ship_pass(&s, false, false);
	}
	if (rc == 0 && (rc = drb_state_save(c, &s.st)) == 0) {
		if (purge(&s) < 0)
			drb_log_current_error("purging shipped binary logs");
		drb_error_clear();
		compact(&s);
		compact_segments(&s);
		if (c->binlog.catalog_seconds > 0)
			catalog_today(&s);
	}
	metrics(&s, now_ms() - t0, rc == 0 && s.gaps == 0);
	if (rc < 0)
		goto out;
	if (ctx->json) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:s, s:s, s:I, s:i, s:b}", "generation",
				      s.st.generation, "segments", (json_int_t)s.segments, "bytes",
				      (json_int_t)s.bytes, "file", s.st.file, "gtid", s.st.end_gtid,
				      "last_event", (json_int_t)s.st.last_event, "gaps", s.gaps,
				      "degraded", s.degraded);
		json_dumpf(j, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	} else if (s.segments) {
		drb_log_info("shipped %llu segment%s (%.1f MB) up to %s:%llu, GTID %s",
			     (unsigned long long)s.segments, s.segments == 1 ? "" : "s", s.bytes / 1e6,
			     s.st.file, (unsigned long long)s.st.end, s.st.end_gtid);
	} else {
		drb_log_info("nothing new to ship (up to %s:%llu)", s.st.file[0] ? s.st.file : "-",
			     (unsigned long long)s.st.end);
	}
	if (s.gaps)
		rc = drb_error(DRB_ERR_GAP, "this run found a binlog gap (see above): restores cannot "
					    "cross it; take a full backup now");
	else if (s.degraded)
		rc = drb_error(DRB_ERR_DEGRADED,
			       "a repository missed a copy; the next run copies it");
out:
	drb_db_close(s.db);
	free(s.files);
	drb_repo_set_close(s.set);
	drb_keyring_free(s.keys);
	drb_compact_close(s.cp);
	drb_lock_release(lock);
	return rc;
}
