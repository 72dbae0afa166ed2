# common/: what both sides share.
libdrbackup_a_SOURCES += \
	common/error.c common/error.h \
	common/log.c common/log.h \
	common/conf.c common/conf.h \
	common/secret.c common/secret.h \
	common/context.c common/context.h \
	common/sink.c common/sink.h \
	common/compress.c common/compress.h \
	common/drb1.c common/drb1.h \
	common/keys.c common/keys.h \
	common/sign.c common/sign.h \
	common/object.c common/object.h \
	common/repo.c common/repo.h \
	common/repo_posix.c \
	common/db.c common/db.h \
	common/fault.c common/fault.h \
	common/catalog.c common/catalog.h \
	common/layout.c common/layout.h \
	common/lock.c common/lock.h \
	common/fork.c common/fork.h \
	common/metrics.c common/metrics.h \
	common/proc.c common/proc.h \
	common/pool.c common/pool.h \
	common/dump.c common/dump.h common/dump_out.h \
	common/dump_sql.c common/dump_csv.c \
	common/audit.c common/audit.h
