/*
 * The console's second MQTT client: clean session, QoS 0, its own thread
 * and connection, reading <site>/state/# and <site>/calls/{start,answer,
 * hangup,ringing} for every site the consumer subscribes to, into a live_store.
 * With click-to-call on, it also publishes the dial requests
 * (dial_requests.h) and reads their answers (<site>/commands/result/+,
 * QoS 1), and every site's bridge/status for /metrics (bridge_fleet.h).
 * The records session (QoS 1, PUBACK held until COMMIT) never
 * sees it.  It tells the store when the consumer's rows move.
 */
#ifndef PBXBUS_LIVE_FEED_H
#define PBXBUS_LIVE_FEED_H

#include <stdatomic.h>

#include "bridge_fleet.h"
#include "consumer_config.h"
#include "dial_requests.h"
#include "live_store.h"

struct live_feed;

/* NULL with err set.  dials NULL: click-to-call is off.  rows_logged:
 * the consumer's count of rows inserted (live_store_calls_logged). */
struct live_feed *live_feed_start(const struct consumer_settings *s, struct live_store *st, struct dial_requests *dials,
                                  struct bridge_fleet *fleet, const _Atomic uint64_t *rows_logged, char *err,
                                  size_t errsz);
void live_feed_stop(struct live_feed *f);

#endif
