# restore/: the restore side.
libdrbackup_a_SOURCES += \
	restore/restore.h \
	restore/plan.c restore/plan.h \
	restore/apply.c restore/apply.h \
	restore/fetch.c restore/fetch.h \
	restore/replay.c restore/replay.h \
	restore/seen.c restore/seen.h \
	restore/load.c restore/load.h \
	restore/sqlcheck.c restore/sqlcheck.h \
	restore/restore.c \
	restore/list.c restore/list.h restore/fleet.c restore/timeline.c \
	restore/scratch.c restore/scratch.h \
	restore/restore_test.c \
	restore/audit.c
