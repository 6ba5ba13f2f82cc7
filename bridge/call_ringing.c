#include "call_tracker_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Phones ringing for a call: the screen pop's calls/ringing records.  A
 * ring begins at a DialBegin to a phone, whoever dials it (the caller's
 * leg, a queue, a Local channel of a follow-me or a transfer), and ends at
 * its DialEnd or hangup, or with the call.  Its first record waits for the
 * caller's presentation (the Getvar's answer: a withheld number must never
 * show), at most ring_hold_ms; its last says who answered, and a ring
 * cancelled because another phone answered waits (as long) to say which.
 */

/* A ring goes out once its dial has settled: the other phones one Dial()
 * rings at once (a ring group) come within a millisecond of the first. */
#define RING_SETTLE_MS 20

static struct ct_ring *ring_of(struct call *c, const char *uniqueid)
{
	for (int i = 0; i < c->nring; i++)
		if (strcmp(c->rings[i].uniqueid, uniqueid) == 0)
			return &c->rings[i];
	return NULL;
}

static struct ct_ring *ring_of_extension(struct call *c, const char *extension)
{
	for (int i = 0; i < c->nring; i++)
		if (strcmp(c->rings[i].extension, extension) == 0)
			return &c->rings[i];
	return NULL;
}

/* FreePBX's follow-me rings through Local/FMPR-<ext>@... (the primary) and
 * Local/FMGL-<list>#@... (the group list). */
static int follow_me_channel(const struct ct_channel *ch)
{
	return ch != NULL && ch->is_local &&
	       (strncmp(ch->name, "Local/FMPR-", 11) == 0 || strncmp(ch->name, "Local/FMGL-", 11) == 0);
}

static enum ring_via via_at_begin(const struct call *c, const struct ct_channel *source)
{
	if (c->answered || c->transferred)
		return RING_VIA_TRANSFER; /* someone took the call already: it is passed on */
	if (c->queue[0])
		return RING_VIA_QUEUE;
	if (follow_me_channel(source))
		return RING_VIA_FOLLOW_ME;
	if (source != NULL && source->dials_many)
		return RING_VIA_RING_GROUP;
	return RING_VIA_DIRECT; /* or a ring group after all: note_ring_group */
}

static int ring_open(const struct ct_ring *r)
{
	return !r->stop_sent;
}

/* Has the ring a record to send once its wait is over (its start, or its
 * stop)?  Only such rings make the bridge look again soon (rings_due). */
static int ring_due(const struct ct_ring *r)
{
	return !r->sent || (r->stopped && !r->stop_sent);
}

/* r changed: the count of rings due follows. */
static void account(struct call_tracker *t, int was_due, const struct ct_ring *r)
{
	int due = ring_due(r);
	if (due && !was_due)
		t->rings_due++;
	else if (!due && was_due)
		t->rings_due--;
}

void ct_ring_begin(struct call_tracker *t, struct call *c, const struct ct_channel *phone, const char *source,
                   int64_t now_ms)
{
	if (phone->is_trunk || phone->is_local || phone->endpoint[0] == '\0')
		return;
	if (c->rings == NULL && (c->rings = calloc(CT_MAX_RUNG, sizeof(*c->rings))) == NULL)
		return;
	struct ct_ring *r = ring_of_extension(c, phone->endpoint);
	if (r != NULL && ring_open(r))
		return; /* ringing already (a second DialBegin to it) */
	if (r == NULL && c->nring >= CT_MAX_RUNG)
		return;
	if (r == NULL)
		r = &c->rings[c->nring++]; /* else a phone rung again (a queue's retry): a new pair of records */
	memset(r, 0, sizeof(*r));
	memcpy(r->uniqueid, phone->uniqueid, sizeof(r->uniqueid));
	memcpy(r->extension, phone->endpoint, sizeof(r->extension));
	snprintf(r->source, sizeof(r->source), "%s", source);
	r->began_ms = now_ms;
	r->via = (unsigned char)via_at_begin(c, ct_find_channel(c, source));
	t->rings_due++; /* a new slot, or one whose stop went out: not due before */
}

void ct_ring_end(struct call_tracker *t, struct call *c, const char *uniqueid, const char *status, int64_t now_ms)
{
	struct ct_ring *r = ring_of(c, uniqueid);

	if (r == NULL || r->stopped)
		return;
	int was_due = ring_due(r);
	r->stopped = 1;
	r->stopped_ms = now_ms;
	r->picked_up = status && strcmp(status, "ANSWER") == 0 ? 1u : 0u;
	r->cancelled = status && strcmp(status, "CANCEL") == 0 ? 1u : 0u;
	account(t, was_due, r);
}

/* A DialBegin to a channel whose own events never came (a capture filtered
 * to some channels): what its name and context say of it, to ring it. */
void ct_ring_unseen(struct call_tracker *t, struct call *c, const struct ami_msg *m, const char *source, int64_t now_ms)
{
	struct ct_channel d = {0};
	char context[CT_NAME_MAX];
	int is_local;

	ami_msg_get(m, "DestUniqueid", d.uniqueid, sizeof(d.uniqueid));
	ami_msg_get(m, "DestChannel", d.name, sizeof(d.name));
	ct_channel_endpoint(d.name, d.endpoint, sizeof(d.endpoint), &is_local);
	d.is_local = is_local ? 1u : 0u;
	d.in_trunk_context =
	    !is_local && glob_list_match(t->o.trunk_contexts, ami_msg_get(m, "DestContext", context, sizeof(context)))
	        ? 1u
	        : 0u;
	d.is_trunk = ct_channel_is_trunk(t, &d) ? 1u : 0u;
	if (d.uniqueid[0])
		ct_ring_begin(t, c, &d, source, now_ms);
}

/* Newexten running Dial() with several destinations ("PJSIP/100&PJSIP/101,
 * 15"): the phones it rings ring at once, a ring group. */
int ct_dials_many(const struct ami_msg *m)
{
	char data[CT_PATH_MAX];

	if (!ami_field_is(ami_msg_find(m, "Application"), "Dial"))
		return 0;
	char *comma = strchr(ami_msg_get(m, "AppData", data, sizeof(data)), ',');
	if (comma)
		*comma = '\0';
	return strchr(data, '&') != NULL;
}

/* More than one phone rang at once for a call no one has taken: a ring
 * group (or a dialplan's queue), unless it is known to be more. */
static void note_ring_group(struct call *c, struct ct_ring *r)
{
	if (r->via != RING_VIA_DIRECT)
		return;
	for (int i = 0; i < c->nring; i++) {
		const struct ct_ring *o = &c->rings[i];
		if (o != r && !(o->stopped && o->stopped_ms < r->began_ms) &&
		    !(r->stopped && r->stopped_ms < o->began_ms))
			r->via = RING_VIA_RING_GROUP;
	}
}

/* Who answered the call while r rang, or since: r's phone, else another
 * phone whose dial said ANSWER, else the person connected; "" when no one
 * has yet (someone who took the call before r rang, the transferrer, is
 * not the one who answered r). */
static const char *answered_by(const struct call *c, const struct ct_ring *r)
{
	if (r->picked_up)
		return r->extension;
	for (int i = 0; i < c->nring; i++)
		if (c->rings[i].picked_up && c->rings[i].stopped_ms >= r->began_ms)
			return c->rings[i].extension;
	if (c->answered && c->answered_by[0] && c->answered_ms >= r->began_ms)
		return c->answered_by;
	if (c->dial_answered_by[0] && c->dial_answered_ms >= r->began_ms)
		return c->dial_answered_by;
	return "";
}

static void send_ring(struct call_tracker *t, struct call *c, struct ct_ring *r, int64_t now_ms)
{
	if (t->o.on_ring)
		t->o.on_ring(t->ctx, c, r, now_ms);
}

/* Is the ring's stop ready to be said?  A ring cancelled while no one is
 * known to have answered waits a moment for the answer that cancelled it
 * (the other phone's DialEnd or bridge comes just after). */
static int stop_ready(const struct call_tracker *t, const struct call *c, const struct ct_ring *r, int64_t now_ms,
                      int ending)
{
	if (!r->stopped && !ending)
		return 0;
	if (ending || !r->cancelled || answered_by(c, r)[0])
		return 1;
	return now_ms - r->stopped_ms >= t->o.ring_hold_ms;
}

static void send_due(struct call_tracker *t, struct call *c, struct ct_ring *r, int64_t now_ms, int ending)
{
	if (!r->sent) {
		int settled = now_ms - r->began_ms >= RING_SETTLE_MS;
		int known = c->presentation_known || c->withheld || now_ms - r->began_ms >= t->o.ring_hold_ms;
		if (!(settled && known) && !ending && !r->stopped)
			return;
		note_ring_group(c, r);
		r->sent = 1;
		send_ring(t, c, r, now_ms);
	}
	if (!r->stop_sent && stop_ready(t, c, r, now_ms, ending)) {
		if (!r->stopped) {
			r->stopped = 1;
			r->stopped_ms = now_ms;
		}
		r->stop_sent = 1;
		send_ring(t, c, r, now_ms);
	}
}

static void release_one(struct call_tracker *t, struct call *c, struct ct_ring *r, int64_t now_ms, int ending)
{
	int was_due = ring_due(r);

	send_due(t, c, r, now_ms, ending);
	account(t, was_due, r);
}

void ct_rings_release(struct call_tracker *t, struct call *c, int64_t now_ms)
{
	for (int i = 0; i < c->nring; i++)
		release_one(t, c, &c->rings[i], now_ms, 0);
}

void ct_rings_finish(struct call_tracker *t, struct call *c, int64_t now_ms)
{
	for (int i = 0; i < c->nring; i++)
		release_one(t, c, &c->rings[i], now_ms, 1);
}

void ct_presentation_known(struct call *c)
{
	c->presentation_known = 1;
}

/* What a ring's stop record says: the phone that answered, else "" and missed. */
const char *call_ring_answered_by(const struct call *c, const struct ct_ring *r)
{
	if (!r->stop_sent)
		return "";
	return answered_by(c, r);
}
