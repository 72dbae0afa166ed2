#include "config.h"
#include "common/fork.h"
#include "common/error.h"
#include "common/lock.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void marker_path(const drb_config *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s/restored-in-place.json", c->spool_dir);
}

static bool same_path(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];
	if (!a || !b || !*a || !*b)
		return false;
	if (!realpath(a, ra))
		snprintf(ra, sizeof ra, "%s", a);
	if (!realpath(b, rb))
		snprintf(rb, sizeof rb, "%s", b);
	return strcmp(ra, rb) == 0;
}

bool drb_fork_is_source(const drb_config *c, const drb_db_target *t)
{
	drb_db_target src = drb_db_target_from_config(c);
	if (t->socket && *t->socket)
		return same_path(t->socket, src.socket);
	if (!t->host || !*t->host || !src.host || !*src.host)
		return false;
	int pt = t->port ? t->port : 3306, ps = src.port ? src.port : 3306;
	return pt == ps && strcmp(t->host, src.host) == 0;
}

int drb_fork_note(const drb_config *c, const drb_db_target *t)
{
	char file[512], path[PATH_MAX], tmp[PATH_MAX + 8];
	drb_db *db = NULL;
	json_t *j = NULL;
	int rc;
	if ((rc = drb_spool_ready(c->spool_dir)) < 0 || (rc = drb_db_connect(t, &db)) < 0)
		goto out;
	if ((rc = drb_db_value(db, "SELECT @@log_bin", file, sizeof file)) < 0)
		goto out;
	if (strcmp(file, "1") != 0)
		goto out; /* no binary log: no history to fork */
	/* what the restore wrote ends here; the new history begins with the next file */
	if ((rc = drb_db_exec(db, "FLUSH BINARY LOGS")) < 0 ||
	    (rc = drb_db_value(db, "SHOW MASTER STATUS", file, sizeof file)) < 0) {
		rc = drb_error_wrap(0, "rotating the binary log after the restore (needs RELOAD)");
		goto out;
	}
	marker_path(c, path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	j = json_pack("{s:s, s:I}", "file", file, "at", (json_int_t)time(NULL));
	if (!j) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (json_dump_file(j, tmp, JSON_SORT_KEYS) != 0 || rename(tmp, path) != 0)
		rc = drb_error_errno(0, errno, "writing %s", path);
out:
	json_decref(j);
	drb_db_close(db);
	return rc;
}

int drb_fork_read(const drb_config *c, char *file, size_t len, int64_t *at)
{
	char path[PATH_MAX];
	marker_path(c, path, sizeof path);
	json_t *j = json_load_file(path, 0, NULL);
	if (!j)
		return access(path, F_OK) == 0
			       ? drb_error(DRB_ERR_FORMAT, "%s cannot be read: remove it after "
							   "checking the binlog generations",
					   path)
			       : DRB_ERR_NOT_FOUND;
	json_t *f = json_object_get(j, "file");
	int rc = 0;
	if (!json_is_string(f) || !*json_string_value(f))
		rc = drb_error(DRB_ERR_FORMAT, "%s names no binlog file", path);
	else
		snprintf(file, len, "%s", json_string_value(f));
	*at = (int64_t)json_integer_value(json_object_get(j, "at"));
	json_decref(j);
	return rc;
}

void drb_fork_taken(const drb_config *c)
{
	char path[PATH_MAX];
	marker_path(c, path, sizeof path);
	unlink(path);
}
