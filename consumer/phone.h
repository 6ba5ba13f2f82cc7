/*
 * Phone numbers to E.164 ("+442079460000") for matching callers to
 * customers.  The home country's dialling plan says how to read a number
 * written without "+": its country code, national (trunk) prefix and
 * international prefix (UK 44/0/00, US 1/1/011, DE 49/0/00).
 */
#ifndef PBXBUS_PHONE_H
#define PBXBUS_PHONE_H

#include <stddef.h>

struct phone_plan {
	char country_code[8];    /* "44" */
	char national_prefix[8]; /* "0", may be empty */
	char intl_prefix[8];     /* "00" */
};

#define PHONE_E164_MAX   17 /* "+" 15 digits NUL */
#define PHONE_MIN_DIGITS 7  /* shorter is an extension or a service number */

/* 0 and a plan, or -1 if a part is not digits or is too long. */
int phone_plan_init(struct phone_plan *p, const char *country_code, const char *national_prefix,
                    const char *intl_prefix);

/*
 * Writes the E.164 form of in to out (PHONE_E164_MAX bytes) and returns 0;
 * returns -1 for anything that is not a dialable number: empty, withheld
 * ("anonymous", "unknown", "<unknown>"...), letters, fewer than 7 digits
 * (extensions), more than 15.  Spaces, dashes, dots, slashes and
 * parentheses are ignored.
 */
int phone_to_e164(const char *in, const struct phone_plan *p, char *out);

#endif
