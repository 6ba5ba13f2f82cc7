#include "dial.h"

#include <stdio.h>
#include <string.h>

static int safe_chars(const char *s, size_t max, const char *extra)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];
		if (n >= max || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		                  strchr(extra, c) != NULL))
			return 0;
	}
	return n > 0;
}

int dial_extension_valid(const char *s)
{
	return safe_chars(s, DIAL_EXTENSION_MAX, "-_");
}

int dial_context_valid(const char *s)
{
	return safe_chars(s, 79, "-_");
}

/* "console 192.0.2.7": words a person reads in the log and the record */
int dial_by_valid(const char *s)
{
	return safe_chars(s, DIAL_BY_MAX, "-_.:@ ");
}

int dial_number_allowed(const struct dial_rules *r, const char *e164)
{
	return r != NULL && r->numbers.n > 0 && glob_list_match(&r->numbers, e164);
}

void dial_mask(const char *e164, char *out, size_t outsz)
{
	size_t n = strlen(e164), keep = n > 4 ? n - 4 : 0, w = 0;

	if (outsz == 0)
		return;
	for (size_t i = 0; i < n && w + 1 < outsz; i++)
		out[w++] = (i < keep && e164[i] >= '0' && e164[i] <= '9') ? 'x' : e164[i];
	out[w] = '\0';
}
