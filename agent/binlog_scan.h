/* Reading MariaDB binlog files as the server wrote them: event headers (v4), the GTID state
 * (Gtid_list at the start of a file, one GTID event per transaction), transaction boundaries
 * (where a segment may end), commit times, and the CRC32 of every event when the format
 * description says the file carries them. Bytes can come in any pieces; nothing is trusted: a
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

/* binlog_checksum of a file, from its format description event */
enum { DRB_BINLOG_CRC_OFF = 0, DRB_BINLOG_CRC32 = 1, DRB_BINLOG_CRC_UNKNOWN = 255 };

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
	/* DRB_BINLOG_CRC32 when events end in a CRC32 that is checked; set from the format
	 * description, or by the caller before a scan that starts past it */
	uint8_t checksum;
	uint64_t checked;      /* events whose CRC32 matched */
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
	uint64_t event_seen; /* bytes of the current event consumed */
	uint32_t crc;
	uint8_t crc_tail[4]; /* the event's last four bytes: its stored CRC32 */
} drb_binlog_scan;

/* Start scanning at offset start (0: a whole file, magic first) with the GTID state there. */
void drb_binlog_scan_init(drb_binlog_scan *s, uint64_t start, const char *state);
/* Feed the next bytes; DRB_ERR_FORMAT on damage, with the offset. */
int drb_binlog_scan_feed(drb_binlog_scan *s, const uint8_t *buf, size_t len);

/* Bytes after safe_end that no complete transaction holds: in a file the server no longer
 * writes, a tail torn by a crash (it never committed). */
uint64_t drb_binlog_scan_torn(const drb_binlog_scan *s);

/* The time of the first event of a file (its format description): tells two files that share a
 * name apart. fd is read at offset 4. */
int drb_binlog_file_created(int fd, int64_t *t);
/* The same, and the file's checksum algorithm (DRB_BINLOG_CRC_*), for a scan that starts past
 * the format description. */
int drb_binlog_file_info(int fd, int64_t *created, uint8_t *checksum);

#endif
