/*
 * Click-to-call, the consumer's half (docs/dial.md): the dial requests it
 * publishes for the console and the API, and what their bridges answered.
 * An HTTP thread adds a request it checked (site, extension, number); the
 * live feed's thread publishes it on <site>/commands/dial (QoS 1) and
 * gives back the answers from <site>/commands/result/<id>; GET
 * /api/calls/dial/<id> and the live stream read them.  Bounded:
 * DIAL_REQUESTS_MAX at once; a finished one is kept DIAL_REQUEST_KEEP_MS.
 */
#ifndef PBXBUS_DIAL_REQUESTS_H
#define PBXBUS_DIAL_REQUESTS_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "command_wire.h"
#include "phone.h"

#define DIAL_REQUESTS_MAX    256
#define DIAL_REQUEST_KEEP_MS (10 * 60 * 1000)
#define DIAL_REQUEST_TTL_MS  10000           /* expires_at: now + this; not on the bus by then: given up */
#define DIAL_SILENCE_MS      5000            /* past expires_at with no word from the bridge: it is not listening */
#define DIAL_RINGING_MAX_MS  (5 * 60 * 1000) /* "ringing" with no outcome for this long: timeout */

/* A request as checked. */
struct dial_ask {
	char id[COMMAND_ID_MAX + 1]; /* the asker's own, to ask again safely; "": one is made */
	char site[TOPIC_MAX];        /* the bridge's topic prefix */
	char extension[DIAL_EXTENSION_MAX + 1];
	char e164[PHONE_E164_MAX];
	char by[DIAL_BY_MAX + 1]; /* "console 192.0.2.7", "api 192.0.2.9" */
};

/* The sites a consumer may dial at: its subscriptions' prefixes ("pbx",
 * or "pbx/+" where one subscription serves several sites). */
struct dial_sites {
	const char (*subs)[TOPIC_MAX];
	size_t nsubs;
	const struct phone_plan *plan;
};

/*
 * Reads a POST body {"site": ..., "extension": ..., "number": ..., "id": ...}: NULL
 * and a filled (but its by), or what is wrong, for a person.  site may be
 * left out where the consumer serves one site.
 */
const char *dial_ask_parse(const char *body, size_t len, const struct dial_sites *sites, struct dial_ask *a);

struct dial_requests;

/* NULL when out of memory or out of descriptors. */
struct dial_requests *dial_requests_new(void);
void dial_requests_free(struct dial_requests *d);
/* Readable when a request waits to be published (the live feed polls it). */
int dial_requests_wake_fd(const struct dial_requests *d);
/* Makes it unreadable again (the waiting requests stay queued). */
void dial_requests_woken(struct dial_requests *d);

/* Adds a, its id (the asker's, or a new one) into id.  0; 1 when a
 * request with the asker's id is already here (nothing is added: the same
 * request asked again); -1 when DIAL_REQUESTS_MAX are in flight (or no
 * randomness for an id). */
int dial_requests_add(struct dial_requests *d, const struct dial_ask *a, int64_t now_ms, int64_t wall_ms,
                      char id[COMMAND_ID_MAX + 1]);

/* The next request to publish: its topic and payload, and it counts as
 * sent.  1 when one was given, 0 when none waits (or it did not fit). */
int dial_requests_next(struct dial_requests *d, int64_t now_ms, char *topic, size_t topicsz, char *payload,
                       size_t payloadsz);

/* An answer from a bridge, on <site>/commands/result/<id>.  0 taken (and
 * the request's new state as JSON in *doc, malloc'd, and its site in site),
 * -1 not an answer to a request of ours. */
int dial_requests_answer(struct dial_requests *d, const char *topic, const char *payload, size_t len, int64_t now_ms,
                         char **doc, char site[TOPIC_MAX], char id[COMMAND_ID_MAX + 1]);

/* The request's state as JSON (malloc'd), NULL when it is unknown:
 *   {"id":"d-..","site":"pbx","extension":"100","state":"ringing",
 *    "final":false,"ok":null,"error":null,"message":"ringing your phone",
 *    "call_id":null} */
char *dial_requests_json(struct dial_requests *d, const char *id, int64_t now_ms);

/* Requests that ended on our side (no word from their bridge) or were
 * kept long enough: calls gone(ctx, site, id, doc) for each that changed
 * (doc its final state) or left (doc NULL).  For the live picture. */
void dial_requests_sweep(struct dial_requests *d, int64_t now_ms,
                         void (*gone)(void *ctx, const char *site, const char *id, const char *doc), void *ctx);

#endif
