/* The repository interface: one table of operations per driver. common/ holds the posix driver;
 * other drivers (s3/) are registered by the entry point, so no command knows which one it talks
 * to. Paths are relative to the repository root (a bucket prefix, a folder), use '/', and never
 * start with '/' or contain "." or ".." components. */
#ifndef DRB_REPO_H
#define DRB_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/sign.h"
#include "common/sink.h"

typedef struct drb_obj_stat {
	uint64_t size;
	int64_t mtime; /* seconds since the epoch, UTC */
} drb_obj_stat;

typedef struct drb_put_opts {
	uint64_t size_hint; /* expected size when known (0: unknown); lets a driver size its parts */
	bool immutable;     /* data objects: apply the repository's retention lock when it has one */
} drb_put_opts;

/* What a store says about one object beyond its size: its lock, legal hold and storage class. */
typedef struct drb_obj_info {
	char lock_mode[16];      /* "COMPLIANCE", "GOVERNANCE", "" when not locked */
	int64_t retain_until;    /* seconds since the epoch; 0 without a retention date */
	bool legal_hold;         /* an S3 legal hold is ON */
	char storage_class[32];  /* "STANDARD" when the store names none */
	char restore[160];       /* x-amz-restore of an archived object, "" without */
} drb_obj_info;

/* Called once per object, in ascending byte order of path. A folder (non-recursive listing)
 * comes as a path ending in '/' with st == NULL. Return non-zero to stop early (that value is
 * returned by list). */
typedef int (*drb_repo_list_fn)(void *ud, const char *path, const drb_obj_stat *st);

typedef struct drb_repo_driver {
	const char *type;
	/* Prepare a repository from its section; no I/O needed yet. */
	int (*open)(const drb_repo_config *cfg, void **impl);
	void (*close)(void *impl);
	/* A sink that stores what it is given at path. finish makes the whole object visible at
	 * once, after checking that what landed has the size written; abort leaves nothing behind.
	 * An existing object at path is replaced as a whole. */
	int (*put)(void *impl, const char *path, const drb_put_opts *opts, drb_sink **writer);
	/* Stream the whole object into out (out is neither finished nor aborted here). Dropped
	 * connections are resumed where they broke; bytes already written are never repeated. */
	int (*get)(void *impl, const char *path, drb_sink *out);
	/* Every object whose path starts with prefix; recursive = false stops at the next '/'. */
	int (*list)(void *impl, const char *prefix, bool recursive, drb_repo_list_fn fn, void *ud);
	/* DRB_ERR_NOT_FOUND when there is no such object. */
	int (*stat)(void *impl, const char *path, drb_obj_stat *st);
	/* Delete objects; a missing one is not an error. */
	int (*remove)(void *impl, const char *const *paths, size_t n);
	/* Where it lives, for messages: "/mnt/dr" or "s3://bucket/prefix". */
	void (*describe)(void *impl, char *buf, size_t len);
	/* Optional: a recursive listing of the objects after the path after (S3 start-after). */
	int (*list_after)(void *impl, const char *prefix, const char *after, drb_repo_list_fn fn,
			  void *ud);
	/* Optional: re-read credentials that were rotated (their files changed, or the store said
	 * they expired). Called between operations, never while one is in flight. */
	int (*refresh)(void *impl);
	/* Optional: a link that lets whoever holds it GET path for expires_seconds without
	 * credentials (an S3 presigned URL; *url is malloc'd). No request is made. */
	int (*presign)(void *impl, const char *path, long expires_seconds, char **url);
	/* Optional (stores with Object Lock, versions and storage classes: S3). */
	int (*info)(void *impl, const char *path, drb_obj_info *out);
	/* Extend the retention of path's current version to until (never shortens it): 1 when
	 * extended, 0 when it was locked that long already. */
	int (*retain)(void *impl, const char *path, int64_t until);
	/* Turn the legal hold of path's current version on or off. */
	int (*legal_hold)(void *impl, const char *path, bool on);
	/* Move path to another storage class by a copy onto itself (its lock is kept). */
	int (*set_class)(void *impl, const char *path, const char *storage_class);
	/* From now on read the repository as it was at t (0: as it is): for each key the newest
	 * version not after t, delete markers skipped. Writes are refused meanwhile. */
	int (*as_of)(void *impl, int64_t t);
} drb_repo_driver;

typedef struct drb_repo {
	const drb_repo_driver *driver;
	void *impl;
	const drb_repo_config *cfg;
	const char *name;
	char where[256];
	/* metadata: who signs what this host writes (NULL: unsigned), whom it trusts when reading
	 * (NULL: nobody; only a repository set opened from a configuration has one) */
	const drb_signer *signer;
	const drb_trust *trust;
} drb_repo;

/* Drivers: posix is built in; others are registered before the first drb_repo_open. */
int drb_repo_register(const drb_repo_driver *driver);
extern const drb_repo_driver drb_posix_driver;

int drb_repo_open(const drb_repo_config *cfg, drb_repo **out);
void drb_repo_close(drb_repo *r);

int drb_repo_put(drb_repo *r, const char *path, const drb_put_opts *opts, drb_sink **writer);
int drb_repo_get(drb_repo *r, const char *path, drb_sink *out);
int drb_repo_list(drb_repo *r, const char *prefix, bool recursive, drb_repo_list_fn fn, void *ud);
/* Recursive, only the paths that sort after after: the cost follows what is new. */
int drb_repo_list_after(drb_repo *r, const char *prefix, const char *after, drb_repo_list_fn fn,
			void *ud);
int drb_repo_stat(drb_repo *r, const char *path, drb_obj_stat *st);
int drb_repo_remove(drb_repo *r, const char *const *paths, size_t n);
/* A download link for path valid expires_seconds; DRB_ERR_NOT_IMPLEMENTED when the driver hands
 * out none (posix). */
bool drb_repo_can_presign(const drb_repo *r);
int drb_repo_presign(drb_repo *r, const char *path, long expires_seconds, char **url);

/* Object Lock, legal hold, storage classes, reading the past: DRB_ERR_NOT_IMPLEMENTED where the
 * driver has none of it (posix). */
bool drb_repo_can_lock(const drb_repo *r);
int drb_repo_info(drb_repo *r, const char *path, drb_obj_info *out);
int drb_repo_retain(drb_repo *r, const char *path, int64_t until);
int drb_repo_legal_hold(drb_repo *r, const char *path, bool on);
int drb_repo_set_class(drb_repo *r, const char *path, const char *storage_class);
int drb_repo_as_of(drb_repo *r, int64_t t);

/* Store a small object from memory / read one into memory (at most max bytes). */
int drb_repo_put_buf(drb_repo *r, const char *path, const void *buf, size_t len,
		     const drb_put_opts *opts);
int drb_repo_get_buf(drb_repo *r, const char *path, size_t max, char **out, size_t *len);
/* Copy the stored bytes of path from src to dst unchanged (healing a second region). With
 * expect_sha256, a copy whose bytes hash otherwise is aborted, never committed. */
int drb_repo_copy(drb_repo *src, drb_repo *dst, const char *path, const drb_put_opts *opts,
		  const char *expect_sha256);

/* A path is safe to use: relative, '/'-separated, no empty, "." or ".." parts, no NUL or '\\'. */
bool drb_repo_path_ok(const char *path);

/* ---- every configured repository at once ---- */

typedef struct drb_repo_set {
	drb_repo **repos;
	size_t n;
	drb_signer *signer; /* from signing { key }, or NULL */
	drb_trust *trust;   /* from trust { }, with this host's own signing key */
} drb_repo_set;

/* Open every repository of the configuration, or only the one called only_name when set; loads
 * the signing key and the pinned keys that its metadata is written and read with. */
int drb_repo_set_open(const drb_config *c, const char *only_name, drb_repo_set **out);
void drb_repo_set_close(drb_repo_set *set);
/* Accept metadata without a signature (backups from before signing), with a warning. */
void drb_repo_set_allow_unsigned(drb_repo_set *set, bool allow);
/* --repo-as-of: every repository of the set read as it was at t (0: as it is). Refused, in one
 * line naming it, when one repository keeps no versions (posix). */
int drb_repo_set_as_of(drb_repo_set *set, int64_t t);
/* "2026-12-01 10:00:00" or "2026-12-01T10:00:00Z" (UTC) for --repo-as-of; not in the future. */
int drb_repo_as_of_parse(const char *s, int64_t *t);
/* Let every driver re-read rotated credentials (a long-running process, between operations);
 * a repository whose new credentials cannot be read keeps the old ones, with a warning. */
int drb_repo_refresh(drb_repo *r);
void drb_repo_set_refresh(drb_repo_set *set);

/* A sink that writes the same bytes to path in every repository of the set. A repository that
 * fails is dropped (its copy aborted, its error kept) while at least one goes on; the sink fails
 * only when every repository has failed. After finish, drb_fanout_ok tells which copies landed. */
int drb_fanout_put(drb_repo_set *set, const char *path, const drb_put_opts *opts, drb_sink **out);
bool drb_fanout_ok(drb_sink *fanout, size_t i);
/* The error of the repository i that failed (its message as one line), or NULL. */
const char *drb_fanout_error(drb_sink *fanout, size_t i);
size_t drb_fanout_failed(drb_sink *fanout);
/* "repository dr: <why>; ..." for every repository that missed its copy. */
void drb_fanout_describe_failures(drb_sink *fanout, char *buf, size_t len);

#endif
