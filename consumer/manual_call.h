/*
 * A call logged by hand (POST /api/crm/calls/log): the body parsed and
 * checked before anything reaches the database.  One JSON object and
 * nothing after it, valid UTF-8, no NUL (escaped or not: C strings would
 * cut the notes there), each key once (else the first wins here and a proxy
 * may read the last); customer_id, direction, duration_seconds, notes,
 * occurred_at within their bounds.
 */
#ifndef PBXBUS_MANUAL_CALL_H
#define PBXBUS_MANUAL_CALL_H

#include <stddef.h>

struct manual_call {
	long long customer_id, duration;
	const char *direction, *notes; /* point into doc */
	char when[64];                 /* occurred_at, or now */
	void *doc;                     /* the parsed body (cJSON *) */
};

/* NULL when the body is a call to log (free it with manual_call_free);
 * else what is wrong, for the 400 answer. */
const char *manual_call_parse(const char *body, size_t len, struct manual_call *m);
void manual_call_free(struct manual_call *m);

#endif
