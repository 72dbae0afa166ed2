/* Healing: a repository that was down when an object was written gets its copy on the next run,
 * copied as stored bytes (no key needed) and checked against the recorded SHA-256. Data objects
 * are copied before the metadata that makes them visible. */
#ifndef DRB_AGENT_HEAL_H
#define DRB_AGENT_HEAL_H

#include "common/conf.h"
#include "common/repo.h"

/* Copy whatever some repositories of set hold for this host and others lack. DRB_ERR_DEGRADED
 * when a copy could still not be made (a repository is still down). */
int drb_heal(const drb_config *c, drb_repo_set *set);

#endif
