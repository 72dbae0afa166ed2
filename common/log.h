/* Logging: one line per event on stderr. On a terminal lines read "drbackup: warning: ...";
 * under systemd (JOURNAL_STREAM set) they carry a "<N>" priority prefix the journal reads;
 * elsewhere (cron, pipes) they start with a UTC timestamp. A progress line may sit under them. */
#ifndef DRB_LOG_H
#define DRB_LOG_H

#include <stdbool.h>

typedef enum drb_log_level {
	DRB_LOG_ERROR = 0,
	DRB_LOG_WARN = 1,
	DRB_LOG_INFO = 2,
	DRB_LOG_DEBUG = 3,
} drb_log_level;

/* verbosity: 0 = errors, warnings and info; 1 (-v) adds debug and error chains; -1 (-q) errors only. */
void drb_log_init(int verbosity);
int drb_log_verbosity(void);
bool drb_log_is_tty(void);

void drb_log(drb_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define drb_log_error(...) drb_log(DRB_LOG_ERROR, __VA_ARGS__)
#define drb_log_warn(...) drb_log(DRB_LOG_WARN, __VA_ARGS__)
#define drb_log_info(...) drb_log(DRB_LOG_INFO, __VA_ARGS__)
#define drb_log_debug(...) drb_log(DRB_LOG_DEBUG, __VA_ARGS__)

/* Log the current error of this thread (see error.h): one line, or the whole chain with -v. */
void drb_log_current_error(const char *prefix);

/* A status line redrawn in place on a terminal; a no-op elsewhere. NULL clears it. */
void drb_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void drb_progress_clear(void);

#endif
