#include "bridge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ami_json.h"
#include "bridge_status.h"
#include "call_record.h"
#include "clock.h"
#include "limits.h"
#include "outbox_acks.h"
#include "topic.h"

/* calls/start waits this long for the answer or the end, so that a caller
 * withheld a moment after the call began (NewCallerid, the Getvar's
 * answer) is withheld in it too (docs/topics.md). */
#define CALL_START_HOLD_MS 2000
/* The bridge's view of the PBX is marked whole once a second: shorter
 * gaps are not told apart from that. */
#define GAP_MIN_MS 1000

static void publish_status(struct bridge *b)
{
	const char *doc = bridge_status_json(b, "online");

	if (doc == NULL || !b->mqtt.connected)
		return;
	enum mqtt_rc rc =
	    mqtt_link_publish(&b->mqtt, NULL, b->s->will_topic, doc, (int)strlen(doc), b->s->qos_state, 1);
	if (rc != MQTT_OK)
		log_warnx("mqtt: status publish failed: %s", mqtt_rc_str(rc));
	b->status_dirty = 0;
}

static void shed(struct bridge *b, int64_t now_ms, const char *why)
{
	uint64_t held_back;

	b->events_shed++;
	if (log_ratelimit_ok(&b->shed_log, now_ms, &held_back))
		log_warnx("mqtt: shedding events (%s); %llu shed so far", why, (unsigned long long)b->events_shed);
}

static int room_for(struct bridge *b, size_t len)
{
	return b->mqtt.held_msgs < (uint64_t)b->s->queue_max_messages &&
	       b->mqtt.held_total_bytes + len <= (uint64_t)b->s->queue_max_bytes;
}

/* An event's time on the PBX's clock (see pbx_clock.h): its Timestamp:,
 * else now on that clock.  The session's first Timestamp: confirms the
 * clock, and calls dated before it move with it. */
static int64_t event_time_ms(struct bridge *b, const struct ami_msg *m)
{
	const struct ami_field *ts = ami_msg_find(m, "Timestamp");
	int64_t ms = ts ? ami_timestamp_ms(ts->val, ts->val_len) : -1;
	int64_t wall = clock_wall_ms();

	if (ms < 0)
		return pbx_clock_now(&b->clock, wall);
	int first = !b->clock.seen_in_session;
	int64_t moved = pbx_clock_saw(&b->clock, ms, wall);
	if (first)
		call_tracker_clock_confirmed(&b->calls, moved);
	return ms;
}

static void bridge_handle_event(struct bridge *b, const struct ami_msg *m, int64_t now_ms)
{
	const struct ami_field *ev = ami_msg_find(m, "Event");
	char seg[TOPIC_SEGMENT_MAX + 1], topic[TOPIC_MAX], ts[ISO8601_LEN];
	size_t len;

	if (ev == NULL)
		return;
	int64_t at_ms = event_time_ms(b, m);
	call_tracker_event(&b->calls, m, at_ms);
	state_service_event(&b->state, m, at_ms);
	if (!event_filter_allows(&b->filter, ev->val, ev->val_len)) {
		b->events_filtered++;
		return;
	}
	if (!b->mqtt.connected) {
		shed(b, now_ms, "broker not connected");
		return;
	}
	const char *doc = ami_msg_to_json(&b->json, m, iso8601_ms(at_ms, ts), ++b->seq, &len);
	if (doc == NULL) {
		uint64_t held_back;
		b->events_too_big++;
		if (log_ratelimit_ok(&b->shed_log, now_ms, &held_back))
			log_warnx(
			    "event %.*s: its JSON did not fit (%d bytes, or out of memory): not published; %llu so far",
			    (int)ev->val_len, ev->val, JSON_EVENT_MAX, (unsigned long long)b->events_too_big);
		b->status_dirty = 1;
		return;
	}
	if (!room_for(b, len)) {
		shed(b, now_ms, "broker too slow");
		return;
	}
	topic_segment(seg, sizeof(seg), ev->val, ev->val_len);
	if (topic_join(topic, sizeof(topic), b->s->prefix, "events", seg) < 0)
		return;
	enum mqtt_rc rc = mqtt_link_publish(&b->mqtt, NULL, topic, doc, (int)len, b->s->qos_events, 0);
	if (rc == MQTT_OK)
		b->events_published++;
	else
		shed(b, now_ms, mqtt_rc_str(rc));
}

/*
 * A call record.  The complete one (hangup) is what the CRM logs: it goes
 * to the durable outbox and is published from there once synced (see
 * pump_outbox).  start and answer are for live displays and are shed like
 * events.
 */
static void on_call_record(void *ctx, enum call_record_kind kind, const struct call *c, int64_t now_ms)
{
	struct bridge *b = ctx;
	char topic[TOPIC_MAX], call_id[256];
	size_t len;
	const char *doc = call_record_json(&b->record_json, c, kind, b->s->pbx_id, &len);

	(void)now_ms; /* the refusal's time is the bridge's own: see outbox_refused */

	if (doc == NULL || topic_join(topic, sizeof(topic), b->s->prefix, "calls", call_record_kind_name(kind)) < 0)
		return;
	if (kind == CALL_HANGUP) {
		call_id_format(call_id, sizeof(call_id), b->s->pbx_id, c->linkedid);
		if (outbox_append(&b->outbox, call_id, doc, len) == 0)
			return;
		/* Refused loudly, by id, never dropped silently: still sent, best effort. */
		outbox_refused_note(&b->refused, call_id);
		b->refused_at_ms = clock_mono_ms();
		b->status_dirty = 1;
	} else if (!b->mqtt.connected || !room_for(b, len)) {
		b->records_shed++;
		return;
	}
	enum mqtt_rc rc = mqtt_link_publish(&b->mqtt, NULL, topic, doc, (int)len, b->s->qos_calls, 0);
	if (rc == MQTT_OK || rc == MQTT_QUEUED)
		b->records_published++;
	else
		log_warnx("mqtt: call record %s:%s not published: %s", b->s->pbx_id, c->linkedid, mqtt_rc_str(rc));
}

static int send_from_outbox(void *ctx, const char *id, const char *payload, size_t len)
{
	struct bridge *b = ctx;
	char topic[TOPIC_MAX];

	(void)id;
	if (!b->mqtt.connected || topic_join(topic, sizeof(topic), b->s->prefix, "calls", "hangup") < 0)
		return -1;
	enum mqtt_rc rc = mqtt_link_publish(&b->mqtt, NULL, topic, payload, (int)len, b->s->qos_calls, 0);
	if (rc != MQTT_OK)
		return -1;
	b->records_published++;
	return 0;
}

/* Once a round: make this round's records durable, then send what is due.
 * While the disk refuses them, records go out from memory. */
static void pump_outbox(struct bridge *b, int64_t now_wall)
{
	uint64_t held_back;

	int durable = outbox_sync(&b->outbox) == 0 && b->outbox.mem_bytes == 0;
	if (durable)
		call_journal_emitted_durable(&b->journal); /* only now: the records are on disk */
	if (!durable) {
		if (log_ratelimit_ok(&b->outbox_log, now_wall, &held_back))
			log_crit("outbox: %s; %zu record(s) pending, %llu bytes of them held in memory until the disk "
			         "takes them (outbox_memory_max %llu)",
			         b->outbox.last_error, b->outbox.pending, (unsigned long long)b->outbox.mem_bytes,
			         (unsigned long long)b->outbox.mem_max);
		b->status_dirty = 1;
	}
	outbox_refused_flush(&b->refused, now_wall, 0);
	if (outbox_high_water(&b->outbox)) {
		log_warnx("outbox %s is %u%% full (%zu records wait for a consumer's ack)", b->outbox.path,
		          outbox_fill_percent(&b->outbox), b->outbox.pending);
		b->status_dirty = 1;
	}
	if (b->mqtt.connected)
		outbox_pump(&b->outbox, now_wall, b->s->outbox_window, send_from_outbox, b);
}

struct ack_round {
	struct bridge *b;
	size_t retired;
};

static void retire(void *ctx, const char *id)
{
	struct ack_round *r = ctx;
	if (outbox_retire(&r->b->outbox, id))
		r->retired++;
}

/* <prefix>/acks/<consumer>: each id it settled retires its record. */
static void on_mqtt_message(void *ctx, const struct mqtt_message *msg)
{
	struct bridge *b = ctx;
	struct ack_round r = {b, 0};
	uint64_t held_back;

	if (outbox_acks_parse(msg->payload, msg->len, retire, &r) < 0) {
		if (log_ratelimit_ok(&b->ack_log, clock_mono_ms(), &held_back))
			log_warnx("mqtt: ignored a malformed ack on %s (%llu more since the last line)", msg->topic,
			          (unsigned long long)held_back);
		return;
	}
	b->acks_received++;
	log_debug("outbox: %zu record(s) acknowledged on %s", r.retired, msg->topic);
}

/* After a (re)login: which channels still exist?  Calls whose channels
 * vanished while we were away are closed as partial. */
static void on_channels_listed(void *arg, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	struct bridge *b = arg;
	(void)c;
	switch (kind) {
	case AMI_REPLY_RESPONSE:
		if (ami_field_is(ami_msg_find(m, "Response"), "Success"))
			call_tracker_sync_begin(&b->calls);
		break;
	case AMI_REPLY_LIST_ITEM:
		call_tracker_sync_channel(&b->calls, m, event_time_ms(b, m));
		break;
	case AMI_REPLY_LIST_DONE:
		call_tracker_sync_end(&b->calls, pbx_clock_now(&b->clock, clock_wall_ms()));
		break;
	case AMI_REPLY_LOST:
		call_tracker_sync_lost(&b->calls);
		break;
	}
}

/* The bridge did not see the PBX from `alive_ms` (the session was lost, or
 * the bridge was not running) until this login: said once, counted. */
static void note_gap(struct bridge *b)
{
	int64_t now = pbx_clock_now(&b->clock, clock_wall_ms());
	char from[ISO8601_LEN], to[ISO8601_LEN];

	if (b->alive_ms <= 0)
		return;
	cdr_backfill_gap(&b->backfill, b->alive_ms, now, clock_mono_ms()); /* even a short one: calls may wait for it */
	if (now - b->alive_ms < GAP_MIN_MS)
		return;
	b->gaps++;
	b->gap_seconds += (uint64_t)((now - b->alive_ms) / 1000);
	b->last_gap_from_ms = b->alive_ms;
	b->last_gap_to_ms = now;
	b->status_dirty = 1;
	log_warnx("calls made between %s and %s were not seen (%lld s without the PBX's events); calls still up are "
	          "followed; %s",
	          iso8601_ms(b->alive_ms, from), iso8601_ms(now, to), (long long)((now - b->alive_ms) / 1000),
	          b->backfill.enabled
	              ? "the others come from the PBX's CDR store"
	              : "calls that ended meanwhile are closed as partial, and calls made meanwhile are "
	                "lost: set cdr_db_user (and cdr_db_host or cdr_db_socket) to recover them from "
	                "the PBX's CDR store");
}

static void on_ami_login(void *ctx)
{
	struct bridge *b = ctx;
	note_gap(b);
	pbx_clock_new_session(&b->clock);
	b->calls.clock_provisional = 1;
	if (ami_client_action(&b->ami, "CoreShowChannels", NULL, on_channels_listed, b) < 0)
		log_warnx("ami: could not ask for CoreShowChannels");
	state_service_sync(&b->state, 1);
}

/* FullyBooted after a restart of Asterisk: everything may have changed. */
static void on_fully_booted(void *ctx)
{
	struct bridge *b = ctx;
	state_service_sync(&b->state, 0);
}

static void on_new_caller(void *ctx, const char *channel, const char *linkedid)
{
	struct bridge *b = ctx;
	caller_presentation_ask(&b->presentation, channel, linkedid);
}

static void on_ami_event(void *ctx, const struct ami_msg *m, int64_t now_ms)
{
	bridge_handle_event(ctx, m, now_ms);
}

static void on_ami_state(void *ctx, enum ami_state st)
{
	struct bridge *b = ctx;
	int up = st == AMI_UP;
	/* Only "connected" changes are news; failed reconnects are not. */
	if (up != b->ami_was_up)
		b->status_dirty = 1;
	b->ami_was_up = up;
}

static void on_mqtt_connect(void *ctx)
{
	struct bridge *b = ctx;
	enum mqtt_rc rc = mqtt_link_subscribe(&b->mqtt, b->s->acks_topic, 1);

	if (rc != MQTT_OK)
		log_warnx("mqtt: subscribe %s: %s", b->s->acks_topic, mqtt_rc_str(rc));
	/* A new broker session: what was outstanding is due now, not after a
	 * timer that doubled while the broker was away. */
	outbox_rewind(&b->outbox);
	b->status_dirty = 1;
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
	b->outbox_log.interval_ms = 10000;
	b->ack_log.interval_ms = 10000;
	outbox_refused_init(&b->refused, s->outbox_dir);
	if (outbox_open(&b->outbox, s->outbox_dir, s->outbox_max_bytes, s->outbox_memory_max, s->outbox_resend_ms, err,
	                errsz) < 0)
		return -1;
	if (call_journal_open(&b->journal, s->outbox_dir, s->max_calls, err, errsz) < 0)
		return -1;
	if (s->cdr_timezone[0]) { /* CDR calldate is the PBX's local time */
		setenv("TZ", s->cdr_timezone, 1);
		tzset();
	}
	cdr_backfill_init(&b->backfill, &s->cdr, s->cdr_backfill_max_ms);
	b->alive_ms = b->journal.seen_ms;
	b->clock.offset_ms = b->journal.clock_offset_ms; /* the clock the carried-over calls are dated on */
	jw_init(&b->json, JSON_EVENT_MAX);
	jw_init(&b->record_json, 64 * 1024);
	if (glob_list_parse(&b->trunk_contexts, s->trunk_contexts) < 0 ||
	    glob_list_parse(&b->trunk_endpoints, s->trunk_endpoints) < 0 ||
	    glob_list_parse(&b->phone_endpoints, s->phone_endpoints) < 0) {
		snprintf(err, errsz, "trunk_contexts/trunk_endpoints/phone_endpoints: too many globs");
		return -1;
	}
	struct call_tracker_opts co = {.trunk_contexts = &b->trunk_contexts,
	                               .trunk_endpoints = &b->trunk_endpoints,
	                               .phone_endpoints = &b->phone_endpoints,
	                               .idle_timeout_ms = s->call_idle_timeout_ms,
	                               .max_calls = s->max_calls,
	                               .start_hold_ms = CALL_START_HOLD_MS,
	                               .ask_presentation = on_new_caller,
	                               .journal = &b->journal,
	                               .hold_for_cdr = b->backfill.enabled};
	if (call_tracker_init(&b->calls, &co, on_call_record, b) < 0) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (event_filter_init(&b->filter, s->events_allow, s->events_deny) < 0) {
		snprintf(err, errsz, "events_allow/events_deny: too many globs");
		return -1;
	}
	if (ami_client_init(&b->ami, &s->ami, &acb) < 0) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	caller_presentation_init(&b->presentation, &b->ami, &b->calls);
	struct state_wiring sw = {.ami = &b->ami, .mqtt = &b->mqtt, .calls = &b->calls, .kinds = &b->calls.kinds};
	state_service_init(&b->state, s, &sw, b->started_wall_ms);
	size_t restored = call_tracker_restore(&b->calls);
	if (restored > 0)
		log_info("%zu call(s) in flight before the restart carried over from %s", restored, b->journal.path);
	if (mqtt_link_init(&b->mqtt, &s->mqtt, &mcb) < 0) {
		snprintf(err, errsz, "mqtt: %s", b->mqtt.last_error);
		return -1;
	}
	return 0;
}

void bridge_free(struct bridge *b)
{
	ami_client_free(&b->ami);
	mqtt_link_free(&b->mqtt);
	event_filter_free(&b->filter);
	call_tracker_free(&b->calls);
	call_journal_close(&b->journal);
	cdr_backfill_free(&b->backfill);
	outbox_close(&b->outbox);
	glob_list_free(&b->trunk_contexts);
	glob_list_free(&b->trunk_endpoints);
	glob_list_free(&b->phone_endpoints);
	jw_free(&b->json);
	jw_free(&b->record_json);
	state_service_free(&b->state);
}

#define STATUS_MIN_INTERVAL_MS 5000

#define EXPIRE_INTERVAL_MS 60000
#define START_TICK_MS      100
#define JOURNAL_SYNC_MS    200

/* Idle calls closed now and then; held calls/start records sent on time.
 * Returns ms until it next needs to run. */
static int64_t calls_tick(struct bridge *b, int64_t now)
{
	int64_t pbx_now = pbx_clock_now(&b->clock, clock_wall_ms());

	if (b->ami.state == AMI_UP) {
		b->alive_ms = pbx_now;
		call_journal_seen(&b->journal, pbx_now, b->clock.offset_ms);
	}
	call_tracker_release_starts(&b->calls, pbx_now);
	call_tracker_journal_flush(&b->calls);
	if (now >= b->journal_sync_ms) {
		call_journal_sync(&b->journal);
		b->journal_sync_ms = now + JOURNAL_SYNC_MS;
	}
	if (now >= b->next_expire_ms) {
		b->next_expire_ms = now + EXPIRE_INTERVAL_MS;
		call_tracker_expire(&b->calls, pbx_now);
	}
	int64_t wait = b->next_expire_ms - now < 1000 ? b->next_expire_ms - now : 1000;
	int64_t bf = cdr_backfill_tick(&b->backfill, &b->calls, now, pbx_now);
	if (bf < wait)
		wait = bf;
	return b->calls.starts_held > 0 || b->journal.dirty ? START_TICK_MS : wait;
}

static int64_t status_tick(struct bridge *b, int64_t now)
{
	if (now >= b->next_status_ms) {
		b->status_dirty = 1;
		b->next_status_ms = now + b->s->status_interval_ms;
	}
	/* Counters and errors are news too, but at most every few seconds. */
	if (bridge_status_digest(b) != b->status_digest_sent && now - b->status_sent_ms >= STATUS_MIN_INTERVAL_MS)
		b->status_dirty = 1;
	/* A frozen broker must not make status messages pile up either. */
	if (b->status_dirty && b->mqtt.connected && room_for(b, 1024)) {
		publish_status(b);
		b->status_digest_sent = bridge_status_digest(b);
		b->status_sent_ms = now;
	}
	int64_t wait = b->next_status_ms - now;
	return wait < 1000 ? wait : 1000;
}

static void shutdown_cleanly(struct bridge *b)
{
	const char *doc = "{\"state\":\"offline\"}";

	log_info("shutting down");
	outbox_refused_flush(&b->refused, clock_wall_ms(), 1);
	if (b->mqtt.connected) {
		mqtt_link_publish(&b->mqtt, NULL, b->s->will_topic, doc, (int)strlen(doc), 1, 1);
		mqtt_link_flush(&b->mqtt, 2000);
		mqtt_link_disconnect(&b->mqtt);
	}
}

void bridge_run(struct bridge *b, volatile sig_atomic_t *stop)
{
	while (!*stop) {
		int64_t now = clock_mono_ms();
		int64_t wait = ami_client_tick(&b->ami, now);
		int64_t w2 = mqtt_link_tick(&b->mqtt, now);
		int64_t w3 = status_tick(b, now);
		int64_t w4 = calls_tick(b, now);
		if (w2 < wait)
			wait = w2;
		if (w3 < wait)
			wait = w3;
		if (w4 < wait)
			wait = w4;
		struct pollfd pfd[2];
		ami_client_pollfd(&b->ami, &pfd[0]);
		mqtt_link_pollfd(&b->mqtt, &pfd[1]);
		int n = poll(pfd, 2, (int)(wait < 0 ? 0 : wait));
		if (n < 0 && errno != EINTR) {
			log_warn("poll");
			continue;
		}
		now = clock_mono_ms();
		/* Broker first: acknowledgements free room for the events read next. */
		if (n > 0 && pfd[1].fd >= 0 && pfd[1].revents)
			mqtt_link_handle(&b->mqtt, pfd[1].revents, now);
		if (n > 0 && pfd[0].fd >= 0 && pfd[0].revents)
			ami_client_handle(&b->ami, pfd[0].revents, now);
		pump_outbox(b, clock_wall_ms());
		state_service_tick(&b->state, clock_mono_ms());
	}
	shutdown_cleanly(b);
}
