/*
 * One MQTT connection driven from our own poll() loop: libmosquitto's
 * socket, want_write and loop_read/write/misc, with reconnects (back-off
 * and jitter) done here so nothing ever blocks the daemon's other socket.
 * It also keeps count of what the library still holds for us (messages and
 * bytes not yet written or acknowledged), because libmosquitto itself
 * queues without limit.  It is the only file that sees libmosquitto: its
 * codes, messages and reasons come out in this header's words.
 */
#ifndef PBXBUS_MQTT_LINK_H
#define PBXBUS_MQTT_LINK_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#include "backoff.h"

struct mosquitto;

/* What became of a publish or a subscribe. */
enum mqtt_rc {
	MQTT_OK = 0,  /* handed to the library: sent, or in flight */
	MQTT_QUEUED,  /* no connection, QoS > 0: kept for after the reconnect (held); never publish it again */
	MQTT_NO_CONN, /* no connection and not kept */
	MQTT_TOO_BIG, /* over the broker's or the protocol's packet size */
	MQTT_NO_MEMORY,
	MQTT_FAILED /* anything else the library refused */
};
const char *mqtt_rc_str(enum mqtt_rc rc);
/* An MQTT 5 reason code (a PUBACK's, a CONNACK's) in words. */
const char *mqtt_reason_str(int reason);

/* A message received. */
struct mqtt_message {
	const char *topic;
	const void *payload;
	size_t len;
	int retain;
	/* MQTT 5, where the sender set them (else NULL, 0, -1) */
	const char *response_topic;
	const void *correlation;
	size_t correlation_len;
	long long expiry_s; /* what is left of its message expiry interval */
};

struct mqtt_opts {
	const char *host;
	int port;
	const char *client_id;
	const char *username;
	const char *password; /* not copied: the caller keeps it alive */
	const char *tls_ca;
	const char *tls_cert;
	const char *tls_key;
	int keepalive;
	int clean_session;
	int mqtt311;            /* mqtt_protocol 3.1.1: a persistent session that needs no expiry property */
	int external;           /* PUBACKs can be held back (mqtt_link_hold; the consumer) */
	const char *will_topic; /* retained, QoS 1 */
	const char *will_payload;
	int64_t reconnect_max_ms;
};

struct mqtt_link;

struct mqtt_callbacks {
	void (*on_connect)(void *ctx);
	void (*on_disconnect)(void *ctx, int rc);
	/* reason: 0 ok, 16 no subscribers, >= 0x80 refused by the broker */
	void (*on_publish)(void *ctx, int mid, int reason);
	void (*on_message)(void *ctx, const struct mqtt_message *msg);
	void *ctx;
};

struct mqtt_link {
	struct mosquitto *mosq;
	struct mqtt_opts opts;
	struct mqtt_callbacks cb;
	int connected;
	int started; /* a connect attempt has been made once */
	int64_t next_attempt_ms;
	struct backoff backoff;
	uint64_t connects, disconnects;
	/* What the library holds for us, by message id. */
	uint32_t *held_bytes; /* 65536 entries */
	uint8_t *held_qos;    /* 65536 entries, 0xff = not held */
	uint64_t held_msgs, held_total_bytes;
	int64_t last_misc_ms;
	int publishing;
	int hold_writes;     /* queued packets (PUBACKs) stay queued while set */
	int offline;         /* closed on purpose: no connection until mqtt_link_go_online */
	int closing;         /* mqtt_link_disconnect: the end of the connection is ours, not news */
	int said_no_connack; /* "closed before answering CONNECT" was said once */
	int read_round;      /* most packets read in one mqtt_link_handle (0: the default) */
	int done_while_publishing;
	char last_error[256];
	char lib_error[160];           /* libmosquitto's last error line (OpenSSL's reason for TLS) */
	struct log_ratelimit fail_log; /* a failing connect is said, not every attempt */
};

/* Returns 0, or -1 with a reason in link->last_error. */
int mqtt_link_init(struct mqtt_link *l, const struct mqtt_opts *o, const struct mqtt_callbacks *cb);
void mqtt_link_free(struct mqtt_link *l);

/* poll() integration; fd -1 when there is no socket right now. */
void mqtt_link_pollfd(struct mqtt_link *l, struct pollfd *pfd);
void mqtt_link_handle(struct mqtt_link *l, short revents, int64_t now_ms);
/* Connect attempts, keepalive; returns ms until it wants to run again. */
int64_t mqtt_link_tick(struct mqtt_link *l, int64_t now_ms);

/* Publishes; MQTT_QUEUED is kept by the library for after the reconnect. */
enum mqtt_rc mqtt_link_publish(struct mqtt_link *l, int *mid, const char *topic, const void *payload, int len, int qos,
                               int retain);
/* An answer to a request: QoS 1, not retained, with the request's MQTT 5
 * correlation data when it had some (correlation NULL: none). */
enum mqtt_rc mqtt_link_publish_answer(struct mqtt_link *l, const char *topic, const void *payload, int len,
                                      const void *correlation, size_t correlation_len);
enum mqtt_rc mqtt_link_subscribe(struct mqtt_link *l, const char *pattern, int qos);

/* Drives the link until it is connected (0), or until the first attempt
 * failed or timeout_ms passed (-1; last_error says why, empty when it
 * timed out).  For the --check steps, before any other socket matters. */
int mqtt_link_wait_connected(struct mqtt_link *l, int timeout_ms);
/* Publishes nothing more; waits up to timeout_ms for what is held to go. */
void mqtt_link_flush(struct mqtt_link *l, int timeout_ms);
/* 1 if a message of len bytes fits beside what libmosquitto holds for the
 * broker, under max_msgs messages and max_bytes bytes in all. */
int mqtt_link_has_room(const struct mqtt_link *l, uint64_t max_msgs, uint64_t max_bytes, size_t len);
void mqtt_link_disconnect(struct mqtt_link *l);

/*
 * Holding writes keeps every queued packet, the PUBACKs of received QoS 1
 * messages above all, in libmosquitto until the hold is released: the
 * consumer holds while a batch is not yet committed.  Needs opts.external.
 */
void mqtt_link_hold(struct mqtt_link *l, int hold);
/*
 * Offline on purpose (the consumer while its database is down): the
 * connection is shut at once and not made again until mqtt_link_go_online.
 * Nothing queued is written: PUBACKs held back stay unsent, so the broker
 * delivers those messages again to the session it keeps.  on_disconnect
 * is called as for a lost connection.
 */
void mqtt_link_go_offline(struct mqtt_link *l);
/* Reads at most this many packets in one mqtt_link_handle, so the caller
 * gets to act on what came (the consumer starts a batch) sooner. */
void mqtt_link_read_round(struct mqtt_link *l, int most);
void mqtt_link_go_online(struct mqtt_link *l);

/* Once per process. */
void mqtt_lib_init(void);
void mqtt_lib_cleanup(void);

#endif
