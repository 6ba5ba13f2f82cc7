/*
 * One logging helper for both daemons, in the manner of OpenBSD's log.c:
 * log_warn appends strerror(errno), log_warnx does not.  Lines go to stderr
 * (journald or the container runtime adds time and unit) and are prefixed
 * with the level so they can be filtered.
 */
#ifndef PBXBUS_LOG_H
#define PBXBUS_LOG_H

#include <stdint.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
int log_level_parse(const char *s, enum log_level *out);

void log_crit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Rate limiting for messages that can repeat at line rate (shedding, bad
 * input): returns 1 when the caller may log now, and fills *suppressed with
 * how many were held back since the last time it returned 1.
 */
struct log_ratelimit {
	int64_t interval_ms;
	int64_t last_ms;
	uint64_t suppressed;
};
/* Replaces each control byte of s with '?' (every log line goes through it;
 * also for text that is stored as well as logged, such as an error about
 * a sender's payload). */
void log_defang(char *s);

int log_ratelimit_ok(struct log_ratelimit *rl, int64_t now_ms, uint64_t *suppressed);

#endif
