/*
 * The bridge daemon's core: one AMI session and one MQTT link in a single
 * poll() loop.  AMI events become JSON on <prefix>/events/<Event>; what is
 * held for the broker is bounded, past the bound events are shed (counted)
 * so AMI reading never waits on MQTT.
 */
#ifndef PBXBUS_BRIDGE_H
#define PBXBUS_BRIDGE_H

#include <signal.h>
#include <stdint.h>

#include "ami_client.h"
#include "bridge_config.h"
#include "call_journal.h"
#include "call_tracker.h"
#include "caller_presentation.h"
#include "cdr_backfill.h"
#include "event_filter.h"
#include "json_writer.h"
#include "log.h"
#include "mqtt_link.h"
#include "outbox.h"
#include "outbox_refused.h"
#include "pbx_clock.h"
#include "state_service.h"

struct bridge {
	struct bridge_settings *s;
	struct ami_client ami;
	struct mqtt_link mqtt;
	struct event_filter filter;
	struct call_tracker calls;
	struct caller_presentation presentation;
	struct call_journal journal;
	struct cdr_backfill backfill;
	int64_t journal_sync_ms;
	int64_t alive_ms; /* PBX time the AMI session was last known whole (the journal keeps it) */
	/* gaps in the bridge's view of the PBX: counted, the last one kept */
	uint64_t gaps, gap_seconds;
	int64_t last_gap_from_ms, last_gap_to_ms;
	struct outbox outbox;
	struct pbx_clock clock;
	struct state_service state;
	struct log_ratelimit outbox_log, ack_log;
	struct outbox_refused refused;
	struct glob_list trunk_contexts, trunk_endpoints, phone_endpoints;
	struct jw record_json;
	int64_t next_expire_ms;
	struct jw json;
	uint64_t seq;
	int64_t started_wall_ms;
	int64_t next_status_ms;
	int status_dirty;
	int ami_was_up;
	uint64_t status_digest_sent;
	int64_t status_sent_ms;
	struct log_ratelimit shed_log;
	/* counters, also in bridge/status */
	uint64_t events_published, events_shed, events_filtered, events_too_big;
	uint64_t records_published, records_shed, acks_received;
	int64_t refused_at_ms; /* last record the outbox refused */
};

int bridge_init(struct bridge *b, struct bridge_settings *s, char *err, size_t errsz);
void bridge_free(struct bridge *b);
/* Runs until *stop is set; then publishes "offline" and disconnects. */
void bridge_run(struct bridge *b, volatile sig_atomic_t *stop);

#endif
