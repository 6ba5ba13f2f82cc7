/*
 * Delivery of call records: a record in, the durable outbox, the publish
 * on <prefix>/calls/<phase>, the consumers' acks on <prefix>/acks/+ that
 * retire it, and what could not be kept (outbox_refused).  calls/hangup is
 * the record the CRM logs: it goes to the outbox and is published from
 * there once synced, sent again until acknowledged; calls/start and
 * calls/answer are for live displays and are shed like events, as is
 * calls/ringing (a phone rings: the screen pop).
 */
#ifndef PBXBUS_DELIVERY_H
#define PBXBUS_DELIVERY_H

#include <stdint.h>

#include "bridge_config.h"
#include "call_journal.h"
#include "call_tracker.h"
#include "json_writer.h"
#include "log.h"
#include "mqtt_link.h"
#include "outbox.h"
#include "outbox_refused.h"

struct delivery {
	const struct bridge_settings *s;
	struct mqtt_link *mqtt;
	struct call_journal *journal; /* told when emitted records are on disk */
	struct outbox outbox;
	struct outbox_refused refused;
	char topic[CALL_PHASES][TOPIC_MAX]; /* <prefix>/calls/<phase> */
	char ringing_topic[TOPIC_MAX];      /* <prefix>/calls/ringing */
	struct jw json;
	struct log_ratelimit outbox_log, ack_log;
	int64_t refused_at_ms;                                   /* last record the outbox refused (monotonic) */
	int news;                                                /* something bridge/status shows changed */
	uint64_t records_published, records_shed, acks_received; /* ringing records count as records */
};

int delivery_open(struct delivery *d, const struct bridge_settings *s, struct mqtt_link *mqtt,
                  struct call_journal *journal, char *err, size_t errsz);
void delivery_close(struct delivery *d);

/* A call record from the tracker (its call_record_cb). */
void delivery_record(struct delivery *d, enum call_phase phase, const struct call *c);
/* A phone starts or stops ringing (the tracker's call_ring_cb): for live
 * displays, shed like calls/start when the broker is away or the queue full. */
void delivery_ring(struct delivery *d, const struct call *c, const struct ct_ring *r, int64_t now_ms);
/* A new broker session: subscribe to the acks, send what is outstanding. */
void delivery_connected(struct delivery *d);
/* A message on the acks subscription. */
void delivery_ack(struct delivery *d, const struct mqtt_message *msg);
/* Once a loop round: this round's records made durable, then what is due
 * sent.  Returns ms until it needs to run again. */
int64_t delivery_tick(struct delivery *d, int64_t now_wall_ms);
/* At a clean stop: the refused ids listed, whatever the rate. */
void delivery_stop(struct delivery *d);
/* 1 (once) when what bridge/status says of delivery changed. */
int delivery_news(struct delivery *d);
/* "ok", "high" or "full", as bridge/status says it. */
const char *delivery_outbox_state(const struct delivery *d, int64_t now_mono_ms);

#endif
