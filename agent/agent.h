/* The backup side: the commands a database host runs (check, full, binlog), each reading its
 * options from argv after the command name. */
#ifndef DRB_AGENT_H
#define DRB_AGENT_H

#include "common/context.h"

int drb_cmd_check(drb_ctx *ctx, int argc, char **argv);
int drb_cmd_full(drb_ctx *ctx, int argc, char **argv);
int drb_cmd_binlog(drb_ctx *ctx, int argc, char **argv);
int drb_cmd_expire(drb_ctx *ctx, int argc, char **argv);
int drb_cmd_hold(drb_ctx *ctx, int argc, char **argv);

#endif
