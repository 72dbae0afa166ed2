/* The audit trail: who restored, tested, exported, held or expired what, and when. One small
 * signed object per action at <host_id>/audit/<YYYYMMDD>/<timestamp>-<action>.json in every
 * repository (never rewritten), and a line in the system log. A failed action is recorded too. */
#ifndef DRB_COMMON_AUDIT_H
#define DRB_COMMON_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/repo.h"

/* A new record of action on host_id's backups, begun at started (UTC seconds): the caller adds
 * what it is about ("practices", "point_in_time", "target", ...) before drb_audit_finish. */
json_t *drb_audit_begin(const char *action, const char *host_id, int64_t started);

/* Add the outcome (rc, with the current error's line when rc < 0), the finishing time and who ran
 * it (host, OS user), then store it in every repository of set (set may be NULL: syslog only) and
 * log it. Never changes the current error; a record that cannot be stored is a warning. Takes
 * ownership of rec. Returns the number of repositories that missed the record. */
size_t drb_audit_finish(drb_repo_set *set, const drb_config *c, json_t *rec, int rc);

typedef struct drb_audit_filter {
	const char *host_id;
	const char *practice; /* NULL: every record */
	int64_t since;        /* 0: from the start */
} drb_audit_filter;

/* Every record of the filter's host in r, oldest first, that verifies (signed by a pinned key, or
 * unsigned when the set allows it); fn gets the record and its path, and may keep it (incref).
 * *untrusted counts records that failed their check (skipped, with a warning). */
int drb_audit_list(drb_repo *r, const drb_audit_filter *f,
                   int (*fn)(void *ud, const char *path, json_t *rec), void *ud, size_t *untrusted);

#endif
