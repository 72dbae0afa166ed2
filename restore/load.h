/* Loading a logical dump into the target without a client process: statements are read from the
 * dump's text and sent over Connector/C, and each run of INSERTs into one table is sent as one
 * LOAD DATA LOCAL stream instead (the server parses tab-separated fields far faster than SQL
 * literals: measured 1.6x per session). Anything the converter does not know goes as SQL. */
#ifndef DRB_RESTORE_LOAD_H
#define DRB_RESTORE_LOAD_H

#include <stdint.h>

#include "common/db.h"

typedef struct drb_load_stats {
	uint64_t statements;
	uint64_t rows_streamed; /* rows sent through LOAD DATA */
	uint64_t rows_sql;      /* rows sent as INSERT statements */
} drb_load_stats;

/* Read SQL text from fd until its end and apply it to the target. prelude runs first. Only
 * the statements drbackup's dumper writes are run, and only about database db_name. */
int drb_load_sql(const drb_db_target *t, int fd, const char *what, const char *prelude,
		 const char *db_name, drb_load_stats *st);

#endif
