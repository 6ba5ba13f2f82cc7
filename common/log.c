#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *log_progname = "pbxbus";
static enum log_level log_current = LOG_LVL_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(const char *progname, enum log_level level)
{
	log_progname = progname;
	log_current = level;
}

void log_set_level(enum log_level level)
{
	log_current = level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* A control byte in a line (a sender's text that slipped into a message)
 * could start a forged line or an escape sequence in a terminal: each one
 * becomes '?'.  One line is one line, whatever was formatted into it. */
void log_defang(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

__attribute__((format(printf, 4, 0))) static void vlog(enum log_level level, const char *tag, int with_errno,
                                                       const char *fmt, va_list ap)
{
	int saved = errno;
	char msg[2048];

	if (level > log_current)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_defang(msg);
	if (with_errno)
		fprintf(stderr, "%s: %s: %s: %s\n", log_progname, tag, msg, strerror(saved));
	else
		fprintf(stderr, "%s: %s: %s\n", log_progname, tag, msg);
	fflush(stderr);
	errno = saved;
}

#define LOG_BODY(level, tag, with_errno)                                                                               \
	do {                                                                                                           \
		va_list ap;                                                                                            \
		va_start(ap, fmt);                                                                                     \
		vlog(level, tag, with_errno, fmt, ap);                                                                 \
		va_end(ap);                                                                                            \
	} while (0)

void log_crit(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, "CRITICAL", 0);
}

void log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_WARN, "warning", 1);
}

void log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_WARN, "warning", 0);
}

void log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_INFO, "info", 0);
}

void log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_DEBUG, "debug", 0);
}

void fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, "fatal", 1);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, "fatal", 0);
	exit(1);
}

int log_ratelimit_ok(struct log_ratelimit *rl, int64_t now_ms, uint64_t *suppressed)
{
	if (rl->last_ms != 0 && now_ms - rl->last_ms < rl->interval_ms) {
		rl->suppressed++;
		return 0;
	}
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	rl->last_ms = now_ms;
	return 1;
}
