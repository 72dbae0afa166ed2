/* The entry point's own commands (keygen, repo) and the one table every command is listed in. */
#ifndef DRB_CLI_H
#define DRB_CLI_H

#include "common/context.h"

int drb_cmd_keygen(drb_ctx *ctx, int argc, char **argv);
int drb_cmd_repo(drb_ctx *ctx, int argc, char **argv);

/* Per-command usage and help, from the table in main.c. */
void drb_cli_usage_error(const char *command, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
