/* consumer.c's batch machine against a fake sink: no broker, no
 * database.  Records are handed in as the MQTT link would, and one round
 * of the loop's batch work is run at a time (consumer_work). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "consumer.h"
#include "consumer_config.h"
#include "unit.h"

struct fake {
	int down;  /* open fails, and send */
	int stall; /* receive never has the answer */
	int sends, receives, writes, drops;
	size_t settled; /* items written as settled, all calls */
	char error[64];
};

/* A parsed record whose payload holds "refuse" is refused (a bad row);
 * otherwise every item is settled, or dead when it was not parsed. */
static enum sink_rc judge(struct fake *f, struct batch_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (items[i].parsed && strstr(items[i].payload, "refuse") != NULL)
			return SINK_BAD_ITEM;
	for (size_t i = 0; i < n; i++) {
		items[i].outcome = items[i].parsed ? ITEM_SETTLED : ITEM_DEAD;
		f->settled += items[i].parsed;
	}
	return SINK_OK;
}

static int fake_open(void *ctx)
{
	struct fake *f = ctx;
	snprintf(f->error, sizeof(f->error), "%s", f->down ? "fake down" : "");
	return f->down ? -1 : 0;
}

static enum sink_rc fake_write(void *ctx, struct batch_item *items, size_t n)
{
	struct fake *f = ctx;
	f->writes++;
	return f->down ? SINK_DOWN : judge(f, items, n);
}

static enum sink_rc fake_send(void *ctx, struct batch_item *items, size_t n, struct sink_batch *b)
{
	struct fake *f = ctx;
	(void)items;
	*b = (struct sink_batch){.taken = n};
	f->sends++;
	return f->down ? SINK_DOWN : SINK_OK;
}

static enum sink_rc fake_receive(void *ctx, struct batch_item *items, size_t n, struct sink_batch *b)
{
	struct fake *f = ctx;
	if (b->taken != n) /* the batch's own state came back with it */
		unit_failures++;
	f->receives++;
	return f->stall ? SINK_BUSY : judge(f, items, n);
}

static void fake_drop(void *ctx, const char *why)
{
	struct fake *f = ctx;
	(void)why;
	f->drops++;
	f->stall = 0;
}

static const char *fake_error(void *ctx)
{
	struct fake *f = ctx;
	return f->error;
}

static unsigned long long fake_reconnects(void *ctx)
{
	(void)ctx;
	return 0;
}

static struct sink fake_sink(struct fake *f, const char *name)
{
	return (struct sink){.name = name,
	                     .ctx = f,
	                     .open = fake_open,
	                     .write = fake_write,
	                     .send = fake_send,
	                     .receive = fake_receive,
	                     .socket = sink_none_socket,
	                     .drop = fake_drop,
	                     .error = fake_error,
	                     .reconnects = fake_reconnects};
}

struct core {
	struct config cfg;
	struct consumer_settings s;
	struct consumer c;
};

static int core_start(struct core *k, const struct sink *sinks, size_t n)
{
	char err[256];

	memset(k, 0, sizeof(*k));
	if (config_init(&k->cfg, consumer_keys, consumer_nkeys) < 0 ||
	    config_set(&k->cfg, "batch_max", "3", 0, err, sizeof(err)) < 0 ||
	    config_set(&k->cfg, "mqtt_keepalive", "5", 0, err, sizeof(err)) < 0 ||
	    consumer_settings_load(&k->s, &k->cfg, err, sizeof(err)) < 0 ||
	    consumer_init(&k->c, &k->s, NULL, sinks, n, err, sizeof(err)) < 0) {
		fprintf(stderr, "  core_start: %s\n", err);
		return -1;
	}
	return 0;
}

static void core_stop(struct core *k)
{
	consumer_free(&k->c);
	consumer_settings_wipe(&k->s);
	config_free(&k->cfg);
}

/* A hangup record of call lab:1795500000.<i>; its external name says how
 * the fake sink takes it ("ok" or "refuse"). */
static void hand_in(struct core *k, int i, const char *how)
{
	char payload[1024];
	int n = snprintf(payload, sizeof(payload),
	                 "{\"v\":1,\"pbx\":\"lab\",\"call_id\":\"lab:1795500000.%d\",\"direction\":\"inbound\","
	                 "\"external_number\":\"15559876543\",\"external_name\":\"%s\",\"extension\":\"100\","
	                 "\"started_at\":\"2026-01-01T00:00:02.532Z\",\"ended_at\":\"2026-01-01T00:00:07.557Z\","
	                 "\"duration_s\":5,\"billsec_s\":3,\"disposition\":\"ANSWERED\"}",
	                 i, how);
	struct mqtt_message m = {.topic = "pbx/calls/hangup", .payload = payload, .len = (size_t)n, .retain = 0};
	consumer_received(&k->c, &m);
}

void test_consumer_batches_go_to_the_sink_and_are_settled(void)
{
	struct fake f = {0};
	struct sink sinks[1] = {fake_sink(&f, "fake")};
	struct core k;

	if (core_start(&k, sinks, 1) < 0) {
		unit_failures++;
		return;
	}
	for (int i = 0; i < 7; i++)
		hand_in(&k, i, "ok");
	hand_in(&k, 99, "ok\\u0000"); /* a dead letter rides in the batch */
	CHECK_EQ_INT(k.c.nbatch, 8);
	for (int round = 0; round < 10 && k.c.nbatch > 0; round++)
		consumer_work(&k.c);
	CHECK_EQ_INT(k.c.nbatch, 0); /* all settled, the PUBACKs let go */
	CHECK_EQ_INT(f.settled, 7);
	CHECK_EQ_INT(f.sends, 3); /* batch_max 3: 3 + 3 + 2 */
	CHECK_EQ_INT(atomic_load(&k.c.m.inserted), 7);
	CHECK_EQ_INT(atomic_load(&k.c.m.dead_letters), 1);
	CHECK_EQ_INT(atomic_load(&k.c.m.pending), 0);
	core_stop(&k);
}

void test_consumer_a_refused_row_becomes_a_dead_letter_the_rest_go_in(void)
{
	struct fake f = {0};
	struct sink sinks[1] = {fake_sink(&f, "fake")};
	struct core k;

	if (core_start(&k, sinks, 1) < 0) {
		unit_failures++;
		return;
	}
	hand_in(&k, 1, "ok");
	hand_in(&k, 2, "refuse");
	hand_in(&k, 3, "ok");
	for (int round = 0; round < 10 && k.c.nbatch > 0; round++)
		consumer_work(&k.c);
	CHECK_EQ_INT(k.c.nbatch, 0);
	CHECK(f.writes >= 3); /* one by one, the refused one twice (then as a dead letter) */
	CHECK_EQ_INT(f.settled, 2);
	CHECK_EQ_INT(atomic_load(&k.c.m.inserted), 2);
	CHECK_EQ_INT(atomic_load(&k.c.m.dead_letters), 1);
	core_stop(&k);
}

void test_consumer_a_sink_down_holds_the_batch_and_no_ack(void)
{
	struct fake db = {0}, copy = {0};
	struct sink sinks[2] = {fake_sink(&db, "db"), fake_sink(&copy, "copy")};
	struct core k;

	if (core_start(&k, sinks, 2) < 0) {
		unit_failures++;
		return;
	}
	copy.down = 1; /* the copy fails: a partial write counts as none */
	hand_in(&k, 1, "ok");
	hand_in(&k, 2, "ok");
	consumer_work(&k.c);
	CHECK_EQ_INT(k.c.nbatch, 2); /* held: nothing settled, nothing acknowledged */
	CHECK_EQ_INT(k.c.sinks_up, 0);
	CHECK_EQ_INT(atomic_load(&k.c.m.sinks[1].up), 0);
	CHECK_EQ_INT(atomic_load(&k.c.m.inserted), 0);
	CHECK_EQ_INT(k.c.batch[0].outcome, ITEM_PENDING);
	copy.down = 0;
	k.c.next_sinks_attempt_ms = 0; /* the back-off over */
	for (int round = 0; round < 10 && k.c.nbatch > 0; round++)
		consumer_work(&k.c);
	CHECK_EQ_INT(k.c.nbatch, 0);
	CHECK_EQ_INT(atomic_load(&k.c.m.sinks[0].up), 1);
	CHECK_EQ_INT(atomic_load(&k.c.m.sinks[1].up), 1);
	CHECK_EQ_INT(atomic_load(&k.c.m.inserted), 2); /* counted once, when all sinks took them */
	core_stop(&k);
}

void test_consumer_a_stalled_sink_is_given_up_at_the_stop(void)
{
	struct fake f = {0};
	struct sink sinks[1] = {fake_sink(&f, "fake")};
	struct core k;
	volatile sig_atomic_t stop = 1;

	if (core_start(&k, sinks, 1) < 0) {
		unit_failures++;
		return;
	}
	f.stall = 1; /* sent, never answered */
	hand_in(&k, 1, "ok");
	consumer_work(&k.c);
	CHECK_EQ_INT(k.c.nout, 1);
	consumer_run(&k.c, &stop); /* commits what it holds: bounded, it gives the batch up */
	CHECK_EQ_INT(f.drops, 1);
	CHECK_EQ_INT(atomic_load(&k.c.m.inserted), 0);
	CHECK_EQ_INT(k.c.nbatch, 1); /* never acknowledged: the broker sends it again */
	core_stop(&k);
}
