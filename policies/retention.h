/* The retention engine: pure. In: one host's catalog (full backups with their practices, binlog
 * generations and segments), the policy (a default and per-practice rules), the practices on
 * legal hold, and "now". Out: a plan of what to keep and why, and what to delete. No I/O, so
 * every rule is unit- and property-tested; `drbackup expire` applies the plan.
 *
 * Rules, per practice (a full backup holds one object per practice):
 *   - the newest full backup is always kept;
 *   - keep_min_days: nothing younger is deleted (a compliance floor);
 *   - pitr_days: every second of the last N days restores: the newest full at or before the
 *     window's start and every full after it, and the binlog from that full on;
 *   - keep_daily / weekly / monthly / yearly: the newest full of each of the N most recent UTC
 *     calendar periods that have one (periods, not "the last N days": a host that was off for two
 *     weeks keeps its older backups);
 *   - a hold keeps everything of the practice, and the binlog its backups need.
 * A full backup goes when no practice keeps it; a practice's object goes when that practice does
 * not keep it while another does. A segment goes when no practice needs it. */
#ifndef DRB_POLICIES_RETENTION_H
#define DRB_POLICIES_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/catalog.h"

typedef struct drb_policy {
	long keep_daily, keep_weekly, keep_monthly, keep_yearly;
	long pitr_days;
	long keep_min_days;
} drb_policy;

typedef struct drb_practice_policy {
	const char *practice;
	drb_policy policy;
	const char *rule; /* where it comes from, for the reasons ("practice peds_a") */
} drb_practice_policy;

typedef struct drb_ret_input {
	const drb_catalog *cat;
	drb_policy policy; /* the default */
	const drb_practice_policy *practices;
	size_t n_practices;
	const char *const *holds; /* practices on legal hold */
	size_t n_holds;
	int64_t now;
} drb_ret_input;

typedef enum drb_ret_kind {
	DRB_RET_FULL,     /* a whole full backup: its manifest and every object */
	DRB_RET_PRACTICE, /* one practice's object of a full backup that stays */
	DRB_RET_SEGMENT,  /* one binlog segment (object and description) */
} drb_ret_kind;

typedef struct drb_ret_item {
	drb_ret_kind kind;
	bool keep;
	const drb_manifest *full;  /* FULL, PRACTICE */
	const char *practice;      /* PRACTICE */
	const drb_segment *seg;    /* SEGMENT */
	uint64_t bytes;            /* stored bytes */
	char why[240];             /* the rule that keeps it, or why it goes */
	/* FULL, PRACTICE: a weekly, monthly or yearly keep whose period is over lasts at least
	 * until this time (the start of the period `keep_*` periods later): expire extends an
	 * Object Lock to it. 0: no such promotion. A FULL carries the latest of its practices'. */
	int64_t lock_until;
} drb_ret_item;

typedef struct drb_ret_plan {
	drb_ret_item *items; /* fulls oldest first (each followed by its practices), then segments */
	size_t n;
	size_t n_delete;
	uint64_t bytes_freed, bytes_kept;
} drb_ret_plan;

/* The plan. Refuses (DRB_ERR_REFUSED) when a backup is dated after now (a wrong clock would
 * make every real backup look old) and when the plan would delete every full backup. */
int drb_retention_plan(const drb_ret_input *in, drb_ret_plan *out);
void drb_retention_plan_free(drb_ret_plan *p);

/* The rules that apply to practice (the default unless one is configured for it). */
const drb_policy *drb_retention_policy_for(const drb_ret_input *in, const char *practice,
					   const char **rule);

#endif
