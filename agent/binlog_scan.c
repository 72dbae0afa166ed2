#include "config.h"
#include "agent/binlog_scan.h"
#include "common/catalog.h"
#include "common/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_EVENT (1024u * 1024u * 1024u + 4096u) /* events stay under max_allowed_packet (1G) */
#define QUERY_POST_HEADER 13
#define FLAGS_OFFSET 17
#define LOG_EVENT_BINLOG_IN_USE_F 0x1
#define FDE_VERSION_LEN 50

static uint32_t le16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

void drb_binlog_scan_init(drb_binlog_scan *s, uint64_t start, const char *state)
{
	memset(s, 0, sizeof *s);
	s->pos = s->safe_end = start;
	s->magic_done = start != 0;
	s->head_want = s->magic_done ? DRB_BINLOG_HEADER : 4;
	snprintf(s->state, sizeof s->state, "%s", state ? state : "");
	snprintf(s->start_state, sizeof s->start_state, "%s", s->state);
	/* a whole file says it in its first event; a continuation is told by the caller */
	s->checksum = DRB_BINLOG_CRC_UNKNOWN;
}

uint64_t drb_binlog_scan_torn(const drb_binlog_scan *s)
{
	return s->pos > s->safe_end ? s->pos - s->safe_end : 0;
}

static int damaged(const drb_binlog_scan *s, const char *what)
{
	return drb_error(DRB_ERR_FORMAT, "binlog damaged at offset %llu: %s",
			 (unsigned long long)(s->event_end - s->event_size), what);
}

/* The end of an event that leaves no transaction open: a segment may end here. */
static void boundary(drb_binlog_scan *s)
{
	s->safe_end = s->event_end;
	s->events += s->events_pending;
	s->events_pending = 0;
	if (s->last_pending)
		s->last_event = s->last_pending;
}

/* Body bytes worth parsing for this event type. */
static size_t body_wanted(uint8_t type, uint32_t size)
{
	size_t body = size - DRB_BINLOG_HEADER, want;
	switch (type) {
	case DRB_EV_GTID:
		want = 13; /* seq_no u64, domain_id u32, flags u8 */
		break;
	case DRB_EV_GTID_LIST:
		want = 4 + 16 * 64;
		break;
	case DRB_EV_QUERY:
		want = 4 + 16 * 64; /* post-header, status variables, db name, the query's start */
		break;
	case DRB_EV_FORMAT_DESCRIPTION:
		want = 4 + 16 * 64; /* all of it (about 250 bytes): the checksum byte is near its end */
		break;
	default:
		want = 0;
	}
	return want < body ? want : body;
}

static bool query_is_commit(const uint8_t *b, size_t have)
{
	if (have < QUERY_POST_HEADER)
		return false;
	size_t db_len = b[8], status_len = le16(b + 11);
	size_t text = QUERY_POST_HEADER + status_len + db_len + 1;
	return text + 6 <= have && strncasecmp((const char *)b + text, "COMMIT", 6) == 0;
}

static int gtid_list(drb_binlog_scan *s, const uint8_t *b, size_t have)
{
	if (have < 4)
		return damaged(s, "a Gtid_list event is too short");
	uint32_t count = le32(b) & 0x0fffffffu;
	if ((uint64_t)count * 16 + 4 > s->event_size - DRB_BINLOG_HEADER)
		return damaged(s, "a Gtid_list event lists more domains than it holds");
	if (count > 64)
		return damaged(s, "more than 64 GTID domains");
	s->state[0] = 0; /* the list is the whole state at the start of the file */
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *g = b + 4 + (size_t)i * 16;
		if (drb_gtid_apply(s->state, sizeof s->state, le32(g), le32(g + 4), le64(g + 8)) < 0)
			return drb_error_code();
	}
	if (!s->start_set && s->first_event == 0) {
		/* scanning from the file's start: its Gtid_list is the state before any of it */
		snprintf(s->start_state, sizeof s->start_state, "%s", s->state);
		s->start_set = true;
	}
	return 0;
}

/* The checksum algorithm a format description event announces. Every server that can write
 * checksums (MySQL 5.6.1, MariaDB 5.3 and later) ends this event with the algorithm byte and a
 * CRC32 of its own (computed with the in-use flag clear), whatever binlog_checksum says (seen on
 * 10.11 with NONE); files of older servers are not read. */
static int format_description(drb_binlog_scan *s, const uint8_t *b, size_t have)
{
	size_t body = s->event_size - DRB_BINLOG_HEADER;
	if (have != body || have < 2 + FDE_VERSION_LEN + 4 + 1 + 5)
		return damaged(s, "a format description event is cut or too short");
	uint8_t alg = b[have - 5];
	if (alg != DRB_BINLOG_CRC_OFF && alg != DRB_BINLOG_CRC32 && alg != DRB_BINLOG_CRC_UNKNOWN)
		return damaged(s, "unknown binlog checksum algorithm");
	s->checksum = alg == DRB_BINLOG_CRC32 ? DRB_BINLOG_CRC32 : DRB_BINLOG_CRC_OFF;
	return 0;
}

/* The event's own CRC32, when its file carries them: damage is refused before it is used. */
static int check_crc(drb_binlog_scan *s, uint8_t type, bool own_crc)
{
	if (s->checksum != DRB_BINLOG_CRC32 && !own_crc)
		return 0;
	if (s->event_size < DRB_BINLOG_HEADER + 4)
		return damaged(s, "an event is too short for its checksum");
	uint32_t stored = le32(s->crc_tail);
	if (stored != s->crc) {
		char what[160];
		snprintf(what, sizeof what,
			 "event checksum mismatch (type %u, CRC32 stored %08x, computed %08x)", type,
			 stored, s->crc);
		return damaged(s, what);
	}
	s->checked++;
	return 0;
}

/* Every byte of the current event, in order: all but the last four go into its CRC32. */
static void crc_take(drb_binlog_scan *s, const uint8_t *p, size_t n, bool need)
{
	uint64_t crc_end = s->event_size >= 4 ? s->event_size - 4 : 0;
	if (s->event_seen < crc_end) {
		size_t k = crc_end - s->event_seen < n ? (size_t)(crc_end - s->event_seen) : n;
		if (need)
			s->crc = (uint32_t)crc32(s->crc, p, (uInt)k);
		p += k;
		n -= k;
		s->event_seen += k;
	}
	for (; n; p++, n--, s->event_seen++)
		if (s->event_seen - crc_end < 4)
			s->crc_tail[s->event_seen - crc_end] = *p;
}

static bool crc_needed(const drb_binlog_scan *s)
{
	return s->checksum != DRB_BINLOG_CRC_OFF || s->head[4] == DRB_EV_FORMAT_DESCRIPTION;
}

static int event_done(drb_binlog_scan *s)
{
	const uint8_t *h = s->head, *b = s->head + DRB_BINLOG_HEADER;
	size_t have = s->head_len - DRB_BINLOG_HEADER;
	uint8_t type = h[4];
	uint32_t when = le32(h);
	int rc = 0;
	bool own_crc = type == DRB_EV_FORMAT_DESCRIPTION;
	if (own_crc && (rc = format_description(s, b, have)) < 0)
		return rc;
	if (s->checksum == DRB_BINLOG_CRC_UNKNOWN)
		return damaged(s, "no format description event comes first (its checksum algorithm is "
				  "unknown)");
	if ((rc = check_crc(s, type, own_crc)) < 0)
		return rc;
	s->events_pending++;
	switch (type) {
	case DRB_EV_FORMAT_DESCRIPTION:
		s->file_created = when;
		boundary(s);
		break;
	case DRB_EV_GTID_LIST:
		rc = gtid_list(s, b, have);
		boundary(s);
		break;
	case DRB_EV_BINLOG_CHECKPOINT:
		if (!s->in_trx)
			boundary(s);
		break;
	case DRB_EV_GTID:
		if (have < 13)
			return damaged(s, "a GTID event is too short");
		s->gtid_seq = le64(b);
		s->gtid_domain = le32(b + 8);
		s->gtid_server = le32(h + 5);
		s->standalone = b[12] & 1;
		s->in_trx = true;
		if (!s->first_event)
			s->first_event = when;
		break;
	case DRB_EV_XID:
	case DRB_EV_QUERY:
		if (!s->in_trx)
			break;
		if (type == DRB_EV_QUERY && !s->standalone && !query_is_commit(b, have))
			break; /* BEGIN, or a statement inside the transaction */
		rc = drb_gtid_apply(s->state, sizeof s->state, s->gtid_domain, s->gtid_server,
				    s->gtid_seq);
		s->in_trx = false;
		s->last_pending = when;
		boundary(s);
		break;
	case DRB_EV_ROTATE:
	case DRB_EV_STOP:
		if (!s->in_trx) {
			s->closed = true;
			s->closed_at = when;
			boundary(s);
		}
		break;
	default:
		break;
	}
	return rc;
}

int drb_binlog_scan_feed(drb_binlog_scan *s, const uint8_t *buf, size_t len)
{
	while (len) {
		if (!s->magic_done) {
			size_t take = 4 - s->head_len < len ? 4 - s->head_len : len;
			memcpy(s->head + s->head_len, buf, take);
			s->head_len += take;
			buf += take;
			len -= take;
			s->pos += take;
			if (s->head_len == 4) {
				if (memcmp(s->head, DRB_BINLOG_MAGIC, 4) != 0)
					return drb_error(DRB_ERR_FORMAT, "not a binlog file (bad magic)");
				s->magic_done = true;
				s->safe_end = 4;
				s->head_len = 0;
				s->head_want = DRB_BINLOG_HEADER;
			}
			continue;
		}
		if (s->head_len < s->head_want) {
			/* gather the header, then the body bytes we parse */
			size_t take = s->head_want - s->head_len < len ? s->head_want - s->head_len : len;
			memcpy(s->head + s->head_len, buf, take);
			if (s->in_event)
				crc_take(s, buf, take, crc_needed(s));
			s->head_len += take;
			buf += take;
			len -= take;
			s->pos += take;
			if (s->head_len == DRB_BINLOG_HEADER && !s->in_event) {
				uint32_t size = le32(s->head + 9);
				s->event_size = size;
				s->event_end = s->pos - DRB_BINLOG_HEADER + size;
				if (size < DRB_BINLOG_HEADER || size > MAX_EVENT)
					return drb_error(DRB_ERR_FORMAT,
							 "binlog damaged at offset %llu: an event claims "
							 "%u bytes",
							 (unsigned long long)(s->pos - DRB_BINLOG_HEADER),
							 size);
				s->in_event = true;
				uint8_t h[DRB_BINLOG_HEADER];
				memcpy(h, s->head, sizeof h);
				if (h[4] == DRB_EV_FORMAT_DESCRIPTION)
					h[FLAGS_OFFSET] &= (uint8_t)~LOG_EVENT_BINLOG_IN_USE_F;
				s->event_seen = 0;
				s->crc = (uint32_t)crc32(0L, Z_NULL, 0);
				crc_take(s, h, sizeof h, crc_needed(s));
				s->head_want = DRB_BINLOG_HEADER + body_wanted(s->head[4], size);
				s->event_left = size - DRB_BINLOG_HEADER;
				s->event_left -= s->head_want - DRB_BINLOG_HEADER;
			}
			if (s->head_len < s->head_want)
				continue;
		}
		/* skip the rest of the event */
		size_t skip = s->event_left < len ? (size_t)s->event_left : len;
		crc_take(s, buf, skip, crc_needed(s));
		buf += skip;
		len -= skip;
		s->pos += skip;
		s->event_left -= skip;
		if (s->event_left == 0) {
			int rc = event_done(s);
			if (rc < 0)
				return rc;
			s->in_event = false;
			s->head_len = 0;
			s->head_want = DRB_BINLOG_HEADER;
		}
	}
	return 0;
}

int drb_binlog_file_info(int fd, int64_t *created, uint8_t *checksum)
{
	uint8_t b[4 + DRB_BINLOG_HEADER + 4 + 16 * 64];
	ssize_t n = pread(fd, b, sizeof b, 0);
	drb_binlog_scan s;
	if (n < 0)
		return drb_error_errno(0, errno, "reading a binlog header");
	if (n < 4 + DRB_BINLOG_HEADER || memcmp(b, DRB_BINLOG_MAGIC, 4) != 0 ||
	    b[4 + 4] != DRB_EV_FORMAT_DESCRIPTION)
		return drb_error(DRB_ERR_FORMAT, "not a binlog file");
	uint32_t size = le32(b + 4 + 9);
	if (size > (size_t)n - 4)
		return drb_error(DRB_ERR_FORMAT, "a binlog's format description is cut or too long");
	/* the scanner reads it as it would in a whole file, checksum included */
	drb_binlog_scan_init(&s, 0, "");
	int rc = drb_binlog_scan_feed(&s, b, 4 + (size_t)size);
	if (rc < 0)
		return rc;
	*created = le32(b + 4);
	*checksum = s.checksum;
	return 0;
}

int drb_binlog_file_created(int fd, int64_t *t)
{
	uint8_t h[4 + DRB_BINLOG_HEADER];
	ssize_t n = pread(fd, h, sizeof h, 0);
	if (n < 0)
		return drb_error_errno(0, errno, "reading a binlog header");
	if (n < (ssize_t)sizeof h || memcmp(h, DRB_BINLOG_MAGIC, 4) != 0 ||
	    h[4 + 4] != DRB_EV_FORMAT_DESCRIPTION)
		return drb_error(DRB_ERR_FORMAT, "not a binlog file");
	*t = le32(h + 4);
	return 0;
}
