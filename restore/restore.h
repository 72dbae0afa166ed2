/* The restore side: the commands a restore host runs (list, restore, restore-test, audit). It needs
 * nothing from the agent: a fresh machine with the secret key can bring a lost host back. */
#ifndef DRB_RESTORE_H
#define DRB_RESTORE_H

#include "common/context.h"

int drb_cmd_list(drb_ctx *ctx, int argc, char **argv);
int drb_cmd_restore(drb_ctx *ctx, int argc, char **argv);
int drb_cmd_restore_test(drb_ctx *ctx, int argc, char **argv);
int drb_cmd_audit(drb_ctx *ctx, int argc, char **argv);

#endif
