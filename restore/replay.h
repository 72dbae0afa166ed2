/* Replaying the binlog chain: one mariadb-binlog per file, each fed its checked segments in
 * order, all of them decoded into one client session (temporary tables and a transaction cut at
 * the end need one session), with UTC pinned, the gtid_seq_no lines a strict-mode target
 * refuses dropped, and statements a restore never runs refused. */
#ifndef DRB_RESTORE_REPLAY_H
#define DRB_RESTORE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/db.h"
#include "common/keys.h"
#include "common/sink.h"
#include "restore/sqlcheck.h"
#include "restore/fetch.h"
#include "restore/plan.h"

/* The sink between mariadb-binlog and the mariadb client: cuts the text into the client's
 * queries, passes only those restore/sqlcheck knows (rewritten where it says), drops the
 * gtid_seq_no lines, and refuses the rest. Exposed for its tests. */
typedef struct drb_replay_filter {
	drb_sink base;
	int fd;              /* the client's stdin */
	drb_sqlcheck check;  /* .db: the one database replayed, or NULL */
	char *replayed;      /* the GTIDs seen in mariadb-binlog's comments: what the replay carried */
	size_t replayed_len;
	char *line;          /* a line cut by a buffer boundary */
	size_t line_len, line_cap;
	char *stmt;          /* the statement being read */
	size_t len, cap;
	char delim[8];
	size_t dlen;
	char quote;          /* inside ' " `, 'B' a comment, 'L' a line comment */
	bool in_stmt, in_binlog;
	uint64_t dropped, skipped;
} drb_replay_filter;

void drb_replay_filter_init(drb_replay_filter *f, int fd, const char *db, char *replayed,
			    size_t replayed_len);
void drb_replay_filter_free(drb_replay_filter *f);

/* Writes a decoder's whole input into fd; 0 or a drb_err (DRB_ERR_CLOSED when the decoder
 * stopped reading). */
typedef int (*drb_feed_fn)(void *ud, int fd);

/* Run the decoder argv with what feed writes as its stdin (on a thread of its own) and its
 * stdout pumped into out (not finished). stop_early: the decoder has a stop condition and may
 * stop reading before its input ends; it exiting 0 then means the rest was not needed. Any
 * other early stop, a decoder that exits non-zero, a failing feed or sink is an error. */
int drb_decode_pipe(const char *const argv[], const char *const env[], drb_feed_fn feed, void *ud,
		    drb_sink *out, bool stop_early, const char *what);

/* Replay plan's chain (segs: its checked segments, in the plan's order) into dest, stopping at
 * target when the plan says it cuts the last file. db: replay only that database's changes.
 * replayed: a GTID state, advanced by every transaction the replay carried. */
int drb_replay_chain(const drb_config *cfg, const drb_db_target *dest, const drb_keyring *keys,
		     const drb_target *target, const drb_plan *plan, const drb_fetch *segs,
		     const char *db, char *replayed, size_t replayed_len);

#endif
