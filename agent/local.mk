# agent/: the backup side.
libdrbackup_a_SOURCES += \
	agent/agent.h \
	agent/check.c
EXTRA_DIST += agent/systemd
