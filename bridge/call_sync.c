/*
 * The tracker after a gap: the CoreShowChannels list that follows every
 * (re)login.  A channel we knew and still up is kept (its bridge may have
 * answered the call meanwhile), one born while we were away starts or joins
 * a call known only in part, and one that vanished hung up unseen: its
 * call is closed, partial, or left to the PBX's CDR store to complete.
 */
#include "call_tracker_internal.h"

#include <stdio.h>
#include <string.h>

void call_tracker_sync_begin(struct call_tracker *t)
{
	t->syncing = 1;
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct call *c = t->buckets[i]; c; c = c->next)
			for (int j = 0; j < c->nch; j++)
				c->ch[j].seen_in_sync = 0;
}

/* CoreShowChannel "Duration: 00:01:05" → ms; 0 when absent or malformed. */
static int64_t channel_age_ms(const struct ami_msg *m)
{
	char d[16];
	unsigned h, mi, se;
	char extra;

	if (sscanf(ami_msg_get(m, "Duration", d, sizeof(d)), "%u:%u:%u%c", &h, &mi, &se, &extra) != 3 || mi > 59 ||
	    se > 59 || h > 100000)
		return 0;
	return ((int64_t)h * 3600 + mi * 60 + se) * 1000;
}

/* A channel we knew, still up: if it was bridged while we were away and
 * that answered the call, the answer is dated when we noticed, and the
 * record says it is partial (its answer time is not the PBX's). */
static void still_up(struct call_tracker *t, struct call *c, struct ct_channel *ch, const struct ami_msg *m,
                     int64_t now_ms)
{
	char bridge[CT_ID_MAX] = {0};

	ch->seen_in_sync = 1;
	if (strcmp(ami_msg_get(m, "BridgeId", bridge, sizeof(bridge)), ch->bridge) == 0)
		return;
	memcpy(ch->bridge, bridge, sizeof(ch->bridge));
	ct_touch(t, c, c->last_event_ms);
	int was_answered = c->answered;
	ct_check_answer(t, c, now_ms);
	if (c->answered && !was_answered) {
		c->partial = 1;
		c->late_cdr = t->o.hold_for_cdr ? 1u : 0u; /* its CDR will say when */
	}
}

void call_tracker_sync_channel(struct call_tracker *t, const struct ami_msg *m, int64_t now_ms)
{
	char uid[CT_ID_MAX], lid[CT_ID_MAX];
	struct ct_channel *ch = NULL;

	if (ami_msg_get(m, "Uniqueid", uid, sizeof(uid))[0] == '\0' ||
	    ami_msg_get(m, "Linkedid", lid, sizeof(lid))[0] == '\0' || !ct_linkedid_ok(lid))
		return;
	struct call *c = *ct_slot_of(t, lid);
	if (c != NULL && (ch = ct_find_channel(c, uid)) != NULL) {
		still_up(t, c, ch, m, now_ms);
		return;
	}
	/* A channel born while we were away: its call is known only in part. */
	if (c == NULL) {
		if ((c = ct_new_call(t, lid, now_ms - channel_age_ms(m))) == NULL)
			return;
		t->calls_seen_late++;
		c->seen_late = 1;
	}
	c->partial = 1;
	c->late_cdr = t->o.hold_for_cdr ? 1u : 0u; /* what we missed of it, its CDR will say */
	int first = c->nch == 0;
	if ((ch = ct_add_channel(t, c, m)) == NULL)
		return;
	ami_msg_get(m, "BridgeId", ch->bridge, sizeof(ch->bridge));
	if (first)
		ct_first_channel(t, c, m, now_ms);
	else
		ch = ct_originator_found(t, c, ch, m);
	if (ch->bridge[0])
		ct_check_answer(t, c, now_ms);
}

/* Channels that vanished while we were away hung up unseen: their calls
 * lost events, and calls left with no channel are closed, partial, ended
 * when we noticed (docs/topics.md: the end lies between the start of the
 * gap and then). */
void call_tracker_sync_lost(struct call_tracker *t)
{
	t->syncing = 0;
}

void call_tracker_sync_end(struct call_tracker *t, int64_t now_ms)
{
	if (!t->syncing)
		return;
	t->syncing = 0;
	for (size_t i = 0; i < t->nbuckets; i++) {
		for (struct call *c = t->buckets[i], *next; c; c = next) {
			next = c->next;
			int lost = 0;
			for (int j = 0; j < c->nch; j++) {
				if (!c->ch[j].gone && !c->ch[j].seen_in_sync) {
					c->ch[j].gone = 1;
					c->ch[j].bridge[0] = '\0';
					lost = 1;
				}
			}
			if (lost && ct_all_gone(c) && t->o.hold_for_cdr) {
				/* ended while we were away: the PBX's CDR completes it */
				c->awaiting_cdr = 1;
				c->ended_ms = now_ms;
				ct_touch(t, c, c->last_event_ms);
				continue;
			}
			if (lost)
				c->partial = 1;
			if (ct_all_gone(c))
				ct_finish(t, c, now_ms, 1);
		}
	}
}
