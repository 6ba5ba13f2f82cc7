#include "call_tracker_internal.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "asterisk_version.h"
#include "call_journal.h"
#include "call_record_schema.h"
#include "log.h"

/* ---- small helpers ---- */

static const char *get(const struct ami_msg *m, const char *key, char *buf, size_t size)
{
	return ami_msg_get(m, key, buf, size);
}

/*
 * "PJSIP/100-0000000a" → endpoint "100"; "PJSIP/trunk-provider-00000009" →
 * "trunk-provider"; "Local/100@ext-local-00000000;1" → "100@ext-local".
 */
void ct_channel_endpoint(const char *name, char *out, size_t size, int *is_local)
{
	const char *slash = strchr(name, '/');
	const char *start = slash ? slash + 1 : name;
	const char *end = start + strlen(start);
	const char *semi = strchr(start, ';');

	*is_local = strncasecmp(name, "Local/", 6) == 0;
	if (semi)
		end = semi;
	for (const char *p = end; p > start; p--) {
		if (p[-1] == '-') {
			end = p - 1;
			break;
		}
	}
	size_t n = (size_t)(end - start) < size - 1 ? (size_t)(end - start) : size - 1;
	memcpy(out, start, n);
	out[n] = '\0';
}

/* Local channels come in pairs ";1"/";2"; audio flows through the pair. */
static int local_pair(const struct ct_channel *a, const struct ct_channel *b)
{
	size_t la = strlen(a->name), lb = strlen(b->name);
	return a->is_local && b->is_local && la == lb && la > 2 && a->name[la - 2] == ';' &&
	       memcmp(a->name, b->name, la - 1) == 0 && a->name[la - 1] != b->name[lb - 1];
}

int ct_withheld(const char *num)
{
	static const char *const hidden[] = {"",           "anonymous", "unknown",     "<unknown>",
	                                     "restricted", "private",   "unavailable", "withheld"};
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
		if (strcasecmp(num, hidden[i]) == 0)
			return 1;
	return 0;
}

/* ---- the table of calls ---- */

int call_tracker_init(struct call_tracker *t, const struct call_tracker_opts *o, call_record_cb cb, void *ctx)
{
	memset(t, 0, sizeof(*t));
	t->o = *o;
	t->on_record = cb;
	t->ctx = ctx;
	t->times_log.interval_ms = 10000;
	t->bad_id_log.interval_ms = 10000;
	if (ct_table_init(t) < 0)
		return -1;
	if (endpoint_kinds_init(&t->kinds, o->trunk_endpoints, o->phone_endpoints) < 0) {
		ct_table_free(t);
		return -1;
	}
	return 0;
}

void call_tracker_free(struct call_tracker *t)
{
	ct_table_free(t);
	endpoint_kinds_free(&t->kinds);
}

/* Something happened to c: it is written to the journal in this round. */
void ct_touch(struct call_tracker *t, struct call *c, int64_t now_ms)
{
	c->last_event_ms = now_ms;
	if (!c->journal_dirty && t->o.journal) {
		c->journal_dirty = 1;
		t->journal_dirty++;
	}
}

struct ct_channel *ct_find_channel(struct call *c, const char *uniqueid)
{
	for (int i = 0; i < c->nch; i++)
		if (strcmp(c->ch[i].uniqueid, uniqueid) == 0)
			return &c->ch[i];
	return NULL;
}

struct ct_channel *ct_find_channel_named(struct call *c, const char *name)
{
	for (int i = 0; i < c->nch; i++)
		if (strcmp(c->ch[i].name, name) == 0)
			return &c->ch[i];
	return NULL;
}

/* ---- phone or trunk ---- */

/* The overrides first (trunk_endpoints, phone_endpoints), then
 * trunk_contexts, then what was learnt of the endpoint. */
int ct_channel_is_trunk(const struct call_tracker *t, const struct ct_channel *ch)
{
	enum ep_why why;
	enum ep_kind kind;

	if (ch->is_local)
		return 0;
	kind = endpoint_kind(&t->kinds, ch->endpoint, &why);
	if (why == EPW_CONFIGURED)
		return kind == EP_TRUNK;
	return ch->in_trunk_context || kind == EP_TRUNK;
}

/* What the call's channels are, as known now: evidence that came later
 * (a hint, a dial string) corrects an earlier guess. */
static void judge_channels(const struct call_tracker *t, struct call *c)
{
	for (int i = 0; i < c->nch; i++)
		c->ch[i].is_trunk = ct_channel_is_trunk(t, &c->ch[i]) ? 1u : 0u;
}

void call_tracker_listed(struct call_tracker *t, const struct ami_msg *m)
{
	endpoint_kinds_event(&t->kinds, m);
}

/* ---- event handling ---- */

/* started <= answered <= ended, whatever the clocks did: a time out of
 * order (a PBX clock stepped back, an adopted call dated before its clock
 * was known) is moved up to the one before it, and counted. */
static void keep_times_in_order(struct call_tracker *t, struct call *c, enum call_phase kind, int64_t now_ms)
{
	uint64_t held_back;
	int fixed = 0;

	if (c->answered && c->answered_ms < c->started_ms) {
		c->answered_ms = c->started_ms;
		fixed = 1;
	}
	int64_t floor = c->answered ? c->answered_ms : c->started_ms;
	if (kind == CALL_HANGUP && c->ended_ms < floor) {
		c->ended_ms = floor;
		fixed = 1;
	}
	if (fixed) {
		t->times_fixed++;
		if (log_ratelimit_ok(&t->times_log, now_ms, &held_back))
			log_warnx("call %s: its times were out of order (the PBX's clock moved?); put back in order "
			          "(%llu more since the last line)",
			          c->linkedid, (unsigned long long)held_back);
	}
}

static void emit(struct call_tracker *t, enum call_phase kind, struct call *c, int64_t now_ms)
{
	judge_channels(t, c);
	keep_times_in_order(t, c, kind, now_ms);
	if (t->on_record)
		t->on_record(t->ctx, kind, c, now_ms);
}

/* calls/start goes out after a short hold (start_hold_ms), or as soon as
 * the call is answered or ends: by then a withheld caller is known. */
static void hold_start(struct call_tracker *t, struct call *c, int64_t now_ms)
{
	if (t->o.start_hold_ms <= 0) {
		emit(t, CALL_START, c, now_ms);
		return;
	}
	c->start_held = 1;
	c->start_due_ms = now_ms + t->o.start_hold_ms;
	t->starts_held++;
}

static void release_start(struct call_tracker *t, struct call *c, int64_t now_ms)
{
	if (!c->start_held)
		return;
	c->start_held = 0;
	t->starts_held--;
	emit(t, CALL_START, c, now_ms);
}

void call_tracker_release_starts(struct call_tracker *t, int64_t now_ms)
{
	for (size_t i = 0; (t->starts_held > 0 || t->rings_due > 0) && i < t->nbuckets; i++) {
		for (struct call *c = t->buckets[i]; c; c = c->next) {
			if (c->start_held && now_ms >= c->start_due_ms)
				release_start(t, c, now_ms);
			ct_rings_release(t, c, now_ms);
		}
	}
}

/* A call begun while we were away has ended, the end heard: with a CDR
 * store it waits for its rows (written as it ends), which give its start
 * and answer, so it is whole and not partial (issue 24: such calls were the
 * partial ones of a fault run). */
static int wait_for_cdr(struct call_tracker *t, struct call *c, int64_t now_ms, int partial)
{
	if (!c->late_cdr || !t->o.hold_for_cdr || partial || c->legs > c->nch)
		return 0;
	c->late_cdr = 0;
	c->awaiting_cdr = 1;
	c->ended_heard = 1;
	c->cdr_wanted = 1;
	c->ended_ms = now_ms;
	t->cdr_wanted++;
	ct_touch(t, c, c->last_event_ms);
	return 1;
}

void ct_finish(struct call_tracker *t, struct call *c, int64_t now_ms, int partial)
{
	ct_rings_finish(t, c, now_ms); /* no phone rings for a call that is over */
	if (wait_for_cdr(t, c, now_ms, partial))
		return;
	release_start(t, c, now_ms);
	if (!c->answered && c->dial_answered_by[0]) {
		/* only a DialEnd said who answered: better than "NO ANSWER" */
		c->answered = 1;
		c->answered_ms = c->dial_answered_ms;
		memcpy(c->answered_by, c->dial_answered_by, sizeof(c->answered_by));
	}
	if (partial)
		c->partial = 1;
	if (c->partial)
		t->calls_partial++;
	c->ended_ms = now_ms;
	t->calls_ended++;
	emit(t, CALL_HANGUP, c, now_ms);
	if (t->o.journal)
		call_journal_end(t->o.journal, c->linkedid);
	ct_remove_call(t, c);
}

/* Room for one more channel in c, zeroed; NULL past the cap (counted). */
struct ct_channel *ct_new_channel(struct call_tracker *t, struct call *c)
{
	c->legs++;
	if (c->nch >= CT_MAX_CHANNELS) {
		t->channels_capped++;
		return NULL;
	}
	if (c->nch == c->cap) {
		int ncap = c->cap + 2; /* most calls have 2 to 4 channels */
		struct ct_channel *nc = realloc(c->ch, (size_t)ncap * sizeof(*nc));
		if (nc == NULL)
			return NULL;
		c->ch = nc;
		c->cap = ncap;
	}
	struct ct_channel *ch = &c->ch[c->nch++];
	memset(ch, 0, sizeof(*ch));
	return ch;
}

struct ct_channel *ct_add_channel(struct call_tracker *t, struct call *c, const struct ami_msg *m)
{
	char uid[CT_ID_MAX] = {0}, context[CT_NAME_MAX]; /* whole buffers are copied: zeroed */
	struct ct_channel *ch = ct_new_channel(t, c);

	if (ch == NULL)
		return NULL;
	memcpy(ch->uniqueid, get(m, "Uniqueid", uid, sizeof(uid)), sizeof(uid));
	get(m, "Channel", ch->name, sizeof(ch->name));
	int is_local;
	ct_channel_endpoint(ch->name, ch->endpoint, sizeof(ch->endpoint), &is_local);
	ch->is_local = is_local ? 1u : 0u;
	ch->seen_in_sync = 1; /* created after a sync began: alive */
	get(m, "Context", context, sizeof(context));
	ch->in_trunk_context = !is_local && glob_list_match(t->o.trunk_contexts, context) ? 1u : 0u;
	ch->is_trunk = ct_channel_is_trunk(t, ch) ? 1u : 0u;
	ch->up = ami_field_is(ami_msg_find(m, "ChannelStateDesc"), "Up") ? 1u : 0u;
	return ch;
}

/* The caller leg's details, as presented when the call came in.  Its
 * number also says what its endpoint is, where nothing better does. */
static void note_caller(struct call_tracker *t, struct call *c, const struct ami_msg *m)
{
	char num[CT_NUMBER_MAX] = {0}, name[CT_LABEL_MAX] = {0}, context[CT_NAME_MAX];
	struct ct_channel *leg = &c->ch[0];

	get(m, "CallerIDNum", num, sizeof(num));
	/* a call known in part may have put a callee's leg first for now:
	 * its number teaches nothing of the endpoint */
	int placed_the_call = !c->partial || strcmp(leg->uniqueid, c->linkedid) == 0;
	if (!leg->is_local && !leg->in_trunk_context && placed_the_call)
		endpoint_kinds_caller(&t->kinds, leg->endpoint, get(m, "Context", context, sizeof(context)), num);
	get(m, "CallerIDName", name, sizeof(name));
	if (num[0] && ct_withheld(num))
		c->withheld = 1;
	if (!ct_withheld(num) && !c->withheld)
		memcpy(c->external_number, num, sizeof(num));
	if (!ct_withheld(name) && !c->withheld)
		memcpy(c->external_name, name, sizeof(name));
	get(m, "Exten", c->did, sizeof(c->did));
	if (strcmp(c->did, "s") == 0)
		c->did[0] = '\0';
}

/* The caller's number and name are forgotten, not just left out. */
static void withhold(struct call *c)
{
	c->withheld = 1;
	memset(c->external_number, 0, sizeof(c->external_number));
	memset(c->external_name, 0, sizeof(c->external_name));
}

/* NewCallerid on the caller leg: a presentation restricted from here on
 * (CID-CallingPres "... Prohibited ...", Asterisk 12+) withholds the caller. */
static void note_presentation(struct call *c, const struct ami_msg *m)
{
	char pres[80];

	if (strstr(get(m, "CID-CallingPres", pres, sizeof(pres)), "Prohibited") != NULL)
		withhold(c);
}

void call_tracker_presentation(struct call_tracker *t, const char *linkedid, const char *num_pres)
{
	struct call *c = *ct_slot_of(t, linkedid);

	if (c == NULL)
		return;
	ct_presentation_known(c);
	if (strncmp(num_pres, "prohib", 6) == 0)
		withhold(c);
}

/* A call's first channel: its caller is presented as it arrived, and the
 * PBX is asked whether that presentation is restricted. */
void ct_first_channel(struct call_tracker *t, struct call *c, const struct ami_msg *m, int64_t now_ms)
{
	note_caller(t, c, m);
	if (t->o.ask_presentation && !c->ch[0].is_local)
		t->o.ask_presentation(t->ctx, c->ch[0].name, c->linkedid);
	else
		ct_presentation_known(c); /* nothing to ask: as presented */
	hold_start(t, c, now_ms);
}

/* The channel whose Uniqueid is its call's Linkedid began the call: it is
 * the caller leg.  A call known only in part may have learnt of another of
 * its channels first (the PBX lists channels in no set order; a mid-call
 * event may come before the list): its originator, once it shows, goes
 * first, and the caller is taken again from it.  A withheld caller stays
 * withheld.  Returns where ch now is. */
struct ct_channel *ct_originator_found(struct call_tracker *t, struct call *c, struct ct_channel *ch,
                                       const struct ami_msg *m)
{
	if (ch == &c->ch[0] || !c->partial || strcmp(ch->uniqueid, c->linkedid) != 0)
		return ch;
	struct ct_channel first = c->ch[0];
	c->ch[0] = *ch;
	*ch = first;
	memset(c->external_number, 0, sizeof(c->external_number));
	memset(c->external_name, 0, sizeof(c->external_name));
	note_caller(t, c, m);
	if (t->o.ask_presentation && !c->ch[0].is_local)
		t->o.ask_presentation(t->ctx, c->ch[0].name, c->linkedid);
	return &c->ch[0];
}

/*
 * Is a person connected to the caller?  Walks from the caller leg through
 * bridges and Local pairs; the first live non-Local channel reached is the
 * person (an IVR or announcement that answered the caller is no bridge).
 */
static const struct ct_channel *connected_person(const struct call *c)
{
	unsigned char seen[CT_MAX_CHANNELS] = {0};
	int queue[CT_MAX_CHANNELS], head = 0, tail = 0;

	if (c->nch == 0 || c->ch[0].gone)
		return NULL;
	seen[0] = 1;
	queue[tail++] = 0;
	while (head < tail) {
		const struct ct_channel *a = &c->ch[queue[head++]];
		for (int j = 0; j < c->nch; j++) {
			const struct ct_channel *b = &c->ch[j];
			if (seen[j] || b->gone)
				continue;
			if (!((a->bridge[0] && strcmp(a->bridge, b->bridge) == 0) || local_pair(a, b)))
				continue;
			if (!b->is_local)
				return b;
			seen[j] = 1;
			queue[tail++] = j;
		}
	}
	return NULL;
}

void ct_check_answer(struct call_tracker *t, struct call *c, int64_t now_ms)
{
	judge_channels(t, c);
	const struct ct_channel *p = connected_person(c);

	if (p == NULL)
		return;
	if (!p->is_trunk || call_direction(c) != CALL_DIR_INBOUND)
		memcpy(c->answered_by, p->endpoint, sizeof(c->answered_by));
	if (!c->answered) {
		ct_rings_release(t, c, now_ms); /* the phones that stopped ringing say so before the answer */
		release_start(t, c, now_ms);
		c->answered = 1;
		c->answered_ms = now_ms;
		emit(t, CALL_ANSWER, c, now_ms);
	}
}

void ct_add_rung(struct call *c, const struct ct_channel *ch)
{
	if (ch->is_trunk || ch->is_local || c->nrung >= CT_MAX_RUNG)
		return;
	for (int i = 0; i < c->nrung; i++)
		if (strcmp(c->rung[i], ch->endpoint) == 0)
			return;
	memcpy(c->rung[c->nrung++], ch->endpoint, CT_ENDPOINT_MAX);
}

static void on_dial_begin(struct call_tracker *t, struct call *c, const struct ami_msg *m, int64_t now_ms)
{
	char dest[CT_NAME_MAX], dialstring[CT_LABEL_MAX], source[CT_ID_MAX];
	struct ct_channel *d = ct_find_channel_named(c, get(m, "DestChannel", dest, sizeof(dest)));

	get(m, "Uniqueid", source, sizeof(source));
	if (d == NULL) {
		ct_ring_unseen(t, c, m, source, now_ms);
		return;
	}
	get(m, "DialString", dialstring, sizeof(dialstring));
	if (!d->is_local)
		endpoint_kinds_dialled(&t->kinds, d->endpoint, dialstring);
	d->is_trunk = ct_channel_is_trunk(t, d) ? 1u : 0u;
	char *at = strchr(dialstring, '@');
	if (d->is_trunk && c->dialled[0] == '\0' && at) {
		*at = '\0';
		snprintf(c->dialled, sizeof(c->dialled), "%.*s", (int)sizeof(c->dialled) - 1, dialstring);
	} else if (d->is_trunk && c->dialled[0] == '\0') {
		get(m, "Exten", c->dialled, sizeof(c->dialled));
	}
	ct_add_rung(c, d);
	ct_ring_begin(t, c, d, source, now_ms);
}

/* DialEnd ANSWER for a channel whose own events never came (a capture
 * filtered to some channels, events lost): the only evidence of who
 * answered.  Kept aside; used at the end only if nothing better came. */
static void note_dial_answer(struct call *c, const struct ami_msg *m, int64_t now_ms)
{
	char uid[CT_ID_MAX], name[CT_NAME_MAX], endpoint[CT_ENDPOINT_MAX] = {0};
	int is_local = 0;

	if (c->dial_answered_by[0] || ct_find_channel(c, get(m, "DestUniqueid", uid, sizeof(uid))) != NULL)
		return;
	ct_channel_endpoint(get(m, "DestChannel", name, sizeof(name)), endpoint, sizeof(endpoint), &is_local);
	if (is_local || endpoint[0] == '\0')
		return;
	memcpy(c->dial_answered_by, endpoint, sizeof(c->dial_answered_by));
	c->dial_answered_ms = now_ms;
}

static void on_dial_end(struct call_tracker *t, struct call *c, const struct ami_msg *m, int64_t now_ms)
{
	const struct ami_field *st = ami_msg_find(m, "DialStatus");
	char uid[CT_ID_MAX], status[16];

	ct_ring_end(t, c, get(m, "DestUniqueid", uid, sizeof(uid)), get(m, "DialStatus", status, sizeof(status)),
	            now_ms);
	if (ami_field_is(st, "ANSWER"))
		note_dial_answer(c, m, now_ms);
	else if (ami_field_is(st, "BUSY"))
		c->dial_busy = 1;
	else if (ami_field_is(st, "CONGESTION"))
		c->dial_congestion = 1;
	else if (ami_field_is(st, "CHANUNAVAIL"))
		c->dial_unavail = 1;
}

int ct_all_gone(const struct call *c)
{
	for (int i = 0; i < c->nch; i++)
		if (!c->ch[i].gone)
			return 0;
	return 1;
}

static void on_hangup(struct call_tracker *t, struct call *c, struct ct_channel *ch, const struct ami_msg *m,
                      int64_t now_ms)
{
	char cause[16];
	long long v;

	ch->gone = 1;
	ch->bridge[0] = '\0';
	ct_ring_end(t, c, ch->uniqueid, NULL, now_ms);
	get(m, "Cause", cause, sizeof(cause));
	char *end;
	v = strtoll(cause, &end, 10);
	ch->cause = (*cause && *end == '\0' && v >= 0 && v < 1000) ? (int)v : 0;
	get(m, "Cause-txt", ch->cause_txt, sizeof(ch->cause_txt));
	if (ct_all_gone(c) && c->legs <= c->nch)
		ct_finish(t, c, now_ms, 0);
	else if (ct_all_gone(c))
		ct_finish(t, c, now_ms, 1); /* channels beyond the cap were not followed */
}

/*
 * A channel that shows up under another call's Linkedid: after an attended
 * transfer on Asterisk 13+ the target's events carry the caller's Linkedid.
 * It leaves its old call, which then ends when its own channels are gone
 * (not after call_idle_timeout), and joins this one with what was known of
 * it (its bridge: the caller may be talking to it already).  A search of
 * every call, but only for a channel met without its Newchannel.
 */
static struct ct_channel *adopt_moved(struct call_tracker *t, struct call *to, const char *uid, int64_t now_ms)
{
	size_t seen = 0;

	/* A walk of the table, ended as soon as every call was seen; none at
	 * all when `to` is the only call (a channel met late, the usual case). */
	for (size_t i = 0; i < t->nbuckets && t->ncalls > 1 && seen < t->ncalls; i++) {
		for (struct call *from = t->buckets[i]; from; from = from->next) {
			seen++;
			struct ct_channel *old = from == to ? NULL : ct_find_channel(from, uid);
			if (old == NULL || old->gone)
				continue;
			struct ct_channel moved = *old;
			old->gone = 1;
			old->bridge[0] = '\0';
			ct_touch(t, from, now_ms);
			if (ct_all_gone(from))
				ct_finish(t, from, now_ms, from->legs > from->nch);
			struct ct_channel *ch = ct_new_channel(t, to);
			if (ch != NULL)
				*ch = moved;
			return ch;
		}
	}
	return NULL;
}

/* A channel event with a Uniqueid and no Linkedid: Asterisk 11 or older,
 * whose calls cannot be told apart.  Said once, loudly; counted. */
static void no_linkedid(struct call_tracker *t, const struct ami_msg *m)
{
	char uid[CT_ID_MAX];

	if (get(m, "Uniqueid", uid, sizeof(uid))[0] == '\0')
		return;
	if (t->no_linkedid++ == 0)
		log_crit("call tracker: %s", ASTERISK_TOO_OLD);
}

/* Asterisk's ids are "<epoch>.<n>", with a SystemName in front where one
 * is set ("195176c06ab8-1529936170.42").  Anything else (a control
 * character, invalid UTF-8) would make a call_id that the JSON escapes and
 * the outbox keys by the raw bytes: an ack could never retire it. */
int ct_linkedid_ok(const char *id)
{
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
			return 0;
	return 1;
}

static const char *event_linkedid(const struct ami_msg *m, const struct ami_field *ev, char *buf, size_t size)
{
	if (ami_field_is(ev, "BlindTransfer") || ami_field_is(ev, "AttendedTransfer"))
		return get(m, "TransfereeLinkedid", buf, size);
	return get(m, "Linkedid", buf, size);
}

enum ev_kind {
	EV_NONE,
	EV_NEWCHANNEL,
	EV_NEWSTATE,
	EV_DIALBEGIN,
	EV_DIALEND,
	EV_BRIDGEENTER,
	EV_BRIDGELEAVE,
	EV_HANGUP,
	EV_QUEUEJOIN,
	EV_TRANSFER,
	EV_NEWCALLERID,
	EV_VARSET,   /* only the variables that name a call's recording */
	EV_DIAL_APP, /* Newexten running Dial() on several phones at once (a ring group) */
	EV_OTHER_CHANNEL
};

static enum ev_kind classify(const struct ami_field *ev)
{
	static const struct {
		const char *name;
		enum ev_kind kind;
	} table[] = {
	    {"Newchannel", EV_NEWCHANNEL},
	    {"Newstate", EV_NEWSTATE},
	    {"DialBegin", EV_DIALBEGIN},
	    {"DialEnd", EV_DIALEND},
	    {"BridgeEnter", EV_BRIDGEENTER},
	    {"BridgeLeave", EV_BRIDGELEAVE},
	    {"Hangup", EV_HANGUP},
	    {"QueueCallerJoin", EV_QUEUEJOIN},
	    {"BlindTransfer", EV_TRANSFER},
	    {"AttendedTransfer", EV_TRANSFER},
	    {"NewCallerid", EV_NEWCALLERID},
	    {"VarSet", EV_VARSET},
	    {"Newexten", EV_DIAL_APP},
	    {"NewConnectedLine", EV_OTHER_CHANNEL},
	    {"HangupRequest", EV_OTHER_CHANNEL},
	    {"SoftHangupRequest", EV_OTHER_CHANNEL},
	    {"Hold", EV_OTHER_CHANNEL},
	    {"Unhold", EV_OTHER_CHANNEL},
	};
	if (ev == NULL)
		return EV_NONE;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (ami_field_is(ev, table[i].name))
			return table[i].kind;
	return EV_NONE;
}

/* The call an event belongs to; created when a channel shows up.  A call
 * first seen by anything but its first Newchannel is partial: the first
 * is its originator's (Uniqueid == Linkedid); another channel's Newchannel
 * means the call began while we were away. */
static struct call *call_for(struct call_tracker *t, const struct ami_msg *m, enum ev_kind kind, int64_t now_ms)
{
	char linkedid[CT_ID_MAX], uid[CT_ID_MAX];
	const struct ami_field *ev = ami_msg_find(m, "Event");

	if (event_linkedid(m, ev, linkedid, sizeof(linkedid))[0] == '\0') {
		no_linkedid(t, m);
		return NULL;
	}
	if (!ct_linkedid_ok(linkedid)) {
		uint64_t held_back;
		t->bad_linkedids++;
		if (log_ratelimit_ok(&t->bad_id_log, now_ms, &held_back))
			log_warnx("call tracker: an event's Linkedid is not letters, digits, '.', '-' or '_': its call "
			          "is not "
			          "tracked (%llu so far)",
			          (unsigned long long)t->bad_linkedids);
		return NULL;
	}
	struct call *c = *ct_slot_of(t, linkedid);
	if (c != NULL || kind == EV_TRANSFER || kind == EV_HANGUP || kind == EV_VARSET || kind == EV_DIAL_APP)
		return c;
	if (get(m, "Channel", uid, sizeof(uid))[0] == '\0' || get(m, "Uniqueid", uid, sizeof(uid))[0] == '\0')
		return NULL;
	c = ct_new_call(t, linkedid, now_ms);
	if (c != NULL && (kind != EV_NEWCHANNEL || strcmp(uid, linkedid) != 0)) {
		/* begun unseen (its originator's Newchannel came before our
		 * login): with a CDR store its rows complete it once it ends, as
		 * for a call the sync finds; all its channels may be heard live
		 * before the sync's list comes, and then the sync adds nothing */
		c->partial = 1;
		c->late_cdr = t->o.hold_for_cdr ? 1u : 0u;
	}
	return c;
}

void call_tracker_event(struct call_tracker *t, const struct ami_msg *m, int64_t now_ms)
{
	char uid[CT_ID_MAX], bridge[CT_ID_MAX];
	enum ev_kind kind = classify(ami_msg_find(m, "Event"));

	if (kind == EV_NONE) {
		endpoint_kinds_event(&t->kinds, m); /* hints, as extensions change state */
		return;
	}
	if ((kind == EV_VARSET && !ct_is_call_variable(m)) || (kind == EV_DIAL_APP && !ct_dials_many(m)))
		return; /* the many other VarSets and Newextens: no call is looked for */
	struct call *c = call_for(t, m, kind, now_ms);
	if (c == NULL)
		return;
	ct_touch(t, c, now_ms);
	if (kind == EV_VARSET) {
		ct_note_variable(c, m);
		return;
	}
	if (kind == EV_TRANSFER) {
		c->transferred = 1;
		return;
	}
	if (kind == EV_QUEUEJOIN) {
		if (c->queue[0] == '\0')
			get(m, "Queue", c->queue, sizeof(c->queue));
		return;
	}
	struct ct_channel *ch = ct_find_channel(c, get(m, "Uniqueid", uid, sizeof(uid)));
	if (kind == EV_DIAL_APP) {
		if (ch != NULL)
			ch->dials_many = 1;
		return;
	}
	int first = c->nch == 0;
	if (ch == NULL && kind != EV_NEWCHANNEL && (ch = adopt_moved(t, c, uid, now_ms)) != NULL) {
		if (first)
			hold_start(t, c, now_ms);
		ct_check_answer(t, c, now_ms);
	}
	if (ch == NULL && kind != EV_HANGUP) {
		ch = ct_add_channel(t, c, m);
		if (ch && first)
			ct_first_channel(t, c, m, now_ms);
		else if (ch)
			ch = ct_originator_found(t, c, ch, m);
	}
	if (ch == NULL)
		return;
	switch (kind) {
	case EV_NEWSTATE:
		if (ami_field_is(ami_msg_find(m, "ChannelStateDesc"), "Up")) {
			ch->up = 1;
			if (ch == &c->ch[0])
				c->pbx_answered = 1;
		}
		break;
	case EV_DIALBEGIN:
		on_dial_begin(t, c, m, now_ms);
		break;
	case EV_DIALEND:
		on_dial_end(t, c, m, now_ms);
		break;
	case EV_BRIDGEENTER:
		get(m, "BridgeUniqueid", ch->bridge, sizeof(ch->bridge));
		ct_check_answer(t, c, now_ms);
		break;
	case EV_BRIDGELEAVE:
		if (strcmp(ch->bridge, get(m, "BridgeUniqueid", bridge, sizeof(bridge))) == 0)
			ch->bridge[0] = '\0';
		break;
	case EV_HANGUP:
		on_hangup(t, c, ch, m, now_ms);
		break;
	case EV_NEWCALLERID:
		if (ch == &c->ch[0])
			note_presentation(c, m);
		break;
	default:
		break;
	}
}

void call_tracker_expire(struct call_tracker *t, int64_t now_ms)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		for (struct call *c = t->buckets[i], *next; c; c = next) {
			next = c->next;
			if (now_ms - c->last_event_ms > t->o.idle_timeout_ms)
				ct_finish(t, c, c->last_event_ms, 1);
		}
	}
}

void call_tracker_clock_unconfirmed(struct call_tracker *t)
{
	t->clock_provisional = 1;
}

void call_tracker_clock_confirmed(struct call_tracker *t, int64_t moved_ms)
{
	t->clock_provisional = 0;
	for (size_t i = 0; i < t->nbuckets; i++) {
		for (struct call *c = t->buckets[i]; c; c = c->next) {
			if (!c->clock_provisional)
				continue;
			c->clock_provisional = 0;
			c->started_ms += moved_ms;
			c->answered_ms += c->answered ? moved_ms : 0;
			c->last_event_ms += moved_ms;
		}
	}
}
