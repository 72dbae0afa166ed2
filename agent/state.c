#include "config.h"
#include "agent/state.h"
#include "common/error.h"
#include "common/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HEAL_EVERY (24 * 3600) /* a full comparison at least daily, even when nothing failed */

static void state_path(const drb_config *c, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", c->spool_dir, name);
}

static void copy_str(char *dst, size_t len, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	snprintf(dst, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int drb_state_load(const drb_config *c, drb_ship_state *s)
{
	char path[PATH_MAX];
	json_error_t e;
	memset(s, 0, sizeof *s);
	state_path(c, "binlog-state.json", path, sizeof path);
	json_t *j = json_load_file(path, 0, &e);
	if (!j) {
		if (access(path, F_OK) != 0)
			return DRB_ERR_NOT_FOUND;
		return drb_error(DRB_ERR_FORMAT, "%s: %s (it is rebuilt from the repositories)", path,
				 e.text);
	}
	copy_str(s->generation, sizeof s->generation, j, "generation");
	copy_str(s->file, sizeof s->file, j, "file");
	copy_str(s->end_gtid, sizeof s->end_gtid, j, "end_gtid");
	copy_str(s->last_gtid_pos, sizeof s->last_gtid_pos, j, "last_gtid_pos");
	copy_str(s->index_path, sizeof s->index_path, j, "index_path");
	copy_str(s->compacted_day, sizeof s->compacted_day, j, "compacted_day");
	copy_str(s->fork_file, sizeof s->fork_file, j, "fork_file");
	s->fork_at = (int64_t)json_integer_value(json_object_get(j, "fork_at"));
	s->gaps = (int64_t)json_integer_value(json_object_get(j, "gaps"));
	s->server_id = (long)json_integer_value(json_object_get(j, "server_id"));
	s->end = (uint64_t)json_integer_value(json_object_get(j, "end"));
	s->closed = json_is_true(json_object_get(j, "closed"));
	s->file_created = (int64_t)json_integer_value(json_object_get(j, "file_created"));
	s->last_event = (int64_t)json_integer_value(json_object_get(j, "last_event"));
	json_decref(j);
	return 0;
}

int drb_state_save(const drb_config *c, const drb_ship_state *s)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	int rc = drb_spool_ready(c->spool_dir);
	if (rc < 0)
		return rc;
	state_path(c, "binlog-state.json", path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	json_t *j = json_pack("{s:s, s:I, s:s, s:I, s:b, s:s, s:I, s:I, s:s, s:s, s:s, s:I, s:s, s:I}",
			      "generation", s->generation, "server_id", (json_int_t)s->server_id,
			      "file", s->file, "end", (json_int_t)s->end, "closed", s->closed,
			      "end_gtid", s->end_gtid, "file_created", (json_int_t)s->file_created,
			      "last_event", (json_int_t)s->last_event, "last_gtid_pos",
			      s->last_gtid_pos, "index_path", s->index_path, "compacted_day",
			      s->compacted_day, "gaps", (json_int_t)s->gaps, "fork_file", s->fork_file,
			      "fork_at", (json_int_t)s->fork_at);
	if (!j)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	if (json_dump_file(j, tmp, JSON_SORT_KEYS | JSON_INDENT(1)) != 0) {
		json_decref(j);
		return drb_error_errno(0, errno, "writing %s", tmp);
	}
	json_decref(j);
	int fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	if (rename(tmp, path) < 0)
		return drb_error_errno(0, errno, "writing %s", path);
	return 0;
}

int64_t drb_state_now(void)
{
	const char *f = getenv("DRB_TEST_CLOCK_FILE");
	int64_t now = time(NULL);
	char buf[32] = "";
	FILE *in = f && *f ? fopen(f, "re") : NULL;
	if (in) {
		if (fgets(buf, sizeof buf, in))
			now += strtoll(buf, NULL, 10);
		fclose(in);
	}
	return now;
}

char *drb_state_generation(const drb_config *c, long server_id)
{
	drb_ship_state s;
	if (drb_state_load(c, &s) < 0 || !s.generation[0] || s.server_id != server_id) {
		drb_error_clear();
		return strdup("");
	}
	return strdup(s.generation);
}

/* The heal state, spool_dir/heal-state.json: whether some repository misses a copy, and a
 * counter that every note raises. Read and written under spool_dir/heal.lock (flock), so the
 * full, binlog and follower runs that share a spool_dir see one state: a heal clears the flag
 * only when no run noted a miss since it began. A "heal-needed" file of older versions counts
 * as a noted miss. */
typedef struct heal_state {
	bool needed;
	uint64_t generation;
} heal_state;

static int heal_lock(const drb_config *c)
{
	char path[PATH_MAX];
	if (drb_spool_ready(c->spool_dir) < 0) {
		drb_error_clear();
		return -1;
	}
	state_path(c, "heal.lock", path, sizeof path);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void heal_unlock(int fd)
{
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
}

static heal_state heal_read(const drb_config *c)
{
	char path[PATH_MAX];
	heal_state h = {0};
	state_path(c, "heal-state.json", path, sizeof path);
	json_t *j = json_load_file(path, 0, NULL);
	if (j) {
		h.needed = json_is_true(json_object_get(j, "needed"));
		h.generation = (uint64_t)json_integer_value(json_object_get(j, "generation"));
		json_decref(j);
	} else if (access(path, F_OK) == 0) {
		h.needed = true; /* unreadable: assume the worst, nothing is purged */
	}
	state_path(c, "heal-needed", path, sizeof path);
	if (access(path, F_OK) == 0)
		h.needed = true;
	return h;
}

static int heal_write(const drb_config *c, const heal_state *h)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	state_path(c, "heal-state.json", path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	json_t *j = json_pack("{s:b, s:I}", "needed", h->needed, "generation",
			      (json_int_t)h->generation);
	int rc = j && json_dump_file(j, tmp, JSON_SORT_KEYS) == 0 && rename(tmp, path) == 0 ? 0 : -1;
	json_decref(j);
	return rc;
}

void drb_state_note_heal(const drb_config *c)
{
	int fd = heal_lock(c);
	heal_state h = heal_read(c);
	h.needed = true;
	h.generation++;
	if (heal_write(c, &h) < 0) {
		/* the flag must not be lost: the old form is enough to stop a purge */
		char path[PATH_MAX];
		state_path(c, "heal-needed", path, sizeof path);
		int f = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (f >= 0)
			close(f);
	}
	heal_unlock(fd);
}

void drb_state_note_catalog_rebuild(const drb_config *c)
{
	char path[PATH_MAX];
	state_path(c, "catalog-rebuild", path, sizeof path);
	int f = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (f >= 0)
		close(f);
}

bool drb_state_catalog_rebuild_due(const drb_config *c)
{
	char path[PATH_MAX];
	state_path(c, "catalog-rebuild", path, sizeof path);
	return access(path, F_OK) == 0;
}

void drb_state_catalog_rebuilt(const drb_config *c)
{
	char path[PATH_MAX];
	state_path(c, "catalog-rebuild", path, sizeof path);
	unlink(path);
}

bool drb_state_heal_due(const drb_config *c, int64_t now)
{
	char path[PATH_MAX];
	struct stat st;
	if (drb_state_heal_pending(c))
		return true;
	state_path(c, "heal-last", path, sizeof path);
	return stat(path, &st) < 0 || now - st.st_mtime >= HEAL_EVERY;
}

bool drb_state_heal_pending(const drb_config *c)
{
	int fd = heal_lock(c);
	heal_state h = heal_read(c);
	heal_unlock(fd);
	return h.needed;
}

uint64_t drb_state_heal_begin(const drb_config *c)
{
	int fd = heal_lock(c);
	heal_state h = heal_read(c);
	heal_unlock(fd);
	return h.generation;
}

bool drb_state_heal_done(const drb_config *c, uint64_t begun, int64_t now)
{
	char path[PATH_MAX];
	bool cleared = false;
	(void)now;
	int fd = heal_lock(c);
	heal_state h = heal_read(c);
	if (h.generation == begun) {
		h.needed = false;
		if (heal_write(c, &h) == 0) {
			state_path(c, "heal-needed", path, sizeof path);
			unlink(path);
			cleared = true;
		}
	}
	if (cleared) {
		state_path(c, "heal-last", path, sizeof path);
		int f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (f >= 0)
			close(f);
	}
	heal_unlock(fd);
	return cleared;
}
