# export/: the practice export (a scratch restore of one practice into an encrypted zip).
libdrbackup_a_SOURCES += \
	export/export.h \
	export/zip.c export/zip.h \
	export/documents.c export/documents.h \
	export/export.c
