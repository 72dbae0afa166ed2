# agent/: the backup side.
libdrbackup_a_SOURCES += \
	agent/agent.h \
	agent/check.c \
	agent/dump.c agent/dump.h \
	agent/full.c \
	agent/heal.c agent/heal.h \
	agent/state.c agent/state.h \
	agent/binlog.c \
	agent/binlog_scan.c agent/binlog_scan.h
EXTRA_DIST += agent/systemd
