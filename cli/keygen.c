/* drbackup keygen: a new key pair for sealing backups, or with --sign for signing a host's
 * metadata. */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/keys.h"
#include "common/log.h"

int drb_cmd_keygen(drb_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
					     {"sign", no_argument, NULL, 's'},
					     {0, 0, 0, 0}};
	const char *prefix = NULL;
	bool sign = false;
	int opt;
	drb_pubkey pub;
	char id[17];
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (opt == 's') {
			sign = true;
			continue;
		}
		if (opt != 'o') {
			drb_cli_usage_error("keygen", "unknown option '%s'", argv[optind - 1]);
			return DRB_ERR_USAGE;
		}
		prefix = optarg;
	}
	if (!prefix || optind < argc) {
		drb_cli_usage_error("keygen", "keygen takes [--sign] --out PREFIX and nothing else");
		return DRB_ERR_USAGE;
	}
	int rc = sign ? drb_signkey_gen(prefix, &pub) : drb_keygen(prefix, &pub);
	if (rc < 0)
		return rc;
	drb_key_id_hex(pub.id, id);
	if (ctx->json) {
		json_t *j = json_pack("{s:s, s:s, s:s+, s:s+}", "key_id", id, "kind",
				      sign ? "signing" : "sealing", "public_key", prefix, ".pub",
				      "secret_key", prefix, ".key");
		json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	} else if (sign) {
		drb_log_info("wrote the signing key pair %s.pub and %s.key (key id %s): %s.key goes "
			     "to the database host (signing { key }); restore hosts pin %s.pub for it "
			     "(trust { host ... { signing_keys } })",
			     prefix, prefix, id, prefix, prefix);
	} else {
		drb_log_info("wrote %s.pub and %s.key (key id %s); keep %s.key off database hosts",
			     prefix, prefix, id, prefix);
	}
	return 0;
}
