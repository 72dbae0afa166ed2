#include "config.h"
#include "common/log.h"
#include "common/error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_TTY, MODE_JOURNAL, MODE_PLAIN };

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int verbosity;
static enum mode mode = MODE_PLAIN;
static bool progress_shown;
static bool initialised;

static const char *level_name[] = {"error", "warning", "info", "debug"};
/* syslog priorities: err, warning, info, debug */
static const int level_prio[] = {3, 4, 6, 7};

void drb_log_init(int v)
{
	verbosity = v;
	if (getenv("JOURNAL_STREAM"))
		mode = MODE_JOURNAL;
	else if (isatty(STDERR_FILENO))
		mode = MODE_TTY;
	else
		mode = MODE_PLAIN;
	initialised = true;
}

int drb_log_verbosity(void)
{
	return verbosity;
}

bool drb_log_is_tty(void)
{
	if (!initialised)
		drb_log_init(0);
	return mode == MODE_TTY;
}

static bool enabled(drb_log_level level)
{
	if (level == DRB_LOG_ERROR)
		return true;
	if (verbosity < 0)
		return false;
	if (level == DRB_LOG_DEBUG)
		return verbosity > 0;
	return true;
}

static void clear_progress_locked(void)
{
	if (progress_shown) {
		fputs("\r\033[K", stderr);
		progress_shown = false;
	}
}

static void emit_locked(drb_log_level level, const char *text)
{
	switch (mode) {
	case MODE_TTY:
		clear_progress_locked();
		if (level == DRB_LOG_INFO)
			fprintf(stderr, "drbackup: %s\n", text);
		else
			fprintf(stderr, "drbackup: %s: %s\n", level_name[level], text);
		break;
	case MODE_JOURNAL:
		fprintf(stderr, "<%d>%s\n", level_prio[level], text);
		break;
	case MODE_PLAIN: {
		char ts[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(stderr, "%s %s: %s\n", ts, level_name[level], text);
		break;
	}
	}
	fflush(stderr);
}

void drb_log(drb_log_level level, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	if (!initialised)
		drb_log_init(0);
	if (!enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	emit_locked(level, buf);
	pthread_mutex_unlock(&log_lock);
}

void drb_log_current_error(const char *prefix)
{
	char line[DRB_ERROR_LINE + 64];
	if (!initialised)
		drb_log_init(0);
	if (verbosity > 0 && drb_error_depth() > 1) {
		pthread_mutex_lock(&log_lock);
		for (int i = 0; i < drb_error_depth(); i++) {
			snprintf(line, sizeof line, "%s%s%s", i ? "  caused by: " : (prefix ? prefix : ""),
				 i == 0 && prefix ? ": " : "", drb_error_link(i));
			emit_locked(DRB_LOG_ERROR, line);
		}
		pthread_mutex_unlock(&log_lock);
		return;
	}
	char one[DRB_ERROR_LINE + 4];
	drb_error_line(one, sizeof one);
	if (prefix)
		drb_log(DRB_LOG_ERROR, "%s: %s", prefix, one);
	else
		drb_log(DRB_LOG_ERROR, "%s", one);
}

void drb_progress(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	if (!drb_log_is_tty() || verbosity < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "\r\033[K%s", buf);
	fflush(stderr);
	progress_shown = true;
	pthread_mutex_unlock(&log_lock);
}

void drb_progress_clear(void)
{
	pthread_mutex_lock(&log_lock);
	clear_progress_locked();
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}
