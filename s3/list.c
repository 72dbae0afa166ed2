/* Listing with ListObjectsV2: page after page (continuation-token), under the repository's
 * prefix, with delimiter '/' when not recursive so that folders come back as CommonPrefixes. A
 * page holds objects and folders in two sorted lists; they are merged so the caller sees one
 * ascending sequence, and the order across pages is checked rather than trusted. Keys come
 * URL-encoded when the server honours encoding-type=url (XML cannot carry every byte). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "s3/internal.h"

#define LIST_BODY_MAX (32u * 1024 * 1024)

static int by_key(const void *a, const void *b)
{
	return strcmp(((const drb_s3_entry *)a)->key, ((const drb_s3_entry *)b)->key);
}

static int list(void *impl, const char *prefix, bool recursive, const char *after,
		drb_repo_list_fn fn, void *ud)
{
	drb_s3 *s3 = impl;
	drb_s3_resp resp = {0};
	drb_s3_list_page page = {0};
	char *full = NULL, *token = NULL, *last = NULL, where[600];
	size_t strip = *s3->prefix ? strlen(s3->prefix) + 1 : 0;
	unsigned pages = 0;
	int rc = 0;
	if (s3->as_of) /* --repo-as-of: the versions of then (versions.c) */
		return drb_s3_asof_list(s3, prefix, recursive, after, fn, ud);
	/* the prefix of the repository always ends the listed prefix with '/' */
	size_t n = strlen(s3->prefix) + strlen(prefix) + 2;
	if (!(full = malloc(n)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	snprintf(full, n, "%s%s%s", s3->prefix, *s3->prefix ? "/" : "", prefix);
	drb_s3_where(s3, full, where, sizeof where);
	char *from = NULL;
	if (after && asprintf(&from, "%s%s%s", s3->prefix, *s3->prefix ? "/" : "", after) < 0) {
		free(full);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	for (;;) {
		drb_s3_req req = {.method = "GET", .what = "listing", .body_max = LIST_BODY_MAX};
		req.query[req.n_query++] = (drb_s3_kv){"list-type", "2"};
		req.query[req.n_query++] = (drb_s3_kv){"prefix", full};
		req.query[req.n_query++] = (drb_s3_kv){"encoding-type", "url"};
		if (!recursive)
			req.query[req.n_query++] = (drb_s3_kv){"delimiter", "/"};
		if (token)
			req.query[req.n_query++] = (drb_s3_kv){"continuation-token", token};
		else if (from)
			req.query[req.n_query++] = (drb_s3_kv){"start-after", from};
		if ((rc = drb_s3_send(s3, &req, &resp)) < 0)
			goto out;
		if ((rc = drb_s3_parse_list(resp.body, resp.body_len, &page)) < 0) {
			rc = drb_error_wrap(0, "listing %s (page %u)", where, pages + 1);
			goto out;
		}
		pages++;
		if (page.n)
			qsort(page.v, page.n, sizeof *page.v, by_key);
		for (size_t i = 0; i < page.n; i++) {
			drb_s3_entry *e = &page.v[i];
			size_t kl = strlen(e->key);
			if (strncmp(e->key, full, strlen(full)) != 0 || kl <= strip)
				continue; /* not below the prefix: nothing of ours */
			const char *rel = e->key + strip;
			if (after && strcmp(rel, after) <= 0)
				continue; /* a server that ignores start-after */
			if (!e->is_prefix && rel[strlen(rel) - 1] == '/') {
				drb_log_debug("listing %s: skipped folder marker object %s", where,
				              e->key);
				continue;
			}
			if (last) {
				int c = strcmp(rel, last);
				if (c == 0)
					continue; /* a folder repeated on the next page */
				if (c < 0) {
					rc = drb_error(
					    DRB_ERR_REMOTE,
					    "listing %s: the server returned \"%.200s\" after "
					    "\"%.200s\", out of order",
					    where, rel, last);
					goto out;
				}
			}
			drb_obj_stat st = {.size = e->size, .mtime = e->mtime};
			if ((rc = fn(ud, rel, e->is_prefix ? NULL : &st)) != 0)
				goto out; /* the caller stops here */
			free(last);
			if (!(last = strdup(rel))) {
				rc = drb_error(DRB_ERR_NOMEM, "out of memory");
				goto out;
			}
		}
		if (!page.truncated)
			break;
		if (!page.next_token || (token && strcmp(token, page.next_token) == 0)) {
			rc = drb_error(DRB_ERR_REMOTE,
			               "listing %s: page %u is truncated but gives %s continuation "
			               "token",
			               where, pages, page.next_token ? "the same" : "no");
			goto out;
		}
		free(token);
		token = page.next_token;
		page.next_token = NULL;
		drb_s3_list_page_free(&page);
	}
out:
	drb_s3_list_page_free(&page);
	drb_s3_resp_free(&resp);
	free(from);
	free(full);
	free(token);
	free(last);
	return rc;
}

int drb_s3_list(void *impl, const char *prefix, bool recursive, drb_repo_list_fn fn, void *ud)
{
	return list(impl, prefix, recursive, NULL, fn, ud);
}

/* Only the keys after one: today's segments without listing the year before them. */
int drb_s3_list_after(void *impl, const char *prefix, const char *after, drb_repo_list_fn fn,
		      void *ud)
{
	return list(impl, prefix, true, after, fn, ud);
}
