# restore/: the restore side.
libdrbackup_a_SOURCES += \
	restore/restore.h
