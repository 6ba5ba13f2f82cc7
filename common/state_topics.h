/*
 * The live state's topics, one row a kind, for both daemons: the bridge
 * publishes them (bridge/state_kinds.c's descriptors point here), the
 * consumer's live store files what it reads by them, and the console shows
 * each kind by its item word.  A new kind of state is one row here, then
 * the bridge's recipe (docs/architecture.md); the consumer needs no edit.
 */
#ifndef PBXBUS_STATE_TOPICS_H
#define PBXBUS_STATE_TOPICS_H

#include <stddef.h>

enum state_topic {
	/* one retained topic an entity: <prefix>/state/<folder>/<name> */
	STATE_EXTENSIONS,
	STATE_TRUNKS,
	STATE_QUEUES,
	STATE_PARKED,
	/* one retained document: <prefix>/state/<folder> */
	STATE_CALLS,
	STATE_SYSTEM,
	STATE_TOPICS
};

struct state_topic_desc {
	const char *folder; /* "extensions": the topic's folder and the snapshot's key */
	const char *item;   /* "extension": what the console calls one of them */
	int per_entity;     /* 1: a topic an entity; 0: one document */
};

extern const struct state_topic_desc state_topics[STATE_TOPICS];

/* "<prefix>/state/<folder>" or, with name (already a safe segment),
 * "<prefix>/state/<folder>/<name>"; -1 if it does not fit. */
int state_topic_join(char *out, size_t outsz, const char *prefix, enum state_topic kind, const char *name);

#endif
