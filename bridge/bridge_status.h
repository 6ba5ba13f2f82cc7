/*
 * The bridge's status document, <prefix>/bridge/status (retained;
 * docs/topics.md's example gives its keys in order, and a test holds them
 * to it), and its publisher: every status_interval, at once when AMI goes
 * up or down or a module has news, and within STATUS_MIN_INTERVAL_MS when
 * a field marked as news in the document's table changes.
 */
#ifndef PBXBUS_BRIDGE_STATUS_H
#define PBXBUS_BRIDGE_STATUS_H

#include <stdint.h>

struct bridge;

struct status_publisher {
	int64_t next_ms;      /* the next status_interval refresh */
	int64_t sent_ms;      /* when it was last published */
	int64_t checked_ms;   /* when the news fields were last looked at */
	uint64_t digest_sent; /* of the news fields then */
	int dirty;            /* publish at the next tick */
	int ami_up;           /* as last published */
};

/* Publish at the next tick (a module said it has news). */
void status_publisher_news(struct status_publisher *p);
/* The AMI session is up or not: news when it changed. */
void status_publisher_ami(struct status_publisher *p, int up);
/* Publishes when due; returns ms until it needs to run again. */
int64_t bridge_status_tick(struct bridge *b, int64_t now_mono_ms);

/* state: "online"; the document lives in the bridge's JSON writer until
 * the next call. */
const char *bridge_status_json(struct bridge *b, const char *state);

#endif
