/*
 * The bridge's live state service: syncing pbx_state after a login (and
 * every state_resync_interval), feeding it events, and publishing what
 * changed as retained messages under <prefix>/state/ (at most once a
 * second, bounded per round), plus the --snapshot file and --collect.
 */
#ifndef PBXBUS_BRIDGE_STATE_H
#define PBXBUS_BRIDGE_STATE_H

#include <stdint.h>

#include "bridge_config.h"

struct bridge;

void bridge_state_sync(struct bridge *b);
void bridge_state_tick(struct bridge *b, int64_t now_mono);

/* --collect: log in, sync, print the whole state as JSON; exit status. */
int bridge_collect(struct bridge_settings *s);

#endif
