# cli/: the entry point.
drbackup_SOURCES += cli/main.c cli/cli.h cli/keygen.c cli/repo.c
