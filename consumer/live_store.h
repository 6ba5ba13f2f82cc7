/*
 * The console's picture of the PBXs: the last retained state document of
 * each topic, the calls in progress (calls/start and calls/answer, gone
 * at calls/hangup or when the site's state/calls no longer lists them)
 * and the phones ringing for them (calls/ringing, item kind "ringing"
 * named "<call_id>/<extension>": the screen pop; once the call is over
 * it says "ended": true for LIVE_RING_LINGER_MS, then goes), each with
 * the version at which it last changed.  Call and ringing items carry
 * the caller's customer (customer_id, customer_name: null until
 * live_match knows, and when none).  Written by the
 * live feed's thread, read by the HTTP threads; bounded in entries and
 * bytes.  A reader keeps the version it has seen and asks for what
 * changed since; one too far behind (its removals forgotten) gets the
 * whole picture again ("reset").
 */
#ifndef PBXBUS_LIVE_STORE_H
#define PBXBUS_LIVE_STORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define LIVE_MAX_ENTRIES 4096
#define LIVE_MAX_BYTES   (16u << 20)
/* One site may hold a quarter of either: a PBX that publishes thousands of
 * retained documents cannot crowd the other sites out (audit-3 N5). */
#define LIVE_SITE_MAX_ENTRIES (LIVE_MAX_ENTRIES / 4)
#define LIVE_SITE_MAX_BYTES   (LIVE_MAX_BYTES / 4)
#define LIVE_PAYLOAD_MAX      (64 * 1024)
#define LIVE_CALL_MAX_AGE_MS  (12LL * 3600 * 1000) /* a call with no news for this long is dropped */

struct live_store;

/* Who a live call's caller is (live_match.h's live_match_get): 1 with the
 * customer (0: none) and name when known, 0 when not yet (number given: a
 * lookup is asked for); never waits for the database. */
typedef int (*live_customer_fn)(void *ctx, const char *site, const char *call_id, const char *number,
                                int64_t *customer_id, char *name, size_t namesz);

/* customer NULL: live calls carry no customer. */
struct live_store *live_store_new(live_customer_fn customer, void *ctx);
void live_store_free(struct live_store *st);

/* A message from the bus (payload empty: a cleared retained topic).
 * 0 taken, -1 refused (not a state or call topic, not JSON, over a bound). */
int live_store_message(struct live_store *st, const char *topic, const char *payload, size_t len, int64_t now_ms);

#define LIVE_CUSTOMER_NAME_MAX 256
/* A lookup live_match asked for has an answer: the items of that call
 * (call, ringing) show its customer_id and customer_name. */
void live_store_matched(struct live_store *st, const char *site, const char *call_id);

/* Old removals forgotten, rings of calls over for RING_LINGER_MS gone (the
 * feed's thread runs it every round; at most once a second). */
#define LIVE_RING_LINGER_MS 4000
void live_store_sweep(struct live_store *st, int64_t now_ms);

/* A click-to-call request's state (dial_requests.h), as item kind "dial"
 * named by its id; doc NULL: it leaves.  0, or -1 over a bound. */
int live_store_dial(struct live_store *st, const char *site, const char *id, const char *doc, int64_t now_ms);

/* The rows this consumer has written to the call log so far, as item
 * {"site":"","kind":"log","name":"calls","value":{"rows":N}}: a page
 * showing something read from the call log (the missed calls' count)
 * reads it again when N moves.  0, or -1 over a bound. */
int live_store_calls_logged(struct live_store *st, uint64_t rows, int64_t now_ms);

/* A text the store gives out, counted: the whole picture is written once
 * per version and shared by every reader that needs it (audit-3 N8: 16
 * readers of a full store each had their own 17 MB copy). */
struct live_text {
	_Atomic unsigned refs;
	size_t len;
	char *s; /* one line of JSON, NUL-terminated */
};
/* Gives up the caller's reference (NULL: nothing). */
void live_text_put(struct live_text *t);

/*
 * What changed after *version, as one line of JSON:
 *   {"version":N,"reset":false,"items":[{"site":"pbx","kind":"extension",
 *    "name":"100","value":{...} or null}, ...]}
 * (reset: the items are the whole picture; drop what you had).  Waits up to
 * wait_ms for a change; NULL when none came (or the store is closing).
 * Sets *version.  The caller gives the text up with live_text_put.
 */
struct live_text *live_store_changes(struct live_store *st, uint64_t *version, int wait_ms);

/* Wakes every waiting reader for good (shutdown). */
void live_store_close(struct live_store *st);
int live_store_closed(struct live_store *st);

#endif
