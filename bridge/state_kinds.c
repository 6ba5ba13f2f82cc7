#include "state_kinds.h"

#include <stdio.h>
#include <stdlib.h>

static const char *ext_key(const struct st_entity *e)
{
	return e->u.ext.ext;
}

static int ext_start(struct st_entity *e, const char *key)
{
	snprintf(e->u.ext.ext, sizeof(e->u.ext.ext), "%s", key);
	return 0;
}

static const char *trunk_key(const struct st_entity *e)
{
	return e->u.trunk.endpoint;
}

static int trunk_start(struct st_entity *e, const char *key)
{
	snprintf(e->u.trunk.endpoint, sizeof(e->u.trunk.endpoint), "%s", key);
	snprintf(e->u.trunk.registration, sizeof(e->u.trunk.registration), "unknown");
	return 0;
}

static const char *queue_key(const struct st_entity *e)
{
	return e->u.q->name;
}

/* A queue is big (its members and callers): allocated for queues alone. */
static int queue_start(struct st_entity *e, const char *key)
{
	if ((e->u.q = calloc(1, sizeof(*e->u.q))) == NULL)
		return -1;
	snprintf(e->u.q->name, sizeof(e->u.q->name), "%s", key);
	return 0;
}

static void queue_end(struct st_entity *e)
{
	free(e->u.q);
	e->u.q = NULL;
}

static const char *parked_key(const struct st_entity *e)
{
	return e->u.parked.key;
}

static int parked_start(struct st_entity *e, const char *key)
{
	snprintf(e->u.parked.key, sizeof(e->u.parked.key), "%s", key);
	return 0;
}

static void nothing_to_end(struct st_entity *e)
{
	(void)e;
}

/* Endpoints (PJSIP, chan_sip) and hints are phones or trunks, as the
 * endpoint's own traits say: both kinds come from the same lists. */
static const char *const ext_lists[] = {"PJSIPShowEndpoints", "SIPpeers", "ExtensionStateList", "DeviceStateList",
                                        NULL};
static const char *const trunk_lists[] = {"PJSIPShowEndpoints", "SIPpeers", "PJSIPShowRegistrationsOutbound",
                                          "SIPshowregistry", NULL};
static const char *const queue_lists[] = {"QueueStatus", NULL};
static const char *const parked_lists[] = {"ParkedCalls", NULL};

static const struct st_kind_desc kinds[ST_KINDS] = {
    [ST_EXT] = {STATE_EXTENSIONS, ST_MAX_EXTS, ext_lists, ext_key, ext_start, nothing_to_end, render_extension},
    [ST_TRUNK] = {STATE_TRUNKS, ST_MAX_TRUNKS, trunk_lists, trunk_key, trunk_start, nothing_to_end, render_trunk},
    [ST_QUEUE] = {STATE_QUEUES, ST_MAX_QUEUES, queue_lists, queue_key, queue_start, queue_end, render_queue},
    [ST_PARKED] = {STATE_PARKED, ST_MAX_PARKED, parked_lists, parked_key, parked_start, nothing_to_end, render_parked},
};

const struct st_kind_desc *st_kind(enum st_kind kind)
{
	return &kinds[kind < ST_KINDS ? kind : 0];
}
