#include "live_feed.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "command_wire.h"
#include "log.h"
#include "mqtt_link.h"
#include "topic.h"

#define LIVE_TOPICS_PER_SITE (3 + CALL_PHASES) /* state/#, calls/<phase>, calls/ringing, bridge/status */
#define DIAL_PAYLOAD_MAX     1024              /* a dial request: id, site, extension, number, by */

struct live_feed {
	struct mqtt_link link;
	struct mqtt_opts opts;
	struct live_store *st;
	struct dial_requests *dials;         /* NULL: click-to-call is off */
	struct bridge_fleet *fleet;          /* every site's bridge/status and state/system */
	const _Atomic uint64_t *rows_logged; /* the main loop's rows inserted, told to the store when they move */
	uint64_t rows_told;
	char client_id[208];
	char topics[CONSUMER_MAX_SUBS * LIVE_TOPICS_PER_SITE][TOPIC_MAX];
	size_t ntopics;
	char results[CONSUMER_MAX_SUBS][TOPIC_MAX]; /* <site>/commands/result/+ (click-to-call) */
	size_t nresults;
	int64_t swept_ms;
	pthread_t thread;
	atomic_int stop;
	struct log_ratelimit refused_log;
};

/* From "[$share/<group>/]<site>/calls/hangup": the site's live topics,
 * <site>/state/#, <site>/calls/<phase> for each phase, calls/ringing. */
static int live_topics(struct live_feed *f, const struct consumer_settings *s)
{
	for (size_t i = 0; i < s->nsubs; i++) {
		char site[TOPIC_MAX];
		if (topic_record_prefix(topic_strip_share(s->subs[i]), site, sizeof(site)) < 0)
			return -1;
		if (topic_join(f->topics[f->ntopics++], TOPIC_MAX, site, TOPIC_STATE, "#") < 0)
			return -1;
		for (int k = 0; k < CALL_PHASES; k++)
			if (topic_join(f->topics[f->ntopics++], TOPIC_MAX, site, TOPIC_CALLS, topic_call_phases[k]) < 0)
				return -1;
		if (topic_join(f->topics[f->ntopics++], TOPIC_MAX, site, TOPIC_RINGING, NULL) < 0)
			return -1;
		if (topic_join(f->topics[f->ntopics++], TOPIC_MAX, site, TOPIC_STATUS, NULL) < 0)
			return -1;
		if (f->dials && topic_join(f->results[f->nresults++], TOPIC_MAX, site, TOPIC_COMMAND_RESULTS, "+") < 0)
			return -1;
	}
	return 0;
}

static void on_connect(void *ctx)
{
	struct live_feed *f = ctx;

	for (size_t i = 0; i < f->ntopics; i++) {
		enum mqtt_rc rc = mqtt_link_subscribe(&f->link, f->topics[i], 0);
		if (rc != MQTT_OK)
			log_warnx("live: subscribe %s: %s", f->topics[i], mqtt_rc_str(rc));
	}
	log_info("live: subscribed to the state, calls and bridge status of %zu site(s) (QoS 0)",
	         f->ntopics / LIVE_TOPICS_PER_SITE);
	/* answers to our dial requests: QoS 1, none lost while we are here */
	for (size_t i = 0; i < f->nresults; i++) {
		enum mqtt_rc rc = mqtt_link_subscribe(&f->link, f->results[i], 1);
		if (rc != MQTT_OK)
			log_warnx("live: subscribe %s: %s", f->results[i], mqtt_rc_str(rc));
	}
}

/* An answer to one of our dial requests: into its state and the live
 * picture.  0 taken, -1 not one. */
static int dial_answer(struct live_feed *f, const struct mqtt_message *msg)
{
	char site[TOPIC_MAX], id[COMMAND_ID_MAX + 1], *doc;

	if (f->dials == NULL ||
	    dial_requests_answer(f->dials, msg->topic, msg->payload, msg->len, clock_mono_ms(), &doc, site, id) < 0)
		return -1;
	if (doc != NULL && live_store_dial(f->st, site, id, doc, clock_mono_ms()) < 0)
		log_warnx("live: a dial's answer does not fit the live picture");
	free(doc);
	return 0;
}

static void dial_gone(void *ctx, const char *site, const char *id, const char *doc)
{
	struct live_feed *f = ctx;
	(void)live_store_dial(f->st, site, id, doc, clock_mono_ms());
}

/* Dial requests waiting for the bus go out (QoS 1: the library resends
 * one that was in flight across a reconnect; the bridge runs an id once). */
static void dial_send(struct live_feed *f, int64_t now_ms)
{
	char topic[TOPIC_MAX + 32], payload[DIAL_PAYLOAD_MAX];
	int mid;

	if (f->dials == NULL)
		return;
	dial_requests_woken(f->dials);
	while (f->link.connected &&
	       dial_requests_next(f->dials, now_ms, topic, sizeof(topic), payload, sizeof(payload))) {
		enum mqtt_rc rc = mqtt_link_publish(&f->link, &mid, topic, payload, (int)strlen(payload), 1, 0);
		explicit_bzero(payload, sizeof(payload)); /* a customer's number */
		if (rc != MQTT_OK && rc != MQTT_QUEUED)
			log_warnx("live: a dial request on %s: %s", topic, mqtt_rc_str(rc));
	}
	if (now_ms - f->swept_ms >= 1000) {
		dial_requests_sweep(f->dials, now_ms, dial_gone, f);
		f->swept_ms = now_ms;
	}
}

static void on_message(void *ctx, const struct mqtt_message *msg)
{
	struct live_feed *f = ctx;
	uint64_t held_back;

	if (dial_answer(f, msg) == 0)
		return;
	/* a bridge's status and its PBX's system document: for /metrics */
	int fleet = bridge_fleet_message(f->fleet, msg->topic, msg->payload, msg->len, clock_mono_ms()) == 0;
	if (bridge_fleet_is_status(msg->topic)) {
		if (!fleet && log_ratelimit_ok(&f->refused_log, clock_mono_ms(), &held_back))
			log_warnx(
			    "live: skipped a bridge status on %s (%zu bytes): not a JSON object, over %d bytes, or "
			    "past %d sites; %llu more since the last line",
			    msg->topic, msg->len, FLEET_STATUS_MAX, FLEET_MAX_SITES, (unsigned long long)held_back);
		return;
	}
	if (live_store_message(f->st, msg->topic, msg->payload, msg->len, clock_mono_ms()) < 0 &&
	    log_ratelimit_ok(&f->refused_log, clock_mono_ms(), &held_back))
		log_warnx("live: skipped a message on %s (%zu bytes): not a state or call document, or over a bound; "
		          "%llu more since the last line",
		          msg->topic, msg->len, (unsigned long long)held_back);
}

static void tell_rows_logged(struct live_feed *f)
{
	uint64_t rows = f->rows_logged ? atomic_load(f->rows_logged) : 0;

	if (rows != f->rows_told && live_store_calls_logged(f->st, rows, clock_mono_ms()) == 0)
		f->rows_told = rows;
}

static void *run(void *arg)
{
	struct live_feed *f = arg;

	while (!atomic_load(&f->stop)) {
		int64_t wait = mqtt_link_tick(&f->link, clock_mono_ms());
		struct pollfd pfd[2] = {{.fd = -1},
		                        {.fd = f->dials ? dial_requests_wake_fd(f->dials) : -1, .events = POLLIN}};
		dial_send(f, clock_mono_ms());
		tell_rows_logged(f);
		live_store_sweep(f->st, clock_mono_ms()); /* rings of calls over leave, even when all is quiet */
		mqtt_link_pollfd(&f->link, &pfd[0]);
		if (wait > 250 || wait < 0)
			wait = 250; /* the stop flag is seen within this */
		if (poll(pfd, 2, (int)wait) > 0 && pfd[0].revents)
			mqtt_link_handle(&f->link, pfd[0].revents, clock_mono_ms());
	}
	mqtt_link_disconnect(&f->link);
	return NULL;
}

struct live_feed *live_feed_start(const struct consumer_settings *s, struct live_store *st, struct dial_requests *dials,
                                  struct bridge_fleet *fleet, const _Atomic uint64_t *rows_logged, char *err,
                                  size_t errsz)
{
	struct live_feed *f = calloc(1, sizeof(*f));
	struct mqtt_callbacks cb = {.on_connect = on_connect, .on_message = on_message, .ctx = f};

	if (f == NULL) {
		snprintf(err, errsz, "live: out of memory");
		return NULL;
	}
	f->st = st;
	f->dials = dials;
	f->fleet = fleet;
	f->rows_logged = rows_logged;
	f->rows_told = UINT64_MAX; /* the first tick tells */
	f->refused_log.interval_ms = 10000;
	if (live_topics(f, s) < 0) {
		snprintf(err, errsz, "live: a subscription's topic is too long");
		free(f);
		return NULL;
	}
	snprintf(f->client_id, sizeof(f->client_id), "%s-live", s->consumer_id);
	f->opts = s->mqtt;
	f->opts.client_id = f->client_id;
	f->opts.clean_session = 1;
	f->opts.external = 0;
	f->opts.will_topic = NULL;
	f->opts.will_payload = NULL;
	if (mqtt_link_init(&f->link, &f->opts, &cb) < 0) {
		snprintf(err, errsz, "live: mqtt: %s", f->link.last_error);
		free(f);
		return NULL;
	}
	if (pthread_create(&f->thread, NULL, run, f) != 0) {
		snprintf(err, errsz, "live: cannot start its thread");
		mqtt_link_free(&f->link);
		free(f);
		return NULL;
	}
	return f;
}

void live_feed_stop(struct live_feed *f)
{
	if (f == NULL)
		return;
	atomic_store(&f->stop, 1);
	pthread_join(f->thread, NULL);
	mqtt_link_free(&f->link);
	free(f);
}
