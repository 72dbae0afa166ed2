/* The S3 repository driver: any S3-compatible store, behind the repository interface. */
#ifndef DRB_S3_H
#define DRB_S3_H

#include "common/repo.h"

extern const drb_repo_driver drb_s3_driver;

#endif
