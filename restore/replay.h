/* Replaying the binlog chain: one mariadb-binlog per file, each fed its checked segments in
 * order, all of them decoded into one client session (temporary tables and a transaction cut at
 * the end need one session), with UTC pinned, the gtid_seq_no lines a strict-mode target
 * refuses dropped, and statements a restore never runs refused. */
#ifndef DRB_RESTORE_REPLAY_H
#define DRB_RESTORE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/conf.h"
#include "common/db.h"
#include "common/keys.h"
#include "common/sink.h"
#include "restore/fetch.h"
#include "restore/plan.h"

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
