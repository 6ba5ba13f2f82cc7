/*
 * How fast one site's call records are taken (audit-3 N4: one PBX's login
 * put 5,000 fake calls in the CRM in 21 s).  A PBX does not end hundreds
 * of calls a second: each site (the prefix of its record topic) may send
 * site_record_burst records at once and site_record_rate a second after
 * that.  A record past it waits: it is not written and not acknowledged
 * end to end, so its bridge keeps it in its outbox and sends it again
 * later (outbox_resend_timeout, doubling); a flood is only ever taken at
 * the rate.  Counted (records_deferred_total) and said at most once a
 * second, with the site.
 */
#ifndef PBXBUS_SITE_RATE_H
#define PBXBUS_SITE_RATE_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "log.h"

#define SITE_RATE_SITES 1024 /* sites followed; the one idle longest makes room */

struct site_bucket {
	char site[TOPIC_MAX];
	double tokens;
	int64_t refill_ms;
};

struct site_rate {
	struct site_bucket *b; /* SITE_RATE_SITES of them, NULL while off */
	size_t n;
	double per_s, burst; /* per_s 0: off */
	struct log_ratelimit log;
};

/* -1 when out of memory (then every record goes, as with the rate off). */
int site_rate_init(struct site_rate *r, double per_s, double burst);
void site_rate_free(struct site_rate *r);
/* May a record of site be taken now?  1 (a token spent), or 0: it waits. */
int site_rate_take(struct site_rate *r, const char *site, int64_t now_ms);

#endif
