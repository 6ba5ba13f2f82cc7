/*
 * The bridge's live state service: syncing the state model after a login (and
 * every state_resync_interval), feeding it events, and publishing what
 * changed as retained messages under <prefix>/state/ (at most once a
 * second, bounded per round), plus the --snapshot file and --collect.
 * It has its own struct and life cycle; the bridge wires it to the AMI
 * session, the MQTT link and the call tracker it owns.
 */
#ifndef PBXBUS_STATE_SERVICE_H
#define PBXBUS_STATE_SERVICE_H

#include <stdint.h>

#include "ami_client.h"
#include "bridge_config.h"
#include "call_tracker.h"
#include "json_writer.h"
#include "mqtt_link.h"
#include "state_model.h"

/* One round of list actions, over when every answer is in. */
struct sync_round {
	struct state_model *st;
	struct endpoint_kinds *kinds; /* what the lists say endpoints are */
	int outstanding;
	int failed; /* an answer was lost: no verdict on what is gone */
	int active;
	int denied; /* actions of this round answered "Permission denied" */
	/* What the last whole round said of the AMI user's rights: -1 not
	 * known yet, 0 refused (said once, with the fix), 1 enough. */
	int rights;
};

/* What the service works with; the bridge owns each. */
struct state_wiring {
	struct ami_client *ami;           /* its list actions */
	struct mqtt_link *mqtt;           /* the retained state topics */
	const struct call_tracker *calls; /* calls up: state/calls, an extension's call */
	struct endpoint_kinds *kinds;     /* phone or trunk, learnt from the lists too */
};

struct state_service {
	const struct bridge_settings *s;
	struct state_wiring w;
	struct state_model st;
	struct sync_round round;
	int64_t next_resync_ms, next_tick_ms;
	uint64_t snapshot_hash, calls_published;
	struct jw json;
	int64_t started_wall_ms;
};

void state_service_init(struct state_service *ss, const struct bridge_settings *s, const struct state_wiring *w,
                        int64_t started_wall_ms);
void state_service_free(struct state_service *ss);
/* An event, with the time it happened. */
void state_service_event(struct state_service *ss, const struct ami_msg *m, int64_t at_ms);
/* Every list again: after a login (new_session: a round of the lost
 * session never completes), after FullyBooted, and every resync interval. */
void state_service_sync(struct state_service *ss, int new_session);
/* Resyncs when due; once a second, the snapshot file and what changed.
 * Returns ms until it needs to run again. */
int64_t state_service_tick(struct state_service *ss, int64_t now_mono);

/* --collect: log in, sync, print the whole state as JSON; exit status. */
int bridge_collect(struct bridge_settings *s);

#endif
