/*
 * Turns channel events into one record per call.  A call is every channel
 * sharing a Linkedid (caller leg, rung extensions, trunk leg, queue
 * members, Local pairs, transfer targets).  The tracker reads only channel,
 * dial, bridge, queue and transfer events (never Cdr or CEL: many PBXs have
 * neither) and takes the time of each event from its caller, so tests can
 * feed recorded arrival times.
 *
 * Memory is bounded: channels per call and calls at once are capped, a call
 * with no event for idle_timeout is closed as partial, and after an AMI
 * reconnect a CoreShowChannels sync closes calls whose channels are gone.
 */
#ifndef PBXBUS_CALL_TRACKER_H
#define PBXBUS_CALL_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include "ami_codec.h"
#include "call_journal.h"
#include "cdr_store.h"
#include "endpoint_kinds.h"
#include "globs.h"
#include "log.h"
#include "topic.h"

/* Sizes kept small: 1000 calls in flight must fit the bridge's 8 MiB. */
#define CT_ID_MAX       40 /* Uniqueid / Linkedid "1795341833.12", BridgeUniqueid (a UUID) */
#define CT_NAME_MAX     64 /* channel name, truncated */
#define CT_ENDPOINT_MAX EP_NAME_MAX
#define CT_NUMBER_MAX   40  /* numbers are truncated here */
#define CT_LABEL_MAX    64  /* caller names, queue names */
#define CT_PATH_MAX     256 /* a recording's file name: longer ones are not kept */
#define CT_MAX_CHANNELS 64  /* per call; more are counted in legs only */
#define CT_MAX_RUNG     8
#define CT_MAX_LEGS     1000000 /* as the record schema bounds legs */

enum call_direction { CALL_DIR_UNKNOWN, CALL_DIR_INBOUND, CALL_DIR_OUTBOUND, CALL_DIR_INTERNAL };

/* How a call reached a ringing phone (calls/ringing's "via"; the words are
 * the record schema's ring_record_vias, in this order). */
enum ring_via { RING_VIA_DIRECT, RING_VIA_RING_GROUP, RING_VIA_QUEUE, RING_VIA_FOLLOW_ME, RING_VIA_TRANSFER };

/* A phone ringing for a call (call_ringing.c): its calls/ringing record
 * goes out once the caller's presentation is known (or ring_hold_ms on),
 * and one more once it stops, saying who answered. */
struct ct_ring {
	char uniqueid[CT_ID_MAX]; /* the ringing channel */
	char source[CT_ID_MAX];   /* the channel that dials it */
	char extension[CT_ENDPOINT_MAX];
	int64_t began_ms, stopped_ms;
	unsigned char via; /* enum ring_via */
	unsigned sent : 1, stopped : 1, stop_sent : 1;
	unsigned picked_up : 1; /* its DialEnd said ANSWER */
	unsigned cancelled : 1; /* its DialEnd said CANCEL: another phone answered, or the caller left */
};

struct ct_channel {
	char uniqueid[CT_ID_MAX];
	char name[CT_NAME_MAX];
	char endpoint[CT_ENDPOINT_MAX];
	char bridge[CT_ID_MAX]; /* BridgeUniqueid it is in, "" when none */
	unsigned is_trunk : 1, is_local : 1, up : 1, gone : 1, seen_in_sync : 1;
	unsigned in_trunk_context : 1; /* created in one of trunk_contexts */
	unsigned dials_many : 1;       /* runs a Dial() of several phones at once (a ring group) */
	int cause;
	char cause_txt[32];
};

struct call {
	char linkedid[CT_ID_MAX];
	struct call *next; /* hash chain */
	int64_t started_ms, answered_ms, ended_ms, last_event_ms;
	struct ct_channel *ch; /* ch[0] is the caller leg */
	int nch, cap, legs;
	char external_number[CT_NUMBER_MAX], external_name[CT_LABEL_MAX];
	char did[CT_NUMBER_MAX], dialled[CT_NUMBER_MAX], queue[CT_LABEL_MAX];
	char answered_by[CT_ENDPOINT_MAX]; /* last person connected to the caller */
	char recording[CT_PATH_MAX];       /* the file the PBX records it to (MIXMONITOR_FILENAME, else CALLFILENAME) */
	char originated_request_id[65];    /* a click-to-call's request (PBXBUS_DIAL), else empty */
	char originated_by[97];            /* ... and who asked (PBXBUS_DIAL_BY) */
	char dial_answered_by[CT_ENDPOINT_MAX]; /* a DialEnd ANSWER to a channel never seen */
	int64_t dial_answered_ms;
	char rung[CT_MAX_RUNG][CT_ENDPOINT_MAX];
	int nrung;
	struct ct_ring *rings; /* CT_MAX_RUNG of them once one rings; live only (not in the journal) */
	int nring;
	unsigned transferred : 1, partial : 1, pbx_answered : 1, answered : 1, withheld : 1;
	unsigned dial_busy : 1, dial_congestion : 1, dial_unavail : 1;
	unsigned clock_provisional : 1;  /* dated before the PBX's clock was confirmed */
	unsigned start_held : 1;         /* calls/start waits (start_hold_ms) for a withheld caller to show */
	unsigned recording_mixed : 1;    /* recording is MIXMONITOR_FILENAME's (CALLFILENAME no longer replaces it) */
	unsigned journal_dirty : 1;      /* changed since it was last written to the journal */
	unsigned restored : 1;           /* carried over from before a bridge restart */
	unsigned from_cdr : 1;           /* made from the PBX's CDR store, not seen live */
	unsigned awaiting_cdr : 1;       /* ended while the bridge was away: the CDR completes it */
	unsigned late_cdr : 1;           /* part of it happened while the bridge was away (begun, answered): once it
	                                    ends, its CDR gives what was missed (the end is the one heard) */
	unsigned seen_late : 1;          /* found up by a sync, never seen to begin: its start is the CDR's */
	unsigned ended_heard : 1;        /* awaiting_cdr after its end was heard live (a late_cdr call) */
	unsigned cdr_wanted : 1;         /* it waits for a CDR read not asked for yet */
	unsigned cdr_covered : 1;        /* the CDR read under way covers it */
	unsigned presentation_known : 1; /* the caller's presentation is known (allowed or withheld) */
	int64_t start_due_ms;
};

typedef void (*call_record_cb)(void *ctx, enum call_phase kind, const struct call *c, int64_t now_ms);
/* A phone started or stopped ringing for c (r->stop_sent: stopped). */
typedef void (*call_ring_cb)(void *ctx, const struct call *c, const struct ct_ring *r, int64_t now_ms);
/* A call's first channel is up: ask whether its caller's presentation is
 * restricted (a call that arrives restricted raises no NewCallerid). */
typedef void (*call_caller_cb)(void *ctx, const char *channel, const char *linkedid);

struct call_tracker_opts {
	const struct glob_list *trunk_contexts;  /* a channel created in one is a trunk leg */
	const struct glob_list *trunk_endpoints; /* endpoint names that are trunks, whatever else says */
	const struct glob_list *phone_endpoints; /* endpoint names that are phones, whatever else says */
	int64_t idle_timeout_ms;
	size_t max_calls;
	/* calls/start waits this long, or for the answer or the end, so that a
	 * caller withheld a moment later (NewCallerid, the Getvar's answer) is
	 * withheld in it too; 0: at once */
	int64_t start_hold_ms;
	call_caller_cb ask_presentation; /* may be NULL */
	struct call_journal *journal;    /* calls in flight on disk; may be NULL */
	int hold_for_cdr;                /* a call that ended while we were away waits for its CDR */
	call_ring_cb on_ring;            /* calls/ringing; may be NULL */
	/* a ringing record waits this long at most for the caller's
	 * presentation, and a ring cancelled for the answer that cancelled it */
	int64_t ring_hold_ms;
};

struct call_tracker {
	struct call_tracker_opts o;
	call_record_cb on_record;
	void *ctx;
	struct endpoint_kinds kinds; /* phone or trunk, learnt as the PBX speaks */
	struct call **buckets;
	size_t nbuckets, ncalls;
	int syncing;
	int clock_provisional; /* the PBX's clock is not confirmed in this session yet */
	/* counters */
	uint64_t calls_started, calls_ended, calls_partial, calls_refused, channels_capped;
	uint64_t times_fixed;      /* records whose times were put back in order */
	uint64_t bad_linkedids;    /* events whose Linkedid is no id: not tracked */
	uint64_t no_linkedid;      /* channel events without a Linkedid (Asterisk < 13) */
	size_t starts_held;        /* calls whose calls/start waits */
	size_t rings_due;          /* rings whose start or stop waits to go out (the bridge looks again soon) */
	size_t cdr_wanted;         /* calls waiting for a CDR read not asked for yet */
	size_t journal_dirty;      /* calls changed since last written to the journal */
	uint64_t calls_restored;   /* calls carried over a bridge restart */
	uint64_t calls_seen_late;  /* calls found up without having seen them start */
	uint64_t calls_unrestored; /* journalled calls that could not be read back */
	struct log_ratelimit times_log, bad_id_log;
};

int call_tracker_init(struct call_tracker *t, const struct call_tracker_opts *o, call_record_cb cb, void *ctx);
/* Frees every call still open without emitting records. */
void call_tracker_free(struct call_tracker *t);

void call_tracker_event(struct call_tracker *t, const struct ami_msg *m, int64_t now_ms);
/* An answer to a list action (endpoint lists, hints): what endpoints are. */
void call_tracker_listed(struct call_tracker *t, const struct ami_msg *m);
/* The answer to ask_presentation: CALLERID(num-pres), e.g.
 * "prohib_passed_screen" withholds the caller. */
void call_tracker_presentation(struct call_tracker *t, const char *linkedid, const char *num_pres);
/* Sends the calls/start records whose hold is over, and the ringing
 * records that are due. */
void call_tracker_release_starts(struct call_tracker *t, int64_t now_ms);
/* Writes the calls that changed to the journal (the bridge runs it every
 * poll round; a SIGKILL loses at most the changes of one round). */
void call_tracker_journal_flush(struct call_tracker *t);
/* Takes back the calls the journal holds (after a restart); their channels
 * are checked by the next sync like any others.  Returns how many. */
size_t call_tracker_restore(struct call_tracker *t);
/* The rows of one call from the PBX's CDR store (one Linkedid, in calldate
 * order), read after a gap.  A call recorded live, or being recorded, is
 * left alone; one that ended while we were away is completed from them;
 * one never seen is recorded from them (origin "cdr"). */
enum cdr_outcome { CDR_LIVE, CDR_EMITTED_ALREADY, CDR_COMPLETED, CDR_RECOVERED, CDR_UNUSABLE };
enum cdr_outcome call_tracker_cdr_call(struct call_tracker *t, const struct cdr_row *rows, size_t n, int64_t now_ms);
/* A CDR read begins: it covers the calls waiting for one now. */
void call_tracker_cdr_begin(struct call_tracker *t);
/* Calls the read covered that are still waiting (no row came, or the store
 * failed) are closed as partial, ended when their end was noticed (or
 * heard).  Returns how many. */
size_t call_tracker_cdr_done(struct call_tracker *t);
/* Calls begun while the bridge was away that have since ended want their
 * CDR: 1 and the span to read (their earliest start, latest end), once;
 * 0 when none does. */
int call_tracker_cdr_wanted(struct call_tracker *t, int64_t *from_ms, int64_t *to_ms);
/* Closes calls idle for longer than idle_timeout as partial. */
void call_tracker_expire(struct call_tracker *t, int64_t now_ms);

/* Reconnect sync: begin, report each live channel (CoreShowChannel), end. */
void call_tracker_sync_begin(struct call_tracker *t);
/* One CoreShowChannel item: marks the channel alive, or starts tracking a
 * call that began while we were away (flagged partial). */
void call_tracker_sync_channel(struct call_tracker *t, const struct ami_msg *m, int64_t now_ms);
void call_tracker_sync_end(struct call_tracker *t, int64_t now_ms);
/* The list was lost with the session: no verdict, every call stays open. */
void call_tracker_sync_lost(struct call_tracker *t);

/* A new AMI session: until its first Timestamp: confirms the PBX's clock,
 * calls that begin are dated on an assumed one. */
void call_tracker_clock_unconfirmed(struct call_tracker *t);
/* The PBX's clock was confirmed and is moved_ms from what calls dated while
 * it was not assumed: their times move by as much. */
void call_tracker_clock_confirmed(struct call_tracker *t, int64_t moved_ms);

/* Derived fields, for the record writer and tests. */
enum call_direction call_direction(const struct call *c);
const char *call_direction_name(enum call_direction d);
const char *call_disposition(const struct call *c);
const char *call_extension(const struct call *c);
const char *call_trunk(const struct call *c);
const char *call_external_number(const struct call *c);
/* Who answered, as a ring's stop record says it: "" (missed) or an extension. */
const char *call_ring_answered_by(const struct call *c, const struct ct_ring *r);

#endif
