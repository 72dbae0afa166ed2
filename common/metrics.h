/* Prometheus textfile metrics: metrics_dir/drbackup.prom, merged so each command updates its own
 * series and keeps the others', written atomically for the node exporter's textfile collector. */
#ifndef DRB_METRICS_H
#define DRB_METRICS_H

#include "common/conf.h"

typedef struct drb_metric {
	const char *name;   /* drbackup_last_success_timestamp_seconds */
	const char *labels; /* command="full",repo="dr" (without braces), or NULL */
	const char *help;
	double value;
} drb_metric;

/* A no-op when metrics_dir is not set. */
int drb_metrics_update(const drb_config *c, const drb_metric *m, int n);
/* The same, dropping first every series whose name starts with prefix: a family whose label
 * sets change between runs (one series per host) is written whole, with no stale series. */
int drb_metrics_replace(const drb_config *c, const char *prefix, const drb_metric *m, int n);

#endif
