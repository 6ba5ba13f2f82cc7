#include "mqtt_link.h"

#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define MIDS              65536
#define NOT_HELD          0xff
#define MQTT_SEND_MAXIMUM 1000

void mqtt_lib_init(void)
{
	mosquitto_lib_init();
}

void mqtt_lib_cleanup(void)
{
	mosquitto_lib_cleanup();
}

const char *mqtt_rc_str(enum mqtt_rc rc)
{
	switch (rc) {
	case MQTT_OK:
		return "ok";
	case MQTT_QUEUED:
		return "not connected: queued for the reconnect";
	case MQTT_NO_CONN:
		return "not connected";
	case MQTT_TOO_BIG:
		return "too big for the broker";
	case MQTT_NO_MEMORY:
		return "out of memory";
	case MQTT_FAILED:
		break;
	}
	return "refused by libmosquitto";
}

const char *mqtt_reason_str(int reason)
{
	return mosquitto_reason_string(reason);
}

static enum mqtt_rc our_rc(int rc, int qos)
{
	switch (rc) {
	case MOSQ_ERR_SUCCESS:
		return MQTT_OK;
	case MOSQ_ERR_NO_CONN:
		return qos > 0 ? MQTT_QUEUED : MQTT_NO_CONN;
	case MOSQ_ERR_PAYLOAD_SIZE:
	case MOSQ_ERR_OVERSIZE_PACKET:
		return MQTT_TOO_BIG;
	case MOSQ_ERR_NOMEM:
		return MQTT_NO_MEMORY;
	default:
		log_debug("mqtt: libmosquitto: %s", mosquitto_strerror(rc));
		return MQTT_FAILED;
	}
}

static void forget_mid(struct mqtt_link *l, int mid)
{
	if (mid < 0 || mid >= MIDS || l->held_qos[mid] == NOT_HELD)
		return;
	l->held_qos[mid] = NOT_HELD;
	l->held_msgs--;
	l->held_total_bytes -= l->held_bytes[mid];
	l->held_bytes[mid] = 0;
}

static void hold_mid(struct mqtt_link *l, int mid, int qos, int len)
{
	if (mid < 0 || mid >= MIDS)
		return;
	forget_mid(l, mid); /* a wrapped id: the old one is long gone */
	l->held_qos[mid] = (uint8_t)qos;
	l->held_bytes[mid] = (uint32_t)len;
	l->held_msgs++;
	l->held_total_bytes += (uint64_t)len;
}

/* Unsent QoS 0 packets are dropped by the library on disconnect without a
 * callback; QoS 1 ones are kept and sent again after the reconnect. */
static void forget_qos0(struct mqtt_link *l)
{
	for (int mid = 0; mid < MIDS; mid++)
		if (l->held_qos[mid] == 0)
			forget_mid(l, mid);
}

static void on_lib_log(struct mosquitto *m, void *ctx, int level, const char *line);

static void on_connect_cb(struct mosquitto *m, void *ctx, int rc, int flags, const mosquitto_property *props)
{
	struct mqtt_link *l = ctx;
	(void)flags;
	(void)props;
	if (rc != 0) {
		snprintf(l->last_error, sizeof(l->last_error), "broker refused the connection: %s",
		         mosquitto_reason_string(rc));
		log_warnx("mqtt: %s:%d %s", l->opts.host, l->opts.port, l->last_error);
		return;
	}
	l->connected = 1;
	l->closing = 0;
	l->connects++;
	l->last_error[0] = '\0';
	/* The log callback is there for a handshake's reason; while one is set,
	 * libmosquitto formats a debug line into a fresh malloc for every
	 * packet (a third of the publish path's user CPU, make bench), so it is
	 * off while the link is up and back on at the next disconnect. */
	mosquitto_log_callback_set(m, NULL);
	backoff_reset(&l->backoff);
	log_info("mqtt: connected to %s:%d", l->opts.host, l->opts.port);
	if (l->cb.on_connect)
		l->cb.on_connect(l->cb.ctx);
}

static void schedule_reconnect(struct mqtt_link *l)
{
	int64_t delay = backoff_next(&l->backoff);
	l->next_attempt_ms = clock_mono_ms() + delay;
	log_debug("mqtt: next connect attempt in %lld ms", (long long)delay);
}

static void on_disconnect_cb(struct mosquitto *m, void *ctx, int rc, const mosquitto_property *props)
{
	struct mqtt_link *l = ctx;
	(void)props;
	int was = l->connected;
	l->connected = 0;
	mosquitto_log_callback_set(m, on_lib_log);
	forget_qos0(l);
	if (was && l->closing) {
		log_info("mqtt: disconnected from %s:%d", l->opts.host, l->opts.port);
	} else if (was && l->offline) {
		log_info("mqtt: closed the connection to %s:%d on purpose", l->opts.host, l->opts.port);
	} else if (was) {
		l->disconnects++;
		log_warnx("mqtt: lost connection to %s:%d (%s)", l->opts.host, l->opts.port,
		          rc == 0 ? "disconnected" : mosquitto_strerror(rc));
	}
	if (l->cb.on_disconnect)
		l->cb.on_disconnect(l->cb.ctx, rc);
	schedule_reconnect(l);
}

static void on_publish_cb(struct mosquitto *m, void *ctx, int mid, int reason, const mosquitto_property *props)
{
	struct mqtt_link *l = ctx;
	(void)m;
	(void)props;
	/* With an idle socket a QoS 0 message is written, and this called, from
	 * inside mosquitto_publish: before its mid is known to be held. */
	if (l->publishing && l->held_qos[mid & 0xffff] == NOT_HELD)
		l->done_while_publishing = mid;
	forget_mid(l, mid);
	if (l->cb.on_publish)
		l->cb.on_publish(l->cb.ctx, mid, reason);
}

static void on_message_cb(struct mosquitto *m, void *ctx, const struct mosquitto_message *msg,
                          const mosquitto_property *props)
{
	struct mqtt_link *l = ctx;
	char *response = NULL;
	void *correlation = NULL;
	uint16_t clen = 0;
	uint32_t expiry = 0;
	(void)m;
	if (l->cb.on_message == NULL)
		return;
	struct mqtt_message our = {.topic = msg->topic,
	                           .payload = msg->payload ? msg->payload : "",
	                           .len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0,
	                           .retain = msg->retain,
	                           .expiry_s = -1};
	if (props) { /* MQTT 5: a request's response topic, correlation and expiry */
		if (mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &response, false))
			our.response_topic = response;
		if (mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &correlation, &clen, false)) {
			our.correlation = correlation;
			our.correlation_len = clen;
		}
		if (mosquitto_property_read_int32(props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, &expiry, false))
			our.expiry_s = expiry;
	}
	l->cb.on_message(l->cb.ctx, &our);
	free(response);
	free(correlation);
}

/* libmosquitto says why a TLS handshake failed ("OpenSSL Error[0]: ...
 * certificate verify failed") only through its log callback: keep the
 * last such line for last_error and our own log. */
static void on_lib_log(struct mosquitto *m, void *ctx, int level, const char *line)
{
	struct mqtt_link *l = ctx;
	(void)m;
	if (level == MOSQ_LOG_ERR || level == MOSQ_LOG_WARNING)
		snprintf(l->lib_error, sizeof(l->lib_error), "%s", line);
}

static int fail(struct mqtt_link *l, const char *what, int rc)
{
	snprintf(l->last_error, sizeof(l->last_error), "%s: %s", what, mosquitto_strerror(rc));
	return -1;
}

static int setup_tls(struct mqtt_link *l)
{
	const struct mqtt_opts *o = &l->opts;
	int rc;

	if (o->tls_ca == NULL)
		return 0;
	if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
		snprintf(l->last_error, sizeof(l->last_error), "TLS client cert and key go together");
		return -1;
	}
	rc = mosquitto_tls_set(l->mosq, o->tls_ca, NULL, o->tls_cert, o->tls_key, NULL);
	if (rc != MOSQ_ERR_SUCCESS)
		return fail(l, "TLS setup", rc);
	return 0;
}

int mqtt_link_init(struct mqtt_link *l, const struct mqtt_opts *o, const struct mqtt_callbacks *cb)
{
	int rc;

	memset(l, 0, sizeof(*l));
	l->opts = *o;
	l->cb = *cb;
	l->held_bytes = calloc(MIDS, sizeof(*l->held_bytes));
	l->held_qos = malloc(MIDS);
	if (l->held_bytes == NULL || l->held_qos == NULL) {
		snprintf(l->last_error, sizeof(l->last_error), "out of memory");
		return -1;
	}
	memset(l->held_qos, NOT_HELD, MIDS);
	backoff_init(&l->backoff, 500, o->reconnect_max_ms, (uint32_t)getpid() ^ (uint32_t)clock_wall_ms());
	l->mosq = mosquitto_new(o->client_id, o->clean_session ? true : false, l);
	if (l->mosq == NULL) {
		snprintf(l->last_error, sizeof(l->last_error), "cannot create MQTT client (client id?)");
		return -1;
	}
	mosquitto_int_option(l->mosq, MOSQ_OPT_PROTOCOL_VERSION, o->mqtt311 ? MQTT_PROTOCOL_V311 : MQTT_PROTOCOL_V5);
	/* Threaded mode as libmosquitto calls it: packets are only written by
	 * mosquitto_loop_write, so a PUBACK waits until we allow it. */
	if (o->external)
		mosquitto_threaded_set(l->mosq, true);
	/* QoS 1 throughput is the in-flight window over the round trip; the
	 * broker's receive-maximum (max_inflight_messages) still caps it. */
	mosquitto_int_option(l->mosq, MOSQ_OPT_SEND_MAXIMUM, MQTT_SEND_MAXIMUM);
	/* A live bus: a lone packet (a phone ringing, a PUBACK) goes at once,
	 * not 40 ms later behind Nagle and the peer's delayed ACK (the screen
	 * pop's bench: 56 ms from DialBegin to the bus, 20 of them the bridge's) */
	mosquitto_int_option(l->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_v5_callback_set(l->mosq, on_connect_cb);
	mosquitto_log_callback_set(l->mosq, on_lib_log);
	l->fail_log.interval_ms = 60000;
	mosquitto_disconnect_v5_callback_set(l->mosq, on_disconnect_cb);
	mosquitto_publish_v5_callback_set(l->mosq, on_publish_cb);
	mosquitto_message_v5_callback_set(l->mosq, on_message_cb);
	if (o->username && (rc = mosquitto_username_pw_set(l->mosq, o->username, o->password)) != MOSQ_ERR_SUCCESS)
		return fail(l, "username", rc);
	if (o->will_topic && (rc = mosquitto_will_set(l->mosq, o->will_topic, (int)strlen(o->will_payload),
	                                              o->will_payload, 1, true)) != MOSQ_ERR_SUCCESS)
		return fail(l, "last will", rc);
	return setup_tls(l);
}

void mqtt_link_free(struct mqtt_link *l)
{
	if (l->mosq)
		mosquitto_destroy(l->mosq);
	free(l->held_bytes);
	free(l->held_qos);
	memset(l, 0, sizeof(*l));
}

void mqtt_link_pollfd(struct mqtt_link *l, struct pollfd *pfd)
{
	pfd->fd = mosquitto_socket(l->mosq);
	pfd->events = POLLIN;
	if (pfd->fd >= 0 && !l->hold_writes && mosquitto_want_write(l->mosq))
		pfd->events |= POLLOUT;
	pfd->revents = 0;
}

/* Why a connection could not be made: into last_error (for --check and
 * status), with the library's own reason when it gave one, and into the
 * log at most once a minute with a count. */
static void say_failure(struct mqtt_link *l, const char *why)
{
	uint64_t held_back;

	snprintf(l->last_error, sizeof(l->last_error), "connect to %s:%d: %s%s%s%s", l->opts.host, l->opts.port, why,
	         l->lib_error[0] ? " (" : "", l->lib_error, l->lib_error[0] ? ")" : "");
	l->lib_error[0] = '\0';
	if (log_ratelimit_ok(&l->fail_log, clock_mono_ms(), &held_back))
		log_warnx("mqtt: %s (%llu more failures since the last line)", l->last_error,
		          (unsigned long long)held_back);
}

/* The broker took the TCP connection and closed it before any CONNACK:
 * most often a broker that does not speak the protocol asked for (RabbitMQ
 * 3.10 drops an MQTT 5 CONNECT).  Said once in words that point at the key;
 * the later ones are the usual rate-limited failure lines. */
static void say_no_connack(struct mqtt_link *l)
{
	const char *hint = l->opts.mqtt311 ? "check the broker's log (its listener, its protocols)"
	                                   : "it may not speak MQTT 5: try mqtt_protocol 3.1.1";
	uint64_t held_back;

	snprintf(l->last_error, sizeof(l->last_error),
	         "connect to %s:%d: the broker closed the connection before answering CONNECT (%s)", l->opts.host,
	         l->opts.port, hint);
	l->lib_error[0] = '\0';
	if (!l->said_no_connack) {
		l->said_no_connack = 1;
		log_warnx("mqtt: %s", l->last_error);
		(void)log_ratelimit_ok(&l->fail_log, clock_mono_ms(), &held_back); /* the next line waits its turn */
	} else if (log_ratelimit_ok(&l->fail_log, clock_mono_ms(), &held_back)) {
		log_warnx("mqtt: %s (%llu more failures since the last line)", l->last_error,
		          (unsigned long long)held_back);
	}
}

static void connection_failed(struct mqtt_link *l, int rc)
{
	/* The library calls on_disconnect for a lost session; an attempt that
	 * never got a session needs the retry scheduled here. */
	if (!l->connected && mosquitto_socket(l->mosq) < 0 && l->next_attempt_ms == 0)
		schedule_reconnect(l);
	if (rc == MOSQ_ERR_CONN_LOST && !l->connected)
		say_no_connack(l);
	else if (rc != MOSQ_ERR_SUCCESS)
		say_failure(l, mosquitto_strerror(rc));
}

static int socket_readable(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

static int socket_writable(int fd)
{
	struct pollfd p = {fd, POLLOUT, 0};
	return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & POLLOUT);
}

/*
 * mosquitto_loop_read reads one packet when no QoS 2 flow is pending
 * (2.0.x sizes its loop by the message queues, not by the socket), so a
 * round of 500 waiting records would take 500 poll rounds and 500 commits.
 * Read on while the socket has data, up to a bound that keeps the other
 * socket served.
 */
#define READ_ROUND_MAX 2000

static int read_available(struct mqtt_link *l)
{
	int rc = MOSQ_ERR_SUCCESS;

	int most = l->read_round > 0 ? l->read_round : READ_ROUND_MAX;

	for (int i = 0; i < most; i++) {
		rc = mosquitto_loop_read(l->mosq, 1);
		if (rc != MOSQ_ERR_SUCCESS || !socket_readable(mosquitto_socket(l->mosq)))
			break;
	}
	return rc;
}

/*
 * mosquitto_loop_write writes as many packets as there are QoS > 0
 * messages in its queues, at least one: PUBACKs and PINGREQs are not
 * counted, so a round of PUBACKs would take a poll round each.  Write
 * until nothing waits or the socket is full.
 */
static int write_queued(struct mqtt_link *l)
{
	int rc = MOSQ_ERR_SUCCESS;

	for (int i = 0; i < READ_ROUND_MAX && mosquitto_want_write(l->mosq); i++) {
		rc = mosquitto_loop_write(l->mosq, 1);
		if (rc != MOSQ_ERR_SUCCESS || !socket_writable(mosquitto_socket(l->mosq)))
			break;
	}
	return rc;
}

void mqtt_link_handle(struct mqtt_link *l, short revents, int64_t now_ms)
{
	int rc = MOSQ_ERR_SUCCESS;

	(void)now_ms;
	if (revents & (POLLIN | POLLHUP | POLLERR))
		rc = read_available(l);
	if (rc == MOSQ_ERR_SUCCESS && (revents & POLLOUT) && !l->hold_writes)
		rc = write_queued(l);
	if (rc != MOSQ_ERR_SUCCESS)
		connection_failed(l, rc);
}

static void try_connect(struct mqtt_link *l, int64_t now_ms)
{
	int rc;

	l->next_attempt_ms = 0;
	if (!l->started) {
		l->started = 1;
		rc = mosquitto_connect_bind_async(l->mosq, l->opts.host, l->opts.port, l->opts.keepalive, NULL);
	} else {
		rc = mosquitto_reconnect_async(l->mosq);
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		say_failure(l, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		schedule_reconnect(l);
	}
	(void)now_ms;
}

int64_t mqtt_link_tick(struct mqtt_link *l, int64_t now_ms)
{
	if (mosquitto_socket(l->mosq) < 0 && !l->offline) {
		if (l->next_attempt_ms == 0 && l->started)
			schedule_reconnect(l);
		if (!l->started || now_ms >= l->next_attempt_ms)
			try_connect(l, now_ms);
	}
	if (now_ms - l->last_misc_ms >= 1000) {
		l->last_misc_ms = now_ms;
		if (mosquitto_socket(l->mosq) >= 0) {
			int rc = mosquitto_loop_misc(l->mosq);
			if (rc != MOSQ_ERR_SUCCESS)
				connection_failed(l, rc);
		}
	}
	int64_t wait = 1000 - (now_ms - l->last_misc_ms);
	if (mosquitto_socket(l->mosq) < 0 && l->next_attempt_ms > 0 && l->next_attempt_ms - now_ms < wait)
		wait = l->next_attempt_ms - now_ms;
	return wait < 0 ? 0 : wait;
}

static enum mqtt_rc publish_with(struct mqtt_link *l, int *mid, const char *topic, const void *payload, int len,
                                 int qos, int retain, const mosquitto_property *props)
{
	int m = 0;

	l->publishing = 1;
	l->done_while_publishing = -1;
	int rc = mosquitto_publish_v5(l->mosq, &m, topic, len, payload, qos, retain ? true : false, props);
	l->publishing = 0;
	/* What the library really keeps: the packet (payload, topic, header)
	 * and, for QoS 1, a second copy in the message it may have to resend. */
	int cost = (len + (int)strlen(topic) + 64) * (qos > 0 ? 2 : 1);
	if ((rc == MOSQ_ERR_SUCCESS || (rc == MOSQ_ERR_NO_CONN && qos > 0)) && l->done_while_publishing != m)
		hold_mid(l, m, qos, cost);
	if (mid)
		*mid = m;
	return our_rc(rc, qos);
}

enum mqtt_rc mqtt_link_publish(struct mqtt_link *l, int *mid, const char *topic, const void *payload, int len, int qos,
                               int retain)
{
	return publish_with(l, mid, topic, payload, len, qos, retain, NULL);
}

enum mqtt_rc mqtt_link_publish_answer(struct mqtt_link *l, const char *topic, const void *payload, int len,
                                      const void *correlation, size_t correlation_len)
{
	mosquitto_property *props = NULL;

	if (correlation != NULL && mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, correlation,
	                                                         (uint16_t)correlation_len) != MOSQ_ERR_SUCCESS)
		return MQTT_NO_MEMORY;
	enum mqtt_rc rc = publish_with(l, NULL, topic, payload, len, 1, 0, props);
	mosquitto_property_free_all(&props);
	return rc;
}

enum mqtt_rc mqtt_link_subscribe(struct mqtt_link *l, const char *pattern, int qos)
{
	return our_rc(mosquitto_subscribe_v5(l->mosq, NULL, pattern, qos, 0, NULL), 0);
}

/* One round of the link alone: its timers, then its socket for up to 50 ms. */
static void drive_alone(struct mqtt_link *l)
{
	struct pollfd pfd;

	mqtt_link_tick(l, clock_mono_ms());
	mqtt_link_pollfd(l, &pfd);
	if (pfd.fd < 0)
		(void)poll(NULL, 0, 50);
	else if (poll(&pfd, 1, 50) > 0)
		mqtt_link_handle(l, pfd.revents, clock_mono_ms());
}

/* Drives the link alone (its timers and socket, 50 ms a round) until
 * pred(arg) holds (0) or timeout_ms passed (-1): the one waiting loop of
 * the --check steps and of a flush, as ami_client_run_until is AMI's. */
static int mqtt_link_run_until(struct mqtt_link *l, int (*pred)(void *arg), void *arg, int timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;

	while (!pred(arg) && clock_mono_ms() < end)
		drive_alone(l);
	return pred(arg) ? 0 : -1;
}

static int mqtt_link_socket_open(struct mqtt_link *l)
{
	return mosquitto_socket(l->mosq) >= 0;
}

/* Up, or refused or unreachable (said in last_error). */
static int connect_settled(void *arg)
{
	struct mqtt_link *l = arg;
	return l->connected || (l->last_error[0] && !mqtt_link_socket_open(l));
}

int mqtt_link_wait_connected(struct mqtt_link *l, int timeout_ms)
{
	mqtt_link_run_until(l, connect_settled, l, timeout_ms);
	return l->connected ? 0 : -1;
}

/* Nothing held back, or no connection to write it on. */
static int flushed(void *arg)
{
	const struct mqtt_link *l = arg;
	return !l->connected || l->held_msgs == 0;
}

void mqtt_link_flush(struct mqtt_link *l, int timeout_ms)
{
	mqtt_link_run_until(l, flushed, l, timeout_ms);
}

int mqtt_link_has_room(const struct mqtt_link *l, uint64_t max_msgs, uint64_t max_bytes, size_t len)
{
	return l->held_msgs < max_msgs && l->held_total_bytes + len <= max_bytes;
}

void mqtt_link_disconnect(struct mqtt_link *l)
{
	l->closing = 1; /* a stop we asked for is not a warning */
	if (mosquitto_socket(l->mosq) >= 0) {
		mosquitto_disconnect_v5(l->mosq, 0, NULL);
		struct pollfd pfd;
		mqtt_link_pollfd(l, &pfd);
		if (pfd.fd >= 0 && (pfd.events & POLLOUT))
			mosquitto_loop_write(l->mosq, 1);
	}
	l->connected = 0;
}

void mqtt_link_hold(struct mqtt_link *l, int hold)
{
	l->hold_writes = hold;
	/* Released: write all that waits now (the PUBACKs and, behind them, the
	 * end-to-end ack), not a packet or two per poll round. */
	if (!hold && mosquitto_socket(l->mosq) >= 0) {
		int rc = write_queued(l);
		if (rc != MOSQ_ERR_SUCCESS)
			connection_failed(l, rc);
	}
}

void mqtt_link_go_offline(struct mqtt_link *l)
{
	int fd = mosquitto_socket(l->mosq);

	l->offline = 1;
	if (fd < 0)
		return;
	/* Not mosquitto_disconnect: its DISCONNECT would be written behind the
	 * held PUBACKs.  The library reads the end of the stream and closes. */
	if (shutdown(fd, SHUT_RDWR) < 0)
		log_warn("mqtt: shutdown");
	for (int i = 0; i < 8 && mosquitto_socket(l->mosq) >= 0; i++)
		(void)mosquitto_loop_read(l->mosq, 1);
}

void mqtt_link_go_online(struct mqtt_link *l)
{
	if (!l->offline)
		return;
	l->offline = 0;
	backoff_reset(&l->backoff);
	l->next_attempt_ms = clock_mono_ms(); /* at the next tick */
}

void mqtt_link_read_round(struct mqtt_link *l, int most)
{
	l->read_round = most;
}
