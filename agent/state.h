/* The agent's own state in spool_dir: the binlog generation being shipped and how far, and
 * whether a repository missed a copy. A cache only: the repositories are the truth, and a lost
 * spool_dir is rebuilt from them. */
#ifndef DRB_AGENT_STATE_H
#define DRB_AGENT_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/conf.h"

typedef struct drb_ship_state {
	char generation[128];
	long server_id;
	char file[256];        /* last shipped segment's file */
	uint64_t end;          /* ... and where it ended */
	bool closed;           /* ... and whether that closed the file */
	char end_gtid[1024];   /* GTID state after it */
	int64_t file_created;  /* first event time of that file */
	int64_t last_event;    /* newest shipped event */
	char last_gtid_pos[1024]; /* @@gtid_binlog_pos at the last rotation check */
	char index_path[1024];    /* the server's binlog index, to follow it while it is down */
	char compacted_day[9];    /* the newest UTC day whose catalog was written */
	int64_t gaps;             /* gaps seen since this generation began */
	char fork_file[256];      /* a restore into the server: a new generation starts here */
	int64_t fork_at;          /* ... and when that restore ended */
} drb_ship_state;

int drb_state_load(const drb_config *c, drb_ship_state *s); /* DRB_ERR_NOT_FOUND when none */
/* The agent's clock, UTC seconds: time(NULL), moved by the whole seconds written in the file
 * that $DRB_TEST_CLOCK_FILE names. Tests only: it lets days close in seconds. */
int64_t drb_state_now(void);
int drb_state_save(const drb_config *c, const drb_ship_state *s);

/* The generation shipped from server_id, or NULL (caller frees). */
char *drb_state_generation(const drb_config *c, long server_id);

/* A repository missed a copy: the next run compares all repositories. Safe across processes
 * that share spool_dir (full, binlog, a follower): the state is read and changed under a lock,
 * and every note raises a counter. */
void drb_state_note_heal(const drb_config *c);
/* Day catalogs were dropped (heal): the next compaction of the catalog writes them again,
 * even on a day it already did (spool_dir/catalog-rebuild). */
void drb_state_note_catalog_rebuild(const drb_config *c);
bool drb_state_catalog_rebuild_due(const drb_config *c);
void drb_state_catalog_rebuilt(const drb_config *c);
bool drb_state_heal_due(const drb_config *c, int64_t now);
/* Only: did a run record a missing copy that no heal has copied since? */
bool drb_state_heal_pending(const drb_config *c);
/* The counter when a heal begins; done clears the flag only when no note came since begun
 * (true when it did). */
uint64_t drb_state_heal_begin(const drb_config *c);
bool drb_state_heal_done(const drb_config *c, uint64_t begun, int64_t now);

#endif
