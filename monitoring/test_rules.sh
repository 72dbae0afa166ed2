#!/bin/sh
# The alerting rules load and their unit tests pass (promtool, Debian package prometheus).
# No promtool is a failure, not a skip: a check that does not run proves nothing.
set -e
here=$(dirname "$0")
if ! command -v promtool >/dev/null 2>&1; then
	echo "promtool not found: install the Debian package prometheus (quickstart deps)" >&2
	exit 1
fi
promtool check rules "$here/drbackup.rules.yml"
promtool test rules "$here/drbackup.rules.test.yml"
