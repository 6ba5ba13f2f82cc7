#include "pg_array.h"

#include <stdlib.h>
#include <string.h>

void pg_array_init(struct pg_array *a)
{
	memset(a, 0, sizeof(*a));
}

static int reserve(struct pg_array *a, size_t more)
{
	if (a->failed)
		return -1;
	if (a->len + more <= a->cap)
		return 0;
	size_t cap = a->cap ? a->cap : 256;
	while (cap < a->len + more)
		cap *= 2;
	char *b = realloc(a->buf, cap);
	if (b == NULL) {
		a->failed = 1;
		return -1;
	}
	a->buf = b;
	a->cap = cap;
	return 0;
}

static void put(struct pg_array *a, const char *s, size_t n)
{
	memcpy(a->buf + a->len, s, n);
	a->len += n;
}

void pg_array_add(struct pg_array *a, const char *s)
{
	/* Worst case: every byte escaped, two quotes, a comma, the closing
	 * brace and NUL that finish adds. */
	size_t n = s ? strlen(s) : 4;
	if (reserve(a, 2 * n + 6) < 0)
		return;
	if (a->count++ == 0)
		put(a, "{", 1);
	else
		put(a, ",", 1);
	if (s == NULL) {
		put(a, "NULL", 4);
		return;
	}
	/* Quoted always: then only " and \ need a backslash, whatever the text
	 * (braces, commas, spaces, the word NULL) holds. */
	a->buf[a->len++] = '"';
	for (const char *p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			a->buf[a->len++] = '\\';
		a->buf[a->len++] = *p;
	}
	a->buf[a->len++] = '"';
}

const char *pg_array_finish(struct pg_array *a)
{
	if (reserve(a, 3) < 0)
		return NULL;
	/* Nothing is appended for good: an add after this goes on as before. */
	char *end = a->buf + a->len;
	if (a->count == 0)
		*end++ = '{';
	end[0] = '}';
	end[1] = '\0';
	return a->buf;
}

void pg_array_free(struct pg_array *a)
{
	free(a->buf);
	pg_array_init(a);
}
