/* The practice export: one practice's data, from the backups (never the live server), restored
 * into a private scratch server and written as an AES-256 zip of SQL, CSV per table, the
 * documents tree and a manifest; into a file, or into the repository with a download link. It
 * runs on restore hosts (it needs the secret key) and uses restore/ and common/, never agent/. */
#ifndef DRB_EXPORT_H
#define DRB_EXPORT_H

#include "common/context.h"

int drb_cmd_export(drb_ctx *ctx, int argc, char **argv);

#endif
