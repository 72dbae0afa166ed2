#include "config.h"
#include "common/object.h"
#include "common/compress.h"
#include "common/drb1.h"
#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int drb_object_create(drb_repo_set *set, const char *path, const drb_object_params *p,
		      drb_object_writer *w)
{
	drb_sink *fan = NULL, *hash = NULL, *seal = NULL, *head = NULL;
	drb_put_opts opts = {.size_hint = p->size_hint, .immutable = p->immutable};
	int rc;
	memset(w, 0, sizeof *w);
	if ((rc = drb_fanout_put(set, path, &opts, &fan)) < 0)
		return rc;
	if (!(hash = drb_hash_filter_new(fan))) {
		drb_sink_abort(fan);
		drb_sink_free(fan);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	rc = drb_seal_new(hash, p->keys, path, p->kind, p->level > 0 ? DRB1_COMP_ZSTD : DRB1_COMP_NONE,
			  &seal);
	if (rc < 0) {
		drb_sink_abort(hash);
		drb_sink_free(hash);
		return rc;
	}
	head = seal;
	if (p->level > 0 && (rc = drb_zstd_new(seal, p->level, p->threads, &head)) < 0) {
		drb_sink_abort(seal);
		drb_sink_free(seal);
		return rc;
	}
	w->head = head;
	w->hash = hash;
	w->fanout = fan;
	w->path = strdup(path);
	return 0;
}

int drb_object_write(drb_object_writer *w, const void *buf, size_t len)
{
	w->plain_bytes += len;
	return drb_sink_write(w->head, buf, len);
}

int drb_object_commit(drb_object_writer *w, drb_object_info *info)
{
	int rc = drb_sink_finish(w->head);
	if (rc < 0) {
		drb_object_discard(w);
		return rc;
	}
	if (info) {
		info->plain_bytes = w->plain_bytes;
		info->stored_bytes = drb_hash_filter_bytes(w->hash);
		memcpy(info->sha256, drb_hash_filter_hex(w->hash), 65);
		info->failed = drb_fanout_failed(w->fanout);
		info->failed_mask = 0;
		for (size_t i = 0; i < 64; i++)
			if (!drb_fanout_ok(w->fanout, i) && drb_fanout_error(w->fanout, i))
				info->failed_mask |= 1ull << i;
		drb_fanout_describe_failures(w->fanout, info->why, sizeof info->why);
	}
	drb_sink_free(w->head);
	free(w->path);
	memset(w, 0, sizeof *w);
	return 0;
}

void drb_object_discard(drb_object_writer *w)
{
	if (w->head) {
		drb_sink_abort(w->head);
		drb_sink_free(w->head);
	}
	free(w->path);
	memset(w, 0, sizeof *w);
}

int drb_object_read(drb_repo *r, const char *path, const drb_keyring *keys,
		    const char *expect_sha256, drb_sink *out)
{
	drb_sink *target = drb_borrow_sink_new(out), *open = NULL, *hash = NULL;
	int rc;
	if (!target)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	if ((rc = drb_open_new(target, keys, path, &open)) < 0) {
		drb_sink_free(target);
		return rc;
	}
	if (!(hash = drb_hash_filter_new(open))) {
		drb_sink_free(open);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	if (expect_sha256) {
		char what[1200];
		snprintf(what, sizeof what, "object %s in repository %s", path, r->name);
		drb_hash_filter_expect(hash, expect_sha256, what);
	}
	rc = drb_repo_get(r, path, hash);
	if (rc == 0)
		rc = drb_sink_finish(hash); /* the digest is checked before out is finished */
	if (rc < 0)
		drb_sink_abort(hash);
	drb_sink_free(hash);
	return rc;
}

int drb_object_put_buf(drb_repo_set *set, const char *path, const drb_object_params *p,
		       const void *buf, size_t len, drb_object_info *info)
{
	drb_object_writer w;
	drb_object_params q = *p;
	q.threads = 0;
	int rc = drb_object_create(set, path, &q, &w);
	if (rc < 0)
		return rc;
	if ((rc = drb_object_write(&w, buf, len)) < 0) {
		drb_object_discard(&w);
		return rc;
	}
	return drb_object_commit(&w, info);
}
