/*
 * The bridge daemon's wiring: one AMI session and one MQTT link in a
 * single poll() loop, and the services they feed.  AMI events become JSON
 * on <prefix>/events/<Event> here; what is held for the broker is bounded,
 * past the bound events are shed (counted) so AMI reading never waits on
 * MQTT.  Calls are the call service's (call_service.c), their records
 * delivery's (delivery.c), live state the state service's
 * (state_service.c), bridge/status the status publisher's
 * (bridge_status.c).  Each has its own struct and tick; the loop takes the
 * nearest deadline of them all.
 */
#ifndef PBXBUS_BRIDGE_H
#define PBXBUS_BRIDGE_H

#include <signal.h>
#include <stdint.h>

#include "ami_client.h"
#include "bridge_config.h"
#include "bridge_status.h"
#include "call_service.h"
#include "command_channel.h"
#include "delivery.h"
#include "event_filter.h"
#include "json_writer.h"
#include "log.h"
#include "mqtt_link.h"
#include "state_service.h"

/* What happened to the events read, also in bridge/status. */
struct event_counters {
	uint64_t published, shed, filtered, too_big;
	int64_t last_at_ms; /* the last event's time (epoch ms), 0: none yet */
};

struct bridge {
	struct bridge_settings *s;
	struct ami_client ami;
	struct mqtt_link mqtt;
	struct event_filter filter;
	struct call_service calls;
	struct delivery delivery;
	struct state_service state;
	struct status_publisher status;
	struct command_channel commands;
	struct jw json; /* an event's JSON, or the status document */
	uint64_t seq;   /* the last event's sequence number */
	int64_t started_wall_ms;
	struct log_ratelimit shed_log;
	struct event_counters events;
};

int bridge_init(struct bridge *b, struct bridge_settings *s, char *err, size_t errsz);
void bridge_free(struct bridge *b);
/* Runs until *stop is set; then publishes "offline" and disconnects. */
void bridge_run(struct bridge *b, volatile sig_atomic_t *stop);

#endif
