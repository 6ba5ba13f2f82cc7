#include "bridge_status.h"

#include <string.h>

#include "asterisk_version.h"
#include "bridge.h"
#include "clock.h"
#include "version.h"

/* News fields change the document at most this often. */
#define STATUS_MIN_INTERVAL_MS 5000
#define STATUS_TICK_MS         1000
/* The news fields are looked at this often, not at every loop round. */
#define STATUS_CHECK_MS 250
/* Room kept for a status message beside what the broker holds. */
#define STATUS_ROOM_BYTES 1024

/* One key of the document, in its order.  news: a change is published
 * within STATUS_MIN_INTERVAL_MS, not only at the next status_interval. */
struct status_field {
	const char *key;
	enum { SF_COUNT, SF_TEXT, SF_TIME } type;
	uint64_t count;
	const char *text; /* SF_TEXT; NULL is null */
	int64_t time_ms;  /* SF_TIME; 0 is null */
	int news;
};

#define COUNT(k, v, n)                                                                                                 \
	{                                                                                                              \
		.key = (k), .type = SF_COUNT, .count = (uint64_t)(v), .news = (n)                                      \
	}
#define TEXT(k, v, n)                                                                                                  \
	{                                                                                                              \
		.key = (k), .type = SF_TEXT, .text = (v), .news = (n)                                                  \
	}
#define TIME_AT(k, v)                                                                                                  \
	{                                                                                                              \
		.key = (k), .type = SF_TIME, .time_ms = (v)                                                            \
	}
#define STATUS_FIELDS_MAX 56

/* Off once channel events without a Linkedid came, or from the login on
 * when CoreSettings names an Asterisk too old (as --check decides). */
static const char *call_records_state(const struct bridge *b)
{
	int too_old = b->calls.tracker.no_linkedid || asterisk_version_supported(b->state.st.sys.asterisk_version) == 0;
	return too_old ? "off: " ASTERISK_TOO_OLD : "on";
}

static const char *cdr_store_state(const struct cdr_backfill *bf)
{
	return !bf->enabled ? "off" : bf->pending && bf->attempts ? "failing" : "on";
}

/* The document's table: every key, its value, whether it is news. */
/* Seconds the oldest pending record has waited for its ack, 0: none. */
static uint64_t oldest_pending_age_s(const struct outbox *o)
{
	int64_t at = outbox_oldest_pending_ms(o), now = clock_mono_ms();
	return at > 0 && now > at ? (uint64_t)((now - at) / 1000) : 0;
}

static size_t status_fields(const struct bridge *b, const char *state, char *since, struct status_field *out)
{
	const struct call_service *cs = &b->calls;
	const struct call_tracker *t = &cs->tracker;
	const struct delivery *d = &b->delivery;
	const char *slash = strrchr(b->ami.version, '/');
	const struct status_field f[] = {
	    TEXT("state", state, 0),
	    TEXT("ami", b->ami.state == AMI_UP ? "connected" : "disconnected", 0),
	    TEXT("pbx", b->s->pbx_id, 0),
	    TEXT("version", PBXBUS_VERSION, 0),
	    TEXT("ami_version", slash ? slash + 1 : NULL, 0),
	    TEXT("ami_tls", b->s->ami.tls_ca ? "on" : "off", 0),
	    TEXT("since", iso8601_ms(b->started_wall_ms, since), 0),
	    TIME_AT("at", clock_wall_ms()),
	    COUNT("status_interval", b->s->status_interval_ms / 1000, 0),
	    TIME_AT("last_event_at", b->events.last_at_ms),
	    TEXT("ami_error", b->ami.last_error[0] ? b->ami.last_error : NULL, 1),
	    TEXT("ami_rights",
	         b->state.round.rights < 0 ? NULL
	         : b->state.round.rights   ? "ok"
	                                   : "refused",
	         1),
	    COUNT("events_published", b->events.published, 0),
	    COUNT("events_shed", b->events.shed, 1),
	    COUNT("events_filtered", b->events.filtered, 0),
	    COUNT("events_too_big", b->events.too_big, 0),
	    COUNT("ami_logins", b->ami.logins, 1),
	    COUNT("ami_disconnects", b->ami.disconnects, 0),
	    COUNT("ami_bad_input", b->ami.codec_errors, 1),
	    COUNT("calls_active", t->ncalls, 0),
	    COUNT("calls_completed", t->calls_ended, 1),
	    COUNT("calls_partial", t->calls_partial, 0),
	    COUNT("calls_untracked", t->calls_refused, 0),
	    COUNT("calls_times_fixed", t->times_fixed, 0),
	    COUNT("calls_bad_ids", t->bad_linkedids, 0),
	    COUNT("calls_restored", t->calls_restored, 0),
	    COUNT("calls_seen_late", t->calls_seen_late, 0),
	    COUNT("gaps", cs->gaps.count, 0),
	    COUNT("gap_seconds", cs->gaps.seconds, 0),
	    TIME_AT("last_gap_from", cs->gaps.last_from_ms),
	    TIME_AT("last_gap_to", cs->gaps.last_to_ms),
	    TEXT("cdr_store", cdr_store_state(&cs->backfill), 0),
	    COUNT("cdr_calls_recovered", cs->backfill.recovered, 0),
	    COUNT("cdr_calls_completed", cs->backfill.completed, 0),
	    COUNT("journal_write_failures", cs->journal.write_failures, 0),
	    COUNT("endpoints_guessed", t->kinds.guessed, 0),
	    TEXT("call_records", call_records_state(b), 1),
	    COUNT("records_published", d->records_published, 0),
	    COUNT("records_shed", d->records_shed, 0),
	    TEXT("outbox", delivery_outbox_state(d, clock_mono_ms()), 1),
	    COUNT("outbox_pending", d->outbox.pending, 1),
	    COUNT("outbox_oldest_pending_age_s", oldest_pending_age_s(&d->outbox), 0),
	    COUNT("outbox_bytes", d->outbox.size, 0),
	    COUNT("outbox_memory_bytes", d->outbox.mem_bytes, 0),
	    COUNT("outbox_write_failures", d->outbox.write_failures, 1),
	    COUNT("outbox_refused", d->outbox.refused, 1),
	    COUNT("outbox_resent", d->outbox.resent, 0),
	    COUNT("acks_received", d->acks_received, 0),
	    COUNT("mqtt_connects", b->mqtt.connects, 0),
	    COUNT("mqtt_held_messages", b->mqtt.held_msgs, 0),
	    COUNT("mqtt_held_bytes", b->mqtt.held_total_bytes, 0),
	    TEXT("commands", b->s->commands_enabled ? "on" : "off", 0),
	    COUNT("commands_ran", b->commands.ran, 1),
	    COUNT("commands_refused", b->commands.refused, 1),
	};
	_Static_assert(sizeof(f) / sizeof(f[0]) <= STATUS_FIELDS_MAX, "raise STATUS_FIELDS_MAX");
	memcpy(out, f, sizeof(f));
	return sizeof(f) / sizeof(f[0]);
}

const char *bridge_status_json(struct bridge *b, const char *state)
{
	struct status_field f[STATUS_FIELDS_MAX];
	char since[ISO8601_LEN];
	struct jw *w = &b->json;
	size_t n = status_fields(b, state, since, f);

	jw_reset(w);
	jw_obj_begin(w);
	for (size_t i = 0; i < n; i++) {
		jw_keyz(w, f[i].key);
		if (f[i].type == SF_COUNT)
			jw_uint(w, f[i].count);
		else if (f[i].type == SF_TEXT)
			jw_strz(w, f[i].text);
		else
			jw_time_ms(w, f[i].time_ms);
	}
	jw_obj_end(w);
	return jw_finish(w, NULL);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 1099511628211u; /* FNV-1a's prime, a word at a time */
}

/* A digest of the news fields: a change in any of them is seen. */
static uint64_t news_digest(const struct bridge *b)
{
	struct status_field f[STATUS_FIELDS_MAX];
	char since[ISO8601_LEN];
	size_t n = status_fields(b, "online", since, f);
	uint64_t h = 14695981039346656037u;

	for (size_t i = 0; i < n; i++) {
		if (!f[i].news)
			continue;
		h = mix(h, i);
		if (f[i].type == SF_COUNT)
			h = mix(h, f[i].count);
		else if (f[i].type == SF_TEXT && f[i].text)
			for (const char *p = f[i].text; *p; p++)
				h = mix(h, (unsigned char)*p);
		else
			h = mix(h, (uint64_t)f[i].time_ms);
	}
	return h;
}

void status_publisher_news(struct status_publisher *p)
{
	p->dirty = 1;
}

void status_publisher_ami(struct status_publisher *p, int up)
{
	/* Only "connected" changes are news; failed reconnects are not. */
	if (up != p->ami_up)
		p->dirty = 1;
	p->ami_up = up;
}

static void publish(struct bridge *b)
{
	const char *doc = bridge_status_json(b, "online");

	if (doc == NULL)
		return;
	enum mqtt_rc rc =
	    mqtt_link_publish(&b->mqtt, NULL, b->s->will_topic, doc, (int)strlen(doc), b->s->qos_state, 1);
	if (rc != MQTT_OK)
		log_warnx("mqtt: status publish failed: %s", mqtt_rc_str(rc));
}

int64_t bridge_status_tick(struct bridge *b, int64_t now)
{
	struct status_publisher *p = &b->status;

	if (now >= p->next_ms) {
		p->dirty = 1;
		p->next_ms = now + b->s->status_interval_ms;
	}
	if (now - p->sent_ms >= STATUS_MIN_INTERVAL_MS && now - p->checked_ms >= STATUS_CHECK_MS) {
		p->checked_ms = now;
		if (news_digest(b) != p->digest_sent)
			p->dirty = 1;
	}
	/* A frozen broker must not make status messages pile up either. */
	if (p->dirty && b->mqtt.connected &&
	    mqtt_link_has_room(&b->mqtt, (uint64_t)b->s->queue_max_messages, (uint64_t)b->s->queue_max_bytes,
	                       STATUS_ROOM_BYTES)) {
		publish(b);
		p->dirty = 0;
		p->digest_sent = news_digest(b);
		p->sent_ms = now;
	}
	int64_t wait = p->next_ms - now;
	return wait < STATUS_TICK_MS ? wait : STATUS_TICK_MS;
}
