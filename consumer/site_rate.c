#include "site_rate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int site_rate_init(struct site_rate *r, double per_s, double burst)
{
	memset(r, 0, sizeof(*r));
	r->per_s = per_s;
	r->burst = burst < 1 ? 1 : burst;
	r->log.interval_ms = 1000;
	if (per_s <= 0)
		return 0;
	r->b = calloc(SITE_RATE_SITES, sizeof(*r->b));
	return r->b ? 0 : -1;
}

void site_rate_free(struct site_rate *r)
{
	free(r->b);
	r->b = NULL;
}

/* The site's bucket, or a new one full, in place of the one idle longest. */
static struct site_bucket *bucket(struct site_rate *r, const char *site, int64_t now_ms)
{
	struct site_bucket *oldest = NULL;

	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->b[i].site, site) == 0)
			return &r->b[i];
		if (oldest == NULL || r->b[i].refill_ms < oldest->refill_ms)
			oldest = &r->b[i];
	}
	struct site_bucket *b = r->n < SITE_RATE_SITES ? &r->b[r->n++] : oldest;
	snprintf(b->site, sizeof(b->site), "%s", site);
	b->tokens = r->burst;
	b->refill_ms = now_ms;
	return b;
}

int site_rate_take(struct site_rate *r, const char *site, int64_t now_ms)
{
	uint64_t held_back;

	if (r->b == NULL)
		return 1;
	struct site_bucket *b = bucket(r, site, now_ms);
	b->tokens += (double)(now_ms - b->refill_ms) * r->per_s / 1000.0;
	if (b->tokens > r->burst)
		b->tokens = r->burst;
	b->refill_ms = now_ms;
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return 1;
	}
	if (log_ratelimit_ok(&r->log, now_ms, &held_back))
		log_warnx(
		    "site %s sends call records faster than site_record_rate (%g a second after %g at once): this "
		    "one waits in its bridge's outbox and comes again (%llu more since the last line)",
		    site, r->per_s, r->burst, (unsigned long long)held_back);
	return 0;
}
