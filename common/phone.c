#include "phone.h"

#include <stdio.h>
#include <string.h>

static int all_digits(const char *s)
{
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

int phone_plan_init(struct phone_plan *p, const char *cc, const char *np, const char *ip)
{
	memset(p, 0, sizeof(*p));
	if (cc == NULL || *cc == '\0' || strlen(cc) > 3 || !all_digits(cc) ||
	    (np && (strlen(np) > 4 || !all_digits(np))) || (ip && (strlen(ip) > 4 || !all_digits(ip))))
		return -1;
	memcpy(p->country_code, cc, strlen(cc) + 1);
	if (np)
		memcpy(p->national_prefix, np, strlen(np) + 1);
	if (ip)
		memcpy(p->intl_prefix, ip, strlen(ip) + 1);
	return 0;
}

static int starts_with(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);
	return n > 0 && strncmp(s, prefix, n) == 0;
}

/* Digits of in, with '+' kept only in front; -1 on any other character. */
static int clean(const char *in, char *out, size_t size)
{
	size_t n = 0;

	for (const char *s = in; *s; s++) {
		char c = *s;
		/* "+44 (0)20 ...": the national prefix shown in brackets is not dialled */
		if (strncmp(s, "(0)", 3) == 0) {
			s += 2;
			continue;
		}
		if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/' || c == '\t')
			continue;
		if (!((c >= '0' && c <= '9') || (c == '+' && n == 0)))
			return -1;
		if (n + 1 >= size)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

static int finish(const char *cc, const char *rest, char *out)
{
	size_t lc = strlen(cc), lr = strlen(rest);

	if (lc + lr < PHONE_MIN_DIGITS || lc + lr > 15 || (lr > 0 && rest[0] == '0' && lc == 0))
		return -1;
	out[0] = '+';
	memcpy(out + 1, cc, lc);
	memcpy(out + 1 + lc, rest, lr + 1);
	return 0;
}

/* No country code starts with 0, and our own is not followed by a "0" trunk prefix. */
static int international(const char *digits, const struct phone_plan *p, char *out)
{
	size_t lc = strlen(p->country_code);
	if (digits[0] == '0' ||
	    (strcmp(p->national_prefix, "0") == 0 && starts_with(digits, p->country_code) && digits[lc] == '0'))
		return -1;
	return finish("", digits, out);
}

int phone_to_e164(const char *in, const struct phone_plan *p, char *out)
{
	char d[64];

	out[0] = '\0';
	if (in == NULL || clean(in, d, sizeof(d)) < 0 || d[0] == '\0' || strcmp(d, "+") == 0)
		return -1;
	/* an extension or service number, whatever prefix it looks like */
	if (d[0] != '+' && strlen(d) < PHONE_MIN_DIGITS)
		return -1;
	if (d[0] == '+')
		return international(d + 1, p, out);
	if (starts_with(d, p->intl_prefix))
		return international(d + strlen(p->intl_prefix), p, out);
	if (starts_with(d, p->national_prefix))
		return finish(p->country_code, d + strlen(p->national_prefix), out);
	/* No prefix: the country code written without "+" (trunks often
	 * present "447911123456"), else a national number without its prefix. */
	if (starts_with(d, p->country_code) && strlen(d) >= strlen(p->country_code) + PHONE_MIN_DIGITS + 1)
		return finish("", d, out);
	return finish(p->country_code, d, out);
}

int phone_dial_format_parse(const char *name, enum phone_dial_format *f)
{
	static const char *const names[] = {"e164", "national", "international"};

	for (size_t i = 0; name != NULL && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0) {
			*f = (enum phone_dial_format)i;
			return 0;
		}
	return -1;
}

int phone_dial_string(const char *e164, const struct phone_plan *p, enum phone_dial_format f, char *out, size_t outsz)
{
	size_t n = strlen(e164), lc = strlen(p->country_code);
	const char *head = "", *digits = e164 + 1;

	if (n < 1 + PHONE_MIN_DIGITS || n > 16 || e164[0] != '+' || !all_digits(e164 + 1))
		return -1;
	if (f == PHONE_DIAL_E164) {
		head = "+";
	} else if (f == PHONE_DIAL_NATIONAL && starts_with(digits, p->country_code)) {
		head = p->national_prefix;
		digits += lc;
	} else {
		head = p->intl_prefix;
	}
	int w = snprintf(out, outsz, "%s%s", head, digits);
	return w < 0 || (size_t)w >= outsz ? -1 : 0;
}

void phone_mask(const char *e164, char *out, size_t outsz)
{
	size_t n = strlen(e164), keep = n > 4 ? n - 4 : 0, w = 0;

	if (outsz == 0)
		return;
	for (size_t i = 0; i < n && w + 1 < outsz; i++)
		out[w++] = (i < keep && e164[i] >= '0' && e164[i] <= '9') ? 'x' : e164[i];
	out[w] = '\0';
}
