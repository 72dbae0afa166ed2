#include "config.h"
#include "common/error.h"
#include "s3/s3.h"

static int s3_open(const drb_repo_config *cfg, void **impl)
{
	(void)cfg, (void)impl;
	return drb_error(DRB_ERR_NOT_IMPLEMENTED, "the s3 driver is not implemented yet");
}

const drb_repo_driver drb_s3_driver = {.type = "s3", .open = s3_open};
