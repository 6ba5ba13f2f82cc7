/*
 * The consumer's HTTP side (libmicrohttpd, its own thread and its own
 * database connection): POST /api/crm/calls/log for calls the PBX never
 * saw, GET /healthz and GET /metrics.  Off unless http_listen is set.
 */
#ifndef PBXBUS_HTTP_H
#define PBXBUS_HTTP_H

#include "consumer.h"

struct http_server;

/* NULL with err set when it cannot listen. */
struct http_server *http_start(struct consumer *c, char *err, size_t errsz);
void http_stop(struct http_server *h);

#endif
