/* drbackup export: restore one practice into a scratch server, dump it as SQL and CSV, add its
 * documents, a manifest and a README, all into one encrypted zip built as a stream, then hand it
 * over (a file, or an object in the repository and a presigned link), and record it all in the
 * audit trail. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/catalog.h"
#include "common/dump.h"
#include "common/error.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/secret.h"
#include "export/documents.h"
#include "export/export.h"
#include "export/zip.h"
#include "restore/apply.h"
#include "restore/scratch.h"

#define DEFAULT_EXPIRES (24 * 3600L)
#define EXPIRES_MAX     604800L /* SigV4: a presigned URL lives at most 7 days */
#define PASS_CHARS      32      /* generated passphrase: 32 of 32 symbols, 160 bits */

typedef struct export_opts {
	const char *practice, *at, *out, *pass_file, *host;
	bool url, allow_unsigned;
	long expires;
} export_opts;

typedef struct export_run {
	const drb_config *cfg;
	const export_opts *opt;
	drb_scratch scratch;
	drb_db_target target;
	drb_zip *zip;
	json_t *files;  /* every entry: name, size, sha256 (documents: their original path too) */
	json_t *tables; /* per table: rows, csv entry */
	json_t *binary; /* table -> binary columns in the CSV */
	json_t *skipped;
	uint64_t n_docs, doc_bytes;
	char *docs_dir;
	int64_t started;
} export_run;

/* ---------------------------------------------------------------- options */

static int parse_duration(const char *s, long *out)
{
	char *end = NULL;
	long v = strtol(s, &end, 10), mult = 1;
	if (end == s || v < 1)
		return -1;
	if (*end == 's' || !*end)
		mult = 1;
	else if (*end == 'm')
		mult = 60;
	else if (*end == 'h')
		mult = 3600;
	else if (*end == 'd')
		mult = 86400;
	else
		return -1;
	if (*end && end[1])
		return -1;
	*out = v * mult;
	return 0;
}

static int parse_opts(int argc, char **argv, export_opts *o)
{
	static const struct option opts[] = {{"practice", required_argument, NULL, 'p'},
	                                     {"at", required_argument, NULL, 'a'},
	                                     {"out", required_argument, NULL, 'o'},
	                                     {"passphrase-file", required_argument, NULL, 'P'},
	                                     {"url", no_argument, NULL, 'u'},
	                                     {"expires", required_argument, NULL, 'e'},
	                                     {"host", required_argument, NULL, 'H'},
	                                     {"allow-unsigned", no_argument, NULL, 'U'},
	                                     {0, 0, 0, 0}};
	int opt;
	const char *expires = NULL;
	*o = (export_opts){.at = "latest", .expires = DEFAULT_EXPIRES};
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			o->practice = optarg;
			break;
		case 'a':
			o->at = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'P':
			o->pass_file = optarg;
			break;
		case 'u':
			o->url = true;
			break;
		case 'e':
			expires = optarg;
			break;
		case 'H':
			o->host = optarg;
			break;
		case 'U':
			o->allow_unsigned = true;
			break;
		default:
			return drb_error(
			    DRB_ERR_USAGE,
			    "unknown or incomplete option '%s' (see 'drbackup export --help')",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		return drb_error(DRB_ERR_USAGE, "unexpected argument '%s'", argv[optind]);
	if (!o->practice || !o->practice[0])
		return drb_error(DRB_ERR_USAGE,
		                 "export needs --practice NAME (see 'drbackup export "
		                 "--help')");
	/* the name also picks the documents folder: it must stay one path component */
	if (strchr(o->practice, '/') || strcmp(o->practice, ".") == 0 ||
	    strcmp(o->practice, "..") == 0)
		return drb_error(DRB_ERR_USAGE, "'%s' is not a practice database name",
		                 o->practice);
	if (expires && !o->url)
		return drb_error(DRB_ERR_USAGE, "--expires goes with --url");
	if (o->url && o->out)
		return drb_error(DRB_ERR_USAGE, "--out and --url exclude each other: the archive "
		                                "goes into a file or into the repository");
	if (expires && (parse_duration(expires, &o->expires) < 0 || o->expires > EXPIRES_MAX))
		return drb_error(DRB_ERR_USAGE,
		                 "--expires takes 1s to 7d (like 90s, 30m, 24h, 7d), "
		                 "not '%s'",
		                 expires);
	return 0;
}

/* ---------------------------------------------------------------- passphrase */

/* 32 symbols a person can read aloud and type (no 0/O, 1/l/I), in groups of four. */
static char *generate_passphrase(void)
{
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
	char *p = sodium_malloc(PASS_CHARS + PASS_CHARS / 4 + 1);
	size_t n = 0;
	if (!p)
		return NULL;
	for (int i = 0; i < PASS_CHARS; i++) {
		if (i && i % 4 == 0)
			p[n++] = '-';
		p[n++] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
	}
	p[n] = 0;
	return p;
}

static int get_passphrase(const export_opts *o, char **pass, bool *generated)
{
	size_t len = 0;
	*generated = false;
	if (o->pass_file) {
		int rc = drb_secret_read(o->pass_file, pass, &len);
		if (rc < 0)
			return drb_error_wrap(0, "--passphrase-file %s", o->pass_file);
		if (len < 12) {
			drb_secret_free(*pass);
			*pass = NULL;
			return drb_error(DRB_ERR_REFUSED,
			                 "the passphrase in %s is shorter than 12 "
			                 "characters: too weak for patient data",
			                 o->pass_file);
		}
		return 0;
	}
	if (!(*pass = generate_passphrase()))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	*generated = true;
	return 0;
}

/* ---------------------------------------------------------------- the archive */

static int add_file(export_run *x, const char *name, uint64_t size, const char *sha,
                    const char *original)
{
	json_t *f =
	    json_pack("{s:s, s:I, s:s}", "name", name, "size", (json_int_t)size, "sha256", sha);
	if (original)
		json_object_set_new(f, "original_path", json_string(original));
	return json_array_append_new(x->files, f) == 0 ? 0
	                                               : drb_error(DRB_ERR_NOMEM, "out of memory");
}

static int add_readme(export_run *x, const drb_restore_result *r)
{
	char reached[21] = "", *text = NULL;
	uint64_t size;
	char sha[65];
	if (r->reached_time > 0)
		drb_time_iso(r->reached_time, reached);
	if (asprintf(
	        &text,
	        "Your practice's data: %s\r\n"
	        "==========================\r\n\r\n"
	        "This archive holds a complete copy of the practice database \"%s\" as it was "
	        "at\r\n"
	        "%s (UTC), taken from its backups, with the practice's documents.\r\n\r\n"
	        "What is inside\r\n"
	        "  %s.sql        the whole database as SQL: tables, views, triggers, routines,\r\n"
	        "                   events and their character sets\r\n"
	        "  csv/           one CSV file per table (RFC 4180, UTF-8, a header row). An "
	        "empty\r\n"
	        "                   field without quotes is NULL; \"\" is an empty text. Binary\r\n"
	        "                   columns (images, files stored in the database) are base64.\r\n"
	        "  documents/     the documents folder, one file per document under a neutral\r\n"
	        "                   name; manifest.json gives each one's original path\r\n"
	        "  manifest.json  every file with its size and SHA-256, the row count of every\r\n"
	        "                   table, which columns are binary, and which backup it came "
	        "from\r\n\r\n"
	        "How to open it\r\n"
	        "  The archive is encrypted with AES-256. Open it with the passphrase you were\r\n"
	        "  given separately: 7-Zip (Windows), Keka or The Unarchiver (macOS), or\r\n"
	        "    bsdtar -xf archive.zip --passphrase 'THE PASSPHRASE'\r\n"
	        "    7z x archive.zip\r\n"
	        "  Keep it encrypted on a disk you control: it holds patient records.\r\n\r\n"
	        "How to load it into your own server (MariaDB 10.6 or later, or OpenEMR's)\r\n"
	        "  mariadb -u root -p < %s.sql\r\n"
	        "  This creates the database \"%s\" with all its data. Then check it:\r\n"
	        "    mariadb -u root -p -e 'CHECKSUM TABLE ...' %s\r\n"
	        "  Put the documents folder back under sites/<practice>/documents, each file at\r\n"
	        "  the original_path that manifest.json lists for it.\r\n",
	        x->opt->practice, x->opt->practice, reached[0] ? reached : "the newest backup",
	        x->opt->practice, x->opt->practice, x->opt->practice, x->opt->practice) < 0)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	int rc = drb_zip_add(x->zip, "README.txt", text, strlen(text), &size, sha);
	if (rc == 0)
		rc = add_file(x, "README.txt", size, sha, NULL);
	free(text);
	return rc;
}

static int add_sql(export_run *x, drb_db *db, drb_dump_stats *st)
{
	char *name = drb_path_component(x->opt->practice), *entry = NULL;
	drb_sink *s;
	uint64_t size;
	char sha[65];
	int rc;
	if (!name || asprintf(&entry, "%s.sql", name) < 0) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	drb_log_info("export: writing %s", entry);
	if ((rc = drb_zip_entry_begin(x->zip, entry, &s)) < 0 ||
	    (rc = drb_dump_database(db, x->opt->practice, s, st)) < 0 ||
	    (rc = drb_zip_entry_end(x->zip, &size, sha)) < 0)
		goto out;
	rc = add_file(x, entry, size, sha, NULL);
out:
	free(name);
	free(entry);
	return rc;
}

static int add_csv(export_run *x, drb_db *db, const char *table, const drb_dump_stats *st)
{
	char *name = drb_path_component(table), *entry = NULL, **binary = NULL;
	size_t n_binary = 0;
	uint64_t rows = 0, size;
	char sha[65];
	drb_sink *s;
	int rc;
	if (!name || asprintf(&entry, "csv/%s.csv", name) < 0) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = drb_zip_entry_begin(x->zip, entry, &s)) < 0 ||
	    (rc = drb_dump_csv(db, x->opt->practice, table, s, &rows, NULL, &binary, &n_binary)) <
	        0 ||
	    (rc = drb_zip_entry_end(x->zip, &size, sha)) < 0 ||
	    (rc = add_file(x, entry, size, sha, NULL)) < 0)
		goto out;
	/* the SQL and the CSV read the same quiet server: they must agree */
	for (size_t i = 0; i < st->n_tables; i++)
		if (strcmp(st->tables[i].name, table) == 0 && st->tables[i].rows != rows) {
			rc = drb_error(DRB_ERR_INTEGRITY,
			               "table %s: %llu rows in the SQL, %llu in the CSV", table,
			               (unsigned long long)st->tables[i].rows,
			               (unsigned long long)rows);
			goto out;
		}
	json_array_append_new(x->tables, json_pack("{s:s, s:I, s:s}", "name", table, "rows",
	                                           (json_int_t)rows, "csv", entry));
	if (n_binary) {
		json_t *cols = json_array();
		for (size_t i = 0; i < n_binary; i++)
			json_array_append_new(cols, json_string(binary[i]));
		json_object_set_new(x->binary, table, cols);
	}
out:
	drb_dump_names_free(binary, n_binary);
	free(name);
	free(entry);
	return rc;
}

static int add_document(void *ud, const char *rel, int fd, const struct stat *st)
{
	export_run *x = ud;
	char entry[64], sha[65], buf[65536];
	uint64_t size;
	drb_sink *s;
	int rc;
	(void)st;
	/* file names may name patients, and zip entry names are not encrypted */
	snprintf(entry, sizeof entry, "documents/%06llu.bin", (unsigned long long)++x->n_docs);
	if ((rc = drb_zip_entry_begin(x->zip, entry, &s)) < 0)
		return rc;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return drb_error(DRB_ERR_IO, "documents: reading %s: %s", rel,
			                 strerror(errno));
		if (n == 0)
			break;
		if ((rc = drb_sink_write(s, buf, (size_t)n)) < 0)
			return rc;
	}
	sodium_memzero(buf, sizeof buf);
	if ((rc = drb_zip_entry_end(x->zip, &size, sha)) < 0)
		return rc;
	x->doc_bytes += size;
	return add_file(x, entry, size, sha, rel);
}

static void skip_document(void *ud, const char *rel, const char *why)
{
	export_run *x = ud;
	drb_log_warn("export: document %s left out: %s", rel, why);
	json_array_append_new(x->skipped, json_pack("{s:s, s:s}", "path", rel, "why", why));
}

static int add_documents(export_run *x)
{
	if (!(x->docs_dir = drb_docs_dir(x->cfg->export.documents_dir, x->opt->practice)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	drb_log_info("export: documents from %s", x->docs_dir);
	int rc = drb_docs_walk(x->docs_dir, add_document, skip_document, x);
	if (rc == DRB_ERR_NOT_FOUND) {
		/* a practice without documents: said in the manifest, not an error */
		drb_log_warn("export: %s does not exist: the export holds no documents",
		             x->docs_dir);
		drb_error_clear();
		rc = 0;
	}
	return rc;
}

static int add_manifest(export_run *x, const drb_restore_result *r, const char *repo_path,
                        int64_t created)
{
	char created_iso[21], reached[21] = "";
	uint64_t size;
	char sha[65];
	drb_time_iso(created, created_iso);
	if (r->reached_time > 0)
		drb_time_iso(r->reached_time, reached);
	json_t *m = json_pack(
	    "{s:i, s:s, s:s, s:s, s:s, s:{s:s, s:s?, s:s}, "
	    "s:{s:s, s:s, s:I, s:s, s:s}, s:{s:s, s:s}, "
	    "s:{s:s, s:s, s:s, s:s, s:s, s:O}, s:O, s:{s:s, s:I, s:I, s:O}, s:O}",
	    "format", DRB_META_FORMAT, "kind", "practice-export", "practice", x->opt->practice,
	    "host_id", x->opt->host ? x->opt->host : x->cfg->host_id, "created", created_iso,
	    "point_in_time", "asked", x->opt->at, "reached", reached[0] ? reached : NULL,
	    "reached_gtid", r->replayed_gtid, "source", "backup_id", r->backup_id, "repository",
	    r->repo, "segments", (json_int_t)r->n_segments, "first_binlog", r->first_file,
	    "last_binlog", r->last_file, "encryption", "container", "zip, AES-256 (WinZip AE-2)",
	    "entry_names",
	    "neutral: documents are documents/NNNNNN.bin, their paths are in this manifest", "csv",
	    "dialect", "RFC 4180, UTF-8, CRLF, header row", "quoting", "every value quoted", "null",
	    "an empty field without quotes", "empty_string", "\"\"", "binary_encoding",
	    "base64 (RFC 4648, padded)", "binary_columns", x->binary, "tables", x->tables,
	    "documents", "folder", x->docs_dir ? x->docs_dir : "", "count", (json_int_t)x->n_docs,
	    "bytes", (json_int_t)x->doc_bytes, "skipped", x->skipped, "files", x->files);
	if (!m)
		return drb_error(DRB_ERR_NOMEM, "out of memory (manifest)");
	if (repo_path)
		json_object_set_new(m, "stored_at", json_string(repo_path));
	/* the dump session runs in UTC: TIMESTAMP values are UTC in the CSV and the SQL */
	json_object_set_new(json_object_get(m, "csv"), "timestamps", json_string("UTC"));
	char *text = json_dumps(m, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(m);
	if (!text)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	int rc = drb_zip_add(x->zip, "manifest.json", text, strlen(text), &size, sha);
	free(text);
	return rc;
}

/* ---------------------------------------------------------------- the scratch restore */

static int prepare(void *ud, uint64_t need, drb_db_target *dest)
{
	export_run *x = ud;
	drb_log_info("export: starting a scratch server");
	int rc = drb_scratch_start(x->cfg, need, &x->scratch);
	if (rc < 0)
		return rc;
	x->target = (drb_db_target){.socket = x->scratch.socket, .user = "root"};
	*dest = x->target;
	return 0;
}

static void show_progress(void *ud, const char *entry, uint64_t in, uint64_t out)
{
	export_run *x = ud;
	drb_progress("export %s: %s, %.0f MB read, %.0f MB encrypted, %.0f s", x->opt->practice,
	             entry, in / 1e6, out / 1e6, (double)(time(NULL) - x->started));
}

static int build(export_run *x, const drb_restore_result *r, drb_sink *out, const char *pass,
                 const char *repo_path, int64_t created, uint64_t *zip_bytes)
{
	drb_db *db = NULL;
	drb_dump_stats st = {0};
	char **tables = NULL;
	size_t n_tables = 0;
	int rc;
	if ((rc = drb_dump_session_open(&x->target, &db)) < 0 ||
	    (rc = drb_zip_open(out, pass, created, &x->zip)) < 0)
		goto out;
	drb_zip_set_progress(x->zip, show_progress, x);
	if ((rc = add_readme(x, r)) < 0 || (rc = add_sql(x, db, &st)) < 0 ||
	    (rc = drb_dump_base_tables(db, x->opt->practice, &tables, &n_tables)) < 0)
		goto out;
	drb_log_info("export: %zu tables as CSV", n_tables);
	for (size_t i = 0; i < n_tables && rc == 0; i++)
		rc = add_csv(x, db, tables[i], &st);
	if (rc == 0)
		rc = add_documents(x);
	if (rc == 0)
		rc = add_manifest(x, r, repo_path, created);
	if (rc == 0)
		rc = drb_zip_close(x->zip);
	if (rc == 0)
		*zip_bytes = drb_zip_bytes(x->zip);
out:
	drb_progress_clear();
	drb_zip_free(x->zip);
	x->zip = NULL;
	drb_dump_names_free(tables, n_tables);
	drb_dump_stats_free(&st);
	drb_db_close(db);
	return rc;
}

/* ---------------------------------------------------------------- hand-over */

static drb_repo *link_repo(drb_repo_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		if (drb_repo_can_presign(set->repos[i]))
			return set->repos[i];
	return NULL;
}

typedef struct old_exports {
	int64_t before;
	char **v;
	size_t n;
} old_exports;

static int add_old(void *ud, const char *path, const drb_obj_stat *st)
{
	old_exports *o = ud;
	if (!st || st->mtime >= o->before)
		return 0;
	char **v = realloc(o->v, (o->n + 1) * sizeof *v);
	if (!v || !(v[o->n] = strdup(path))) {
		if (v)
			o->v = v;
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	o->v = v;
	o->n++;
	return 0;
}

/* Exports of this practice older than export { keep_days } leave every repository. */
static void expire_exports(drb_repo_set *set, const drb_config *c, const char *host,
                           const char *practice)
{
	char *name = drb_path_component(practice), *prefix = NULL;
	if (c->export.keep_days <= 0 || !name ||
	    asprintf(&prefix, "%s/exports/%s/", host, name) < 0)
		goto out;
	for (size_t i = 0; i < set->n; i++) {
		old_exports o = {.before = time(NULL) - c->export.keep_days * 86400};
		if (drb_repo_list(set->repos[i], prefix, true, add_old, &o) < 0 ||
		    (o.n && drb_repo_remove(set->repos[i], (const char *const *)o.v, o.n) < 0)) {
			drb_log_current_error("deleting old exports");
			drb_error_clear();
		} else if (o.n) {
			drb_log_info(
			    "export: deleted %zu export%s of %s older than %ld days from %s", o.n,
			    o.n == 1 ? "" : "s", practice, c->export.keep_days,
			    set->repos[i]->name);
		}
		for (size_t k = 0; k < o.n; k++)
			free(o.v[k]);
		free(o.v);
	}
out:
	free(name);
	free(prefix);
}

/* ---------------------------------------------------------------- the command */

int drb_cmd_export(drb_ctx *ctx, int argc, char **argv)
{
	export_opts opt;
	export_run x = {0};
	drb_config *c = NULL;
	drb_keyring *keys = NULL;
	drb_restore_opts o = {0};
	drb_restore_result r = {0};
	drb_repo *link_to = NULL;
	drb_sink *out = NULL;
	json_t *audit = NULL;
	char *pass = NULL, *repo_path = NULL, *out_path = NULL, *url = NULL, *name = NULL;
	const char *dbs[1];
	bool generated = false, out_created = false;
	uint64_t zip_bytes = 0;
	int fd = -1, rc;
	int64_t started = time(NULL);
	char id[17];
	drb_time_id(started, id);
	if ((rc = parse_opts(argc, argv, &opt)) < 0 || (rc = drb_ctx_config(ctx, &c)) < 0)
		return rc;
	x.cfg = c;
	x.opt = &opt;
	x.started = started;
	x.files = json_array();
	x.tables = json_array();
	x.binary = json_object();
	x.skipped = json_array();
	o.host_id = opt.host ? opt.host : c->host_id;
	audit = drb_audit_begin("export", o.host_id, started);
	json_array_append_new(json_object_get(audit, "practices"), json_string(opt.practice));
	json_object_set_new(audit, "point_in_time", json_string(opt.at));
	if ((rc = drb_target_parse(opt.at, &o.target)) < 0 ||
	    (rc = drb_keyring_load(c, 1, &keys)) < 0 ||
	    (rc = drb_repo_set_open(c, ctx->repo_name, &o.set)) < 0)
		goto out;
	drb_repo_set_allow_unsigned(o.set, opt.allow_unsigned);
	if (keys->n_sec == 0) {
		rc = drb_error(DRB_ERR_CONFIG,
		               "export runs on a restore host: it needs a secret key "
		               "(encryption { secret_keys } in %s)",
		               c->file);
		goto out;
	}
	if (opt.url && !(link_to = link_repo(o.set))) {
		rc = drb_error(DRB_ERR_CONFIG,
		               "--url needs a repository that hands out download "
		               "links (type = \"s3\")%s",
		               ctx->repo_name ? "; --repo names one that does not" : "");
		goto out;
	}
	if ((rc = get_passphrase(&opt, &pass, &generated)) < 0)
		goto out;
	/* the destination first: no restore when the archive has nowhere to go */
	if (!(name = drb_path_component(opt.practice))) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (opt.url) {
		if (asprintf(&repo_path, "%s/exports/%s/%s.zip", o.host_id, name, id) < 0) {
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			goto out;
		}
		drb_put_opts po = {0};
		if ((rc = drb_repo_put(link_to, repo_path, &po, &out)) < 0)
			goto out;
		json_object_set_new(
		    audit, "target",
		    json_pack("{s:s, s:s}", "repository", link_to->name, "object", repo_path));
	} else {
		if (opt.out)
			out_path = strdup(opt.out);
		else if (asprintf(&out_path, "%s-%s.zip", name, id) < 0)
			out_path = NULL;
		if (!out_path) {
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
			rc = drb_error(errno == EEXIST ? DRB_ERR_EXISTS : DRB_ERR_IO, "%s: %s",
			               out_path, strerror(errno));
			goto out;
		}
		out_created = true;
		out = drb_fd_sink_new(fd, out_path);
		json_object_set_new(audit, "target", json_pack("{s:s}", "file", out_path));
	}
	if (!out) {
		rc = drb_error(DRB_ERR_NOMEM, "out of memory");
		goto out;
	}
	dbs[0] = opt.practice;
	o.cfg = c;
	o.keys = keys;
	o.dbs = dbs;
	o.n_dbs = 1;
	o.jobs = 1;
	o.spool = c->spool_dir;
	o.force = true; /* the scratch server is new and private */
	o.prepare_target = prepare;
	o.ud = &x;
	drb_log_info("export of %s (%s) from the backups of %s", opt.practice, opt.at, o.host_id);
	if ((rc = drb_restore_run(&o, &r)) < 0)
		goto out;
	json_object_set_new(audit, "backup_id", json_string(r.backup_id));
	if (r.reached_time > 0) {
		char reached[21];
		drb_time_iso(r.reached_time, reached);
		json_object_set_new(audit, "reached", json_string(reached));
	}
	if ((rc = build(&x, &r, out, pass, repo_path, started, &zip_bytes)) < 0 ||
	    (rc = drb_sink_finish(out)) < 0)
		goto out;
	if (fd >= 0 && fsync(fd) != 0) {
		rc = drb_error(DRB_ERR_IO, "%s: %s", out_path, strerror(errno));
		goto out;
	}
	if (opt.url) {
		if ((rc = drb_repo_presign(link_to, repo_path, opt.expires, &url)) < 0)
			goto out;
		char until[21];
		drb_time_iso(time(NULL) + opt.expires, until);
		/* the link itself is a bearer credential: the record names the object, not the URL
		 */
		json_object_set_new(json_object_get(audit, "target"), "link_expires",
		                    json_string(until));
	}
	json_object_set_new(audit, "bytes", json_integer((json_int_t)zip_bytes));
	json_object_set_new(audit, "documents", json_integer((json_int_t)x.n_docs));
	expire_exports(o.set, c, o.host_id, opt.practice);
out:
	drb_scratch_stop(&x.scratch);
	if (rc < 0 && out) {
		drb_error_state keep;
		drb_error_save(&keep);
		drb_sink_abort(out);
		drb_error_restore(&keep);
	}
	if (out)
		drb_sink_free(out);
	if (fd >= 0)
		close(fd);
	if (rc < 0 && out_created)
		unlink(out_path); /* ciphertext only, but incomplete: useless to the practice */
	if (rc < 0)
		drb_error_wrap(0, "export of %s failed", opt.practice);
	drb_audit_finish(o.set, c, audit, rc);
	if (rc == 0) {
		if (ctx->json) {
			json_t *j = json_pack(
			    "{s:s, s:s, s:s, s:I, s:I, s:I}", "practice", opt.practice, "backup_id",
			    r.backup_id, "point_in_time", opt.at, "bytes", (json_int_t)zip_bytes,
			    "tables", (json_int_t)json_array_size(x.tables), "documents",
			    (json_int_t)x.n_docs);
			if (out_path)
				json_object_set_new(j, "file", json_string(out_path));
			if (repo_path)
				json_object_set_new(j, "object", json_string(repo_path));
			if (url) {
				json_object_set_new(j, "url", json_string(url));
				json_object_set_new(j, "expires_seconds",
				                    json_integer(opt.expires));
			}
			if (generated)
				json_object_set_new(j, "passphrase", json_string(pass));
			json_dumpf(j, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
			putchar('\n');
			json_decref(j);
		} else {
			printf("exported %s (backup %s, %s): %zu tables, %llu documents, %.1f MB\n",
			       opt.practice, r.backup_id, opt.at, json_array_size(x.tables),
			       (unsigned long long)x.n_docs, zip_bytes / 1e6);
			if (out_path)
				printf("file        %s\n", out_path);
			if (url)
				printf("link        %s\n            valid %ld s\n", url,
				       opt.expires);
			if (generated)
				printf("passphrase  %s\n            shown once, stored nowhere: "
				       "give it to "
				       "the practice by another channel than the file or link\n",
				       pass);
		}
		fflush(stdout);
	}
	if (pass) {
		if (generated)
			sodium_free(pass);
		else
			drb_secret_free(pass);
	}
	json_decref(x.files);
	json_decref(x.tables);
	json_decref(x.binary);
	json_decref(x.skipped);
	free(x.docs_dir);
	free(url);
	free(repo_path);
	free(out_path);
	free(name);
	drb_restore_result_free(&r);
	drb_repo_set_close(o.set);
	drb_keyring_free(keys);
	return rc;
}
