/* drbackup repo ls|get|put: look into a repository by hand. */
#include "config.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/drb1.h"
#include "common/error.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/object.h"
#include "common/repo.h"

typedef struct ls_state {
	drb_repo *repo;
	json_t *list;
	uint64_t count, bytes;
} ls_state;

static int ls_one(void *ud, const char *path, const drb_obj_stat *st)
{
	ls_state *s = ud;
	char ts[32];
	time_t t = st->mtime;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	s->count++;
	s->bytes += st->size;
	if (s->list)
		json_array_append_new(s->list, json_pack("{s:s, s:s, s:I, s:s}", "repo", s->repo->name,
							 "path", path, "size", (json_int_t)st->size,
							 "mtime", ts));
	else
		printf("%12llu  %s  %s\n", (unsigned long long)st->size, ts, path);
	return 0;
}

static int repo_ls(drb_ctx *ctx, drb_repo_set *set, const char *prefix)
{
	json_t *all = ctx->json ? json_array() : NULL;
	int rc = 0;
	for (size_t i = 0; i < set->n && rc == 0; i++) {
		ls_state s = {.repo = set->repos[i], .list = all};
		if (!ctx->json && set->n > 1)
			printf("%s# repository %s (%s)\n", i ? "\n" : "", s.repo->name, s.repo->where);
		rc = drb_repo_list(s.repo, prefix, true, ls_one, &s);
	}
	if (all) {
		if (rc == 0) {
			json_dumpf(all, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
			putchar('\n');
		}
		json_decref(all);
	}
	return rc;
}

/* Decide on the first four bytes: a DRB1 object is opened, anything else passes as stored. */
typedef struct sniff {
	drb_sink base;
	drb_sink *out; /* stdout */
	drb_sink *next;
	const drb_keyring *keys;
	const char *path;
	uint8_t head[4];
	size_t have;
} sniff;

static int sniff_decide(sniff *s)
{
	if (s->have == 4 && memcmp(s->head, DRB1_MAGIC, 4) == 0) {
		drb_sink *b = drb_borrow_sink_new(s->out);
		int rc = drb_open_new(b, s->keys, s->path, &s->next);
		if (rc < 0) {
			drb_sink_free(b);
			return rc;
		}
	} else {
		s->next = drb_borrow_sink_new(s->out);
	}
	return drb_sink_write(s->next, s->head, s->have);
}

static int sniff_write(drb_sink *sk, const void *buf, size_t len)
{
	sniff *s = (sniff *)sk;
	const uint8_t *p = buf;
	while (!s->next && len) {
		s->head[s->have++] = *p++;
		len--;
		if (s->have == 4) {
			int rc = sniff_decide(s);
			if (rc < 0)
				return rc;
		}
	}
	return len ? drb_sink_write(s->next, p, len) : 0;
}

static int sniff_finish(drb_sink *sk)
{
	sniff *s = (sniff *)sk;
	if (!s->next) {
		int rc = sniff_decide(s);
		if (rc < 0)
			return rc;
	}
	return drb_sink_finish(s->next);
}

static void sniff_abort(drb_sink *sk)
{
	sniff *s = (sniff *)sk;
	if (s->next)
		drb_sink_abort(s->next);
}

static void sniff_free(drb_sink *sk)
{
	sniff *s = (sniff *)sk;
	drb_sink_free(s->next);
	free(s);
}

static const drb_sink_ops sniff_ops = {"sniff", sniff_write, sniff_finish, sniff_abort, sniff_free};

static int repo_get(drb_ctx *ctx, drb_repo_set *set, const char *path, bool raw)
{
	drb_keyring *keys = NULL;
	drb_sink *out = drb_fd_sink_new(STDOUT_FILENO, "standard output"), *chain = NULL;
	drb_repo *from = NULL;
	int rc = 0;
	if (!out)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < set->n && !from; i++) {
		drb_obj_stat st;
		rc = drb_repo_stat(set->repos[i], path, &st);
		if (rc == 0)
			from = set->repos[i];
		else if (rc != DRB_ERR_NOT_FOUND)
			drb_log_warn("repository %s: %s: skipped", set->repos[i]->name, path);
	}
	if (!from) {
		rc = drb_error(DRB_ERR_NOT_FOUND, "%s is not in %s", path,
			       set->n == 1 ? set->repos[0]->name : "any repository");
		goto out;
	}
	if (!raw && (rc = drb_keyring_load(ctx->cfg, 1, &keys)) < 0)
		goto out;
	if (raw) {
		chain = drb_borrow_sink_new(out);
	} else {
		sniff *s = calloc(1, sizeof *s);
		if (s) {
			s->base.ops = &sniff_ops;
			s->out = out;
			s->keys = keys;
			s->path = path;
			chain = &s->base;
		}
	}
	if (!chain) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = drb_repo_get(from, path, chain);
	if (rc == 0)
		rc = drb_sink_finish(chain);
	if (rc < 0)
		drb_sink_abort(chain);
out:
	drb_sink_free(chain);
	drb_sink_free(out);
	drb_keyring_free(keys);
	return rc;
}

static int repo_put(drb_ctx *ctx, drb_repo_set *set, const char *path)
{
	drb_keyring *keys = NULL;
	drb_object_writer w;
	drb_object_info info;
	int rc = drb_keyring_load(ctx->cfg, 0, &keys);
	if (rc < 0)
		return rc;
	if (isatty(STDIN_FILENO))
		drb_log_info("reading the object from standard input (end with Ctrl-D)");
	drb_object_params p = {
		.keys = keys,
		.kind = DRB1_KIND_DATA,
		.level = (int)ctx->cfg->compression.level,
		.threads = ctx->cfg->compression.threads ? (int)ctx->cfg->compression.threads
							 : drb_ncpu(),
	};
	if ((rc = drb_object_create(set, path, &p, &w)) < 0)
		goto out;
	rc = drb_pump_fd(STDIN_FILENO, w.head, "standard input", NULL);
	if (rc < 0) {
		drb_object_discard(&w);
		goto out;
	}
	if ((rc = drb_object_commit(&w, &info)) < 0)
		goto out;
	if (info.failed) {
		rc = drb_error(DRB_ERR_DEGRADED, "%s was stored in %zu of %zu repositories (%s)",
			       path, set->n - info.failed, set->n, info.why);
		goto out;
	}
	drb_log_info("stored %s (%llu bytes, sha256 %s) in %zu %s", path,
		     (unsigned long long)info.stored_bytes, info.sha256, set->n,
		     set->n == 1 ? "repository" : "repositories");
out:
	drb_keyring_free(keys);
	return rc;
}

int drb_cmd_repo(drb_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"raw", no_argument, NULL, 'r'}, {0, 0, 0, 0}};
	drb_config *cfg;
	drb_repo_set *set = NULL;
	bool raw = false;
	int opt, rc;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt != 'r') {
			drb_cli_usage_error("repo", "unknown option '%s'", argv[optind - 1]);
			return DRB_ERR_USAGE;
		}
		raw = true;
	}
	if (optind >= argc) {
		drb_cli_usage_error("repo", "repo needs ls, get or put");
		return DRB_ERR_USAGE;
	}
	const char *verb = argv[optind];
	const char *arg = optind + 1 < argc ? argv[optind + 1] : NULL;
	bool is_ls = strcmp(verb, "ls") == 0, is_get = strcmp(verb, "get") == 0,
	     is_put = strcmp(verb, "put") == 0;
	if (!is_ls && !is_get && !is_put) {
		drb_cli_usage_error("repo", "'%s' is not ls, get or put", verb);
		return DRB_ERR_USAGE;
	}
	if ((!is_ls && !arg) || optind + 2 < argc) {
		drb_cli_usage_error("repo", "repo %s takes %s", verb, is_ls ? "at most a PREFIX" : "one PATH");
		return DRB_ERR_USAGE;
	}
	if ((rc = drb_ctx_config(ctx, &cfg)) < 0)
		return rc;
	if ((rc = drb_repo_set_open(cfg, ctx->repo_name, &set)) < 0)
		return rc;
	if (is_ls)
		rc = repo_ls(ctx, set, arg ? arg : "");
	else if (is_get)
		rc = repo_get(ctx, set, arg, raw);
	else
		rc = repo_put(ctx, set, arg);
	drb_repo_set_close(set);
	return rc;
}
