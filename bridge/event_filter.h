/*
 * Which AMI events are published on <prefix>/events/: allow and deny glob
 * lists, deny wins.  Decisions are cached per event name, since a PBX only
 * has a few hundred event names and this runs per event.
 */
#ifndef PBXBUS_EVENT_FILTER_H
#define PBXBUS_EVENT_FILTER_H

#include <stddef.h>

#include "globs.h"

#define EVENT_FILTER_CACHE 512

struct event_filter {
	struct glob_list allow, deny;
	struct {
		char name[48];
		unsigned char len, allowed, used;
	} cache[EVENT_FILTER_CACHE];
};

/* allow/deny: space- or comma-separated globs.  -1 if too many. */
int event_filter_init(struct event_filter *f, const char *allow, const char *deny);
void event_filter_free(struct event_filter *f);
int event_filter_allows(struct event_filter *f, const char *name, size_t len);

#endif
