/* libFuzzer: the console's query parameters (consumer/call_log.c,
 * consumer/customer_search.c) on arbitrary bytes, split at newlines into
 * the fields a request may carry: each is refused with a reason or taken,
 * and what is taken is what the SQL expects. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "call_log.h"
#include "customer_search.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIELDS 11

static void check_search(const char *q, const char *after)
{
	const char *p[CUSTOMER_SEARCH_PARAMS];
	struct customer_search_bufs b;
	const char *bad = customer_search_params(q, after, p, &b);

	if (bad != NULL) {
		if (bad[0] == '\0')
			__builtin_trap();
		return;
	}
	/* one way to look, as a LIKE pattern within its buffer */
	if ((p[0] == NULL) == (p[1] == NULL) || strcmp(p[3], "20") != 0)
		__builtin_trap();
	const char *pat = p[0] ? p[0] : p[1];
	size_t n = strlen(pat);
	if (n < 2 + CUSTOMER_SEARCH_MIN || pat[0] != '%' || pat[n - 1] != '%' || !utf8_valid(pat, n))
		__builtin_trap();
	if (p[1] && strspn(p[1] + 1, "0123456789") != n - 2)
		__builtin_trap();
	if (p[2] && strspn(p[2], "0123456789") != strlen(p[2]))
		__builtin_trap();
}

/* A whole number the checks let through; -1 when it is not one. */
static long whole(const char *s)
{
	char *end;
	long n = s ? strtol(s, &end, 10) : -1;

	return s && *end == '\0' ? n : -1;
}

static void check_calls(const char *const *f)
{
	const char *p[CALL_LOG_PARAMS];
	struct call_log_bufs b;
	struct call_log_filter filter = {f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]};
	const char *bad = call_log_params(&filter, p, &b);

	if (bad != NULL ? bad[0] == '\0' : (whole(p[9]) < 1 || whole(p[9]) > CALL_LOG_LIMIT_MAX))
		__builtin_trap();
}

static void check_missed(const char *days, const char *limit)
{
	const char *p[MISSED_PARAMS];
	struct missed_bufs b;
	const char *bad = call_log_missed_params(days, limit, p, &b);

	if (bad == NULL && (whole(p[0]) < 1 || whole(p[0]) > MISSED_DAYS_MAX || whole(p[1]) < 1))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *f[FIELDS] = {0};

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	char *s = copy;
	for (int i = 0; i < FIELDS && s; i++) {
		f[i] = s;
		s = strchr(s, '\n');
		if (s)
			*s++ = '\0';
	}
	/* an absent field is NULL, as MHD gives an absent argument */
	const char *field[FIELDS];
	for (int i = 0; i < FIELDS; i++)
		field[i] = f[i] && f[i][0] ? f[i] : NULL;
	check_search(field[0], field[1]);
	check_calls(field);
	check_missed(field[9], field[10]);
	free(copy);
	return 0;
}
