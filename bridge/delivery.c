#include "delivery.h"

#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "call_record.h"
#include "clock.h"
#include "outbox_acks.h"
#include "ring_record.h"
#include "topic.h"

/* A resend falls due on the outbox's own timers: a second late at most. */
#define DELIVERY_TICK_MS 1000
/* An outbox that refused a record reads "full" for this long after. */
#define REFUSED_SHOWN_MS 60000

int delivery_open(struct delivery *d, const struct bridge_settings *s, struct mqtt_link *mqtt,
                  struct call_journal *journal, char *err, size_t errsz)
{
	memset(d, 0, sizeof(*d));
	d->s = s;
	d->mqtt = mqtt;
	d->journal = journal;
	d->outbox_log.interval_ms = 10000;
	d->ack_log.interval_ms = 10000;
	outbox_refused_init(&d->refused, s->outbox_dir);
	jw_init(&d->json, 64 * 1024);
	for (int p = 0; p < CALL_PHASES; p++) /* formatted once: every record of a phase goes there */
		if (topic_join(d->topic[p], sizeof(d->topic[p]), s->prefix, TOPIC_CALLS, topic_call_phases[p]) < 0) {
			snprintf(err, errsz, "topic_prefix: too long for %s/%s", TOPIC_CALLS, topic_call_phases[p]);
			return -1;
		}
	if (topic_join(d->ringing_topic, sizeof(d->ringing_topic), s->prefix, TOPIC_RINGING, NULL) < 0) {
		snprintf(err, errsz, "topic_prefix: too long for %s", TOPIC_RINGING);
		return -1;
	}
	return outbox_open(&d->outbox, s->outbox_dir, s->outbox_max_bytes, s->outbox_memory_max, s->outbox_resend_ms,
	                   err, errsz);
}

void delivery_close(struct delivery *d)
{
	outbox_close(&d->outbox);
	jw_free(&d->json);
}

static int room_for(const struct delivery *d, size_t len)
{
	return mqtt_link_has_room(d->mqtt, (uint64_t)d->s->queue_max_messages, (uint64_t)d->s->queue_max_bytes, len);
}

static enum mqtt_rc publish_record(struct delivery *d, enum call_phase phase, const char *payload, size_t len)
{
	enum mqtt_rc rc = mqtt_link_publish(d->mqtt, NULL, d->topic[phase], payload, (int)len, d->s->qos_calls, 0);

	if (rc == MQTT_OK || rc == MQTT_QUEUED)
		d->records_published++;
	return rc;
}

/* The complete record (hangup) is kept in the outbox first; refused
 * there, it is said by id (never dropped silently) and still sent, best
 * effort. */
void delivery_record(struct delivery *d, enum call_phase phase, const struct call *c)
{
	char call_id[256];
	size_t len;
	const char *doc = call_record_json(&d->json, c, phase, d->s->pbx_id, &len);

	if (doc == NULL)
		return;
	if (phase == CALL_HANGUP) {
		call_id_format(call_id, sizeof(call_id), d->s->pbx_id, c->linkedid);
		if (outbox_append(&d->outbox, call_id, doc, len) == 0)
			return; /* published from the outbox once synced */
		outbox_refused_note(&d->refused, call_id);
		d->refused_at_ms = clock_mono_ms();
		d->news = 1;
	} else if (!d->mqtt->connected || !room_for(d, len)) {
		d->records_shed++;
		return;
	}
	enum mqtt_rc rc = publish_record(d, phase, doc, len);
	if (rc != MQTT_OK && rc != MQTT_QUEUED)
		log_warnx("mqtt: call record %s:%s not published: %s", d->s->pbx_id, c->linkedid, mqtt_rc_str(rc));
}

void delivery_ring(struct delivery *d, const struct call *c, const struct ct_ring *r, int64_t now_ms)
{
	size_t len;
	const char *doc = ring_record_json(&d->json, c, r, d->s->pbx_id, now_ms, &len);

	if (doc == NULL || !d->mqtt->connected || !room_for(d, len)) {
		d->records_shed++;
		return;
	}
	enum mqtt_rc rc = mqtt_link_publish(d->mqtt, NULL, d->ringing_topic, doc, (int)len, d->s->qos_calls, 0);
	if (rc == MQTT_OK || rc == MQTT_QUEUED)
		d->records_published++;
	else
		d->records_shed++;
}

static int send_from_outbox(void *ctx, const char *id, const char *payload, size_t len)
{
	struct delivery *d = ctx;

	(void)id;
	if (!d->mqtt->connected)
		return -1;
	enum mqtt_rc rc =
	    mqtt_link_publish(d->mqtt, NULL, d->topic[CALL_HANGUP], payload, (int)len, d->s->qos_calls, 0);
	if (rc != MQTT_OK)
		return -1;
	d->records_published++;
	return 0;
}

int64_t delivery_tick(struct delivery *d, int64_t now_wall_ms)
{
	uint64_t held_back;
	int durable = outbox_sync(&d->outbox) == 0 && d->outbox.mem_bytes == 0;

	if (durable)
		call_journal_emitted_durable(d->journal); /* only now: the records are on disk */
	if (!durable) {
		if (log_ratelimit_ok(&d->outbox_log, now_wall_ms, &held_back))
			log_crit("outbox: %s; %zu record(s) pending, %llu bytes of them held in memory until the disk "
			         "takes them (outbox_memory_max %llu)",
			         d->outbox.last_error, d->outbox.pending, (unsigned long long)d->outbox.mem_bytes,
			         (unsigned long long)d->outbox.mem_max);
		d->news = 1;
	}
	outbox_refused_flush(&d->refused, now_wall_ms, 0);
	if (outbox_high_water(&d->outbox)) {
		log_warnx("outbox %s is %u%% full (%zu records wait for a consumer's ack)", d->outbox.path,
		          outbox_fill_percent(&d->outbox), d->outbox.pending);
		d->news = 1;
	}
	if (d->mqtt->connected)
		outbox_pump(&d->outbox, now_wall_ms, d->s->outbox_window, send_from_outbox, d);
	return DELIVERY_TICK_MS;
}

void delivery_connected(struct delivery *d)
{
	enum mqtt_rc rc = mqtt_link_subscribe(d->mqtt, d->s->acks_topic, 1);

	if (rc != MQTT_OK)
		log_warnx("mqtt: subscribe %s: %s", d->s->acks_topic, mqtt_rc_str(rc));
	/* A new broker session: what was outstanding is due now, not after a
	 * timer that doubled while the broker was away. */
	outbox_rewind(&d->outbox);
	d->news = 1;
}

struct ack_round {
	struct delivery *d;
	size_t retired;
};

static void retire(void *ctx, const char *id)
{
	struct ack_round *r = ctx;
	if (outbox_retire(&r->d->outbox, id))
		r->retired++;
}

/* <prefix>/acks/<consumer>: each id it settled retires its record. */
void delivery_ack(struct delivery *d, const struct mqtt_message *msg)
{
	struct ack_round r = {d, 0};
	uint64_t held_back;

	if (outbox_acks_parse(msg->payload, msg->len, retire, &r) < 0) {
		if (log_ratelimit_ok(&d->ack_log, clock_mono_ms(), &held_back))
			log_warnx("mqtt: ignored a malformed ack on %s (%llu more since the last line)", msg->topic,
			          (unsigned long long)held_back);
		return;
	}
	d->acks_received++;
	log_debug("outbox: %zu record(s) acknowledged on %s", r.retired, msg->topic);
}

void delivery_stop(struct delivery *d)
{
	outbox_refused_flush(&d->refused, clock_wall_ms(), 1);
}

int delivery_news(struct delivery *d)
{
	int news = d->news;
	d->news = 0;
	return news;
}

const char *delivery_outbox_state(const struct delivery *d, int64_t now_mono_ms)
{
	unsigned fill = outbox_fill_percent(&d->outbox);
	int refusing = d->refused_at_ms != 0 && now_mono_ms - d->refused_at_ms < REFUSED_SHOWN_MS;

	return refusing || fill >= 100 || d->outbox.disk_failing ? "full" : fill >= 80 ? "high" : "ok";
}
