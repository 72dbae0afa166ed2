/* The streaming chain. Bytes are pushed into a sink; a filter is a sink that transforms what it
 * gets and pushes the result into the next one, which it owns. A command builds a chain
 * (zstd -> seal -> hash -> repositories), pumps a source into its head and finishes it; memory
 * stays bounded by the filters' own buffers, whatever the length of the stream. */
#ifndef DRB_SINK_H
#define DRB_SINK_H

#include <stddef.h>
#include <stdint.h>

typedef struct drb_sink drb_sink;

typedef struct drb_sink_ops {
	const char *name;
	/* Take len bytes. 0 or a negative drb_err (with the error set). */
	int (*write)(drb_sink *s, const void *buf, size_t len);
	/* End of stream: flush and commit; propagates to the next sink. */
	int (*finish)(drb_sink *s);
	/* Give up: discard what was written (never commit); propagates. Safe after any failure. */
	void (*abort)(drb_sink *s);
	/* Release this sink and every sink it owns. */
	void (*free)(drb_sink *s);
} drb_sink_ops;

struct drb_sink {
	const drb_sink_ops *ops;
};

static inline int drb_sink_write(drb_sink *s, const void *buf, size_t len)
{
	return len ? s->ops->write(s, buf, len) : 0;
}
static inline int drb_sink_finish(drb_sink *s)
{
	return s->ops->finish(s);
}
static inline void drb_sink_abort(drb_sink *s)
{
	s->ops->abort(s);
}
void drb_sink_free(drb_sink *s);

/* Read fd to its end into sink (no finish). what names the source in errors. *total gets the
 * byte count when non-NULL. */
int drb_pump_fd(int fd, drb_sink *sink, const char *what, uint64_t *total);

/* Write everything to fd (a pipe to a child, a file, stdout); the fd is not closed. */
drb_sink *drb_fd_sink_new(int fd, const char *what);
/* Discard everything (verification passes). */
drb_sink *drb_null_sink_new(void);
/* Collect into memory, refusing more than max bytes. The buffer stays owned by the sink. */
drb_sink *drb_mem_sink_new(size_t max);
const uint8_t *drb_mem_sink_data(drb_sink *s, size_t *len);
/* Take the buffer (NUL-terminated); the caller frees it. */
char *drb_mem_sink_take(drb_sink *s, size_t *len);

/* Count and hash (SHA-256) what passes through on its way to next. */
drb_sink *drb_hash_filter_new(drb_sink *next);
uint64_t drb_hash_filter_bytes(drb_sink *s);
/* The digest as 64 lowercase hex characters; valid after finish. */
const char *drb_hash_filter_hex(drb_sink *s);
/* Make finish fail (before finishing next) unless the digest equals hex; what names the stream. */
void drb_hash_filter_expect(drb_sink *s, const char *hex, const char *what);



/* Write the same bytes to a then b (both owned); the first failure fails the write. */
drb_sink *drb_tee_new(drb_sink *a, drb_sink *b);

/* Pass everything to target without owning it: freeing this sink leaves target alone. */
drb_sink *drb_borrow_sink_new(drb_sink *target);
#endif
