/* Logical dumps through Connector/C: several sessions open one shared consistent snapshot
 * (BACKUP STAGE BLOCK_COMMIT held only while they open it: commits wait a moment, reads never),
 * then each writes whole databases as SQL that the mariadb client loads. The snapshot's binlog
 * coordinate is read in every session and must be the same in all of them. */
#ifndef DRB_AGENT_DUMP_H
#define DRB_AGENT_DUMP_H

#include <stdint.h>

#include "common/db.h"
#include "common/sink.h"

typedef struct drb_coord {
	char file[256]; /* binlog file of the snapshot */
	uint64_t pos;   /* byte offset in it */
	char gtid[1024]; /* gtid_binlog_pos at the snapshot (may be empty on a fresh server) */
} drb_coord;

typedef struct drb_snapshot {
	drb_db **sessions; /* one per job, each inside the snapshot */
	int n;
	drb_coord coord;
	int64_t taken;         /* UTC seconds */
	uint64_t block_micros; /* how long commits were held */
	char server_version[128];
	long server_id;
} drb_snapshot;

/* Open n sessions on one snapshot. Fails (DRB_ERR_DATABASE) when the sessions do not agree on
 * the binlog coordinate: an inconsistent set is never dumped. */
int drb_snapshot_open(const drb_db_target *t, int n, drb_snapshot **out);
void drb_snapshot_close(drb_snapshot *s);

typedef struct drb_table_count {
	char *name;
	uint64_t rows;
} drb_table_count;

typedef struct drb_dump_stats {
	drb_table_count *tables;
	size_t n_tables;
	uint64_t rows;
	uint64_t bytes; /* SQL text produced */
	int non_innodb; /* tables the snapshot cannot make consistent */
} drb_dump_stats;

/* Write database db as SQL into out (not finished) through a session of the snapshot. */
int drb_dump_database(drb_db *session, const char *db, drb_sink *out, drb_dump_stats *stats);
void drb_dump_stats_free(drb_dump_stats *s);

#endif
