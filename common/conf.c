#include "config.h"
#include "common/conf.h"
#include "common/catalog.h"
#include "common/error.h"
#include "common/secret.h"

#include <confuse.h>
#include <errno.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* libconfuse reports through this; the first message wins (later ones are consequences). */
static __thread char cfg_msg[1024];
static __thread cfg_t *cfg_root; /* sections do not know the file name; the root does */

static void on_cfg_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	char text[700];
	if (cfg_msg[0])
		return;
	vsnprintf(text, sizeof text, fmt, ap);
	/* libconfuse quotes names `like this'; make it 'like this' */
	for (char *p = text; *p; p++)
		if (*p == '`')
			*p = '\'';
	const char *file = cfg && cfg->filename ? cfg->filename
			   : cfg_root && cfg_root->filename ? cfg_root->filename
							    : NULL;
	int line = cfg ? cfg->line : 0;
	if (cfg_root && cfg_root->line > line)
		line = cfg_root->line;
	if (file && line > 0)
		snprintf(cfg_msg, sizeof cfg_msg, "%s:%d: %s", file, line, text);
	else if (file)
		snprintf(cfg_msg, sizeof cfg_msg, "%s: %s", file, text);
	else
		snprintf(cfg_msg, sizeof cfg_msg, "%s", text);
}

/* ---- per-option checks, run by libconfuse while the line is known ---- */

static int one_of(cfg_t *cfg, cfg_opt_t *opt, const char *const *allowed)
{
	const char *v = cfg_opt_getnstr(opt, cfg_opt_size(opt) - 1);
	char list[200] = "";
	for (int i = 0; allowed[i]; i++) {
		if (v && strcmp(v, allowed[i]) == 0)
			return 0;
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? " or " : "",
			 allowed[i]);
	}
	cfg_error(cfg, "option '%s' is \"%s\": expected %s", opt->name, v ? v : "", list);
	return -1;
}

static int check_repo_type(cfg_t *cfg, cfg_opt_t *opt)
{
	static const char *const types[] = {"s3", "posix", NULL};
	return one_of(cfg, opt, types);
}

static int check_uri_style(cfg_t *cfg, cfg_opt_t *opt)
{
	static const char *const styles[] = {"path", "host", NULL};
	return one_of(cfg, opt, styles);
}

static int check_lock_mode(cfg_t *cfg, cfg_opt_t *opt)
{
	static const char *const modes[] = {"COMPLIANCE", "GOVERNANCE", NULL};
	return one_of(cfg, opt, modes);
}

static int check_nonneg(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);
	if (v < 0) {
		cfg_error(cfg, "option '%s' is %ld: expected a number of 0 or more", opt->name, v);
		return -1;
	}
	return 0;
}

static int check_level(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);
	if (v < 1 || v > 19) {
		cfg_error(cfg, "option 'level' is %ld: expected a zstd level from 1 to 19", v);
		return -1;
	}
	return 0;
}

static int check_port(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);
	if (v < 1 || v > 65535) {
		cfg_error(cfg, "option 'port' is %ld: expected a TCP port from 1 to 65535", v);
		return -1;
	}
	return 0;
}

static int check_segment_seconds(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);
	if (v < 1 || v > 86400) {
		cfg_error(cfg, "option 'segment_seconds' is %ld: expected 1 to 86400", v);
		return -1;
	}
	return 0;
}

/* Compaction spans: ascending, each a whole multiple of the one before and a divisor of a day,
 * so a window never straddles a UTC day or a larger window. */
static int check_compact_levels(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);
	if (n > DRB_COMPACT_LEVELS_MAX) {
		cfg_error(cfg, "option 'compact_levels' has %u spans: at most %d", n,
			  DRB_COMPACT_LEVELS_MAX);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		long v = cfg_opt_getnint(opt, i), prev = i ? cfg_opt_getnint(opt, i - 1) : 1;
		if (v < 2 || v > 86400 || 86400 % v != 0 || v <= prev || v % prev != 0) {
			cfg_error(cfg,
				  "option 'compact_levels': span %ld is not valid: each span is seconds "
				  "that divide a day (86400), longer than and a multiple of the span "
				  "before it, e.g. {300, 3600}",
				  v);
			return -1;
		}
	}
	return 0;
}

static int check_part_size(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);
	if (v < 5L * 1024 * 1024 || v > 5L * 1024 * 1024 * 1024) {
		cfg_error(cfg, "option 'part_size' is %ld: expected 5 MiB to 5 GiB in bytes", v);
		return -1;
	}
	return 0;
}

/* A file that must exist and hold a secret: owner-only. */
static int check_secret_files(cfg_t *cfg, cfg_opt_t *opt)
{
	for (unsigned i = 0; i < cfg_opt_size(opt); i++) {
		const char *path = cfg_opt_getnstr(opt, i);
		if (!path || !*path)
			continue;
		if (drb_secret_file_check(path) < 0) {
			char line[DRB_ERROR_LINE];
			drb_error_line(line, sizeof line);
			cfg_error(cfg, "option '%s': %s", opt->name, line);
			drb_error_clear();
			return -1;
		}
	}
	return 0;
}

/* A file that must exist (public keys, CA files). */
static int check_files_exist(cfg_t *cfg, cfg_opt_t *opt)
{
	for (unsigned i = 0; i < cfg_opt_size(opt); i++) {
		const char *path = cfg_opt_getnstr(opt, i);
		struct stat st;
		if (!path || !*path)
			continue;
		if (stat(path, &st) < 0) {
			cfg_error(cfg, "option '%s': %s: %s", opt->name, path, strerror(errno));
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			cfg_error(cfg, "option '%s': %s is not a regular file", opt->name, path);
			return -1;
		}
	}
	return 0;
}

static int check_time(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);
	int64_t t;
	if (v && drb_time_parse(v, &t) < 0) {
		drb_error_clear();
		cfg_error(cfg, "option '%s' is \"%s\": expected a UTC time such as "
			       "2026-12-01T00:00:00Z",
			  opt->name, v);
		return -1;
	}
	return 0;
}

static int check_host_id(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);
	if (!v)
		return 0;
	if (!*v || strlen(v) > 64 || v[0] == '.' || strspn(v, "abcdefghijklmnopqrstuvwxyz"
							 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
							 "0123456789._-") != strlen(v)) {
		cfg_error(cfg, "option 'host_id' is \"%s\": expected 1 to 64 letters, digits, '.', '_' "
			       "or '-', not starting with '.'",
			  v);
		return -1;
	}
	return 0;
}

static int check_repo_section(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t *sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
	const char *title = cfg_title(sec);
	const char *type = cfg_getstr(sec, "type");
	if (!title || !*title || strspn(title, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(title)) {
		cfg_error(cfg, "repo \"%s\": expected a name of lowercase letters, digits, '_' or '-'",
			  title ? title : "");
		return -1;
	}
	if (!type) {
		cfg_error(cfg, "repo %s: option 'type' is missing: expected \"s3\" or \"posix\"", title);
		return -1;
	}
	if (strcmp(type, "posix") == 0) {
		if (!cfg_getstr(sec, "path") || !*cfg_getstr(sec, "path")) {
			cfg_error(cfg, "repo %s: type \"posix\" needs option 'path' (a folder)", title);
			return -1;
		}
	} else {
		static const char *const need[] = {"endpoint", "bucket", "access_key_id",
						   "secret_access_key_file", NULL};
		for (int i = 0; need[i]; i++) {
			const char *v = cfg_getstr(sec, need[i]);
			if (!v || !*v) {
				cfg_error(cfg, "repo %s: type \"s3\" needs option '%s'", title, need[i]);
				return -1;
			}
		}
		const char *ep = cfg_getstr(sec, "endpoint");
		if (strncmp(ep, "https://", 8) != 0 && strncmp(ep, "http://", 7) != 0) {
			cfg_error(cfg, "repo %s: option 'endpoint' is \"%s\": expected an http:// or "
				       "https:// URL",
				  title, ep);
			return -1;
		}
		/* credentials and sealed objects in the clear only on this host, or when asked */
		char host[256];
		const char *h = ep + 7;
		size_t hn = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/");
		snprintf(host, sizeof host, "%.*s", (int)(hn < sizeof host ? hn : sizeof host - 1), h);
		if (strncmp(ep, "http://", 7) == 0 && !drb_loopback_host(host) &&
		    !cfg_getbool(sec, "allow_http")) {
			cfg_error(cfg, "repo %s: option 'endpoint' is \"%s\": plain http:// to a host "
				       "that is not loopback; use https://, or set allow_http = true",
				  title, ep);
			return -1;
		}
	}
	return 0;
}

static cfg_opt_t database_opts[] = {
	CFG_STR("socket", NULL, CFGF_NONE),
	CFG_STR("host", NULL, CFGF_NONE),
	CFG_INT("port", 3306, CFGF_NONE),
	CFG_STR("user", NULL, CFGF_NONE),
	CFG_STR("password_file", NULL, CFGF_NONE),
	CFG_STR_LIST("databases", "{}", CFGF_NONE),
	CFG_INT("jobs", 0, CFGF_NONE),
	CFG_STR("bin_dir", "", CFGF_NONE),
	CFG_STR("binlog_dir", "", CFGF_NONE),
	CFG_STR("ssl_ca", "", CFGF_NONE),
	CFG_STR("tls", "on", CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t encryption_opts[] = {
	CFG_STR_LIST("public_keys", "{}", CFGF_NONE),
	CFG_STR_LIST("secret_keys", "{}", CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t compression_opts[] = {
	CFG_INT("level", 3, CFGF_NONE),
	CFG_INT("threads", 0, CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t binlog_opts[] = {
	CFG_BOOL("purge_after_ship", cfg_false, CFGF_NONE),
	CFG_INT("segment_seconds", 300, CFGF_NONE),
	CFG_INT("max_outage_days", 7, CFGF_NONE),
	CFG_INT_LIST("compact_levels", "{}", CFGF_NONE),
	CFG_INT("compact_grace", 600, CFGF_NONE),
	CFG_INT("follow_delay_ms", 0, CFGF_NONE),
	CFG_INT("catalog_seconds", 60, CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t restore_test_opts[] = {
	CFG_STR("mariadbd", DRB_MARIADBD, CFGF_NONE),
	CFG_STR("scratch_dir", "", CFGF_NONE),
	CFG_END(),
};

/* what `list --all-hosts` calls a breach; 0 turns a check off */
static cfg_opt_t alerts_opts[] = {
	CFG_INT("max_full_age_hours", 26, CFGF_NONE),
	CFG_INT("max_rpo_seconds", 900, CFGF_NONE),
	CFG_INT("max_restore_test_age_days", 8, CFGF_NONE),
	CFG_END(),
};

/* export: the practice's documents tree, and how long exports stay in the repository */
static cfg_opt_t export_opts[] = {
	CFG_STR("documents_dir", "/var/www/openemr/sites/{practice}/documents", CFGF_NONE),
	CFG_INT("keep_days", 7, CFGF_NONE),
	CFG_END(),
};

/* repo { tier { } }: fulls older than after_days move to storage_class (expire copies them) */
static cfg_opt_t tier_opts[] = {
	CFG_INT("after_days", 0, CFGF_NONE),
	CFG_STR("storage_class", "STANDARD_IA", CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t repo_opts[] = {
	CFG_STR("type", NULL, CFGF_NONE),
	CFG_STR("path", NULL, CFGF_NONE),
	CFG_STR("endpoint", NULL, CFGF_NONE),
	CFG_STR("region", "us-east-1", CFGF_NONE),
	CFG_STR("bucket", NULL, CFGF_NONE),
	CFG_STR("prefix", "", CFGF_NONE),
	CFG_STR("access_key_id", NULL, CFGF_NONE),
	CFG_STR("secret_access_key_file", NULL, CFGF_NONE),
	CFG_STR("session_token_file", NULL, CFGF_NONE),
	CFG_STR("uri_style", "path", CFGF_NONE),
	CFG_STR("ca_file", "", CFGF_NONE),
	CFG_BOOL("allow_http", cfg_false, CFGF_NONE),
	CFG_STR("storage_class", "", CFGF_NONE),
	CFG_INT("object_lock_days", 0, CFGF_NONE),
	CFG_STR("object_lock_mode", "COMPLIANCE", CFGF_NONE),
	CFG_BOOL("delete_versions", cfg_false, CFGF_NONE),
	CFG_BOOL("legal_hold", cfg_false, CFGF_NONE),
	CFG_SEC("tier", tier_opts, CFGF_NONE),
	CFG_INT("part_size", 8L * 1024 * 1024, CFGF_NONE),
	CFG_BOOL("sign_payload", cfg_true, CFGF_NONE),
	CFG_INT("upload_parallel", 4, CFGF_NONE),
	CFG_INT("timeout", 60, CFGF_NONE),
	CFG_INT("retries", 5, CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t retention_practice_opts[] = {
	CFG_INT("keep_daily", -1, CFGF_NONE),
	CFG_INT("keep_weekly", -1, CFGF_NONE),
	CFG_INT("keep_monthly", -1, CFGF_NONE),
	CFG_INT("keep_yearly", -1, CFGF_NONE),
	CFG_INT("pitr_days", -1, CFGF_NONE),
	CFG_INT("keep_min_days", -1, CFGF_NONE),
	CFG_FUNC("include", cfg_include),
	CFG_END(),
};

static cfg_opt_t retention_opts[] = {
	CFG_INT("keep_daily", 7, CFGF_NONE),
	CFG_INT("keep_weekly", 4, CFGF_NONE),
	CFG_INT("keep_monthly", 12, CFGF_NONE),
	CFG_INT("keep_yearly", 7, CFGF_NONE),
	CFG_INT("pitr_days", 14, CFGF_NONE),
	CFG_INT("keep_min_days", 2555, CFGF_NONE),
	CFG_SEC("practice", retention_practice_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_FUNC("include", cfg_include),
	CFG_END(),
};

static cfg_opt_t signing_opts[] = {
	CFG_STR("key", "", CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t retired_opts[] = {
	CFG_STR("until", NULL, CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t trust_host_opts[] = {
	CFG_STR_LIST("signing_keys", "{}", CFGF_NONE),
	CFG_SEC("retired", retired_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_STR_LIST("revoked_keys", "{}", CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t trust_opts[] = {
	CFG_SEC("host", trust_host_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_END(),
};

static cfg_opt_t root_opts[] = {
	CFG_STR("host_id", NULL, CFGF_NONE),
	CFG_STR("spool_dir", "/var/lib/drbackup", CFGF_NONE),
	CFG_STR("metrics_dir", "", CFGF_NONE),
	CFG_SEC("database", database_opts, CFGF_NONE),
	CFG_SEC("encryption", encryption_opts, CFGF_NONE),
	CFG_SEC("compression", compression_opts, CFGF_NONE),
	CFG_SEC("binlog", binlog_opts, CFGF_NONE),
	CFG_SEC("restore_test", restore_test_opts, CFGF_NONE),
	CFG_SEC("alerts", alerts_opts, CFGF_NONE),
	CFG_SEC("export", export_opts, CFGF_NONE),
	CFG_SEC("repo", repo_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("signing", signing_opts, CFGF_NONE),
	CFG_SEC("retention", retention_opts, CFGF_NONE),
	CFG_SEC("trust", trust_opts, CFGF_NONE),
	CFG_END(),
};

static void set_validators(cfg_t *cfg)
{
	cfg_set_validate_func(cfg, "host_id", check_host_id);
	cfg_set_validate_func(cfg, "database|port", check_port);
	cfg_set_validate_func(cfg, "database|jobs", check_nonneg);
	cfg_set_validate_func(cfg, "database|password_file", check_secret_files);
	cfg_set_validate_func(cfg, "encryption|public_keys", check_files_exist);
	cfg_set_validate_func(cfg, "encryption|secret_keys", check_secret_files);
	cfg_set_validate_func(cfg, "compression|level", check_level);
	cfg_set_validate_func(cfg, "compression|threads", check_nonneg);
	cfg_set_validate_func(cfg, "export|keep_days", check_nonneg);
	cfg_set_validate_func(cfg, "binlog|segment_seconds", check_segment_seconds);
	cfg_set_validate_func(cfg, "binlog|max_outage_days", check_nonneg);
	cfg_set_validate_func(cfg, "binlog|compact_levels", check_compact_levels);
	cfg_set_validate_func(cfg, "binlog|compact_grace", check_nonneg);
	cfg_set_validate_func(cfg, "binlog|follow_delay_ms", check_nonneg);
	cfg_set_validate_func(cfg, "binlog|catalog_seconds", check_nonneg);
	cfg_set_validate_func(cfg, "alerts|max_full_age_hours", check_nonneg);
	cfg_set_validate_func(cfg, "alerts|max_rpo_seconds", check_nonneg);
	cfg_set_validate_func(cfg, "alerts|max_restore_test_age_days", check_nonneg);
	cfg_set_validate_func(cfg, "repo|type", check_repo_type);
	cfg_set_validate_func(cfg, "repo|uri_style", check_uri_style);
	cfg_set_validate_func(cfg, "repo|secret_access_key_file", check_secret_files);
	cfg_set_validate_func(cfg, "repo|session_token_file", check_secret_files);
	cfg_set_validate_func(cfg, "repo|ca_file", check_files_exist);
	cfg_set_validate_func(cfg, "repo|object_lock_days", check_nonneg);
	cfg_set_validate_func(cfg, "repo|object_lock_mode", check_lock_mode);
	cfg_set_validate_func(cfg, "repo|tier|after_days", check_nonneg);
	cfg_set_validate_func(cfg, "repo|part_size", check_part_size);
	cfg_set_validate_func(cfg, "repo|upload_parallel", check_nonneg);
	cfg_set_validate_func(cfg, "repo|timeout", check_nonneg);
	cfg_set_validate_func(cfg, "repo|retries", check_nonneg);
	cfg_set_validate_func(cfg, "repo", check_repo_section);
	cfg_set_validate_func(cfg, "signing|key", check_secret_files);
	static const char *const rk[] = {"retention|keep_daily", "retention|keep_weekly",
					 "retention|keep_monthly", "retention|keep_yearly",
					 "retention|pitr_days", "retention|keep_min_days"};
	for (int k = 0; k < 6; k++)
		cfg_set_validate_func(cfg, rk[k], check_nonneg);
	cfg_set_validate_func(cfg, "trust|host|signing_keys", check_files_exist);
	cfg_set_validate_func(cfg, "trust|host|revoked_keys", check_files_exist);
	cfg_set_validate_func(cfg, "trust|host|retired|until", check_time);
}

static const char **str_list(cfg_t *sec, const char *name, size_t *n)
{
	size_t k = cfg_size(sec, name);
	const char **v = calloc(k + 1, sizeof *v);
	for (size_t i = 0; v && i < k; i++)
		v[i] = cfg_getnstr(sec, name, (unsigned)i);
	*n = v ? k : 0;
	return v;
}

static const char *nz(const char *s)
{
	return s && *s ? s : NULL;
}

static int build(cfg_t *cfg, const char *file, drb_config **out)
{
	drb_config *c = calloc(1, sizeof *c);
	if (!c)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	c->cfg = cfg;
	c->file = cfg->filename ? cfg->filename : file;
	c->host_id = cfg_getstr(cfg, "host_id");
	if (!c->host_id) {
		if (gethostname(c->host_buf, sizeof c->host_buf - 1) < 0 || !c->host_buf[0])
			strcpy(c->host_buf, "localhost");
		char *dot = strchr(c->host_buf, '.');
		if (dot)
			*dot = 0;
		c->host_id = c->host_buf;
	}
	c->spool_dir = cfg_getstr(cfg, "spool_dir");
	c->metrics_dir = nz(cfg_getstr(cfg, "metrics_dir"));

	cfg_t *db = cfg_getsec(cfg, "database");
	c->db.socket = nz(cfg_getstr(db, "socket"));
	c->db.host = nz(cfg_getstr(db, "host"));
	c->db.port = cfg_getint(db, "port");
	c->db.user = nz(cfg_getstr(db, "user"));
	c->db.password_file = nz(cfg_getstr(db, "password_file"));
	c->db.databases = str_list(db, "databases", &c->db.n_databases);
	c->db.jobs = cfg_getint(db, "jobs");
	c->db.bin_dir = nz(cfg_getstr(db, "bin_dir"));
	c->db.binlog_dir = nz(cfg_getstr(db, "binlog_dir"));
	c->db.ssl_ca = nz(cfg_getstr(db, "ssl_ca"));
	c->db.tls_off = strcmp(cfg_getstr(db, "tls"), "off") == 0;

	cfg_t *enc = cfg_getsec(cfg, "encryption");
	c->enc.public_keys = str_list(enc, "public_keys", &c->enc.n_public_keys);
	c->enc.secret_keys = str_list(enc, "secret_keys", &c->enc.n_secret_keys);

	cfg_t *comp = cfg_getsec(cfg, "compression");
	c->compression.level = cfg_getint(comp, "level");
	c->compression.threads = cfg_getint(comp, "threads");

	cfg_t *bl = cfg_getsec(cfg, "binlog");
	c->binlog.purge_after_ship = cfg_getbool(bl, "purge_after_ship");
	c->binlog.segment_seconds = cfg_getint(bl, "segment_seconds");
	c->binlog.max_outage_days = cfg_getint(bl, "max_outage_days");
	c->binlog.compact_grace = cfg_getint(bl, "compact_grace");
	c->binlog.follow_delay_ms = cfg_getint(bl, "follow_delay_ms");
	c->binlog.catalog_seconds = cfg_getint(bl, "catalog_seconds");
	c->binlog.n_compact_levels = cfg_size(bl, "compact_levels");
	for (size_t i = 0; i < c->binlog.n_compact_levels; i++)
		c->binlog.compact_levels[i] = cfg_getnint(bl, "compact_levels", (unsigned)i);

	cfg_t *rt = cfg_getsec(cfg, "restore_test");
	c->restore_test.mariadbd = cfg_getstr(rt, "mariadbd");
	c->restore_test.scratch_dir = nz(cfg_getstr(rt, "scratch_dir"));

	cfg_t *ret = cfg_getsec(cfg, "retention");
	static const char *const rkeys[] = {"keep_daily", "keep_weekly", "keep_monthly",
					    "keep_yearly", "pitr_days", "keep_min_days"};
	for (int k = 0; k < 6; k++)
		c->retention.def[k] = cfg_getint(ret, rkeys[k]);
	c->retention.n_practices = cfg_size(ret, "practice");
	c->retention.practices = calloc(c->retention.n_practices + 1, sizeof *c->retention.practices);
	for (size_t i = 0; c->retention.practices && i < c->retention.n_practices; i++) {
		cfg_t *pr = cfg_getnsec(ret, "practice", (unsigned)i);
		c->retention.practices[i].name = cfg_title(pr);
		for (int k = 0; k < 6; k++) {
			long v = cfg_getint(pr, rkeys[k]);
			c->retention.practices[i].rules[k] = v >= 0 ? v : c->retention.def[k];
		}
	}
	cfg_t *al = cfg_getsec(cfg, "alerts");
	c->alerts.max_full_age_hours = cfg_getint(al, "max_full_age_hours");
	c->alerts.max_rpo_seconds = cfg_getint(al, "max_rpo_seconds");
	c->alerts.max_restore_test_age_days = cfg_getint(al, "max_restore_test_age_days");
	cfg_t *ex = cfg_getsec(cfg, "export");
	c->export.documents_dir = nz(cfg_getstr(ex, "documents_dir"));
	c->export.keep_days = cfg_getint(ex, "keep_days");

	c->signing.key = nz(cfg_getstr(cfg_getsec(cfg, "signing"), "key"));
	cfg_t *trust = cfg_getsec(cfg, "trust");
	c->n_trust = cfg_size(trust, "host");
	c->trust = calloc(c->n_trust + 1, sizeof *c->trust);
	for (size_t i = 0; c->trust && i < c->n_trust; i++) {
		cfg_t *h = cfg_getnsec(trust, "host", (unsigned)i);
		drb_trust_config *t = &c->trust[i];
		t->host_id = cfg_title(h);
		t->signing_keys = str_list(h, "signing_keys", &t->n_signing_keys);
		t->revoked_keys = str_list(h, "revoked_keys", &t->n_revoked_keys);
		t->n_retired = cfg_size(h, "retired");
		t->retired = calloc(t->n_retired + 1, sizeof *t->retired);
		for (size_t k = 0; t->retired && k < t->n_retired; k++) {
			cfg_t *r = cfg_getnsec(h, "retired", (unsigned)k);
			t->retired[k].path = cfg_title(r);
			t->retired[k].until = cfg_getstr(r, "until");
		}
	}
	c->n_repos = cfg_size(cfg, "repo");
	c->repos = calloc(c->n_repos ? c->n_repos : 1, sizeof *c->repos);
	for (size_t i = 0; c->repos && i < c->n_repos; i++) {
		cfg_t *r = cfg_getnsec(cfg, "repo", (unsigned)i);
		drb_repo_config *rc = &c->repos[i];
		rc->name = cfg_title(r);
		rc->type = cfg_getstr(r, "type");
		rc->path = nz(cfg_getstr(r, "path"));
		rc->endpoint = nz(cfg_getstr(r, "endpoint"));
		rc->region = cfg_getstr(r, "region");
		rc->bucket = nz(cfg_getstr(r, "bucket"));
		rc->prefix = cfg_getstr(r, "prefix");
		rc->access_key_id = nz(cfg_getstr(r, "access_key_id"));
		rc->secret_access_key_file = nz(cfg_getstr(r, "secret_access_key_file"));
		rc->session_token_file = nz(cfg_getstr(r, "session_token_file"));
		rc->uri_style = cfg_getstr(r, "uri_style");
		rc->ca_file = nz(cfg_getstr(r, "ca_file"));
		rc->allow_http = cfg_getbool(r, "allow_http");
		rc->storage_class = nz(cfg_getstr(r, "storage_class"));
		rc->object_lock_days = cfg_getint(r, "object_lock_days");
		rc->object_lock_mode = cfg_getstr(r, "object_lock_mode");
		rc->delete_versions = cfg_getbool(r, "delete_versions");
		rc->legal_hold = cfg_getbool(r, "legal_hold");
		cfg_t *tier = cfg_getsec(r, "tier");
		rc->tier_after_days = tier ? cfg_getint(tier, "after_days") : 0;
		rc->tier_storage_class = tier ? nz(cfg_getstr(tier, "storage_class")) : NULL;
		rc->part_size = cfg_getint(r, "part_size");
		rc->sign_payload = cfg_getbool(r, "sign_payload");
		rc->upload_parallel = cfg_getint(r, "upload_parallel");
		if (rc->upload_parallel < 1)
			rc->upload_parallel = 1;
		rc->timeout = cfg_getint(r, "timeout");
		rc->retries = cfg_getint(r, "retries");
	}
	if (!c->db.databases || !c->enc.public_keys || !c->enc.secret_keys || !c->repos ||
	    !c->trust || !c->retention.practices) {
		drb_config_free(c);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	*out = c;
	return 0;
}

/* Database traffic over TCP is TLS with the certificate checked, unless it stays on this host
 * or the configuration says tls = "off" (which `check` warns about). */
static int check_db_transport(const drb_config *c)
{
	cfg_t *db = cfg_getsec(c->cfg, "database");
	const char *tls = cfg_getstr(db, "tls");
	if (strcmp(tls, "on") != 0 && strcmp(tls, "off") != 0)
		return drb_error(DRB_ERR_CONFIG,
				 "%s: database { tls } is \"%s\": expected \"on\" or \"off\"", c->file,
				 tls);
	if (c->db.host && !c->db.socket && !c->db.ssl_ca && !c->db.tls_off &&
	    !drb_loopback_host(c->db.host))
		return drb_error(DRB_ERR_CONFIG,
				 "%s: database { host = \"%s\" } is not loopback: set ssl_ca (TLS, "
				 "the server's certificate verified) or tls = \"off\"",
				 c->file, c->db.host);
	return 0;
}

static int parse(const char *path, const char *text, drb_config **out)
{
	cfg_t *cfg = cfg_init(root_opts, CFGF_NONE);
	int rc;
	if (!cfg)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	cfg_set_error_function(cfg, on_cfg_error);
	set_validators(cfg);
	cfg_msg[0] = 0;
	cfg_root = cfg;
	if (text) {
		free(cfg->filename);
		cfg->filename = strdup(path);
		rc = cfg_parse_buf(cfg, text);
	} else {
		rc = cfg_parse(cfg, path);
	}
	cfg_root = NULL;
	if (rc == CFG_FILE_ERROR) {
		int e = errno;
		cfg_free(cfg);
		return drb_error(DRB_ERR_CONFIG, "cannot read configuration file %s: %s", path,
				 strerror(e ? e : ENOENT));
	}
	if (rc != CFG_SUCCESS) {
		cfg_free(cfg);
		return drb_error(DRB_ERR_CONFIG, "%s", cfg_msg[0] ? cfg_msg : "invalid configuration");
	}
	rc = build(cfg, path, out);
	if (rc < 0) {
		cfg_free(cfg);
	} else if ((rc = check_db_transport(*out)) < 0) {
		drb_config_free(*out);
		*out = NULL;
	}
	return rc;
}

int drb_config_load(const char *path, drb_config **out)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return drb_error(DRB_ERR_CONFIG, "cannot read configuration file %s: %s", path,
				 strerror(errno));
	if (!S_ISREG(st.st_mode))
		return drb_error(DRB_ERR_CONFIG, "configuration file %s is not a regular file", path);
	return parse(path, NULL, out);
}

int drb_config_load_string(const char *text, const char *name, drb_config **out)
{
	return parse(name, text, out);
}

void drb_config_free(drb_config *c)
{
	if (!c)
		return;
	free(c->db.databases);
	free(c->enc.public_keys);
	free(c->enc.secret_keys);
	free(c->repos);
	for (size_t i = 0; c->trust && i < c->n_trust; i++) {
		free(c->trust[i].signing_keys);
		free(c->trust[i].revoked_keys);
		free(c->trust[i].retired);
	}
	free(c->trust);
	free(c->retention.practices);
	cfg_free(c->cfg);
	free(c);
}

const char *drb_config_path(const char *cli_path)
{
	const char *env = getenv("DRBACKUP_CONFIG");
	if (cli_path)
		return cli_path;
	if (env && *env)
		return env;
	return DRB_DEFAULT_CONFIG;
}

const drb_repo_config *drb_config_repo(const drb_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_repos; i++)
		if (strcmp(c->repos[i].name, name) == 0)
			return &c->repos[i];
	return NULL;
}

bool drb_loopback_host(const char *host)
{
	struct in_addr a4;
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	    strcmp(host, "[::1]") == 0)
		return true;
	return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

int drb_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}
