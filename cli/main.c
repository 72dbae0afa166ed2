/* drbackup's entry point: global options, the command table with every command's help, the
 * dispatch, and the one place where repository drivers are wired to the interface. */
#include "config.h"

#include <getopt.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "cli/cli.h"
#include "common/context.h"
#include "common/error.h"
#include "common/log.h"
#include "common/repo.h"
#include "export/export.h"
#include "restore/restore.h"
#include "s3/s3.h"

typedef struct command {
	const char *name;
	int (*run)(drb_ctx *ctx, int argc, char **argv);
	const char *synopsis;
	const char *summary;
	const char *help;
} command;

static const command commands[] = {
	{"keygen", drb_cmd_keygen, "keygen [--sign] --out PREFIX",
	 "create a key pair for sealing backups, or for signing a host's metadata",
	 "Writes PREFIX.pub (give it to every database host) and PREFIX.key (mode 0600; keep it\n"
	 "on restore hosts only). Never replaces an existing file.\n"
	 "With --sign, an Ed25519 pair for one database host: PREFIX.key stays on that host\n"
	 "(signing { key }), PREFIX.pub is pinned on restore hosts for its host_id\n"
	 "(trust { host \"ID\" { signing_keys = {...} } }).\n"
	 "\n"
	 "  --sign         a signing key pair instead of a sealing one\n"
	 "  --out PREFIX   where to write the two files\n"},
	{"check", drb_cmd_check, "check",
	 "check the configuration, keys, database and repositories",
	 "Reads the configuration and the keys, connects to the database and checks the backup\n"
	 "account's privileges and the binary log settings, and writes, reads back and deletes a\n"
	 "probe object in every repository. Every problem is reported with its fix; exits 1 when\n"
	 "there is one.\n"},
	{"full", drb_cmd_full, "full [--db NAME]... [--jobs N]",
	 "take a full backup of every database now",
	 "Dumps the databases from one consistent snapshot, without a global lock, and stores one\n"
	 "object per database in every repository; the manifest is written last.\n"
	 "\n"
	 "  --db NAME   back up this database (repeatable); default: the configured list, else\n"
	 "              every database that is not a system schema\n"
	 "  --jobs N    databases dumped at once, 1 to 256 (default: database { jobs }, where 0\n"
	 "              means one per core)\n"},
	{"binlog", drb_cmd_binlog, "binlog [--follow]",
	 "ship closed binary logs (or stream them with --follow)",
	 "Rotates the binary log when something was written since the last run, then ships every\n"
	 "closed segment that is not yet in every repository, with its metadata.\n"
	 "\n"
	 "  --follow   keep running: stream the binary log and seal a segment every\n"
	 "             binlog { segment_seconds }, or follow_delay_ms after each write\n"
	 "             (inotify) when that is set; stops cleanly on SIGTERM\n"
	 "\n"
	 "With binlog { compact_levels } (e.g. {300, 3600}) both also compact: windows that\n"
	 "are over go out again as one segment read from the local file, and the small\n"
	 "segments are deleted once every repository holds it.\n"},
	{"list", drb_cmd_list,
	 "list [--host ID] [--allow-unsigned] [--repo-as-of TIME]\n"
	 "              | list --all-hosts [--max-full-age-hours N] [--max-rpo-seconds N]\n"
	 "                               [--max-restore-test-age-days N]\n"
	 "              | list --timeline [--host ID] [--db NAME] [--days N | --since TIME]\n"
	 "                               [--width N] [--no-color]",
	 "show backups, binlog coverage and the recoverable window",
	 "Per repository: full backups, binlog coverage, the recoverable window, gaps, missing\n"
	 "copies and the last restore-test, from metadata signed by a key pinned for the host;\n"
	 "what is unsigned or fails its signature is shown as UNTRUSTED. Needs no secret key.\n"
	 "Also the request budget: objects and bytes per compaction level, and the PUTs of the\n"
	 "last 24 h (the drbackup_repository_* metrics when metrics_dir is set).\n"
	 "\n"
	 "  --host ID          another host's backups (default: this configuration's host_id)\n"
	 "  --allow-unsigned   count metadata without a signature (backups from before signing)\n"
	 "  --repo-as-of TIME  the repository as it was at TIME (UTC; S3 with versions only)\n"
	 "                     A repository that tiers (tier { }) shows each backup's class.\n"
	 "\n"
	 "  --all-hosts        one row per host id in the repositories: newest full, the point it\n"
	 "                     restores to and the RPO now, gaps, copies missing per repository,\n"
	 "                     the last restore-test, holds, bytes. Exits 1 when a host breaches\n"
	 "                     a threshold of alerts { } (3 when only degraded); writes the\n"
	 "                     drbackup_fleet_* metrics when metrics_dir is set\n"
	 "  --max-full-age-hours N, --max-rpo-seconds N, --max-restore-test-age-days N\n"
	 "                     override alerts { } for this run (0: not checked)\n"
	 "\n"
	 "  --timeline         the recoverable window as a bar per repository: = recoverable,\n"
	 "                     x gap, ! missing copy (another repository has it), F full backup,\n"
	 "                     T/X restore-test passed/failed; colored on a terminal\n"
	 "  --db NAME          only full backups that hold this database (one practice)\n"
	 "  --days N           the last N days (default 7); --since TIME starts at TIME instead\n"
	 "  --width N          columns of the bar (default 72)\n"
	 "  --no-color         plain characters on a terminal too (so does $NO_COLOR)\n"},
	{"restore", drb_cmd_restore,
	 "restore --to TIME|GTID|latest [--host ID] [--db NAME]... [--jobs N]\n"
	 "                 [--target-socket PATH | --target-host H --target-port P]\n"
	 "                 [--target-user U] [--target-ssl-ca FILE] [--force] [--dry-run]\n"
	 "                 [--allow-unsigned] [--repo-as-of TIME]",
	 "restore databases to a point in time",
	 "Picks the newest full backup at or before the target and the unbroken chain of binlog\n"
	 "segments after it, checks every object, loads the dumps and replays the chain.\n"
	 "\n"
	 "  --to WHEN           a UTC time ('2026-11-23 10:05:00', or with an offset), a GTID\n"
	 "                      (0-1-42), or 'latest' (the last shipped event)\n"
	 "  --host ID           restore another host's backups (the disaster case)\n"
	 "  --db NAME           restore only this database (repeatable)\n"
	 "  --jobs N            databases loaded at once (default: database { jobs }, where 0\n"
	 "                      means two per core: loads also wait on the server's writes)\n"
	 "  --target-socket P   the server to restore into (default: database { socket })\n"
	 "  --target-host H, --target-port P   the same over TCP\n"
	 "  --target-ssl-ca F   TLS over TCP, the server's certificate verified against CA file F\n"
	 "                      (default: database { ssl_ca }); required unless H is loopback\n"
	 "  --target-user U     connect as U (password from database { password_file }); default:\n"
	 "                      the OS user, by socket authentication\n"
	 "  --force             replace databases that exist and are not empty\n"
	 "  --dry-run           print the plan and change nothing\n"
	 "  --allow-unsigned    accept metadata without a signature (backups from before\n"
	 "                      signing), with a warning; a failing signature is never accepted\n"
	 "  --repo-as-of TIME   read the repository as it was at TIME (UTC): for each object the\n"
	 "                      newest version not after it, delete markers skipped, so what was\n"
	 "                      overwritten or deleted since (ransomware with this host's own\n"
	 "                      credentials) does not hide a locked good version. S3 repositories\n"
	 "                      on a versioned (Object Lock) bucket only; pick one with --repo\n"
	 "An object in GLACIER or DEEP_ARCHIVE that is not thawed stops the restore before the\n"
	 "target is touched, with how to thaw it.\n"},
	{"restore-test", drb_cmd_restore_test,
	 "restore-test [--host ID] [--allow-unsigned] [--repo-as-of TIME]",
	 "prove the newest backup restores, in a scratch server",
	 "Starts a private scratch server, restores the newest full backup and every segment\n"
	 "after it, checks tables and row counts, restores again to a point inside the newest\n"
	 "segment, records a report in the repository and stops the scratch server. Exits 1 on\n"
	 "any failure.\n"
	 "\n"
	 "  --host ID          test another host's backups (default: this configuration's host_id)\n"
	 "  --allow-unsigned   accept metadata without a signature (backups from before signing)\n"
	 "  --repo-as-of TIME  test the repository as it was at TIME (see restore); the report is\n"
	 "                     printed and audited, not stored as the last restore-test\n"},
	{"expire", drb_cmd_expire, "expire [--dry-run] [--now TIME]", "apply the retention policy",
	 "Plans from the verified catalog of each repository, the retention { } policy (and each\n"
	 "practice's own rules), the holds and now: what is kept and why, what goes. Deletes in\n"
	 "a crash-safe order (a signed tombstone, the manifest, the objects); the next run\n"
	 "finishes what a killed one began and completes repositories that were down. Runs\n"
	 "neither beside another expire nor beside a full backup. Exit 3 when a repository could\n"
	 "not be expired.\n"
	 "On S3: an object that Object Lock or a legal hold protects is never deleted: the plan\n"
	 "shows it kept, and why; a backup promoted to a weekly, monthly or yearly keep has its\n"
	 "lock extended to the date that keep lasts (object_lock_days); delete_versions removes\n"
	 "every version, not only adds a delete marker; tier { } moves old backups to a colder\n"
	 "storage class.\n"
	 "\n"
	 "  --dry-run    print the plan (kept and why; deleted and bytes freed); change nothing\n"
	 "  --now TIME   evaluate the policy at another time (UTC)\n"},
	{"hold", drb_cmd_hold,
	 "hold --practice NAME --reason TEXT | hold --release --practice NAME [--host ID]",
	 "put a practice on legal hold, or release it",
	 "While a hold stands, expire deletes nothing of that practice and keeps the binlog its\n"
	 "backups need. The hold is a signed object in every repository; list shows it. With\n"
	 "legal_hold = true in a repo section, the practice's dumps and their manifests get an S3\n"
	 "legal hold too (which no credentials delete through); a release turns it off where no\n"
	 "other hold covers them.\n"
	 "\n"
	 "  --practice NAME   the practice (its database name)\n"
	 "  --reason TEXT     why (a case number, a letter)\n"
	 "  --release         lift the hold\n"
	 "  --host ID         another host's practice (default: this configuration's host_id)\n"},
	{"export", drb_cmd_export,
	 "export --practice NAME [--at TIME|latest] [--out FILE | --url [--expires D]]\n"
	 "                 [--passphrase-file F] [--host ID] [--allow-unsigned]",
	 "export one practice's data as an encrypted zip, from the backups",
	 "Restores the practice from the backups into a private scratch server (never the live\n"
	 "server) and writes one AES-256 encrypted zip: NAME.sql (loads with 'mariadb < file'),\n"
	 "csv/TABLE.csv per table, documents/ (export { documents_dir }), manifest.json and\n"
	 "README.txt. Nothing is written to disk unencrypted. Needs a secret key. Recorded in\n"
	 "the audit trail.\n"
	 "\n"
	 "  --practice NAME      the practice's database\n"
	 "  --at WHEN            a UTC time, a GTID or 'latest' (default)\n"
	 "  --out FILE           write the zip here (default: NAME-TIMESTAMP.zip; never replaced)\n"
	 "  --url                store it in the repository under HOST/exports/NAME/ and print a\n"
	 "                       download link (an S3 repository); older exports than\n"
	 "                       export { keep_days } are deleted\n"
	 "  --expires D          how long the link works: 90s, 30m, 24h (default), up to 7d\n"
	 "  --passphrase-file F  the zip's passphrase (a 0600 file, 12 characters or more);\n"
	 "                       without it a strong one is generated and printed once\n"
	 "  --host ID            another host's backups (default: this configuration's host_id)\n"
	 "  --allow-unsigned     accept metadata without a signature\n"},
	{"audit", drb_cmd_audit, "audit [--practice NAME] [--since TIME] [--host ID]",
	 "who restored, tested, exported, held or expired what, and when",
	 "Lists the audit records (one per restore, restore-test, export, hold and expire,\n"
	 "failed ones too) of a host's backups, oldest first, from signed objects in the\n"
	 "repository.\n"
	 "\n"
	 "  --practice NAME   only the actions on this practice\n"
	 "  --since TIME      only from this UTC time on\n"
	 "  --host ID         another host's records (default: this configuration's host_id)\n"
	 "  --allow-unsigned  show records without a signature too\n"},
	{"repo", drb_cmd_repo, "repo ls [PREFIX] | repo get PATH | repo put PATH",
	 "inspect a repository",
	 "  repo ls [PREFIX]   list objects (size, time, path) in each repository, or in --repo\n"
	 "  repo get PATH      write an object to stdout; DRB1 objects are opened (needs a secret\n"
	 "                     key); --raw writes the stored bytes as they are\n"
	 "  repo put PATH      seal stdin to the configured public keys and store it at PATH in\n"
	 "                     every repository, or in --repo\n"},
	{NULL, NULL, NULL, NULL, NULL},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: drbackup [-c FILE] [--repo NAME] [--json] [-v|-q] COMMAND [OPTIONS]\n"
		   "\n"
		   "Backups, binlog shipping and point-in-time restore for MariaDB, encrypted,\n"
		   "in every configured repository at once.\n"
		   "\n"
		   "commands:\n");
	for (const command *c = commands; c->name; c++)
		fprintf(f, "  %-13s %s%s\n", c->name, c->summary, c->run ? "" : " (not implemented yet)");
	fprintf(f, "\n"
		   "options:\n"
		   "  -c, --config FILE  configuration (default: $DRBACKUP_CONFIG, else %s)\n"
		   "      --repo NAME    work on this repository only\n"
		   "      --json         machine-readable output on stdout\n"
		   "  -v, --verbose      debug messages, and the chain of causes of an error\n"
		   "  -q, --quiet        errors only\n"
		   "  -h, --help         this help; 'drbackup COMMAND --help' for a command's\n"
		   "  -V, --version      the version\n"
		   "\n"
		   "exit status: 0 done, 1 failed, 2 bad usage or configuration, 3 done but degraded\n"
		   "(a repository missed a copy). See drbackup(1) and drbackup.conf(5).\n",
		DRB_DEFAULT_CONFIG);
}

static const command *find(const char *name)
{
	for (const command *c = commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void command_help(const command *c)
{
	printf("usage: drbackup [GLOBAL OPTIONS] %s\n\n%s.\n\n%s", c->synopsis, c->summary, c->help);
}

void drb_cli_usage_error(const char *cmd_name, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	drb_error(DRB_ERR_USAGE, "%s (see 'drbackup %s --help')", msg, cmd_name);
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

static void harden(void)
{
	struct rlimit none = {0, 0};
	setrlimit(RLIMIT_CORE, &none); /* no core file may hold a key or patient data */
	/* nor a ptrace or /proc/PID/mem of another process of this user (the setting survives
	 * exec only for set-id programs: children set their own) */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	umask(077);
}

int main(int argc, char **argv)
{
	drb_ctx ctx = {0};
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"repo", required_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'j'},        {"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},       {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},     {NULL, 0, NULL, 0},
	};
	int opt, rc;

	harden();
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+c:vqhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': ctx.config_path = optarg; break;
		case 'r': ctx.repo_name = optarg; break;
		case 'j': ctx.json = true; break;
		case 'v': ctx.verbosity++; break;
		case 'q': ctx.verbosity = -1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("drbackup %s\n", PACKAGE_VERSION); return 0;
		default:
			drb_log_init(ctx.verbosity);
			drb_log_error("unknown or incomplete option '%s' (see 'drbackup --help')",
				      argv[optind - 1]);
			return 2;
		}
	}
	drb_log_init(ctx.verbosity);
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const char *name = argv[optind];
	if (strcmp(name, "help") == 0) {
		const command *c = optind + 1 < argc ? find(argv[optind + 1]) : NULL;
		if (c)
			command_help(c);
		else
			usage(stdout);
		return 0;
	}
	const command *cmd = find(name);
	if (!cmd) {
		drb_log_error("'%s' is not a drbackup command (see 'drbackup --help')", name);
		return 2;
	}
	int cargc = argc - optind;
	char **cargv = argv + optind;
	if (wants_help(cargc, cargv)) {
		command_help(cmd);
		return 0;
	}
	if (!cmd->run) {
		drb_log_error("%s: not implemented yet", cmd->name);
		return 1;
	}
	if (sodium_init() < 0) {
		drb_log_error("libsodium could not be initialised");
		return 1;
	}
	drb_signals_install();
	/* wire the drivers that live outside common/ */
	drb_repo_register(&drb_s3_driver);

	optind = 0; /* 0, not 1: glibc then forgets the "+" (stop at the command) of the global parse */
	drb_error_clear();
	rc = cmd->run(&ctx, cargc, cargv);
	if (rc == DRB_ERR_DEGRADED) {
		char line[DRB_ERROR_LINE];
		drb_error_line(line, sizeof line);
		drb_log_warn("%s", line);
	} else if (rc < 0) {
		drb_log_current_error(NULL);
	}
	drb_ctx_free(&ctx);
	return drb_exit_status(rc);
}
