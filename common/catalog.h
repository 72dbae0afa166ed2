/* The catalog: what is in a repository for one host, read from metadata that needs no secret key
 * (manifests of full backups, binlog segment descriptions, day catalogs, restore-test reports).
 * Planning (list, restore, expire) works from this alone. Metadata is canonical JSON: sorted
 * keys, integers only (times are UTC seconds or ISO 8601 strings), so it can be signed later. */
#ifndef DRB_CATALOG_H
#define DRB_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/layout.h"
#include "common/repo.h"

#define DRB_META_FORMAT 1
#define DRB_META_MAX (64u << 20) /* the largest metadata object read into memory */

typedef struct drb_table_rows {
	char *name;
	uint64_t rows;
} drb_table_rows;

typedef struct drb_db_entry {
	char *name;
	char *object; /* file name inside the backup folder */
	uint64_t plain_bytes, stored_bytes;
	char sha256[65];
	drb_table_rows *tables;
	size_t n_tables;
	uint64_t rows;
	int64_t millis; /* time to dump and store */
	bool expired;   /* retention deleted this practice's object (a tombstone says so) */
	char *expired_why;
} drb_db_entry;

typedef struct drb_manifest {
	char *host_id;
	char *backup_id; /* YYYYMMDDTHHMMSSZ, the start */
	int64_t started, finished, snapshot_time;
	char *server_version;
	long server_id;
	char *binlog_file;
	uint64_t binlog_pos;
	char *gtid;       /* gtid_binlog_pos of the snapshot, "" when none */
	char *generation; /* binlog generation the chain continues in, "" when unknown */
	int64_t binlog_file_created; /* first event time of binlog_file: tells reused names apart */
	int jobs;
	uint64_t block_micros;
	drb_db_entry *dbs;
	size_t n_dbs;
	char **key_ids;
	size_t n_key_ids;
} drb_manifest;

typedef struct drb_generation drb_generation;

typedef struct drb_segment {
	char *generation;
	char *file;          /* binlog file name */
	uint64_t start, end; /* byte range of the file [start, end) */
	bool closed;         /* the last event closes the file (rotate or stop) */
	uint64_t stored_bytes;
	char sha256[65];
	int64_t first_event, last_event; /* UTC seconds; 0 when the range holds no event */
	char *start_gtid, *end_gtid;     /* GTID state before the first and after the last event */
	long server_id;
	int64_t file_created; /* timestamp of the file's first event: tells reused names apart */
	uint64_t events;
	int64_t shipped; /* when it was stored: its day catalog is the UTC day of this */
	/* UTC seconds up to which this range is known to hold every transaction of its history:
	 * the rotation for a closed file, the moment the agent read the file for a cut of the
	 * active one. 0 in descriptions written before it was recorded (then: last_event). */
	int64_t complete_until;
	/* 0: a segment as cut; 1, 2, ...: a compaction level, one segment for the byte range a run
	 * of smaller ones covered exactly (JSON "level", absent = 0) */
	int level;
	int64_t compacted; /* level >= 1: when it was stored ("shipped" is its last small one's,
			    * so it belongs to their day catalog) */
	/* A summary entry (a catalog loaded with DRB_CATALOG_SUMMARY): run > 0 stands for that many
	 * consecutive segments of one day catalog that continue each other, from this entry's
	 * file/start/start_gtid/first_event to end_file/end/end_gtid/last_event/complete_until;
	 * stored_bytes and events are their sums, sha256 is empty. Planning walks it as one
	 * segment; a restore reads its day catalog again (drb_catalog_expand) before fetching.
	 * run == 0: a real segment, end_file NULL. */
	size_t run;
	char *end_file;
	int day; /* the day summary (drb_generation.days) it came from, -1: a description */
} drb_segment;

/* The key of segment s with extension ext ("drb", "json") under host. */
char *drb_segment_path(const char *host, const drb_segment *s, const char *ext);
/* Does big supersede small: the same generation, file and file creation, small's non-empty
 * range inside big's, and big of a higher level or a longer range. */
bool drb_segment_supersedes(const drb_segment *big, const drb_segment *small);
/* Drop from g (sorted by key) every segment a larger one supersedes, so what is planned from
 * is a chain without overlaps while a compaction has stored the large one and not yet deleted
 * the small ones. g->compacted is kept in step. Returns how many were dropped. */
size_t drb_generation_drop_superseded(drb_generation *g);

/* The last second a restore can reach through segment s (every commit before it is in s or
 * earlier): its complete_until, never before its last event. */
int64_t drb_segment_covered_until(const drb_segment *s);
/* The binlog file number of a name like mysql-bin.000012 (-1 when it has none). */
long drb_binlog_number(const char *name);
/* Does b continue a without a hole: the next byte range of the same file, or the start of the
 * next file after a closed one, and (where both are recorded) the GTID state where a ends is
 * the state where b begins. */
bool drb_segment_continues(const drb_segment *a, const drb_segment *b);
/* The GTID half of that alone. */
bool drb_segment_gtids_continue(const drb_segment *a, const drb_segment *b);

/* The binlog file name where s ends (a summary entry can span files). */
const char *drb_segment_end_file(const drb_segment *s);
/* How many stored segments s stands for (1, or a summary's run). */
size_t drb_segment_count(const drb_segment *s);

#define DRB_LEVELS                                                                                 \
	4 /* levels counted apart in the request budget; higher ones count as the last             \
	   */

/* What one day catalog held, after dropping the segments a larger one supersedes. */
typedef struct drb_day_summary {
	char day[9]; /* YYYYMMDD */
	char *path;  /* the day catalog's key */
	uint64_t segments, bytes, events;
	uint64_t level_objects[DRB_LEVELS], level_bytes[DRB_LEVELS];
	int64_t first_event, last_event, covered_until;
	size_t gaps;    /* breaks between consecutive segments inside the day */
	size_t dropped; /* superseded by a larger segment (of this day or a later one) */
	bool expanded;  /* its segments are real entries again (drb_catalog_expand) */
} drb_day_summary;

struct drb_generation {
	char *name;
	drb_segment *segs; /* in binlog order */
	size_t n, cap;
	size_t compacted;      /* segs[0..compacted) came from day catalogs */
	char *last_day;        /* the newest day catalog, YYYYMMDD, or NULL */
	bool last_open;        /* ... written open: its day was still growing (JSON "open") */
	int64_t last_writes;   /* how often that open catalog was written (JSON "writes") */
	drb_day_summary *days; /* DRB_CATALOG_SUMMARY: one per day catalog, oldest first */
	size_t n_days;
};

/* Objects and bytes of one repository for a host, per compaction level, and what the last 24
 * hours cost in PUT requests: the budget a short segment_seconds spends. */
typedef struct drb_budget {
	uint64_t level_objects[DRB_LEVELS], level_bytes[DRB_LEVELS]; /* binlog segments (.drb) */
	uint64_t descriptions; /* segment descriptions (.json), one per segment */
	uint64_t day_catalogs;
	uint64_t full_objects, full_bytes;
	uint64_t segments_last_day; /* segments shipped in the 24 hours before the load */
	uint64_t puts_last_day;     /* their PUTs: object and description each, and day catalogs */
} drb_budget;

typedef struct drb_restore_test {
	char *name; /* the report's object name */
	bool ok;
	int64_t finished;
	char *backup_id;
	int64_t rto_seconds;
	int64_t reached; /* the point in time restored to */
	char *reached_gtid;
	char *error;
	bool pitr_tested, pitr_ok; /* the point-in-time restore inside the newest segment */
	int64_t pitr_target;
	char *pitr_segment;
} drb_restore_test;

/* Metadata that was not used: unsigned (without --allow-unsigned), or its signature failed. */
typedef struct drb_untrusted {
	char *path;
	char *why;
	bool unsigned_only; /* no signature at all (an older backup); --allow-unsigned takes it */
} drb_untrusted;

/* A legal hold on everything of one practice. */
typedef struct drb_hold {
	char *practice;
	char *reason;
	char *by; /* user@host that placed it */
	int64_t since;
	bool released;
	int64_t released_at;
} drb_hold;

/* What expire deleted, kept so a repository that was down is completed and heal never brings
 * it back: a whole full backup or some of its practices, or a generation's segments before a
 * key. */
typedef struct drb_tombstone {
	char *backup_id;    /* a full backup, or NULL */
	bool whole;
	char **practices;   /* practices of that backup deleted */
	char **whys;
	size_t n_practices;
	char *generation;   /* a binlog tombstone, or NULL */
	char *before;       /* segment descriptions whose key sorts before this are deleted */
} drb_tombstone;

typedef struct drb_catalog {
	char *host_id;
	drb_manifest **fulls; /* complete backups, oldest first */
	size_t n_fulls;
	char **incomplete; /* backup ids with objects but no manifest */
	size_t n_incomplete;
	drb_generation *gens; /* oldest first */
	size_t n_gens;
	drb_restore_test *last_test; /* NULL when none */
	size_t n_day_catalogs;      /* compacted days read */
	size_t n_segment_reads;     /* segment descriptions read one by one */
	drb_hold *holds;            /* active and released */
	size_t n_holds;
	drb_tombstone *tombstones;
	size_t n_tombstones;
	drb_untrusted *untrusted;   /* ignored for planning, shown by list */
	size_t n_untrusted;
	size_t n_unsigned;          /* used without a signature (--allow-unsigned) */
	bool summary;               /* loaded with DRB_CATALOG_SUMMARY */
	drb_repo *repo;             /* where it was loaded from (for drb_catalog_expand) */
	size_t n_day_expands;       /* day catalogs read again to expand summaries */
	drb_budget budget;
	int64_t loaded_at;
} drb_catalog;

/* ---- names ---- */
/* Format t (UTC seconds) as YYYYMMDDTHHMMSSZ / ISO 8601; parse both back. */
void drb_time_id(int64_t t, char out[17]);
void drb_time_iso(int64_t t, char out[21]);
int drb_time_parse(const char *s, int64_t *t);
/* ---- JSON ---- */
int drb_manifest_to_json(const drb_manifest *m, char **text);
int drb_manifest_from_json(const char *text, size_t len, const char *what, drb_manifest **out);
void drb_manifest_free(drb_manifest *m);
drb_manifest *drb_manifest_copy(const drb_manifest *m);
const drb_db_entry *drb_manifest_db(const drb_manifest *m, const char *name);

int drb_segment_to_json(const drb_segment *s, char **text);
int drb_segment_from_json(const char *text, size_t len, const char *what, drb_segment *out);
void drb_segment_clear(drb_segment *s);
int drb_segment_copy(drb_segment *dst, const drb_segment *src);

int drb_restore_test_from_json(const char *text, size_t len, drb_restore_test *out);
void drb_restore_test_clear(drb_restore_test *t);

/* ---- reading a host's catalog from one repository ---- */
/* Every segment of every generation materialized (expire, the agent). */
int drb_catalog_load(drb_repo *r, const char *host_id, drb_catalog **out);
/* flags for drb_catalog_load_opts */
#define DRB_CATALOG_SUMMARY                                                                        \
	1 /* day catalogs read one at a time and summarised: memory grows                          \
	   * with the number of days, not of segments */
int drb_catalog_load_opts(drb_repo *r, const char *host_id, int flags, drb_catalog **out);
/* Replace the summary entries of the day catalogs days[0..n) (indexes into g->days) of
 * generation g by their segments, each day read again from c->repo once. Pointers into
 * g->segs are invalid afterwards. */
int drb_catalog_expand(drb_catalog *c, drb_generation *g, const int *days, size_t n);
void drb_catalog_free(drb_catalog *c);
const drb_generation *drb_catalog_generation(const drb_catalog *c, const char *name);
/* The newest complete full backup taken at or before t (INT64_MAX: the newest). */
const drb_manifest *drb_catalog_full_before(const drb_catalog *c, int64_t t);

/* Store a metadata object (JSON text) at path: a newline and, when the repository's host has a
 * signing key, its signature line follow. */
int drb_meta_put(drb_repo *r, const char *path, const char *kind, const char *json);

/* Holds and tombstones as JSON, for hold and expire. */
int drb_hold_to_json(const drb_hold *h, char **text);
int drb_tombstone_to_json(const drb_tombstone *t, char **text);
void drb_tombstone_clear(drb_tombstone *t);
int drb_tombstone_from_json(const char *text, size_t len, const char *what, drb_tombstone *t);
/* Does t say that path (a key of the repository) was deleted? */
bool drb_tombstone_covers(const drb_tombstone *t, const char *path);
/* Is practice under an active hold in c? */
bool drb_catalog_on_hold(const drb_catalog *c, const char *practice);

/* Store a manifest or segment description in one repository. */
int drb_manifest_put(drb_repo *r, const drb_manifest *m);
int drb_segment_put(drb_repo *r, const char *host, const drb_segment *s);

/* ---- day catalogs: a day's segment descriptions in one object ---- */
/* Write catalog/<gen>/<day>.json, closed, for every finished UTC day of gen with segments no
 * day catalog names yet and for the newest catalog's day when it was written open and has
 * ended: each day whole, with every segment of g shipped that day. */
int drb_catalog_compact(drb_repo *r, const char *host_id, const drb_generation *g, int64_t now);
/* Bring the current UTC day's catalog of generation gen in r up to date, written open ("open":
 * true, "writes": how often today): what it named plus the descriptions stored since its last
 * key, so a listing reads one object for the day and only what came after it. Nothing is
 * written when nothing was added, nor while an earlier day's descriptions are not in a day
 * catalog yet (drb_catalog_compact first). *added (may be NULL): the segments it added. */
int drb_catalog_write_today(drb_repo *r, const char *host, const char *gen, int64_t now,
                            size_t *added);
/* The most segments the current day's catalog is rewritten with (about 1 MB of JSON a write);
 * a day with more (1-second segments without compaction) is read from its descriptions. */
#define DRB_TODAY_MAX 2048
/* The "last" key of the day catalog at path (read from r): the reader lists descriptions after
 * the newest catalog's. */
int drb_catalog_day_last(drb_repo *r, const char *path, char *out, size_t len);
/* Rewrite the day catalog at path (if r holds it) with every entry that big supersedes
 * replaced by big, in place: a compaction whose small segments a finished day already named.
 * 0 when r has no such catalog or it names none of them. */
int drb_catalog_day_supersede(drb_repo *r, const char *host, const char *path,
			      const drb_segment *big);
/* Write the day catalog of segs[from, to) of g (one UTC day of them, by shipped time). */
int drb_catalog_write_day(drb_repo *r, const char *host, const drb_generation *g, size_t from,
			  size_t to);

/* ---- GTID states ("0-1-25,1-2-7": one domain-server-seq per domain) ---- */
/* True when state a has reached b in every domain of b. */
bool drb_gtid_reached(const char *a, const char *b);
/* True when a and b hold the same position in every domain. */
bool drb_gtid_equal(const char *a, const char *b);
/* True when state a has gone past b in none of b's domains (a may lack some of them). */
bool drb_gtid_not_past(const char *a, const char *b);
/* Apply one GTID (domain-server-seq) to a state; the result is sorted by domain. */
int drb_gtid_apply(char *state, size_t len, uint32_t domain, uint32_t server, uint64_t seq);

#endif
