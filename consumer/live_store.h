/*
 * The console's picture of the PBXs: the last retained state document of
 * each topic and the calls in progress (calls/start and calls/answer,
 * gone at calls/hangup or when the site's state/calls no longer lists
 * them), each with the version at which it last changed.  Written by the
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

struct live_store *live_store_new(void);
void live_store_free(struct live_store *st);

/* A message from the bus (payload empty: a cleared retained topic).
 * 0 taken, -1 refused (not a state or call topic, not JSON, over a bound). */
int live_store_message(struct live_store *st, const char *topic, const char *payload, size_t len, int64_t now_ms);

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
