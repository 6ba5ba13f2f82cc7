/*
 * Every site's bridge as its retained <site>/bridge/status says (and its
 * Asterisk version, from <site>/state/system), for the consumer's
 * /metrics: pbxbus_bridge_* per site, labelled by the site (its topic
 * prefix) and nothing finer (docs/monitoring.md).  Written by the live
 * feed's thread, read by the HTTP threads.  Bounded: FLEET_MAX_SITES.
 */
#ifndef PBXBUS_BRIDGE_FLEET_H
#define PBXBUS_BRIDGE_FLEET_H

#include <stddef.h>
#include <stdint.h>

#define FLEET_MAX_SITES      2048
#define FLEET_STATUS_MAX     (16 * 1024) /* bytes of one status document */
#define FLEET_STALE_INTERVAL 2           /* up is 0 once the document is this many status intervals old */

struct bridge_fleet;

struct bridge_fleet *bridge_fleet_new(void);
void bridge_fleet_free(struct bridge_fleet *f);

/* A message on <site>/bridge/status or <site>/state/system, or -1 when
 * the topic is neither (or the document is not one, or no place is left). */
int bridge_fleet_message(struct bridge_fleet *f, const char *topic, const char *payload, size_t len,
                         int64_t now_mono_ms);
/* 1 if topic is a bridge's status (not for the live picture). */
int bridge_fleet_is_status(const char *topic);

/* A growing text (the /metrics answer). */
struct fleet_text {
	char *s;
	size_t len, cap;
	int failed; /* out of memory: the text is cut */
};
void fleet_text_printf(struct fleet_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Every site's series, in Prometheus's text format, appended to t. */
void bridge_fleet_metrics(struct bridge_fleet *f, struct fleet_text *t, int64_t now_mono_ms, int64_t now_wall_ms);

#endif
