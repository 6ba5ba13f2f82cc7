#include "state_topics.h"

#include <stdio.h>

#include "topic.h"

const struct state_topic_desc state_topics[STATE_TOPICS] = {
    [STATE_EXTENSIONS] = {"extensions", "extension", 1},
    [STATE_TRUNKS] = {"trunks", "trunk", 1},
    [STATE_QUEUES] = {"queues", "queue", 1},
    [STATE_PARKED] = {"parked", "parked", 1},
    [STATE_CALLS] = {"calls", "calls", 0},
    [STATE_SYSTEM] = {"system", "system", 0},
};

int state_topic_join(char *out, size_t outsz, const char *prefix, enum state_topic kind, const char *name)
{
	const char *folder = state_topics[kind < STATE_TOPICS ? kind : 0].folder;
	int n = name ? snprintf(out, outsz, "%s/" TOPIC_STATE "/%s/%s", prefix, folder, name)
	             : snprintf(out, outsz, "%s/" TOPIC_STATE "/%s", prefix, folder);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}
