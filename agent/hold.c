/* drbackup hold: a legal hold on everything of one practice. The hold is a signed object in every
 * repository (<host>/holds/<practice>.json); while it stands, expire deletes nothing of that
 * practice and keeps the binlog its backups need. A release rewrites it as released, so a
 * repository that missed the release keeps protecting (the safe side) until it is told. */
#include "config.h"

#include <getopt.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "common/audit.h"
#include "common/catalog.h"
#include "common/context.h"
#include "common/error.h"
#include "common/layout.h"
#include "common/log.h"

/* legal_hold = true: an S3 legal hold on the practice's objects too, which even this host's own
 * credentials cannot delete until it is turned off: the practice's dumps and the manifests that
 * describe them. A release turns its dumps off, and a manifest once no practice in that backup is
 * still held. Called after the hold object is written, so the catalog reads the new state. */
static int s3_legal_holds(drb_repo *r, const char *host, const char *practice, bool on,
			  size_t *n)
{
	drb_catalog *cat = NULL;
	int rc = 0;
	if (!r->cfg->legal_hold)
		return 0;
	if (!r->driver->legal_hold) {
		drb_log_warn("repository %s (%s) has no legal holds: legal_hold is ignored", r->name,
			     r->driver->type);
		return 0;
	}
	if ((rc = drb_catalog_load(r, host, &cat)) < 0)
		return drb_error_wrap(0, "repository %s: the legal holds of practice %s", r->name,
				      practice);
	for (size_t i = 0; i < cat->n_fulls && rc == 0; i++) {
		const drb_manifest *m = cat->fulls[i];
		const drb_db_entry *d = drb_manifest_db(m, practice);
		if (!d || d->expired)
			continue;
		char *dump = drb_path_dump(host, m->backup_id, practice);
		char *manifest = drb_path_manifest(host, m->backup_id);
		bool other = false; /* another practice of this backup still on hold */
		for (size_t k = 0; !on && k < m->n_dbs; k++)
			if (strcmp(m->dbs[k].name, practice) != 0 && !m->dbs[k].expired &&
			    drb_catalog_on_hold(cat, m->dbs[k].name))
				other = true;
		if (!dump || !manifest)
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		if (rc == 0 && (rc = drb_repo_legal_hold(r, dump, on)) == 0)
			(*n)++;
		if (rc == 0 && !other && (rc = drb_repo_legal_hold(r, manifest, on)) == 0)
			(*n)++;
		free(dump);
		free(manifest);
	}
	drb_catalog_free(cat);
	return rc;
}

/* The S3 legal holds of every repository that asks for them; DRB_ERR_DEGRADED when one failed. */
static int legal_holds(drb_repo_set *set, const char *host, const char *practice, bool on)
{
	size_t failed = 0;
	for (size_t i = 0; i < set->n; i++) {
		size_t n = 0;
		if (s3_legal_holds(set->repos[i], host, practice, on, &n) < 0) {
			drb_log_current_error(on ? "hold" : "hold --release");
			drb_error_clear();
			failed++;
		} else if (n) {
			drb_log_info("repository %s: S3 legal hold %s on %zu object%s of practice %s",
				     set->repos[i]->name, on ? "ON" : "OFF", n, n == 1 ? "" : "s",
				     practice);
		}
	}
	return failed ? drb_error(DRB_ERR_DEGRADED,
				  "%zu repositor%s missed the S3 legal holds of practice %s", failed,
				  failed == 1 ? "y" : "ies", practice)
		      : 0;
}

int drb_cmd_hold(drb_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"practice", required_argument, NULL, 'p'},
					     {"reason", required_argument, NULL, 'r'},
					     {"release", no_argument, NULL, 'x'},
					     {"host", required_argument, NULL, 'H'},
					     {0, 0, 0, 0}};
	const char *practice = NULL, *reason = NULL, *host = NULL;
	bool release = false;
	int opt, rc;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': practice = optarg; break;
		case 'r': reason = optarg; break;
		case 'x': release = true; break;
		case 'H': host = optarg; break;
		default:
			return drb_error(DRB_ERR_USAGE, "unknown option '%s' (see 'drbackup hold --help')",
					 argv[optind - 1]);
		}
	}
	if (!practice || optind < argc || (!release && (!reason || !*reason)))
		return drb_error(DRB_ERR_USAGE, "hold takes --practice NAME and --reason TEXT, or "
						"--release --practice NAME");
	drb_config *c;
	drb_repo_set *set = NULL;
	if ((rc = drb_ctx_config(ctx, &c)) < 0 || (rc = drb_repo_set_open(c, ctx->repo_name, &set)) < 0)
		return rc;
	if (!host)
		host = c->host_id;
	char who[300], hostname[128] = "?";
	struct passwd *pw = getpwuid(geteuid());
	gethostname(hostname, sizeof hostname - 1);
	snprintf(who, sizeof who, "%s@%s (drbackup host %s)", pw ? pw->pw_name : "?", hostname,
		 c->host_id);
	drb_hold h = {.practice = (char *)practice, .reason = (char *)reason, .by = who,
		      .since = time(NULL)};
	if (release) {
		/* keep the original reason and time: the record says what was released */
		drb_catalog *cat = NULL;
		for (size_t i = 0; i < set->n && !cat; i++)
			if (drb_catalog_load(set->repos[i], host, &cat) < 0) {
				drb_error_clear();
				cat = NULL;
			}
		const drb_hold *old = NULL;
		for (size_t i = 0; cat && i < cat->n_holds; i++)
			if (strcmp(cat->holds[i].practice, practice) == 0 && !cat->holds[i].released)
				old = &cat->holds[i];
		if (!old) {
			drb_catalog_free(cat);
			drb_repo_set_close(set);
			return drb_error(DRB_ERR_NOT_FOUND, "practice %s of %s has no hold to release",
					 practice, host);
		}
		static char reason_copy[1024];
		snprintf(reason_copy, sizeof reason_copy, "%s", old->reason ? old->reason : "");
		h.reason = reason_copy; /* the catalog goes before the audit record is written */
		h.since = old->since;
		h.released = true;
		h.released_at = time(NULL);
		char *text = NULL, *path = drb_path_hold(host, practice);
		size_t ok = 0;
		if ((rc = drb_hold_to_json(&h, &text)) == 0 && path)
			for (size_t i = 0; i < set->n; i++) {
				if (drb_meta_put(set->repos[i], path, "hold", text) == 0)
					ok++;
				else
					drb_log_current_error("hold --release");
			}
		free(text);
		free(path);
		drb_catalog_free(cat);
		if (ok)
			drb_log_info("the hold on practice %s of %s is released in %zu of %zu "
				     "repositories",
				     practice, host, ok, set->n);
		rc = ok == set->n ? 0 : ok ? drb_error(DRB_ERR_DEGRADED, "a repository missed the release")
					  : drb_error(DRB_ERR_FAILED, "no repository took the release");
		if (ok && rc == 0)
			rc = legal_holds(set, host, practice, false);
	} else {
		char *text = NULL, *path = drb_path_hold(host, practice);
		size_t ok = 0;
		if ((rc = drb_hold_to_json(&h, &text)) == 0 && path)
			for (size_t i = 0; i < set->n; i++) {
				if (drb_meta_put(set->repos[i], path, "hold", text) == 0)
					ok++;
				else
					drb_log_current_error("hold");
			}
		free(text);
		free(path);
		if (ok)
			drb_log_info("practice %s of %s is on hold (%s): expire deletes nothing of it "
				     "until it is released",
				     practice, host, reason);
		rc = ok == set->n ? 0 : ok ? drb_error(DRB_ERR_DEGRADED, "a repository missed the hold")
					  : drb_error(DRB_ERR_FAILED, "no repository took the hold");
		if (ok && rc == 0)
			rc = legal_holds(set, host, practice, true);
	}
	json_t *rec = drb_audit_begin(release ? "hold-release" : "hold", host, time(NULL));
	if (rec) {
		json_object_set_new(rec, "practices", json_pack("[s]", practice));
		json_object_set_new(rec, "reason", json_string(h.reason ? h.reason : ""));
		drb_audit_finish(set, c, rec, rc);
	}
	if (ctx->json && rc >= 0) {
		json_t *j = json_pack("{s:s, s:s, s:b, s:s?}", "host_id", host, "practice", practice,
				      "released", release, "reason", h.reason);
		json_dumpf(j, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	}
	drb_repo_set_close(set);
	return rc;
}
