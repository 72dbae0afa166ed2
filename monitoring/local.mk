# monitoring/: Prometheus alerting rules with their promtool unit tests, and a Grafana dashboard,
# all over the series drbackup writes (tests/integration/test_fleet checks the names).
monitoringdir = $(pkgdatadir)/monitoring
dist_monitoring_DATA = monitoring/drbackup.rules.yml monitoring/drbackup.dashboard.json
EXTRA_DIST += monitoring/drbackup.rules.test.yml monitoring/test_rules.sh
TESTS += monitoring/test_rules.sh
