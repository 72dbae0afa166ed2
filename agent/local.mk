# agent/: the backup side.
libdrbackup_a_SOURCES += \
	agent/agent.h \
	agent/check.c \
	agent/full.c \
	agent/heal.c agent/heal.h \
	agent/state.c agent/state.h \
	agent/binlog.c \
	agent/binlog_scan.c agent/binlog_scan.h \
	agent/compact.c agent/compact.h \
	agent/expire.c \
	agent/hold.c
EXTRA_DIST += agent/systemd

# systemd units and timers: installed with the path of the installed binary in ExecStart=
systemdunitdir = $(prefix)/lib/systemd/system
systemd_units = \
	agent/systemd/drbackup-full.service agent/systemd/drbackup-full.timer \
	agent/systemd/drbackup-binlog.service agent/systemd/drbackup-binlog.timer \
	agent/systemd/drbackup-follow.service \
	agent/systemd/drbackup-expire.service agent/systemd/drbackup-expire.timer \
	agent/systemd/drbackup-restore-test.service agent/systemd/drbackup-restore-test.timer
install-data-local: install-systemd-units
install-systemd-units:
	$(MKDIR_P) '$(DESTDIR)$(systemdunitdir)'
	for u in $(systemd_units); do \
	  sed 's|/usr/local/bin/drbackup|$(bindir)/drbackup|' "$(srcdir)/$$u" \
	    > "$(DESTDIR)$(systemdunitdir)/$${u##*/}" || exit 1; \
	  chmod 644 "$(DESTDIR)$(systemdunitdir)/$${u##*/}"; \
	done
uninstall-local:
	for u in $(systemd_units); do rm -f "$(DESTDIR)$(systemdunitdir)/$${u##*/}"; done
.PHONY: install-systemd-units
