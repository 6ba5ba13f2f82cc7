/*
 * The CRM's webhook as a copy sink (libcurl): each record the database
 * settled is POSTed, as received (its JSON), to webhook_url, with the
 * bearer token when one is set, before the batch is acknowledged.  A POST
 * that fails (no connection, a timeout, an answer that is not 2xx) holds
 * the batch back like the database would: it comes again, and the
 * records POSTed before the failure are POSTed again.  The CRM's endpoint
 * is called at least once per record and must take a repeat (the record's
 * call_id is its key).
 */
#ifndef PBXBUS_WEBHOOK_SINK_H
#define PBXBUS_WEBHOOK_SINK_H

#include <stdint.h>

#include "sink.h"

struct webhook {
	const char *url;
	const char *token;      /* NULL: no Authorization header */
	int timeout_ms;         /* one POST */
	int batch_ms;           /* a batch's POSTs in all: then the rest waits (SINK_DOWN) */
	void *curl;             /* CURL *, kept for its connection */
	void *headers;          /* struct curl_slist *: the type and the token, for every POST */
	uint64_t posts, resets; /* resets: the connection given up after a failure */
	char last_error[320];
};

/* Once, before any thread starts (libcurl's global state). */
int webhook_global_init(void);
void webhook_init(struct webhook *w, const char *url, const char *token, int timeout_ms, int batch_ms);
void webhook_close(struct webhook *w);
void webhook_sink(struct webhook *w, struct sink *out);

#endif
