/* The S3 repository driver: any S3-compatible store (AWS, MinIO, Ceph RGW, s3rver) behind the
 * repository interface, with SigV4 signing, retried requests, streaming multipart uploads and
 * resumable reads. Also hands out presigned download links (practice exports). */
#ifndef DRB_S3_H
#define DRB_S3_H

#include "common/repo.h"

extern const drb_repo_driver drb_s3_driver;

/* The longest a presigned URL may live: SigV4 refuses more than 7 days. */
#define DRB_S3_PRESIGN_MAX 604800L

/* A URL that lets anyone holding it GET path (relative to the repository's prefix) for
 * expires_seconds (1 .. DRB_S3_PRESIGN_MAX) without credentials. *url_out is malloc'd. No request
 * is made: the object's presence is not checked. */
int drb_s3_presign(const drb_repo_config *cfg, const char *path, long expires_seconds,
                   char **url_out);

#endif
