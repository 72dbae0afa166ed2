/* drbackup.conf: the libconfuse schema, its checks and the parsed result. Every error names the
 * file, the line and what was expected, and maps to exit status 2. Files that hold secrets are
 * refused when anyone but their owner may read them. */
#ifndef DRB_CONFIG_H
#define DRB_CONFIG_H

#include <stdbool.h>

#define DRB_COMPACT_LEVELS_MAX 4
#include <stddef.h>

#define DRB_DEFAULT_CONFIG "/etc/drbackup/drbackup.conf"

typedef struct drb_repo_config {
	const char *name;
	const char *type; /* "s3" or "posix" */
	/* posix */
	const char *path;
	/* s3 */
	const char *endpoint;
	const char *region;
	const char *bucket;
	const char *prefix;
	const char *access_key_id;
	const char *secret_access_key_file;
	const char *session_token_file;
	const char *uri_style; /* "path" or "host" */
	const char *ca_file;
	bool allow_http; /* an http:// endpoint that is not loopback */
	const char *storage_class;
	long object_lock_days;        /* every object is locked this long at upload (0: no lock) */
	const char *object_lock_mode; /* "COMPLIANCE" (default) or "GOVERNANCE" */
	bool delete_versions;         /* a delete removes every version, not only adds a marker */
	bool legal_hold;              /* hold also sets S3 legal holds on the practice's objects */
	long tier_after_days;         /* tier { after_days }: 0 = no tiering */
	const char *tier_storage_class;
	long part_size;       /* bytes */
	bool sign_payload;    /* S3: x-amz-content-sha256 of data bodies, not UNSIGNED-PAYLOAD */
	long upload_parallel; /* parts in flight per object */
	long timeout;         /* seconds without progress before a request is retried */
	long retries;
} drb_repo_config;

/* The signing keys a restore host pins for one database host. */
typedef struct drb_trust_config {
	const char *host_id;
	const char **signing_keys; /* trusted now */
	size_t n_signing_keys;
	struct {
		const char *path;
		const char *until; /* trusted for what it signed up to this UTC time */
	} *retired;
	size_t n_retired;
	const char **revoked_keys; /* never trusted, whatever else says */
	size_t n_revoked_keys;
} drb_trust_config;

typedef struct drb_config {
	const char *file; /* the file read */
	const char *host_id;
	const char *spool_dir;
	const char *metrics_dir;

	struct {
		const char *socket;
		const char *host;
		long port;
		const char *user;
		const char *password_file;
		const char **databases;
		size_t n_databases;
		long jobs;
		const char *bin_dir; /* where mariadb-dump, mariadb, mariadb-binlog live; "" = PATH */
		const char *ssl_ca;  /* TLS over TCP, the server's certificate checked against it */
		bool tls_off;        /* tls = "off": plaintext TCP to a host that is not loopback */
		const char *binlog_dir;
	} db;

	struct {
		const char **public_keys;
		size_t n_public_keys;
		const char **secret_keys;
		size_t n_secret_keys;
	} enc;

	struct {
		long level;
		long threads;
	} compression;

	struct {
		bool purge_after_ship;
		long segment_seconds;
		long max_outage_days; /* the longest shipping outage the server's own expiry must cover */
		/* compaction level spans in seconds, shortest first (each divides the next and a
		 * day); n_compact_levels = 0: segments stay as cut */
		long compact_levels[DRB_COMPACT_LEVELS_MAX];
		size_t n_compact_levels;
		long follow_delay_ms; /* --follow: ship this long after a write (inotify); 0: every
				       * segment_seconds */
		/* --follow: the current day's catalog rewritten at most this often (0: never; a
		 * timer run rewrites it when it shipped) */
		long catalog_seconds;
		long compact_grace; /* seconds a compacted segment is everywhere before the small
				     * ones it replaces are deleted (restores that planned with them) */
	} binlog;

	struct {
		const char *mariadbd;
		const char *scratch_dir;
	} restore_test;

	struct { /* thresholds of `list --all-hosts`; 0: not checked */
		long max_full_age_hours;
		long max_rpo_seconds;
		long max_restore_test_age_days;
	} alerts;
	struct {
		const char *documents_dir; /* "{practice}" stands for the database name */
		long keep_days;            /* exports older than this are deleted; 0: kept */
	} export;

	drb_repo_config *repos;
	size_t n_repos;

	struct {
		const char *key; /* this host's Ed25519 signing key (database hosts) */
	} signing;

	/* retention { }: keep_daily, keep_weekly, keep_monthly, keep_yearly, pitr_days,
	 * keep_min_days, in that order; a practice section overrides what it sets */
	struct {
		long def[6];
		struct {
			const char *name;
			long rules[6];
		} *practices;
		size_t n_practices;
	} retention;
	drb_trust_config *trust;
	size_t n_trust;

	void *cfg; /* the libconfuse tree the strings point into */
	char host_buf[256];
} drb_config;

/* Parse path. On error returns DRB_ERR_CONFIG with "FILE:LINE: what was expected". */
int drb_config_load(const char *path, drb_config **out);
/* Parse text (tests, fuzzing); name stands for the file in messages. */
int drb_config_load_string(const char *text, const char *name, drb_config **out);
void drb_config_free(drb_config *c);

/* Which file to read: -c, else $DRBACKUP_CONFIG, else the default. */
const char *drb_config_path(const char *cli_path);

const drb_repo_config *drb_config_repo(const drb_config *c, const char *name);

/* The number of cores, for "0 = one per core" settings. */
int drb_ncpu(void);
/* localhost, 127.0.0.0/8 or ::1: traffic that never leaves the host. */
bool drb_loopback_host(const char *host);

#endif
