/* Restoring: fetch and check every object first (nothing touches the target until all of them
 * open), then load the dumps several at once, each through its own client session, then replay
 * the binlog chain once, in one session, with UTC pinned. Shared by restore and restore-test. */
#ifndef DRB_RESTORE_APPLY_H
#define DRB_RESTORE_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/catalog.h"
#include "common/db.h"
#include "common/keys.h"
#include "common/repo.h"
#include "restore/plan.h"

typedef struct drb_restore_opts {
	const drb_config *cfg;
	drb_repo_set *set;
	const drb_keyring *keys; /* with secret keys */
	const char *host_id;
	drb_target target;
	const char *const *dbs; /* NULL: every database of the backup */
	size_t n_dbs;
	int jobs;
	drb_db_target dest;
	bool force;
	bool dry_run;
	const char *spool; /* where ciphertext waits while it is checked */
	/* called once every object is fetched and checked, before the target is touched, with the
	 * SQL bytes about to be loaded: it may set up the target (restore-test's scratch server) */
	int (*prepare_target)(void *ud, uint64_t plain_bytes, drb_db_target *dest);
	/* called after the dumps are loaded and before the replay (restore-test counts rows) */
	int (*after_load)(void *ud, const drb_manifest *m);
	void *ud;
} drb_restore_opts;

typedef struct drb_restore_db {
	char *name;
	uint64_t plain_bytes, stored_bytes;
	int64_t millis;
} drb_restore_db;

typedef struct drb_restore_result {
	char backup_id[32];
	char repo[64];       /* the repository the plan came from */
	drb_restore_db *dbs;
	size_t n_dbs;
	size_t n_segments, n_files;
	char first_file[256], last_file[256];
	uint64_t bytes; /* stored bytes fetched */
	int64_t reached_time;
	char reached_gtid[1024];
	char replayed_gtid[1024]; /* the GTIDs the replay actually carried, per domain */
	int64_t millis_fetch, millis_load, millis_replay, millis_total;
	drb_manifest *manifest; /* a copy of the chosen backup's manifest */
	struct {
		int64_t time; /* a point inside the newest segment that spans seconds; 0: none */
		char segment[300];
		char start_gtid[1024], end_gtid[1024];
	} probe;
} drb_restore_result;

int drb_restore_run(const drb_restore_opts *o, drb_restore_result *r);
/* Loads wait on the server's log writes as much as on its cores: two sessions per core keep
 * them busy (8 practices on 2 cores: 8.7 s with 2 sessions, 7.8 s with 3, 7.7 s with 4). */
int drb_restore_default_jobs(void);
void drb_restore_result_free(drb_restore_result *r);

#endif
