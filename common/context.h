/* What every command gets from the entry point: the global options, the configuration (read on
 * first use), and the stop flag that SIGINT/SIGTERM raise. */
#ifndef DRB_CONTEXT_H
#define DRB_CONTEXT_H

#include <signal.h>
#include <stdbool.h>

#include "common/conf.h"

typedef struct drb_ctx {
	const char *config_path; /* -c, or NULL for the default search */
	const char *repo_name;   /* --repo: work on this repository only */
	bool json;               /* --json: machine-readable output on stdout */
	int verbosity;           /* -v / -q */
	drb_config *cfg;         /* loaded by drb_ctx_config */
} drb_ctx;

/* Load the configuration once; returns DRB_ERR_CONFIG (exit 2) with the message set. */
int drb_ctx_config(drb_ctx *ctx, drb_config **out);
void drb_ctx_free(drb_ctx *ctx);

/* Exit status for a command's result: 0 done, 1 failed, 2 usage/config, 3 degraded. */
int drb_exit_status(int rc);

/* SIGINT/SIGTERM set the stop flag instead of killing the process; long work polls it. */
void drb_signals_install(void);
bool drb_stop_requested(void);
void drb_stop_request(void);

#endif
