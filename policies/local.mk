# policies/: retention rules and their engine (arrives with the retention issue).
EXTRA_DIST += policies/README.md
