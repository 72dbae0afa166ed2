#include "config.h"
#include "common/context.h"
#include "common/error.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t stop_flag;

int drb_ctx_config(drb_ctx *ctx, drb_config **out)
{
	if (!ctx->cfg) {
		int rc = drb_config_load(drb_config_path(ctx->config_path), &ctx->cfg);
		if (rc < 0)
			return rc;
	}
	*out = ctx->cfg;
	return 0;
}

void drb_ctx_free(drb_ctx *ctx)
{
	drb_config_free(ctx->cfg);
	ctx->cfg = NULL;
}

int drb_exit_status(int rc)
{
	switch (rc) {
	case DRB_OK:
		return 0;
	case DRB_ERR_USAGE:
	case DRB_ERR_CONFIG:
		return 2;
	case DRB_ERR_DEGRADED:
		return 3;
	default:
		return 1;
	}
}

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

void drb_signals_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL); /* a closed pipe is an EPIPE error, handled where it occurs */
}

bool drb_stop_requested(void)
{
	return stop_flag != 0;
}

void drb_stop_request(void)
{
	stop_flag = 1;
}
