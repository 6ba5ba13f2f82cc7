/*
 * The kinds of live state, one descriptor each: its name (the snapshot's
 * key, and the topic folder state/<name>/), its bound, the AMI lists that
 * give all of it, its key, how an entity of it starts and ends, and its
 * renderer.  A new kind is: its enum value and struct (state_model.h), a
 * descriptor here, its events in state_model.c's table, and its renderer
 * (state_render.c).  state_service.c and the snapshot loop over the
 * descriptors and name no kind; state_model.c's event handlers and the
 * renderers are each for one kind, and name it.
 */
#ifndef PBXBUS_STATE_KINDS_H
#define PBXBUS_STATE_KINDS_H

#include "state_model.h"
#include "state_render.h"
#include "state_topics.h"

struct st_kind_desc {
	enum state_topic topic;   /* its folder and snapshot key (common/state_topics.c) */
	size_t max;               /* entities of this kind kept at most */
	const char *const *lists; /* actions whose lists give every entity; NULL-ended */
	const char *(*key)(const struct st_entity *e);
	int (*start)(struct st_entity *e, const char *key); /* -1: out of memory */
	void (*end)(struct st_entity *e);
	void (*render)(struct jw *w, const struct state_view *v, const struct st_entity *e);
};

const struct st_kind_desc *st_kind(enum st_kind kind);

#endif
