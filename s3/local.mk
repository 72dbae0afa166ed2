# s3/: the S3 repository driver.
libdrbackup_a_SOURCES += \
	s3/s3.h \
	s3/driver.c
