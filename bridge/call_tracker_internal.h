/*
 * The call tracker's own parts, shared by its files and nothing else:
 * call_tracker.c (live events), call_table.c (the table of calls),
 * call_view.c (what a record says of a call), call_sync.c (the channel
 * list after a gap), call_image.c (a call as the journal holds it, and
 * its restore) and call_from_cdr.c (calls made or completed from the PBX's
 * CDR store).  Not for the bridge: it uses call_tracker.h.
 */
#ifndef PBXBUS_CALL_TRACKER_INTERNAL_H
#define PBXBUS_CALL_TRACKER_INTERNAL_H

#include "call_tracker.h"

/* The table: a call's bucket slot (*slot NULL when unknown), a new call
 * (NULL past max_calls), one freed. */
/* The table of calls (call_table.c). */
int ct_table_init(struct call_tracker *t);
void ct_table_free(struct call_tracker *t);
void ct_remove_call(struct call_tracker *t, struct call *c);
struct call **ct_slot_of(struct call_tracker *t, const char *linkedid);
struct call *ct_new_call(struct call_tracker *t, const char *linkedid, int64_t now_ms);
void ct_free_call(struct call *c);
/* The call's record goes out (partial or whole) and the call is gone. */
void ct_finish(struct call_tracker *t, struct call *c, int64_t now_ms, int partial);
/* Is this a Linkedid we track ("1795341833.0", or a system name before it)? */
int ct_linkedid_ok(const char *id);

/* Channels: a new one (zeroed; NULL past the cap), one by name, the
 * endpoint of a channel name, and whether a channel is a trunk leg. */
struct ct_channel *ct_new_channel(struct call_tracker *t, struct call *c);
struct ct_channel *ct_find_channel_named(struct call *c, const char *name);
void ct_channel_endpoint(const char *name, char *out, size_t size, int *is_local);
int ct_channel_is_trunk(const struct call_tracker *t, const struct ct_channel *ch);
/* Something happened to c: it is written to the journal in this round. */
void ct_touch(struct call_tracker *t, struct call *c, int64_t now_ms);
/* A channel of c by Uniqueid; one added from an event or list item (NULL
 * past the cap); the call's first channel, its caller leg, noted. */
struct ct_channel *ct_find_channel(struct call *c, const char *uniqueid);
struct ct_channel *ct_add_channel(struct call_tracker *t, struct call *c, const struct ami_msg *m);
void ct_first_channel(struct call_tracker *t, struct call *c, const struct ami_msg *m, int64_t now_ms);
/* The channel variables a record takes (call_variables.c): the recording's
 * file name, a click-to-call's request and who asked. */
int ct_is_call_variable(const struct ami_msg *m);
void ct_note_variable(struct call *c, const struct ami_msg *m);
struct ct_channel *ct_originator_found(struct call_tracker *t, struct call *c, struct ct_channel *ch,
                                       const struct ami_msg *m);
/* Answered now, if a person is connected (calls/answer goes out once). */
void ct_check_answer(struct call_tracker *t, struct call *c, int64_t now_ms);
/* Has every channel of c hung up? */
int ct_all_gone(const struct call *c);
/* An extension rung (once). */
void ct_add_rung(struct call *c, const struct ct_channel *ch);
/* Ringing phones (call_ringing.c): one starts (DialBegin to a phone, from
 * the channel `source`), one stops (its DialEnd's status, or its hangup:
 * status NULL), what is due goes out, and every ring of a call stops as
 * it ends. */
void ct_ring_begin(struct call_tracker *t, struct call *c, const struct ct_channel *phone, const char *source,
                   int64_t now_ms);
/* A DialBegin to a channel whose own events never came: rung from its name. */
void ct_ring_unseen(struct call_tracker *t, struct call *c, const struct ami_msg *m, const char *source,
                    int64_t now_ms);
/* A Newexten running Dial() of several phones at once (a ring group)? */
int ct_dials_many(const struct ami_msg *m);
void ct_ring_end(struct call_tracker *t, struct call *c, const char *uniqueid, const char *status, int64_t now_ms);
void ct_rings_release(struct call_tracker *t, struct call *c, int64_t now_ms);
void ct_rings_finish(struct call_tracker *t, struct call *c, int64_t now_ms);
/* The caller's presentation is known now: rings held for it may go. */
void ct_presentation_known(struct call *c);
/* A caller number that is a withheld word ("anonymous", "Restricted", ...). */
int ct_withheld(const char *num);

#endif
