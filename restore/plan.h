/* Restore planning, from catalogs alone (no secret key, no database): the newest full backup at
 * or before the target and the unbroken chain of binlog segments from its exact coordinate to
 * the target. A gap, a target past the end of coverage, or one before the first backup is a
 * refusal that says where the chain ends and what can be reached instead. */
#ifndef DRB_RESTORE_PLAN_H
#define DRB_RESTORE_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/catalog.h"

typedef enum drb_target_kind { DRB_TO_LATEST, DRB_TO_TIME, DRB_TO_GTID } drb_target_kind;

typedef struct drb_target {
	drb_target_kind kind;
	int64_t time;    /* DRB_TO_TIME: replay what happened before this (UTC seconds) */
	char gtid[256];  /* DRB_TO_GTID: replay up to and including this transaction */
} drb_target;

/* "latest", a GTID (0-1-42), or a time (UTC unless it carries an offset). */
int drb_target_parse(const char *s, drb_target *t);
void drb_target_describe(const drb_target *t, char *buf, size_t len);

/* A binlog file of the chain: its segments in order, from offset 0. */
typedef struct drb_plan_file {
	char *name;
	const drb_segment **segs;
	size_t n;
	uint64_t start_pos; /* --start-position for the first file, else 0 */
} drb_plan_file;

typedef struct drb_plan {
	const drb_manifest *full;
	const drb_generation *gen; /* NULL when no segment is replayed */
	drb_plan_file *files;
	size_t n_files;
	uint64_t bytes;         /* stored bytes to fetch */
	int64_t reached_time;   /* the last event that will be replayed, or the target time */
	int64_t covered_until;  /* the chain holds every commit before this (UTC seconds) */
	char reached_gtid[1024];
	bool stop_in_chain;     /* the target cuts the last file: pass a stop option */
	size_t n_runs;          /* summary entries in the chain (a summary catalog; see
	                         * drb_plan_make): drb_plan_from leaves them, for list */
	size_t segments;        /* stored segments the chain stands for */
} drb_plan;

/* Plan from one catalog. On DRB_ERR_GAP the plan's reached_time and reached_gtid still say
 * the last point that can be reached. With a catalog loaded as summaries, the day catalogs of
 * the summary entries in the chain are read again (at most once each) and the plan made anew,
 * so the plan holds only real segments (the catalog changes: that is why it is cast). */
int drb_plan_make(const drb_catalog *c, const drb_target *t, drb_plan *out);
/* The same from the newest usable full backup older than older_than (a backup id). */
int drb_plan_make_older(const drb_catalog *c, const drb_target *t, const char *older_than,
			drb_plan *out);
/* The same from a given full backup. */
int drb_plan_from(const drb_catalog *c, const drb_manifest *m, const drb_target *t, drb_plan *out);
void drb_plan_free(drb_plan *p);

#endif
