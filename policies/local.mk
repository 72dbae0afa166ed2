# policies/: the retention engine (pure: catalog, policy, holds and now in; a plan out) and
# ready-made policy files.
libdrbackup_a_SOURCES += policies/retention.c policies/retention.h
dist_pkgdata_DATA = policies/us-adult-7y.conf policies/pediatric-25y.conf \
	policies/hipaa-documentation-6y.conf
EXTRA_DIST += policies/README.md
