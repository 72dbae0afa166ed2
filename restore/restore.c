/* drbackup restore: bring databases back to a point in time, from any repository, onto this
 * server or another. The plan can be printed without changing anything (--dry-run). */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/audit.h"
#include "common/db.h"
#include "common/error.h"
#include "common/fork.h"
#include "common/keys.h"
#include "common/log.h"
#include "restore/apply.h"
#include "restore/restore.h"

static void print_plan(const drb_restore_opts *o, const drb_restore_result *r, bool json)
{
	char reached[21] = "", want[300];
	drb_target_describe(&o->target, want, sizeof want);
	if (r->reached_time > 0)
		drb_time_iso(r->reached_time, reached);
	if (json) {
		json_t *dbs = json_array();
		for (size_t i = 0; i < r->n_dbs; i++)
			json_array_append_new(dbs, json_pack("{s:s, s:I, s:I, s:I}", "name", r->dbs[i].name,
							     "plain_bytes", (json_int_t)r->dbs[i].plain_bytes,
							     "stored_bytes", (json_int_t)r->dbs[i].stored_bytes,
							     "millis", (json_int_t)r->dbs[i].millis));
		json_t *j = json_pack(
			"{s:s, s:s, s:s, s:s, s:o, s:{s:I, s:I, s:s, s:s}, s:I, s:s, s:s, s:b, "
			"s:{s:I, s:I, s:I, s:I}}",
			"host_id", o->host_id, "target", want, "backup_id", r->backup_id, "repository",
			r->repo, "databases", dbs, "binlog", "files", (json_int_t)r->n_files, "segments",
			(json_int_t)r->n_segments, "first_file", r->first_file, "last_file", r->last_file,
			"bytes", (json_int_t)r->bytes, "reached_time", reached, "reached_gtid",
			r->reached_gtid, "dry_run", o->dry_run, "millis", "fetch",
			(json_int_t)r->millis_fetch, "load", (json_int_t)r->millis_load, "replay",
			(json_int_t)r->millis_replay, "total", (json_int_t)r->millis_total);
		json_dumpf(j, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
		return;
	}
	printf("%s %s of host %s to %s\n", o->dry_run ? "plan: restore" : "restored", r->n_dbs == 1 ? "1 database" : "databases", o->host_id, want);
	printf("  full backup   %s (repository %s)\n", r->backup_id, r->repo);
	for (size_t i = 0; i < r->n_dbs; i++)
		printf("  database      %-24s %10.1f MB of SQL\n", r->dbs[i].name, r->dbs[i].plain_bytes / 1e6);
	if (r->n_segments)
		printf("  binlog        %zu segment%s in %zu file%s, %s .. %s\n", r->n_segments,
		       r->n_segments == 1 ? "" : "s", r->n_files, r->n_files == 1 ? "" : "s",
		       r->first_file, r->last_file);
	else
		printf("  binlog        none to replay\n");
	printf("  to fetch      %.1f MB\n", r->bytes / 1e6);
	printf("  point reached %s%s%s\n", reached[0] ? reached : "the snapshot",
	       r->reached_gtid[0] ? ", GTID " : "", r->reached_gtid);
	if (!o->dry_run)
		printf("  time          %.1f s (fetch and check %.1f s, load %.1f s, replay %.1f s)\n",
		       r->millis_total / 1000.0, r->millis_fetch / 1000.0, r->millis_load / 1000.0,
		       r->millis_replay / 1000.0);
}

/* What the audit record says of a restore: which databases, to when, into which server. */
static void record(json_t *rec, const drb_restore_opts *o, const drb_restore_result *r,
		   const char *to)
{
	json_t *practices = json_object_get(rec, "practices");
	char target[PATH_MAX + 64], reached[21] = "";
	for (size_t i = 0; i < o->n_dbs; i++)
		json_array_append_new(practices, json_string(o->dbs[i]));
	for (size_t i = 0; o->n_dbs == 0 && i < r->n_dbs; i++)
		json_array_append_new(practices, json_string(r->dbs[i].name));
	if (o->dest.socket)
		snprintf(target, sizeof target, "server at socket %s", o->dest.socket);
	else
		snprintf(target, sizeof target, "server at %s:%d", o->dest.host ? o->dest.host : "?",
			 o->dest.port);
	if (r->reached_time > 0)
		drb_time_iso(r->reached_time, reached);
	json_object_set_new(rec, "point_in_time", json_string(to));
	json_object_set_new(rec, "reached", reached[0] ? json_string(reached) : json_null());
	json_object_set_new(rec, "backup_id", json_string(r->backup_id));
	json_object_set_new(rec, "target", json_string(target));
}

int drb_cmd_restore(drb_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"to", required_argument, NULL, 't'},         {"host", required_argument, NULL, 'H'},
		{"db", required_argument, NULL, 'd'},         {"jobs", required_argument, NULL, 'j'},
		{"target-socket", required_argument, NULL, 's'}, {"target-host", required_argument, NULL, 'h'},
		{"target-port", required_argument, NULL, 'p'}, {"target-user", required_argument, NULL, 'u'},
		{"target-ssl-ca", required_argument, NULL, 'C'},
		{"force", no_argument, NULL, 'f'},            {"dry-run", no_argument, NULL, 'n'},
		{"allow-unsigned", no_argument, NULL, 'U'},   {"repo-as-of", required_argument, NULL, 'A'},
		{0, 0, 0, 0}};
	drb_restore_opts o = {0};
	drb_restore_result r = {0};
	drb_config *c;
	drb_keyring *keys = NULL;
	const char *to = NULL, *host = NULL, *sock = NULL, *thost = NULL, *tuser = NULL,
		   *tca = NULL;
	const char **dbs = NULL;
	size_t n_dbs = 0;
	long port = 0, jobs = 0;
	bool allow_unsigned = false;
	int64_t as_of = 0;
	json_t *audit = NULL;
	int opt, rc;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end = NULL;
		switch (opt) {
		case 't': to = optarg; break;
		case 'H': host = optarg; break;
		case 'd': {
			if (drb_db_is_system(optarg)) {
				free(dbs);
				return drb_error(DRB_ERR_USAGE,
						 "--db %s: a system schema is never restored", optarg);
			}
			const char **v = realloc(dbs, (n_dbs + 1) * sizeof *v);
			if (!v) {
				free(dbs);
				return drb_error(DRB_ERR_NOMEM, "out of memory");
			}
			dbs = v;
			dbs[n_dbs++] = optarg;
			break;
		}
		case 'j':
			jobs = strtol(optarg, &end, 10);
			if (*end || jobs < 1 || jobs > 256) {
				free(dbs);
				return drb_error(DRB_ERR_USAGE, "--jobs takes a number from 1 to 256");
			}
			break;
		case 's': sock = optarg; break;
		case 'h': thost = optarg; break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*end || port < 1 || port > 65535) {
				free(dbs);
				return drb_error(DRB_ERR_USAGE, "--target-port takes a TCP port");
			}
			break;
		case 'u': tuser = optarg; break;
		case 'C': tca = optarg; break;
		case 'f': o.force = true; break;
		case 'n': o.dry_run = true; break;
		case 'U': allow_unsigned = true; break;
		case 'A':
			if (drb_repo_as_of_parse(optarg, &as_of) < 0) {
				free(dbs);
				return drb_error_code();
			}
			break;
		default:
			free(dbs);
			return drb_error(DRB_ERR_USAGE,
					 "unknown or incomplete option '%s' (see 'drbackup restore --help')",
					 argv[optind - 1]);
		}
	}
	if (!to || optind < argc) {
		free(dbs);
		return drb_error(DRB_ERR_USAGE,
				 optind < argc ? "unexpected argument (see 'drbackup restore --help')"
					       : "restore needs --to TIME|GTID|latest (see 'drbackup restore --help')");
	}
	if ((rc = drb_target_parse(to, &o.target)) < 0 || (rc = drb_ctx_config(ctx, &c)) < 0) {
		free(dbs);
		return rc;
	}
	o.cfg = c;
	o.host_id = host ? host : c->host_id;
	if (!o.dry_run)
		audit = drb_audit_begin("restore", o.host_id, time(NULL));
	o.dbs = dbs;
	o.n_dbs = n_dbs;
	o.jobs = (int)(jobs ? jobs : c->db.jobs ? c->db.jobs : drb_restore_default_jobs());
	o.spool = c->spool_dir;
	o.dest = drb_db_target_from_config(c);
	if (sock || thost) {
		o.dest.socket = sock;
		o.dest.host = thost;
		o.dest.tls_off = false; /* the configuration's opt-out is for its own host */
	}
	if (tca)
		o.dest.ssl_ca = tca;
	if ((rc = drb_db_target_check(&o.dest)) < 0) {
		rc = drb_error_wrap(DRB_ERR_USAGE, "restore");
		goto out; /* recorded: a refused restore is an action too */
	}
	if (port)
		o.dest.port = (int)port;
	/* the client connects as the OS user unless told otherwise, like the mariadb client */
	o.dest.user = tuser;
	if (!tuser || !c->db.user || strcmp(tuser, c->db.user) != 0)
		o.dest.password_file = NULL;
	if (!o.dry_run && (rc = drb_keyring_load(c, 1, &keys)) < 0)
		goto out;
	if (!o.dry_run && keys->n_sec == 0) {
		rc = drb_error(DRB_ERR_CONFIG,
			       "restore needs a secret key: set encryption { secret_keys } in %s", c->file);
		goto out;
	}
	o.keys = keys;
	if ((rc = drb_repo_set_open(c, ctx->repo_name, &o.set)) < 0)
		goto out;
	drb_repo_set_allow_unsigned(o.set, allow_unsigned);
	if (as_of && (rc = drb_repo_set_as_of(o.set, as_of)) < 0)
		goto out;
	rc = drb_restore_run(&o, &r);
	if (rc == 0 && !o.dry_run && drb_fork_is_source(c, &o.dest)) {
		/* the server being backed up went back in time: its binlog history forks here */
		if (drb_fork_note(c, &o.dest) < 0) {
			drb_log_current_error("marking the restore for the binlog agent");
			drb_error_clear();
		} else {
			drb_log_warn("this restore went into the server that is backed up: the next "
				     "'drbackup binlog' starts a new binlog generation, and restores past "
				     "this point need a full backup taken after it: run 'drbackup "
				     "binlog' then 'drbackup full' now");
		}
	}
	if (rc == 0 || (o.dry_run && r.backup_id[0] && rc == 0))
		print_plan(&o, &r, ctx->json);
	if (rc < 0)
		drb_error_wrap(0, "restore of %s to %s", o.host_id, to);
out:
	if (as_of && o.set) { /* the audit record goes to the repository of today */
		drb_error_state saved;
		drb_error_save(&saved);
		(void)drb_repo_set_as_of(o.set, 0);
		drb_error_restore(&saved);
	}
	if (audit)
		record(audit, &o, &r, to);
	drb_audit_finish(o.set, c, audit, rc);
	drb_restore_result_free(&r);
	drb_repo_set_close(o.set);
	drb_keyring_free(keys);
	free(dbs);
	return rc;
}
