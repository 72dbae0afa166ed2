/* What the views of `drbackup list` share: one host's catalog from every repository, the
 * recoverable windows of a catalog, and the options. list.c shows one host, fleet.c every host
 * at a glance, timeline.c the recoverable window of the last days as a bar per repository. */
#ifndef DRB_RESTORE_LIST_H
#define DRB_RESTORE_LIST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/catalog.h"
#include "common/conf.h"
#include "common/context.h"
#include "common/repo.h"

#define DRB_LIST_MAX_WINDOWS 64

typedef struct drb_window {
	int64_t from, to;
	char to_gtid[1024];
} drb_window;

typedef struct drb_list_opts {
	const char *host; /* --host, else the configuration's host_id */
	const char *db;   /* --db: only full backups that hold this database count */
	int64_t now;
	int64_t since; /* the timeline's start: --since, else now - --days */
	int width;     /* the timeline's columns */
	bool color;
	long max_full_age_hours, max_rpo_seconds, max_restore_test_age_days; /* 0: not checked */
} drb_list_opts;

/* From each full backup (holding db, when set), how far its chain reaches; overlapping reaches
 * merge into windows, oldest first. */
size_t drb_list_windows(const drb_catalog *c, const char *db, drb_window *w, size_t max);
/* Load host's catalog from every repository of set into cats[set->n] (NULL where it cannot be
 * read); returns how many could be read. */
size_t drb_list_load(drb_repo_set *set, const char *host, drb_catalog **cats);
void drb_list_free(drb_catalog **cats, size_t n);
/* The newest point any segment of c is known to cover (0: none). */
int64_t drb_list_shipped_until(const drb_catalog *c);
/* The request budget of c (objects and bytes per level, PUTs of the last 24 hours) as JSON. */
json_t *drb_list_budget(const drb_catalog *c);
/* t as an ISO 8601 JSON string, null when t is 0. */
json_t *drb_list_iso(int64_t t);

int drb_list_fleet(drb_ctx *ctx, const drb_config *c, drb_repo_set *set, const drb_list_opts *o);
int drb_list_timeline(drb_ctx *ctx, const drb_config *c, drb_repo_set *set, const drb_list_opts *o);

#endif
