#include "config.h"
#include "restore/seen.h"
#include "common/error.h"
#include "common/lock.h"
#include "common/log.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The newest segment's key: generation, then file and offset, as they sort in the repository. */
static void newest_segment(const drb_catalog *cat, char *out, size_t len)
{
	out[0] = 0;
	for (size_t g = 0; g < cat->n_gens; g++) {
		const drb_generation *gen = &cat->gens[g];
		if (!gen->n)
			continue;
		const drb_segment *s = &gen->segs[gen->n - 1];
		char key[700];
		snprintf(key, sizeof key, "%s/%s-%012llu", gen->name, s->file,
			 (unsigned long long)s->start);
		if (strcmp(key, out) > 0)
			snprintf(out, len, "%s", key);
	}
}

static const char *str(json_t *j, const char *k)
{
	json_t *v = json_object_get(j, k);
	return json_is_string(v) ? json_string_value(v) : "";
}

void drb_seen_check(const drb_config *c, const char *repo, const drb_catalog *cat)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], seg[800], now[21];
	const char *full = cat->n_fulls ? cat->fulls[cat->n_fulls - 1]->backup_id : "";
	for (size_t i = 0; i < cat->n_fulls; i++)
		if (strcmp(cat->fulls[i]->backup_id, full) > 0)
			full = cat->fulls[i]->backup_id;
	newest_segment(cat, seg, sizeof seg);
	if (drb_spool_ready(c->spool_dir) < 0) {
		drb_error_clear();
		return;
	}
	snprintf(path, sizeof path, "%s/seen-%s.json", c->spool_dir, cat->host_id);
	json_t *j = json_load_file(path, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		j = json_object();
	}
	const char *seen_full = str(j, "full"), *seen_seg = str(j, "segment");
	if (*seen_full && strcmp(full, seen_full) < 0)
		drb_log_warn("repository %s shows an older history of host %s than this host has seen: "
			     "its newest full backup is %s, but %s was seen on %s (metadata rolled "
			     "back, or backups deleted)",
			     repo, cat->host_id, *full ? full : "(none)", seen_full, str(j, "full_seen"));
	if (*seen_seg && strcmp(seg, seen_seg) < 0)
		drb_log_warn("repository %s shows an older binlog history of host %s than this host "
			     "has seen: its newest segment is %s, but %s was seen on %s",
			     repo, cat->host_id, *seg ? seg : "(none)", seen_seg, str(j, "segment_seen"));
	drb_time_iso(time(NULL), now);
	bool changed = false;
	if (*full && strcmp(full, seen_full) > 0) {
		json_object_set_new(j, "full", json_string(full));
		json_object_set_new(j, "full_seen", json_string(now));
		changed = true;
	}
	if (*seg && strcmp(seg, seen_seg) > 0) {
		json_object_set_new(j, "segment", json_string(seg));
		json_object_set_new(j, "segment_seen", json_string(now));
		changed = true;
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (changed && (json_dump_file(j, tmp, JSON_SORT_KEYS | JSON_INDENT(1)) != 0 ||
			rename(tmp, path) != 0)) {
		unlink(tmp);
		drb_log_warn("cannot keep %s: a later rollback of host %s could go unnoticed", path,
			     cat->host_id);
	}
	json_decref(j);
}
