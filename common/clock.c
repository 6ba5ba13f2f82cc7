#include "clock.h"

#include <stdio.h>
#include <string.h>
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
		int fd = 0, round_up = 0;
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, fd++) {
			if (fd < 3)
				frac_ms = frac_ms * 10 + (s[i] - '0');
			else if (fd == 3)
				round_up = s[i] >= '5'; /* "….335807": 336 ms, the nearest */
		}
		for (; fd < 3; fd++)
			frac_ms *= 10;
		frac_ms += round_up;
	}
	if (i != len)
		return -1;
	return secs * 1000 + frac_ms;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int64_t iso8601_parse_ms(const char *s)
{
	int y, mo, d, h, mi, se, ms = 0;
	struct tm tm = {0};
	const char *p = s + 19;

	if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') || digits(s + 11, 2, &h) || s[13] != ':' ||
	    digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se))
		return -1;
	if (*p == '.') {
		int n = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 3)
				ms = ms * 10 + (*p - '0');
		if (n == 0)
			return -1;
		for (; n < 3; n++)
			ms *= 10;
	}
	if (!(strcmp(p, "Z") == 0 || strcmp(p, "+00:00") == 0))
		return -1;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	time_t t = timegm(&tm);
	struct tm back;
	/* timegm normalises Feb 31 to Mar 3: a date that does not come back
	 * as written does not exist. */
	if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL || back.tm_mday != d || back.tm_mon != mo - 1 ||
	    (se < 60 && back.tm_sec != se))
		return -1;
	return (int64_t)t * 1000 + ms;
}
