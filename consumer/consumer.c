#include "consumer.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "log.h"
#include "topic.h"

/*
 * While a batch is in the database the consumer reads on, up to this many
 * batches since the PUBACKs were last let go; then it waits for them to be
 * committed, so that the hold ends (see settle) and keepalives get out.
 */
#define READ_AHEAD_BATCHES 4

/* Test-only failpoint: die right after a COMMIT, before any PUBACK is
 * written, to prove that this loses nothing (tests/integration).  Only in
 * build/pbxbus-consumer-test-hooks: pbxbus-consumer has no such hook. */
#ifdef PBXBUS_TEST_HOOKS
static int die_after_commit(void)
{
	const char *v = getenv("PBXBUS_TEST_DIE_AFTER_COMMIT");
	static long count = -1;
	if (v == NULL)
		return 0;
	if (count < 0)
		count = strtol(v, NULL, 10);
	return --count == 0;
}
#else
static int die_after_commit(void)
{
	return 0;
}
#endif

static void free_item(struct batch_item *it)
{
	free(it->topic);
	free(it->payload);
	memset(it, 0, sizeof(*it));
}

/* How many of the batch's first items are on their way to the first sink. */
static size_t items_out(const struct consumer *c)
{
	size_t n = 0;
	for (int i = 0; i < c->nout; i++)
		n += c->out[i].n;
	return n;
}

/* The connection is gone, and with it every PUBACK held: what was read
 * comes again.  Batches on their way to the database stay until their
 * answer (the sink fills in their items); the rest is dropped. */
static void drop_unsent(struct consumer *c)
{
	size_t keep = items_out(c);

	for (size_t i = keep; i < c->nbatch; i++)
		free_item(&c->batch[i]);
	c->nbatch = keep;
	if (c->parsed_upto > keep)
		c->parsed_upto = keep;
	c->held_count = 0;
	atomic_store(&c->m.pending, c->nbatch);
}

/* Call records are never retained (the bridge publishes them without the
 * flag): a retained one would come back at every subscription, a new dead
 * letter or a stale record each time.  It is skipped, said and counted. */
static int skip_retained(struct consumer *c, const struct mqtt_message *msg)
{
	uint64_t held_back;

	if (!msg->retain)
		return 0;
	atomic_fetch_add(&c->m.retained_ignored, 1);
	if (log_ratelimit_ok(&c->retained_log, clock_mono_ms(), &held_back))
		log_warnx("ignored a retained message on %s: call records are never retained (clear it: mosquitto_pub "
		          "-r -n -t '%s'); %llu more since the last line",
		          msg->topic, msg->topic, (unsigned long long)held_back);
	return 1;
}

void consumer_received(struct consumer *c, const struct mqtt_message *msg)
{
	if (skip_retained(c, msg))
		return;

	if (c->nbatch == c->cap) {
		/* The broker sends at most its in-flight window unacknowledged,
		 * so this stays small; grow rather than refuse. */
		size_t ncap = c->cap ? c->cap * 2 : 64;
		struct batch_item *nb = realloc(c->batch, ncap * sizeof(*nb));
		if (nb == NULL) {
			log_crit("out of memory holding a record; it will be delivered again");
			return;
		}
		c->batch = nb;
		c->cap = ncap;
	}
	if (c->nbatch == 0)
		c->held_since_ms = clock_mono_ms();
	c->held_count++;
	struct batch_item *it = &c->batch[c->nbatch];
	memset(it, 0, sizeof(*it));
	/* A payload over the record limit is a dead letter whatever it holds:
	 * keep only its head (and its real length), never a copy of it all. */
	size_t len = msg->len;
	size_t keep = len > RECORD_MAX_BYTES ? DEAD_LETTER_KEEP : len;
	if (keep < len)
		payload_sha256_hex(msg->payload, len, it->sha256);
	it->topic = strdup(msg->topic);
	it->payload = malloc(keep + 1);
	if (it->topic == NULL || it->payload == NULL) {
		free_item(it);
		log_crit("out of memory holding a record; it will be delivered again");
		return;
	}
	memcpy(it->payload, msg->payload, keep);
	it->payload[keep] = '\0';
	it->len = len;
	c->nbatch++;
	atomic_fetch_add(&c->m.received, 1);
	atomic_store(&c->m.pending, c->nbatch);
	mqtt_link_hold(&c->mqtt, 1); /* no PUBACK before the COMMIT */
}

static void on_message(void *ctx, const struct mqtt_message *msg)
{
	consumer_received(ctx, msg);
}

static void on_connect(void *ctx)
{
	struct consumer *c = ctx;

	atomic_store(&c->m.mqtt_up, 1);
	for (size_t i = 0; i < c->s->nsubs; i++) {
		enum mqtt_rc rc = mqtt_link_subscribe(&c->mqtt, c->s->subs[i], 1);
		if (rc != MQTT_OK)
			log_warnx("mqtt: subscribe %s: %s", c->s->subs[i], mqtt_rc_str(rc));
		else
			log_info("mqtt: subscribed to %s (QoS 1)", c->s->subs[i]);
	}
}

static void on_disconnect(void *ctx, int rc)
{
	struct consumer *c = ctx;
	(void)rc;
	atomic_store(&c->m.mqtt_up, 0);
	/* Nothing of this batch was acknowledged: the broker delivers it again. */
	drop_unsent(c);
	mqtt_link_hold(&c->mqtt, 0);
}

/*
 * Trust between PBXs: under a subscription with a site level
 * ("pbx/+/calls/hangup"), a record must be its site's own: its pbx and the
 * prefix of its call_id equal to the topic's site.  The shipped ACL lets
 * each PBX's MQTT user (its pbx_id) write only under pbx/<its id>/, so one
 * PBX cannot take another's call ids.  A record that claims another site's
 * is a dead letter and never acknowledged.  A single PBX (no '+') is
 * checked against pbx_id when one is set (it must be beside a site-level
 * subscription: audit-3 N13).
 */
static int foreign_record(const struct consumer *c, struct batch_item *it)
{
	char site[TOPIC_SEGMENT_MAX + 1];

	for (size_t i = 0; i < c->s->nsubs; i++) {
		int rc = topic_site(topic_strip_share(c->s->subs[i]), it->topic, site, sizeof(site));
		if (rc < 0)
			continue;
		if (rc == 0 && c->s->single_pbx_id[0] == '\0')
			return 0; /* no site level: a single PBX, alone */
		if (rc == 0)
			snprintf(site, sizeof(site), "%s", c->s->single_pbx_id);
		size_t sl = strlen(site);
		if (strcmp(it->row.pbx, site) == 0 && strncmp(it->row.call_id, site, sl) == 0 &&
		    it->row.call_id[sl] == ':')
			return 0;
		snprintf(it->error, sizeof(it->error),
		         "the record's pbx or call_id is not of site '%s' whose topic it came on: refused, not "
		         "acknowledged",
		         site);
		return 1;
	}
	return 0;
}

/* A valid record past its site's rate waits: not written (no sink sees a
 * dl_dropped item), not acknowledged (its bridge sends it again). */
static int over_site_rate(struct consumer *c, struct batch_item *it)
{
	char site[TOPIC_MAX];

	if (topic_record_prefix(it->topic, site, sizeof(site)) < 0 || site_rate_take(&c->sites, site, clock_mono_ms()))
		return 0;
	it->deferred = 1;
	it->dl_dropped = 1;
	it->no_ack = 1;
	return 1;
}

/* The items not judged yet (parsed_upto on): the main loop calls this on
 * every round while the database works, so it does not walk the batch. */
static void parse_batch(struct consumer *c)
{
	for (size_t i = c->parsed_upto; i < c->nbatch; i++) {
		struct batch_item *it = &c->batch[i];
		if (it->parsed || it->error[0])
			continue;
		int rc = record_parse(it->payload, it->len, &c->s->plan, &it->row, it->error, sizeof(it->error));
		if (rc == 0 && foreign_record(c, it)) {
			it->no_ack = 1;
			atomic_fetch_add(&c->m.foreign, 1);
		} else if (rc == 0 && over_site_rate(c, it)) {
			continue;
		} else if (rc == 0) {
			it->parsed = 1;
			continue;
		}
		dead_letter(&c->dead, it, rc, clock_mono_ms());
	}
	c->parsed_upto = c->nbatch;
}

/* The next insert statement keeps at most this many id collisions as dead
 * letters: they go by the dead-letter rate like any other. */
static void allow_collision_letters(struct consumer *c)
{
	if (c->db)
		c->db->collisions_kept_max = dead_letters_allowance(&c->dead, clock_mono_ms());
}

/* The id of a record, even of a bad one when it names one: a dead letter
 * is settled too, and the bridge may retire it.  (A row the database
 * refused is no longer "parsed" but keeps its id.) */
static const char *settled_id(const struct batch_item *it)
{
	/* Never acknowledged: another site's record, and a collision (the id is
	 * another call's: acking would retire a record the CRM does not hold). */
	if (it->no_ack || it->collision)
		return NULL;
	return record_call_id_ok(it->row.call_id) ? it->row.call_id : NULL;
}

static void publish_acks(struct consumer *c, size_t from, size_t to)
{
	char prefix[TOPIC_MAX], topic[TOPIC_MAX], seg[TOPIC_SEGMENT_MAX + 1];
	struct jw *w = &c->ack_json;

	for (size_t i = from; i < to; i++) {
		const struct batch_item *first = &c->batch[i];
		if (first->outcome == ITEM_PENDING || settled_id(first) == NULL ||
		    topic_record_prefix(first->topic, prefix, sizeof(prefix)) < 0)
			continue;
		/* One ack message per topic prefix: gather this prefix's ids. */
		int seen_before = 0;
		for (size_t j = from; j < i && !seen_before; j++) {
			char p2[TOPIC_MAX];
			seen_before = c->batch[j].outcome != ITEM_PENDING && settled_id(&c->batch[j]) &&
			              topic_record_prefix(c->batch[j].topic, p2, sizeof(p2)) == 0 &&
			              strcmp(p2, prefix) == 0;
		}
		if (seen_before)
			continue;
		jw_reset(w);
		jw_obj_begin(w);
		jw_keyz(w, "consumer");
		jw_strz(w, c->s->consumer_id);
		jw_keyz(w, "ids");
		jw_arr_begin(w);
		for (size_t j = i; j < to; j++) {
			char p2[TOPIC_MAX];
			const struct batch_item *it = &c->batch[j];
			if (it->outcome != ITEM_PENDING && settled_id(it) &&
			    topic_record_prefix(it->topic, p2, sizeof(p2)) == 0 && strcmp(p2, prefix) == 0)
				jw_strz(w, settled_id(it));
		}
		jw_arr_end(w);
		jw_obj_end(w);
		size_t len;
		const char *doc = jw_finish(w, &len);
		topic_segment(seg, sizeof(seg), c->s->consumer_id, strlen(c->s->consumer_id));
		if (doc && topic_join(topic, sizeof(topic), prefix, TOPIC_ACKS, seg) == 0 &&
		    mqtt_link_publish(&c->mqtt, NULL, topic, doc, (int)len, 1, 0) == MQTT_OK)
			atomic_fetch_add(&c->m.acks_published, 1);
	}
}

static void count_outcome(struct consumer *c, const struct batch_item *it)
{
	uint64_t held_back;

	if (it->outcome == ITEM_SETTLED) {
		atomic_fetch_add(it->duplicate ? &c->m.duplicates : &c->m.inserted, 1);
		if (!it->duplicate && it->parsed)
			consumer_metrics_count_call(&c->m, it->row.direction, it->row.disposition);
	} else if (it->outcome == ITEM_DEAD && it->collision) {
		atomic_fetch_add(&c->m.collisions, 1);
		if (!it->collision_counted) {
			atomic_fetch_add(&c->m.dead_letters, 1);
			atomic_fetch_add(&c->m.dead_by_reason[DEAD_ID_COLLISION], 1);
		}
		dead_letter_settled(&c->dead, it);
		if (log_ratelimit_ok(&c->collision_log, clock_mono_ms(), &held_back))
			log_warnx("record %s: id collision with a different call, %s and not acknowledged (%llu more "
			          "since the last line)",
			          it->row.call_id,
			          it->collision_counted ? "counted (over the dead-letter rate)"
			                                : "kept as a dead letter",
			          (unsigned long long)held_back);
	} else if (it->outcome == ITEM_DEAD && it->deferred) {
		atomic_fetch_add(&c->m.deferred, 1);
	} else if (it->outcome == ITEM_DEAD) {
		if (!it->dl_dropped) {
			atomic_fetch_add(&c->m.dead_letters, 1);
			atomic_fetch_add(&c->m.dead_by_reason[it->bad_times ? DEAD_BAD_TIMES : DEAD_INVALID], 1);
		}
		dead_letter_settled(&c->dead, it);
	}
}

/* The first n items were committed: count them. */
static void count_outcomes(struct consumer *c, size_t n, int64_t now_wall)
{
	for (size_t i = 0; i < n; i++) {
		const struct batch_item *it = &c->batch[i];
		count_outcome(c, it);
		if (it->parsed && strcmp(it->match, "ambiguous") == 0)
			log_info("record %s: its number matches several customers; logged without one",
			         it->row.call_id);
		if (it->parsed && it->outcome == ITEM_SETTLED && !it->duplicate)
			consumer_metrics_count_lag(&c->m, now_wall - it->row.ended_ms);
		if (it->parsed)
			atomic_store(&c->m.last_lag_ms, now_wall - it->row.ended_ms);
	}
}

/* The first sink: the database, which decides the outcomes. */
#define PRIMARY(c) (&(c)->sinks[0])

static struct sink_gauges *gauges_of(struct consumer *c, const struct sink *k)
{
	return &c->m.sinks[k - c->sinks];
}

static void sink_down(struct consumer *c, const struct sink *k)
{
	atomic_store(&gauges_of(c, k)->up, 0);
	c->sinks_up = 0;
	if (c->sinks_down_since_ms == 0)
		c->sinks_down_since_ms = clock_mono_ms();
	int64_t delay = backoff_next(&c->sinks_backoff);
	c->next_sinks_attempt_ms = clock_mono_ms() + delay;
	log_warnx("%s: %s; records wait in the broker; retry in %lld ms", k->name, k->error(k->ctx), (long long)delay);
}

static int ensure_sinks(struct consumer *c)
{
	int was_up = c->sinks_up;

	if (!was_up && clock_mono_ms() < c->next_sinks_attempt_ms)
		return -1;
	for (size_t i = 0; i < c->nsinks; i++) {
		struct sink *k = &c->sinks[i];
		if (k->open(k->ctx) < 0) {
			sink_down(c, k);
			return -1;
		}
	}
	if (!was_up) {
		backoff_reset(&c->sinks_backoff);
		c->sinks_up = 1;
		c->sinks_down_since_ms = 0;
		for (size_t i = 0; i < c->nsinks; i++)
			log_info("%s: connected", c->sinks[i].name);
	}
	for (size_t i = 0; i < c->nsinks; i++) {
		atomic_store(&c->m.sinks[i].up, 1);
		atomic_store(&c->m.sinks[i].reconnects, c->sinks[i].reconnects(c->sinks[i].ctx));
	}
	return 0;
}

/* An item the first sink refused: try each of the first n alone, the
 * bad ones as dead letters. */
static enum sink_rc write_one_by_one(struct consumer *c, size_t n)
{
	const struct sink *k = PRIMARY(c);

	for (size_t i = 0; i < n; i++) {
		struct batch_item *it = &c->batch[i];
		it->outcome = ITEM_PENDING;
		allow_collision_letters(c);
		enum sink_rc rc = k->write(k->ctx, it, 1);
		if (rc == SINK_BAD_ITEM) {
			it->parsed = 0;
			if (it->error[0] == '\0')
				snprintf(it->error, sizeof(it->error), "refused by the %s", k->name);
			dead_letter(&c->dead, it, -1, clock_mono_ms());
			rc = k->write(k->ctx, it, 1);
		}
		if (rc != SINK_OK)
			return rc;
	}
	return SINK_OK;
}

/* The copies (sinks after the first) get the first n items once the first
 * settled them.  The sink that failed, or NULL. */
static const struct sink *write_copies(struct consumer *c, size_t n)
{
	for (size_t i = 1; i < c->nsinks; i++) {
		const struct sink *k = &c->sinks[i];
		if (k->write(k->ctx, c->batch, n) != SINK_OK)
			return k;
	}
	return NULL;
}

/* The longest the main loop waits on a sink in one go: half the MQTT
 * keepalive, as long as a held batch may wait before going offline. */
static int64_t wait_bound_ms(const struct consumer *c)
{
	return (int64_t)c->s->mqtt.keepalive * 1000 / 2;
}

/* Waits up to a second for the first sink's answer to move on. */
static void await_primary(struct consumer *c)
{
	struct pollfd p = {PRIMARY(c)->socket(PRIMARY(c)->ctx), POLLIN, 0};
	if (p.fd < 0)
		(void)poll(NULL, 0, 10); /* nothing to wait on: a short pause, not a spin */
	else if (poll(&p, 1, 1000) < 0 && errno != EINTR)
		log_warn("poll");
}

/* The answers to every batch still out, waited for, but no longer than
 * half a keepalive (the MQTT link waits meanwhile): the database's
 * connection is then free for one-by-one writes, or clean after a failure
 * (a batch it refused to us is no longer in its pipeline).  Past the bound
 * the sink gives them up (SINK_DOWN: they come again). */
static void wait_for_all_out(struct consumer *c)
{
	const struct sink *k = PRIMARY(c);
	int64_t deadline = clock_mono_ms() + wait_bound_ms(c);
	size_t at = 0;

	for (int i = 0; i < c->nout; at += c->out[i].n, i++) {
		struct batch_out *o = &c->out[i];
		while (!o->done && clock_mono_ms() < deadline) {
			o->rc = k->receive(k->ctx, c->batch + at, o->n, &o->sb);
			o->done = o->rc != SINK_BUSY;
			if (!o->done)
				await_primary(c);
		}
	}
	if (c->nout > 0 && !c->out[c->nout - 1].done) {
		k->drop(k->ctx, "no answer within half the MQTT keepalive");
		for (int i = 0; i < c->nout; i++)
			c->out[i] =
			    (struct batch_out){.n = c->out[i].n, .done = 1, .rc = SINK_DOWN, .sb = c->out[i].sb};
	}
}

/* The main loop waits on the database from since_ms (0: no longer);
 * /healthz names the database when that lasts (audit-3 N15). */
static void db_waiting(struct consumer *c, int64_t since_ms)
{
	atomic_store(&c->m.db_wait_since_ms, since_ms);
}

/* Nothing read and not yet settled counts: it is written again once the
 * sink is back. */
static void batch_failed(struct consumer *c, const struct sink *k)
{
	wait_for_all_out(c);
	for (size_t i = 0; i < c->nbatch; i++)
		c->batch[i].outcome = ITEM_PENDING;
	c->nout = 0;
	db_waiting(c, 0);
	sink_down(c, k);
}

/*
 * The first n items are in every sink: count them, queue their end-to-end
 * acks, and let the PUBACKs go once nothing read is left uncommitted.
 * libmosquitto writes every PUBACK it has queued at once, those of records
 * read while this batch was in the database too, so the hold ends only
 * when the batch is empty (reading pauses at READ_AHEAD_BATCHES for that).
 */
static void settle(struct consumer *c, size_t n)
{
	if (die_after_commit()) {
		log_crit("test failpoint: exiting after COMMIT, before the acknowledgements");
		_exit(3);
	}
	size_t all = c->nbatch;
	count_outcomes(c, n, clock_wall_ms());
	publish_acks(c, 0, n);
	for (size_t i = 0; i < n; i++)
		free_item(&c->batch[i]);
	memmove(c->batch, c->batch + n, (all - n) * sizeof(*c->batch));
	c->nbatch = all - n;
	c->parsed_upto = c->parsed_upto > n ? c->parsed_upto - n : 0;
	atomic_store(&c->m.pending, c->nbatch);
	if (c->nbatch == 0) {
		c->held_count = 0;
		mqtt_link_hold(&c->mqtt, 0);
	}
}

/*
 * Puts the next batch_max items on their way to the first sink while the
 * main loop reads on.  A second batch goes while the first is out, so the
 * database never waits for us, but only a full one: a small one would pay
 * a commit for little, and the first's answer comes soon enough.
 */
static void start_batch(struct consumer *c)
{
	size_t most = (size_t)c->s->batch_max;
	const struct sink *k = PRIMARY(c);

	while (c->nout < SINK_BATCHES_OUT) {
		size_t from = items_out(c), waiting = c->nbatch - from;
		if (waiting == 0 || (c->nout > 0 && waiting < most))
			return;
		if (c->nout == 0 && ensure_sinks(c) < 0)
			return;
		parse_batch(c);
		allow_collision_letters(c);
		size_t n = waiting < most ? waiting : most;
		if (c->nout == 0) /* the send itself may wait (a first one prepares its statements) */
			db_waiting(c, clock_mono_ms());
		struct batch_out *o = &c->out[c->nout];
		*o = (struct batch_out){.n = n, .sent_ms = clock_mono_ms()};
		if (k->send(k->ctx, c->batch + from, n, &o->sb) != SINK_OK) {
			batch_failed(c, k);
			return;
		}
		c->nout++;
		db_waiting(c, c->out[0].sent_ms);
	}
}

/* The oldest batch out, once its answer is in: the copies are written and
 * it is settled; then the next. */
static void finish_batch(struct consumer *c)
{
	const struct sink *k = PRIMARY(c);

	while (c->nout > 0) {
		struct batch_out *o = &c->out[0];
		if (!o->done) {
			o->rc = k->receive(k->ctx, c->batch, o->n, &o->sb);
			if (o->rc == SINK_BUSY)
				return;
			o->done = 1;
			log_debug("%s: batch of %zu written in %lld ms (rc %d)", k->name, o->n,
			          (long long)(clock_mono_ms() - o->sent_ms), o->rc);
		}
		enum sink_rc rc = (enum sink_rc)o->rc;
		if (rc == SINK_BAD_ITEM) {
			wait_for_all_out(c); /* the connection to itself, for one statement at a time */
			rc = write_one_by_one(c, o->n);
		}
		const struct sink *failed = rc != SINK_OK ? k : write_copies(c, o->n);
		if (failed) {
			batch_failed(c, failed);
			return;
		}
		size_t n = o->n;
		c->nout--;
		memmove(&c->out[0], &c->out[1], (size_t)c->nout * sizeof(c->out[0]));
		db_waiting(c, c->nout > 0 ? c->out[0].sent_ms : 0);
		settle(c, n);
	}
}

/* Everything read, written before this returns (or the sinks are down, or
 * the first sink did not answer in time: what it had is given up). */
static void commit_all(struct consumer *c)
{
	int64_t deadline = clock_mono_ms() + wait_bound_ms(c);

	do {
		start_batch(c);
		while (c->nout > 0 && clock_mono_ms() < deadline) {
			await_primary(c);
			finish_batch(c);
		}
		if (c->nout > 0) {
			PRIMARY(c)->drop(PRIMARY(c)->ctx, "no answer before the stop");
			batch_failed(c, PRIMARY(c));
			return;
		}
	} while (c->nbatch > 0 && c->sinks_up);
}

int consumer_init(struct consumer *c, struct consumer_settings *s, struct db *db, const struct sink *sinks,
                  size_t nsinks, char *err, size_t errsz)
{
	struct mqtt_callbacks cb = {
	    .on_connect = on_connect, .on_disconnect = on_disconnect, .on_message = on_message, .ctx = c};

	memset(c, 0, sizeof(*c));
	c->s = s;
	c->db = db;
	c->retained_log.interval_ms = 10000;
	c->collision_log.interval_ms = 1000;
	if (nsinks == 0 || nsinks > CONSUMER_MAX_SINKS) {
		snprintf(err, errsz, "1 to %d sinks", CONSUMER_MAX_SINKS);
		return -1;
	}
	dead_letters_init(&c->dead, &c->m.dead_letters_dropped, &c->m.bad_times, clock_mono_ms());
	if (site_rate_init(&c->sites, s->site_record_rate, s->site_record_burst) < 0) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	jw_init(&c->ack_json, 1 << 20);
	backoff_init(&c->sinks_backoff, 500, s->mqtt.reconnect_max_ms, (uint32_t)clock_wall_ms());
	if (db)
		db->wait_max_ms = (int)wait_bound_ms(c);
	memcpy(c->sinks, sinks, nsinks * sizeof(*sinks));
	c->nsinks = nsinks;
	for (size_t i = 0; i < nsinks; i++)
		c->m.sinks[i].name = sinks[i].name;
	c->m.nsinks = nsinks;
	c->sinks_up = 1; /* main waits for the database; a sink failing later is retried with back-off */
	if (mqtt_link_init(&c->mqtt, &s->mqtt, &cb) < 0) {
		snprintf(err, errsz, "mqtt: %s", c->mqtt.last_error);
		return -1;
	}
	/* A batch starts as soon as one is read, not after a round of 2000. */
	mqtt_link_read_round(&c->mqtt, s->batch_max);
	return 0;
}

void consumer_free(struct consumer *c)
{
	for (size_t i = 0; i < c->nbatch; i++)
		free_item(&c->batch[i]);
	free(c->batch);
	mqtt_link_free(&c->mqtt);
	site_rate_free(&c->sites);
	jw_free(&c->ack_json);
}

#define PURGE_INTERVAL_MS (6LL * 3600 * 1000)
#define TRIM_INTERVAL_MS  (10LL * 1000) /* the dead letters' bound is checked so often, when any came */
#define STEP_AGAIN_MS     1000          /* a step was full: the next one soon */
#define BLOCKED_AGAIN_MS  (60LL * 1000) /* a lock (or the database) was in the way */

/* When housekeeping runs next: soon when it had more to do than a step. */
static int64_t next_step(int64_t now, long long done, int more, int64_t interval)
{
	return now + (done < 0 ? BLOCKED_AGAIN_MS : more ? STEP_AGAIN_MS : interval);
}

static void trim_dead_letters(struct consumer *c, int64_t now)
{
	uint64_t stored = atomic_load(&c->m.dead_letters);
	int more = 0;

	if (now < c->next_trim_ms || stored == c->dead_letters_at_trim)
		return;
	db_waiting(c, now);
	long long n = db_trim_dead_letters(c->db, c->s->dead_letters_max_bytes, &more);
	db_waiting(c, 0);
	c->next_trim_ms = next_step(now, n, more, TRIM_INTERVAL_MS);
	if (n < 0) {
		log_warnx("db: dead letters not trimmed, tried again in a minute: %s", c->db->last_error);
		return;
	}
	if (!more)
		c->dead_letters_at_trim = stored;
	if (n > 0) {
		atomic_fetch_add(&c->m.dead_letters_trimmed, (uint64_t)n);
		log_warnx("db: deleted the %lld oldest dead letter(s): they held over dead_letters_max_mb %lld", n,
		          c->s->dead_letters_max_bytes >> 20);
	}
}

static void purge_old(struct consumer *c, int64_t now)
{
	int more = 0;

	if (now < c->next_purge_ms)
		return;
	db_waiting(c, now);
	long long n = db_purge(c->db, c->s->retention_days, &more);
	db_waiting(c, 0);
	c->next_purge_ms = next_step(now, n, more, PURGE_INTERVAL_MS);
	if (n < 0)
		log_warnx("db: purge postponed a minute: %s", c->db->last_error);
	else if (n > 0)
		log_info("db: purged the raw record or dead letter of %lld row(s) older than %d days", n,
		         c->s->retention_days);
}

/* Housekeeping between batches, each step a bounded statement. */
static void purge_tick(struct consumer *c, int64_t now)
{
	if (c->db == NULL || c->nbatch > 0 || !db_connected(c->db))
		return;
	purge_old(c, now);
	if (db_connected(c->db))
		trim_dead_letters(c, now);
}

/*
 * While the sinks are down a batch waits with its PUBACKs held, and then
 * nothing at all can be written on the MQTT connection, not even a
 * PINGREQ: past one and a half keepalives the broker cuts it, and again
 * after every reconnect (a "lost connection" each time, for as long as the
 * database is away).  Half a keepalive into such a hold the consumer goes
 * offline instead; the records wait in the broker, which delivers them
 * again once the sinks are back and the consumer with them.
 */
static void follow_sinks(struct consumer *c, int64_t now)
{
	if (c->offline) {
		if (c->sinks_up || ensure_sinks(c) == 0) {
			log_info("mqtt: the sinks are back: connecting again");
			c->offline = 0;
			mqtt_link_go_online(&c->mqtt);
		}
		return;
	}
	int64_t limit = (int64_t)c->s->mqtt.keepalive * 1000 / 2;
	if (!c->sinks_up && c->nbatch > 0 && now - c->held_since_ms >= limit) {
		log_warnx("mqtt: %zu record(s) held %lld s while the sinks are down: offline until they are back "
		          "(the records wait in the broker and come again)",
		          c->nbatch, (long long)((now - c->held_since_ms) / 1000));
		c->offline = 1;
		mqtt_link_go_offline(&c->mqtt); /* on_disconnect drops the batch */
	}
}

void consumer_work(struct consumer *c)
{
	if (c->nout > 0)
		parse_batch(c); /* what came meanwhile, while the database works */
	finish_batch(c);
	start_batch(c);
}

void consumer_run(struct consumer *c, volatile sig_atomic_t *stop)
{
	size_t read_ahead = READ_AHEAD_BATCHES * (size_t)c->s->batch_max;

	while (!*stop) {
		int64_t now = clock_mono_ms();
		purge_tick(c, now);
		follow_sinks(c, now);
		int64_t wait = mqtt_link_tick(&c->mqtt, now);
		if ((c->nbatch > 0 || c->offline) && !c->sinks_up) { /* wake for the next try */
			int64_t until = c->next_sinks_attempt_ms - now;
			if (until < wait)
				wait = until < 0 ? 0 : until;
		}
		struct pollfd pfd[2];
		mqtt_link_pollfd(&c->mqtt, &pfd[0]);
		if (c->held_count >= read_ahead)
			pfd[0].events &= (short)~POLLIN; /* until the held ones are committed */
		pfd[1] = (struct pollfd){c->nout > 0 ? PRIMARY(c)->socket(PRIMARY(c)->ctx) : -1, POLLIN, 0};
		int n = poll(pfd, 2, (int)(wait < 0 ? 0 : wait));
		if (n < 0 && errno != EINTR)
			log_warn("poll");
		if (n > 0 && pfd[0].revents)
			mqtt_link_handle(&c->mqtt, pfd[0].revents, clock_mono_ms());
		consumer_work(c);
	}
	log_info("shutting down");
	commit_all(c);
	/* Uncommitted records must not be acknowledged by a clean DISCONNECT:
	 * without one the broker simply delivers them again. */
	if (c->nbatch == 0 && !c->offline) {
		mqtt_link_flush(&c->mqtt, 2000);
		mqtt_link_disconnect(&c->mqtt);
	}
}
