/* drbackup audit: who restored, tested, exported, held or expired what, and when, from the
 * signed records in the repositories (the first repository that answers, or --repo). */
#include "config.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/audit.h"
#include "common/catalog.h"
#include "common/error.h"
#include "common/log.h"
#include "restore/restore.h"

typedef struct shown {
	json_t *all; /* --json: every record */
	size_t n;
} shown;

static int show(void *ud, const char *path, json_t *rec)
{
	shown *s = ud;
	(void)path;
	s->n++;
	if (s->all)
		return json_array_append(s->all, rec) == 0
		           ? 0
		           : drb_error(DRB_ERR_NOMEM, "out of memory");
	json_t *by = json_object_get(rec, "by"), *target = json_object_get(rec, "target");
	char practices[512] = "", *t = NULL;
	size_t i, len = 0;
	json_t *v;
	json_array_foreach(json_object_get(rec, "practices"), i, v) len +=
	    (size_t)snprintf(practices + len, len < sizeof practices ? sizeof practices - len : 0,
	                     "%s%s", i ? "," : "", json_string_value(v));
	if (len >= sizeof practices)
		strcpy(practices + sizeof practices - 4, "...");
	if (json_is_string(target))
		t = strdup(json_string_value(target));
	else if (target)
		t = json_dumps(target, JSON_COMPACT | JSON_SORT_KEYS);
	const char *err = json_string_value(json_object_get(rec, "error"));
	printf("%s  %-12s %-6s %s@%s  practices %s  at %s  -> %s%s%s\n",
	       json_string_value(json_object_get(rec, "started")),
	       json_string_value(json_object_get(rec, "action")),
	       json_is_true(json_object_get(rec, "ok")) ? "ok" : "FAILED",
	       json_string_value(json_object_get(by, "user")) ?: "?",
	       json_string_value(json_object_get(by, "host_id")) ?: "?",
	       practices[0] ? practices : "-",
	       json_string_value(json_object_get(rec, "point_in_time")) ?: "-", t ? t : "-",
	       err ? "  error: " : "", err ? err : "");
	free(t);
	return 0;
}

int drb_cmd_audit(drb_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"practice", required_argument, NULL, 'p'},
	                                     {"since", required_argument, NULL, 's'},
	                                     {"host", required_argument, NULL, 'H'},
	                                     {"allow-unsigned", no_argument, NULL, 'U'},
	                                     {0, 0, 0, 0}};
	drb_audit_filter f = {0};
	drb_config *c;
	drb_repo_set *set = NULL;
	shown s = {0};
	bool allow_unsigned = false;
	size_t untrusted = 0;
	int opt, rc = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			f.practice = optarg;
			break;
		case 'H':
			f.host_id = optarg;
			break;
		case 'U':
			allow_unsigned = true;
			break;
		case 's':
			if (drb_time_parse(optarg, &f.since) < 0)
				return drb_error(DRB_ERR_USAGE, "--since takes a time, not '%s'",
				                 optarg);
			break;
		default:
			return drb_error(
			    DRB_ERR_USAGE,
			    "unknown or incomplete option '%s' (see 'drbackup audit --help')",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		return drb_error(DRB_ERR_USAGE, "unexpected argument '%s'", argv[optind]);
	if ((rc = drb_ctx_config(ctx, &c)) < 0 ||
	    (rc = drb_repo_set_open(c, ctx->repo_name, &set)) < 0)
		return rc;
	drb_repo_set_allow_unsigned(set, allow_unsigned);
	if (!f.host_id)
		f.host_id = c->host_id;
	if (ctx->json)
		s.all = json_array();
	/* every record is in every repository: the first one that lists is enough */
	for (size_t i = 0; i < set->n; i++) {
		if ((rc = drb_audit_list(set->repos[i], &f, show, &s, &untrusted)) == 0)
			break;
		if (i + 1 < set->n) {
			drb_log_current_error("reading the audit trail");
			drb_error_clear();
			json_array_clear(s.all);
			s.n = 0;
		}
	}
	if (rc == 0 && s.all) {
		json_dumpf(s.all, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
		putchar('\n');
	} else if (rc == 0 && s.n == 0) {
		printf("no audit records for %s%s%s\n", f.host_id,
		       f.practice ? " and practice " : "", f.practice ? f.practice : "");
	}
	if (rc == 0 && untrusted)
		drb_log_warn("%zu audit record%s did not verify and %s not shown", untrusted,
		             untrusted == 1 ? "" : "s", untrusted == 1 ? "is" : "are");
	json_decref(s.all);
	drb_repo_set_close(set);
	return rc;
}
