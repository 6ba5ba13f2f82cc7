/*
 * Live calls matched to customers, for the screen pop: a caller's number
 * on a ringing phone (calls/ringing) or a call in progress (calls/start,
 * calls/answer) is looked up once per call, by the same function as the
 * call log's rows (pbxbus_match_customer: the same normalisation, the
 * exact E.164 else a unique match on the last digits), on a thread and a
 * database connection of its own with a short statement timeout.  The
 * live store asks without waiting and shows the answer when it comes: a
 * slow or absent database leaves the pop without a customer, never late.
 * Bounded: LIVE_MATCH_MAX calls remembered (the oldest forgotten), a
 * queue of LIVE_MATCH_QUEUE lookups (more are not asked).
 */
#ifndef PBXBUS_LIVE_MATCH_H
#define PBXBUS_LIVE_MATCH_H

#include <stdint.h>

#include "consumer_config.h"
#include "live_store.h"

#define LIVE_MATCH_MAX        1024
#define LIVE_MATCH_QUEUE      64
#define LIVE_MATCH_TIMEOUT_MS 250
#define LIVE_MATCH_NAME_MAX   LIVE_CUSTOMER_NAME_MAX

struct live_match;
struct live_store;

/* No thread until live_match_start; settings NULL: nothing is ever looked up. */
struct live_match *live_match_new(const struct consumer_settings *s);
/* The thread that answers, telling st as answers come (live_store_matched). */
int live_match_start(struct live_match *m, struct live_store *st, char *err, size_t errsz);
void live_match_stop(struct live_match *m);

/* The match of a call's caller, if known: 1 with *customer_id (0: no
 * customer) and name ("" when none); 0 when not (yet) known, and always
 * when number is NULL or empty (a withheld caller has no customer).  A
 * call not asked about for this number before is queued for a lookup.
 * Never blocks on the database. */
int live_match_get(struct live_match *m, const char *site, const char *call_id, const char *number,
                   int64_t *customer_id, char *name, size_t namesz);
/* The same, as the live store asks it (live_customer_fn; ctx a live_match). */
int live_match_ask(void *ctx, const char *site, const char *call_id, const char *number, int64_t *customer_id,
                   char *name, size_t namesz);

/* Counters for /metrics and tests. */
struct live_match_counts {
	uint64_t asked, matched, unmatched, failed, dropped;
};
void live_match_counts(struct live_match *m, struct live_match_counts *out);

#endif
