/*
 * The web console and its JSON API, served by the consumer's HTTP
 * listener: pages and assets (console_assets), the login (console_session),
 * the call log and a customer (call_log), and the live PBX (live_store:
 * a snapshot, and a Server-Sent Events stream of its changes).
 */
#ifndef PBXBUS_CONSOLE_H
#define PBXBUS_CONSOLE_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "console_session.h"
#include "dial_api.h"
#include "live_store.h"

#define CONSOLE_STREAMS_MAX        16 /* live streams and /api/live reads at once (each holds a thread) */
#define CONSOLE_STREAMS_PER_CLIENT 4  /* ... of them from one client (client_address.h) */

/* A read from the database, on the HTTP side's connection (its lock held). */
typedef int (*console_query_fn)(void *ctx, const char *sql, int n, const char *const *params, char **out, char *err,
                                size_t errsz, int *err_is_client);

struct console {
	const char *token; /* http_token: the login and the bearer */
	struct console_sessions sessions;
	struct live_store *store;
	console_query_fn query;
	void *query_ctx;
	const char *trusted_proxy; /* http_trusted_proxy, or NULL */
	struct dial_api dial;      /* click-to-call */
	/* Who holds the live picture's places now (streams, /api/live reads). */
	pthread_mutex_t live_lock;
	struct live_reader {
		char client[46];
		int n;
	} live_readers[CONSOLE_STREAMS_MAX];
	int live_total;
};

void console_init(struct console *co);
void console_free(struct console *co);

/* Is this request authenticated: the bearer token, or a live session
 * cookie (for a POST, with a JSON body: no form from another site). */
int console_authorized(struct console *co, struct MHD_Connection *conn, int is_post);

/* GET requests of the console; MHD_NO... through *handled = 0 when the
 * URL is not the console's. */
enum MHD_Result console_get(struct console *co, struct MHD_Connection *conn, const char *url, int *handled);
/* POST /api/login, /api/logout and /api/calls/dial. */
enum MHD_Result console_post(struct console *co, struct MHD_Connection *conn, const char *url, const char *body,
                             size_t len, int *handled);

#endif
