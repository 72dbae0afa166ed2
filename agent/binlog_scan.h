/* Reading MariaDB binlog files as the server wrote them: event headers (v4), the GTID state
 * (Gtid_list at the start of a file, one GTID event per transaction), transaction boundaries
 * (where a segment may end), commit times. Bytes can come in any pieces; nothing is trusted: a
 * damaged or hostile file is an error, never a crash. */
#ifndef DRB_AGENT_BINLOG_SCAN_H
#define DRB_AGENT_BINLOG_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DRB_BINLOG_MAGIC "\xfe" "bin"
#define DRB_BINLOG_HEADER 19

enum {
	DRB_EV_QUERY = 2,
	DRB_EV_STOP = 3,
	DRB_EV_ROTATE = 4,
	DRB_EV_FORMAT_DESCRIPTION = 15,
	DRB_EV_XID = 16,
	DRB_EV_ANNOTATE_ROWS = 160,
	DRB_EV_BINLOG_CHECKPOINT = 161,
	DRB_EV_GTID = 162,
	DRB_EV_GTID_LIST = 163,
};

typedef struct drb_binlog_scan {
	/* where the bytes fed so far end, as an offset in the file */
	uint64_t pos;
	/* the end of the last event that closed a transaction: a segment may stop here */
	uint64_t safe_end;
	char state[1024];      /* GTID state at safe_end */
	char start_state[1024]; /* GTID state at the first byte scanned */
	int64_t first_event;   /* first transaction's time in what was scanned; 0 if none */
	int64_t last_event;    /* newest transaction end at or before safe_end */
	int64_t file_created;  /* the file's format description event time, when scanned */
	uint64_t events;       /* complete events up to safe_end */
	bool closed;           /* a rotate or stop event ends the file at safe_end */
	int64_t closed_at;     /* that event's time: the file holds every commit before it */
	uint32_t server_id;    /* of the last event */
	/* internal */
	uint8_t head[DRB_BINLOG_HEADER + 4 + 16 * 64]; /* header and the body bytes we parse */
	size_t head_len, head_want;
	uint64_t event_left; /* bytes of the current event not yet seen */
	uint64_t event_end;
	uint32_t event_size;
	bool in_event;
	bool in_trx, standalone;
	uint32_t gtid_domain, gtid_server;
	uint64_t gtid_seq;
	uint64_t events_pending;
	int64_t last_pending;
	bool magic_done;
	bool start_set; /* the file's own Gtid_list gave start_state */
} drb_binlog_scan;

/* Start scanning at offset start (0: a whole file, magic first) with the GTID state there. */
void drb_binlog_scan_init(drb_binlog_scan *s, uint64_t start, const char *state);
/* Feed the next bytes; DRB_ERR_FORMAT on damage, with the offset. */
int drb_binlog_scan_feed(drb_binlog_scan *s, const uint8_t *buf, size_t len);

/* The time of the first event of a file (its format description): tells two files that share a
 * name apart. fd is read at offset 4. */
int drb_binlog_file_created(int fd, int64_t *t);

#endif
