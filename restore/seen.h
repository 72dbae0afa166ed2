/* What a restore host has seen of each host's history: the newest full backup and the newest
 * segment it planned from or listed. A repository that later shows less (a rollback to older
 * metadata, or deleted backups) is warned about, not silently believed. Kept in spool_dir. */
#ifndef DRB_RESTORE_SEEN_H
#define DRB_RESTORE_SEEN_H

#include "common/catalog.h"
#include "common/conf.h"

/* Compare cat (read from repository repo) with what was seen of its host, warn when it shows an
 * older history, and remember what is newer. Failing to keep the record is only a warning. */
void drb_seen_check(const drb_config *c, const char *repo, const drb_catalog *cat);

#endif
