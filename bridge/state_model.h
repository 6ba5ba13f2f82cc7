/*
 * Live PBX state kept from AMI: extensions, trunks, queues, parked calls,
 * the system.
 * Filled by the responses to read-only actions after each login (and
 * every full resync), then kept current by events.  Active calls come from
 * the call tracker.  Bounded: at most ST_MAX_* entities of each kind.
 */
#ifndef PBXBUS_STATE_MODEL_H
#define PBXBUS_STATE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ami_codec.h"

#define ST_MAX_EXTS     4000
#define ST_MAX_TRUNKS   500
#define ST_MAX_QUEUES   500
#define ST_MAX_PARKED   500
#define ST_MAX_CONTACTS 4
#define ST_MAX_MEMBERS  64
#define ST_MAX_CALLERS  64
#define ST_NAME         64
#define ST_URI          128

enum st_kind { ST_EXT, ST_TRUNK, ST_QUEUE, ST_PARKED, ST_KINDS };

struct st_contact {
	char uri[ST_URI];
	char status[16]; /* reachable, unreachable, unknown, created, non_qualified */
	int rtt_ms;      /* -1 unknown */
};

struct st_ext {
	char ext[ST_NAME], tech[16], endpoint[ST_NAME];
	char hint_state[16]; /* from ExtensionStatus, "" when it has no hint */
	char dev_state[16];  /* from DeviceStateChange */
	struct st_contact contacts[ST_MAX_CONTACTS];
	int ncontacts;
};

struct st_trunk {
	char endpoint[ST_NAME], tech[16], registration_name[ST_NAME], outbound_auth[ST_NAME];
	char registration[16]; /* registered, rejected, unregistered, unknown */
	char server_uri[ST_URI], reachability[16], dev_state[16];
	int64_t changed_ms;
};

struct st_member {
	char name[ST_NAME], location[ST_NAME];
	int status; /* AST_DEVICE_* number */
	int paused, in_call;
};

struct st_caller {
	char channel[ST_NAME], number[ST_NAME], name[ST_NAME];
	int64_t joined_ms;
};

struct st_queue {
	char name[ST_NAME], strategy[24];
	long long completed, abandoned, holdtime, talktime;
	struct st_member members[ST_MAX_MEMBERS];
	int nmembers;
	struct st_caller callers[ST_MAX_CALLERS];
	int ncallers;
};

/* A call waiting in a parking space (res_parking), keyed "<space>@<lot>". */
struct st_parked {
	char key[ST_NAME + 24], lot[ST_NAME], space[16];
	char channel[ST_NAME], number[ST_NAME], name[ST_NAME], linkedid[ST_NAME];
	int64_t parked_ms;   /* when it was parked */
	long long timeout_s; /* left when last told, from timeout_from_ms */
	int64_t timeout_from_ms;
};

struct st_entity {
	enum st_kind kind;
	unsigned char seen;  /* in the sync under way */
	unsigned char dirty; /* to render and compare */
	unsigned char removed;
	uint64_t published; /* hash of what is on the broker, 0: nothing */
	union {
		struct st_ext ext;
		struct st_trunk trunk;
		struct st_queue *q; /* big: allocated only for queues */
		struct st_parked parked;
	} u;
};

struct st_system {
	char asterisk_version[48], ami_version[16];
	char startup[32], reload[32]; /* "2026-11-22 10:03:06" as the PBX says */
	long long current_calls;
	int dirty;
	uint64_t published;
};

struct state_model {
	struct st_entity *e;
	size_t n, cap;
	struct st_system sys;
	int (*is_trunk_endpoint)(void *ctx, const char *endpoint);
	void *ctx;
	int syncing[ST_KINDS];
	uint64_t dropped; /* entities refused by the bounds */
};

void state_model_init(struct state_model *s, int (*is_trunk_endpoint)(void *ctx, const char *endpoint), void *ctx);
void state_model_free(struct state_model *s);

/* An event (or an item of a list we asked for), with the time it happened. */
void state_model_event(struct state_model *s, const struct ami_msg *m, int64_t now_ms);
/* Responses of CoreSettings / CoreStatus. */
void state_model_response(struct state_model *s, const struct ami_msg *m);

/* A full list of one kind begins / is complete: entities not listed in
 * between are gone (their retained topics get cleared). */
void state_model_sync_begin(struct state_model *s, enum st_kind kind);
void state_model_sync_end(struct state_model *s, enum st_kind kind);

const char *state_model_key(const struct st_entity *e);
/* The extension's state word: idle, in_use, busy, ringing, on_hold, unavailable, unknown. */
const char *state_model_ext_state(const struct st_ext *x);
/* Drops entities marked removed (after their topics were cleared). */
void state_model_compact(struct state_model *s);

#endif
