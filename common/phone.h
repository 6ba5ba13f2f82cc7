/*
 * Phone numbers to E.164 ("+442079460000") for matching callers to
 * customers.  The home country's dialling plan says how to read a number
 * written without "+": its country code, national (trunk) prefix and
 * international prefix (UK 44/0/00, US 1/1/011, DE 49/0/00).  The same
 * plan says how the PBX dials an E.164 number (click-to-call).  Both
 * daemons use it: the consumer matches callers, the bridge dials.
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

/* How the PBX's dialplan wants a number dialled (its outbound routes match
 * dialled digits). */
enum phone_dial_format {
	PHONE_DIAL_E164,          /* "+15559876543" */
	PHONE_DIAL_NATIONAL,      /* home numbers with the national prefix ("15559876543"), others international */
	PHONE_DIAL_INTERNATIONAL, /* always the international prefix ("01115559876543") */
};
/* 0 and the format named ("e164", "national", "international"), or -1. */
int phone_dial_format_parse(const char *name, enum phone_dial_format *f);

/*
 * e164 ("+" and 7 to 15 digits) as the PBX dials it, into out; -1 when
 * e164 is not that or out is short.  The result is digits (and, in the
 * e164 format, a leading '+'), nothing else.
 */
int phone_dial_string(const char *e164, const struct phone_plan *p, enum phone_dial_format f, char *out, size_t outsz);

/* "+xxxxxxx6543": all but the last 4 digits masked, for a log line (a
 * number is personal data). */
void phone_mask(const char *e164, char *out, size_t outsz);

#endif
