/*
 * The bridge's side of one AMI session, as a non-blocking state machine
 * driven by the daemon's poll() loop: connect with a timeout, banner, MD5
 * challenge or plain login, events, keepalive Pings, and reconnects with
 * back-off forever.  Every action carries an ActionID; responses and
 * "EventList" item events are routed back to the action's handler while
 * ordinary events keep flowing to on_event.
 */
#ifndef PBXBUS_AMI_CLIENT_H
#define PBXBUS_AMI_CLIENT_H

#include <poll.h>
#include <stdint.h>

#include "ami_codec.h"
#include "backoff.h"
#include "bounds.h"
#include "log.h"
#include "tls.h"

enum ami_state {
	AMI_DISCONNECTED, /* waiting for the next attempt */
	AMI_CONNECTING,
	AMI_TLS, /* the TLS handshake (ami_tls_ca set) */
	AMI_BANNER,
	AMI_LOGIN, /* challenge and/or login sent */
	AMI_UP,
};

enum ami_reply {
	AMI_REPLY_RESPONSE,  /* the Response message */
	AMI_REPLY_LIST_ITEM, /* an event of an EventList */
	AMI_REPLY_LIST_DONE, /* the "...Complete" event */
	AMI_REPLY_EVENT,     /* the event an Originate's answer promised (OriginateResponse) */
	AMI_REPLY_LOST,      /* timed out or the session ended: msg is NULL */
};

struct ami_client;
struct cli_rules;
struct dial_rules;
typedef void (*ami_action_cb)(void *arg, struct ami_client *c, const struct ami_msg *msg, enum ami_reply kind);

struct ami_opts {
	const char *host;
	int port;
	const char *username;
	const char *secret;
	int auth_md5;
	const char *event_mask; /* Events: header of the Login */
	char *const *filters;   /* Filter lines sent after login */
	size_t nfilters;
	int64_t connect_timeout_ms;
	int64_t ping_interval_ms;
	int64_t ping_timeout_ms;
	int64_t action_timeout_ms;
	int64_t reconnect_max_ms;
	int64_t auth_retry_ms;            /* after a refused login */
	const struct cli_rules *commands; /* CLI commands that may run (ami_client_command); NULL: none */
	const struct dial_rules *dial;    /* what may be dialled (ami_client_originate); NULL: nothing */
	const char *tls_ca;               /* set: TLS, the server's certificate must chain to it */
	const char *tls_cert, *tls_key;   /* the bridge's own, when the server asks for one */
	const char *tls_server_name;      /* the name (or address) the certificate must carry; NULL: host */
};

struct ami_callbacks {
	void (*on_event)(void *ctx, const struct ami_msg *msg, int64_t now_ms);
	void (*on_state)(void *ctx, enum ami_state st);
	void (*on_login)(void *ctx);        /* the point to (re)sync state */
	void (*on_fully_booted)(void *ctx); /* also a sync point */
	void (*on_shutdown)(void *ctx, const struct ami_msg *msg);
	void *ctx;
};

struct ami_pending {
	char id[24];
	ami_action_cb cb;
	void *arg;
	int64_t deadline_ms;
	int in_list;
	int awaits_event; /* an Originate: its OriginateResponse ends it */
	int used;
};

#define AMI_OUTBUF 65536

struct ami_client {
	struct ami_opts o;
	struct ami_callbacks cb;
	enum ami_state state;
	int fd;
	struct tls_ctx *tls;     /* NULL: plain AMI */
	struct tls_conn *conn;   /* this session's TLS, once connected */
	int tls_want_write;      /* TLS needs the socket writable to go on */
	int tls_fail_logged;     /* a failing handshake is said once until one works */
	int64_t deadline_ms;     /* connect/banner/login timeout */
	int64_t next_attempt_ms; /* when DISCONNECTED */
	int64_t next_ping_ms;
	struct backoff backoff;
	struct ami_codec codec;
	char out[AMI_OUTBUF];
	size_t out_len;
	struct ami_pending pending[AMI_PENDING_ACTIONS];
	uint64_t action_seq;
	char version[64];     /* from the banner */
	int auth_fail_logged; /* report a refused login once until it works */
	int in_feed;          /* inside the codec: teardown must wait */
	int drop_requested;
	int64_t drop_retry_ms; /* overrides the back-off for the next retry */
	char last_error[256];
	/* counters */
	uint64_t connects, logins, disconnects, codec_errors, events;
	uint64_t tls_handshakes; /* begun: the TCP connection was made */
	struct log_ratelimit bad_input_log;
	int64_t now_ms;
};

/* Returns 0, or -1 with the reason in c->last_error (out of memory, a TLS
 * file that cannot be read); ami_client_free is safe either way. */
int ami_client_init(struct ami_client *c, const struct ami_opts *o, const struct ami_callbacks *cb);
void ami_client_free(struct ami_client *c);

void ami_client_pollfd(struct ami_client *c, struct pollfd *pfd);
void ami_client_handle(struct ami_client *c, short revents, int64_t now_ms);
/* Timers; returns ms until it next needs to run. */
int64_t ami_client_tick(struct ami_client *c, int64_t now_ms);

/*
 * Sends "Action: <action>" with an ActionID and extra header lines
 * ("Key: Value\r\n" each, may be NULL).  cb may be NULL.  Returns 0, or -1
 * when not logged in or the output buffer or action table is full.
 */
int ami_client_action(struct ami_client *c, const char *action, const char *headers, ami_action_cb cb, void *arg);

/*
 * The one way an Asterisk CLI command leaves the bridge (Command is not on
 * the read-only allow-list): checked here against opts.commands, whoever
 * asks, and sent in its folded form.  The reply is one Response whose
 * Output fields are the lines (both of Asterisk's forms read alike).
 * Returns 0, or -1 when refused, not logged in, or the buffer is full.
 */
int ami_client_command(struct ami_client *c, const char *command, int64_t timeout_ms, ami_action_cb cb, void *arg);

/* One click-to-call: ring the person's phone, then dial the number. */
struct ami_originate {
	const char *extension;  /* the person's phone */
	const char *e164;       /* the customer's number */
	const char *request_id; /* named in the call's variables (PBXBUS_DIAL) */
	const char *by;         /* who asked (PBXBUS_DIAL_BY) */
};

/*
 * The one way an Originate leaves the bridge: checked here against
 * opts.dial (the number on its globs, the extension and every word safe),
 * sent as Local/<extension>@<ring_context>, then <the number as the PBX
 * dials it>@<context>, Async.  cb gets the Response, then (when it was
 * Success) AMI_REPLY_EVENT with the OriginateResponse, or AMI_REPLY_LOST.
 * Returns 0, or -1 when refused, not logged in, or the buffer is full.
 */
int ami_client_originate(struct ami_client *c, const struct ami_originate *o, ami_action_cb cb, void *arg);

/* Drops the session (a later tick reconnects after the back-off). */
void ami_client_drop(struct ami_client *c, const char *why);

/* Blocking helper for --check/--collect: run until pred(arg) or timeout. */
int ami_client_run_until(struct ami_client *c, int (*pred)(void *arg), void *arg, int64_t timeout_ms);
/* A predicate for it, arg the client: logged in, or an attempt was made
 * and ended (refused, unreachable, the connection lost). */
int ami_client_login_settled(void *client);

#endif
