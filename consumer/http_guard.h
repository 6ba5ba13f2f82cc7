/*
 * The HTTP listener's guard against clients that hold connections without
 * asking anything (audit-3 N14: 64 connections from 4 addresses, each
 * dribbling a header line every 4 s, kept /healthz from a fifth address
 * unanswered for as long as they went on; the listener's idle timeout
 * never fires on a dribble).  A connection must have sent a request's
 * headers within HTTP_HEADER_DEADLINE_MS of opening, or of its last
 * answer (keep-alive): past it the guard shuts its socket.  And one
 * address may hold at most HTTP_WAITING_PER_ADDRESS connections that have
 * not sent a request's headers yet (a browser's idle keep-alive
 * connections, which have, are not counted); more are refused at accept (the trusted
 * proxy, which reads its clients' headers before it forwards them, is not
 * counted).  libmicrohttpd has an idle timeout but no such deadline.
 */
#ifndef PBXBUS_HTTP_GUARD_H
#define PBXBUS_HTTP_GUARD_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "client_address.h"

#define HTTP_HEADER_DEADLINE_MS  10000
#define HTTP_WAITING_PER_ADDRESS 8

struct guarded_conn {
	int fd;
	char addr[CLIENT_ADDRESS_MAX];
	int waiting;      /* no request's headers since since_ms */
	int fresh;        /* ... and none ever: counted against its address at accept */
	int64_t since_ms; /* opened, or its last answer ended */
	struct guarded_conn *prev, *next;
};

struct http_guard {
	pthread_mutex_t lock;
	struct guarded_conn *head;
	const char *trusted_proxy; /* may be NULL */
	pthread_t reaper;
	int reaper_running;
	atomic_int stop;
	_Atomic uint64_t cut;     /* connections shut for missing the deadline */
	_Atomic uint64_t refused; /* accepts refused: too many waiting from one address */
};

/* 0, or -1 when the reaper thread cannot start. */
int http_guard_start(struct http_guard *g, const char *trusted_proxy);
/* After the listener is stopped (no callback runs any more). */
void http_guard_stop(struct http_guard *g);

/* For MHD_start_daemon's accept policy and MHD_OPTION_NOTIFY_CONNECTION
 * (cls: the guard). */
enum MHD_Result http_guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
void http_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe);
/* A request's headers are in (the access handler's first call); its answer
 * has ended (the request completed callback): the deadline starts again. */
void http_guard_request_begins(struct http_guard *g, struct MHD_Connection *conn);
void http_guard_request_ends(struct http_guard *g, struct MHD_Connection *conn);

#endif
