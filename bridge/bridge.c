#include "bridge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ami_json.h"
#include "bounds.h"
#include "clock.h"
#include "topic.h"

static void shed(struct bridge *b, int64_t now_ms, const char *why)
{
	uint64_t held_back;

	b->events.shed++;
	if (log_ratelimit_ok(&b->shed_log, now_ms, &held_back))
		log_warnx("mqtt: shedding events (%s); %llu shed so far", why, (unsigned long long)b->events.shed);
}

static int room_for(struct bridge *b, size_t len)
{
	return mqtt_link_has_room(&b->mqtt, (uint64_t)b->s->queue_max_messages, (uint64_t)b->s->queue_max_bytes, len);
}

static void bridge_handle_event(struct bridge *b, const struct ami_msg *m, int64_t now_ms)
{
	const struct ami_field *ev = ami_msg_find(m, "Event");
	char seg[TOPIC_SEGMENT_MAX + 1], topic[TOPIC_MAX], ts[ISO8601_LEN];
	size_t len;

	if (ev == NULL)
		return;
	int64_t at_ms = call_service_event(&b->calls, m);
	b->events.last_at_ms = at_ms;
	state_service_event(&b->state, m, at_ms);
	if (!event_filter_allows(&b->filter, ev->val, ev->val_len)) {
		b->events.filtered++;
		return;
	}
	if (!b->mqtt.connected) {
		shed(b, now_ms, "broker not connected");
		return;
	}
	const char *doc = ami_msg_to_json(&b->json, m, iso8601_ms(at_ms, ts), ++b->seq, &len);
	if (doc == NULL) {
		uint64_t held_back;
		b->events.too_big++;
		if (log_ratelimit_ok(&b->shed_log, now_ms, &held_back))
			log_warnx(
			    "event %.*s: its JSON did not fit (%d bytes, or out of memory): not published; %llu so far",
			    (int)ev->val_len, ev->val, JSON_EVENT_MAX, (unsigned long long)b->events.too_big);
		status_publisher_news(&b->status);
		return;
	}
	if (!room_for(b, len)) {
		shed(b, now_ms, "broker too slow");
		return;
	}
	topic_segment(seg, sizeof(seg), ev->val, ev->val_len);
	if (topic_join(topic, sizeof(topic), b->s->prefix, TOPIC_EVENTS, seg) < 0)
		return;
	enum mqtt_rc rc = mqtt_link_publish(&b->mqtt, NULL, topic, doc, (int)len, b->s->qos_events, 0);
	if (rc == MQTT_OK)
		b->events.published++;
	else
		shed(b, now_ms, mqtt_rc_str(rc));
}

static void on_call_record(void *ctx, enum call_phase phase, const struct call *c, int64_t now_ms)
{
	struct bridge *b = ctx;
	(void)now_ms; /* a refusal's time is the bridge's own: see outbox_refused */
	delivery_record(&b->delivery, phase, c);
}

static void on_ring(void *ctx, const struct call *c, const struct ct_ring *r, int64_t now_ms)
{
	struct bridge *b = ctx;
	delivery_ring(&b->delivery, c, r, now_ms);
}

static void on_ami_login(void *ctx)
{
	struct bridge *b = ctx;
	call_service_login(&b->calls);
	state_service_sync(&b->state, 1);
}

/* FullyBooted after a restart of Asterisk: everything may have changed. */
static void on_fully_booted(void *ctx)
{
	struct bridge *b = ctx;
	state_service_sync(&b->state, 0);
}

static void on_ami_event(void *ctx, const struct ami_msg *m, int64_t now_ms)
{
	bridge_handle_event(ctx, m, now_ms);
}

static void on_ami_state(void *ctx, enum ami_state st)
{
	struct bridge *b = ctx;
	status_publisher_ami(&b->status, st == AMI_UP);
}

static void on_mqtt_connect(void *ctx)
{
	struct bridge *b = ctx;
	delivery_connected(&b->delivery);
	command_channel_connected(&b->commands);
}

/* The bridge's subscriptions: the acks, and the command channel's. */
static void on_mqtt_message(void *ctx, const struct mqtt_message *msg)
{
	struct bridge *b = ctx;
	if (!command_channel_message(&b->commands, msg, clock_wall_ms()))
		delivery_ack(&b->delivery, msg);
}

static void on_mqtt_publish(void *ctx, int mid, int reason)
{
	(void)ctx;
	if (reason >= 0x80)
		log_warnx("mqtt: broker refused message %d (reason %d: %s); check the broker's ACL", mid, reason,
		          mqtt_reason_str(reason));
}

int bridge_init(struct bridge *b, struct bridge_settings *s, char *err, size_t errsz)
{
	struct ami_callbacks acb = {.on_event = on_ami_event,
	                            .on_state = on_ami_state,
	                            .on_login = on_ami_login,
	                            .on_fully_booted = on_fully_booted,
	                            .ctx = b};
	struct mqtt_callbacks mcb = {
	    .on_connect = on_mqtt_connect, .on_publish = on_mqtt_publish, .on_message = on_mqtt_message, .ctx = b};

	memset(b, 0, sizeof(*b));
	b->s = s;
	b->started_wall_ms = clock_wall_ms();
	b->shed_log.interval_ms = 10000;
	jw_init(&b->json, JSON_EVENT_MAX);
	if (delivery_open(&b->delivery, s, &b->mqtt, &b->calls.journal, err, errsz) < 0)
		return -1;
	if (call_service_init(&b->calls, s, &b->ami, on_call_record, on_ring, b, err, errsz) < 0)
		return -1;
	if (event_filter_init(&b->filter, s->events_allow, s->events_deny) < 0) {
		snprintf(err, errsz, "events_allow/events_deny: too many globs");
		return -1;
	}
	if (ami_client_init(&b->ami, &s->ami, &acb) < 0) {
		snprintf(err, errsz, "ami: %s", b->ami.last_error);
		return -1;
	}
	if (command_channel_open(&b->commands, s, &b->mqtt, &b->ami, &b->calls.tracker.kinds, err, errsz) < 0)
		return -1;
	struct state_wiring sw = {
	    .ami = &b->ami, .mqtt = &b->mqtt, .calls = &b->calls.tracker, .kinds = &b->calls.tracker.kinds};
	state_service_init(&b->state, s, &sw, b->started_wall_ms);
	size_t restored = call_service_restore(&b->calls);
	if (restored > 0)
		log_info("%zu call(s) in flight before the restart carried over from %s", restored,
		         b->calls.journal.path);
	if (mqtt_link_init(&b->mqtt, &s->mqtt, &mcb) < 0) {
		snprintf(err, errsz, "mqtt: %s", b->mqtt.last_error);
		return -1;
	}
	return 0;
}

void bridge_free(struct bridge *b)
{
	ami_client_free(&b->ami); /* a command still running is answered first */
	command_channel_close(&b->commands);
	mqtt_link_free(&b->mqtt);
	event_filter_free(&b->filter);
	call_service_free(&b->calls);
	delivery_close(&b->delivery);
	jw_free(&b->json);
	state_service_free(&b->state);
}

static void shutdown_cleanly(struct bridge *b)
{
	const char *doc = "{\"state\":\"offline\"}";

	log_info("shutting down");
	delivery_stop(&b->delivery);
	if (b->mqtt.connected) {
		mqtt_link_publish(&b->mqtt, NULL, b->s->will_topic, doc, (int)strlen(doc), 1, 1);
		mqtt_link_flush(&b->mqtt, 2000);
		mqtt_link_disconnect(&b->mqtt);
	}
}

static int64_t earliest(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Every tick, each returning its next deadline; the loop sleeps until the
 * nearest (or a socket is ready). */
static int64_t tick_all(struct bridge *b, int64_t now)
{
	int64_t wait = ami_client_tick(&b->ami, now);

	wait = earliest(wait, mqtt_link_tick(&b->mqtt, now));
	wait = earliest(wait, call_service_tick(&b->calls, now));
	wait = earliest(wait, delivery_tick(&b->delivery, clock_wall_ms()));
	wait = earliest(wait, state_service_tick(&b->state, now));
	if (call_service_news(&b->calls) | delivery_news(&b->delivery))
		status_publisher_news(&b->status);
	return earliest(wait, bridge_status_tick(b, now));
}

void bridge_run(struct bridge *b, volatile sig_atomic_t *stop)
{
	while (!*stop) {
		int64_t wait = tick_all(b, clock_mono_ms());
		struct pollfd pfd[2];
		ami_client_pollfd(&b->ami, &pfd[0]);
		mqtt_link_pollfd(&b->mqtt, &pfd[1]);
		int n = poll(pfd, 2, (int)(wait < 0 ? 0 : wait));
		if (n < 0 && errno != EINTR) {
			log_warn("poll");
			continue;
		}
		int64_t now = clock_mono_ms();
		/* Broker first: acknowledgements free room for the events read next. */
		if (n > 0 && pfd[1].fd >= 0 && pfd[1].revents)
			mqtt_link_handle(&b->mqtt, pfd[1].revents, now);
		if (n > 0 && pfd[0].fd >= 0 && pfd[0].revents)
			ami_client_handle(&b->ami, pfd[0].revents, now);
	}
	shutdown_cleanly(b);
}
