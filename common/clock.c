#include "clock.h"

#include <stdio.h>
#include <time.h>

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int64_t clock_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

const char *iso8601_ms(int64_t epoch_ms, char buf[ISO8601_LEN])
{
	time_t secs = (time_t)(epoch_ms / 1000);
	int ms = (int)(epoch_ms % 1000);
	struct tm tm;

	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	if (gmtime_r(&secs, &tm) == NULL) {
		buf[0] = '\0';
		return buf;
	}
	/* strftime: no format-truncation guesswork about the year's width */
	size_t n = strftime(buf, ISO8601_LEN - 5, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0) {
		buf[0] = '\0';
		return buf;
	}
	buf[n++] = '.';
	buf[n++] = (char)('0' + ms / 100);
	buf[n++] = (char)('0' + ms / 10 % 10);
	buf[n++] = (char)('0' + ms % 10);
	buf[n++] = 'Z';
	buf[n] = '\0';
	return buf;
}

int64_t ami_timestamp_ms(const char *s, size_t len)
{
	int64_t secs = 0, frac_ms = 0;
	size_t i = 0;
	int digits = 0;

	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (++digits > 12)
			return -1;
		secs = secs * 10 + (s[i] - '0');
	}
	if (digits == 0)
		return -1;
	if (i < len && s[i] == '.') {
		int fd = 0;
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, fd++) {
			if (fd < 3)
				frac_ms = frac_ms * 10 + (s[i] - '0');
		}
		for (; fd < 3; fd++)
			frac_ms *= 10;
	}
	if (i != len)
		return -1;
	return secs * 1000 + frac_ms;
}
