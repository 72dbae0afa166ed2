#include "config.h"
#include "common/layout.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *drb_path_component(const char *name)
{
	char *e = curl_easy_escape(NULL, name, 0);
	if (!e)
		return NULL;
	size_t n = strlen(e);
	char *copy = malloc(n + 3);
	/* a leading '.' would make a hidden file (listings skip them) or "..": encode it too */
	if (copy && e[0] == '.') {
		memcpy(copy, "%2E", 3);
		memcpy(copy + 3, e + 1, n); /* with the NUL */
	} else if (copy) {
		memcpy(copy, e, n + 1);
	}
	curl_free(e);
	return copy;
}

static char *joined(const char *fmt, const char *a, const char *b, const char *c)
{
	char *p = NULL;
	if (asprintf(&p, fmt, a, b, c) < 0)
		return NULL;
	return p;
}

char *drb_path_full_dir(const char *host, const char *backup_id)
{
	return joined("%s/full/%s%s", host, backup_id, "");
}

char *drb_path_manifest(const char *host, const char *backup_id)
{
	return joined("%s/full/%s/%s", host, backup_id, "manifest.json");
}

char *drb_path_dump_object(const char *database)
{
	char *name = drb_path_component(database), *object = NULL;
	if (name && asprintf(&object, "%s.sql.drb", name) < 0)
		object = NULL;
	free(name);
	return object;
}

char *drb_path_dump(const char *host, const char *backup_id, const char *database)
{
	char *object = drb_path_dump_object(database), *path = NULL;
	if (object)
		path = joined("%s/full/%s/%s", host, backup_id, object);
	free(object);
	return path;
}

char *drb_path_segment(const char *host, const char *gen, const char *file, uint64_t start,
		       const char *ext)
{
	char *f = drb_path_component(file), *path = NULL;
	if (f && asprintf(&path, "%s/binlog/%s/%s-%012llu.%s", host, gen, f,
			  (unsigned long long)start, ext) < 0)
		path = NULL;
	free(f);
	return path;
}

char *drb_path_segment_level(const char *host, const char *gen, const char *file, uint64_t start,
			     uint64_t end, int level, const char *ext)
{
	if (level <= 0)
		return drb_path_segment(host, gen, file, start, ext);
	char *f = drb_path_component(file), *path = NULL;
	if (f && asprintf(&path, "%s/binlog/%s/%s-%012llu-%012llu-L%d.%s", host, gen, f,
			  (unsigned long long)start, (unsigned long long)end, level, ext) < 0)
		path = NULL;
	free(f);
	return path;
}

char *drb_path_day_catalog(const char *host, const char *gen, const char *day)
{
	return joined("%s/catalog/%s/%s.json", host, gen, day);
}

void drb_day_name(int64_t t, char out[9])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 9, "%Y%m%d", &tm);
}

char *drb_path_restore_test(const char *host, const char *id)
{
	return joined("%s/restore-tests/%s%s.json", host, id, "");
}

char *drb_path_hold(const char *host, const char *practice)
{
	char *p = drb_path_component(practice), *path = p ? joined("%s/holds/%s%s.json", host, p, "")
							    : NULL;
	free(p);
	return path;
}

char *drb_path_tombstone_full(const char *host, const char *backup_id)
{
	return joined("%s/expired/%s%s.json", host, backup_id, "");
}

char *drb_path_tombstone_binlog(const char *host, const char *gen)
{
	return joined("%s/expired/binlog-%s%s.json", host, gen, "");
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Component i of path (0-based) into out; false when there is none or it does not fit. */
static bool part(const char *path, int i, char *out, size_t len, const char **rest)
{
	const char *p = path;
	for (int k = 0; k < i; k++) {
		p = strchr(p, '/');
		if (!p)
			return false;
		p++;
	}
	size_t n = strcspn(p, "/");
	if (n == 0 || n >= len)
		return false;
	memcpy(out, p, n);
	out[n] = 0;
	if (rest)
		*rest = p[n] ? p + n + 1 : NULL;
	return true;
}

void drb_key_parse(const char *path, drb_key *k)
{
	char area[32];
	const char *rest = NULL;
	memset(k, 0, sizeof *k);
	if (!part(path, 0, k->host, sizeof k->host, NULL) || !part(path, 1, area, sizeof area, NULL))
		return;
	if (strcmp(area, "full") == 0 && part(path, 2, k->backup_id, sizeof k->backup_id, &rest) &&
	    rest && !strchr(rest, '/') && snprintf(k->name, sizeof k->name, "%s", rest) > 0) {
		k->kind = strcmp(rest, "manifest.json") == 0 ? DRB_KEY_MANIFEST : DRB_KEY_DUMP;
	} else if ((strcmp(area, "binlog") == 0 || strcmp(area, "catalog") == 0) &&
		   part(path, 2, k->generation, sizeof k->generation, &rest) && rest &&
		   !strchr(rest, '/')) {
		bool json = ends_with(rest, ".json"), drb = ends_with(rest, ".drb");
		if (!json && !drb)
			return;
		snprintf(k->name, sizeof k->name, "%.*s", (int)(strlen(rest) - (json ? 5 : 4)), rest);
		k->meta = json;
		k->kind = area[0] == 'b' ? DRB_KEY_SEGMENT : json ? DRB_KEY_DAY_CATALOG : DRB_KEY_OTHER;
	} else if (strcmp(area, "restore-tests") == 0) {
		k->kind = DRB_KEY_RESTORE_TEST;
	} else if (strcmp(area, "holds") == 0 && part(path, 2, k->name, sizeof k->name, NULL) &&
		   ends_with(k->name, ".json")) {
		k->name[strlen(k->name) - 5] = 0;
		k->kind = DRB_KEY_HOLD;
	} else if (strcmp(area, "expired") == 0 && part(path, 2, k->name, sizeof k->name, NULL) &&
		   ends_with(k->name, ".json")) {
		k->name[strlen(k->name) - 5] = 0;
		if (strncmp(k->name, "binlog-", 7) == 0)
			snprintf(k->generation, sizeof k->generation, "%s", k->name + 7);
		else
			snprintf(k->backup_id, sizeof k->backup_id, "%s", k->name);
		k->kind = DRB_KEY_TOMBSTONE;
	}
}
