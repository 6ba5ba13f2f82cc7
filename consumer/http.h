/*
 * The consumer's HTTP side (libmicrohttpd, its own thread and its own
 * database connection): POST /api/crm/calls/log for calls the PBX never
 * saw, GET /healthz and GET /metrics.  Off unless http_listen is set.
 */
#ifndef PBXBUS_HTTP_H
#define PBXBUS_HTTP_H

#include "consumer_config.h"
#include "consumer_metrics.h"

struct http_server;

/* NULL with err set when it cannot listen.  It runs on libmicrohttpd's
 * threads: it reads the settings and the metrics, and has its own database
 * connection and live feed. */
struct http_server *http_start(const struct consumer_settings *s, const struct consumer_metrics *m, char *err,
                               size_t errsz);
void http_stop(struct http_server *h);

#endif
