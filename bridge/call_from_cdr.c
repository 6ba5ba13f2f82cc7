#include "call_tracker_internal.h"

#include <string.h>

/* ---- calls from the PBX's CDR store (after a gap) ---- */

/* A CDR cell into a field: cut to fit, the rest zeroed. */
static void copy_text(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memset(dst, 0, size);
	memcpy(dst, src, n);
}

/* `"John Smith" <15559876543>` → John Smith */
static void clid_name(const char *clid, char *out, size_t size)
{
	const char *q = strchr(clid, '"'), *e = q ? strchr(q + 1, '"') : NULL;
	size_t n = q && e ? (size_t)(e - q - 1) : 0;

	n = n < size - 1 ? n : size - 1;
	if (n)
		memcpy(out, q + 1, n);
	out[n] = '\0';
}

static struct ct_channel *cdr_channel(struct call_tracker *t, struct call *c, const char *name)
{
	struct ct_channel *ch;
	int is_local;

	if (name[0] == '\0')
		return NULL;
	if ((ch = ct_find_channel_named(c, name)) != NULL)
		return ch;
	if ((ch = ct_new_channel(t, c)) == NULL)
		return NULL;
	copy_text(ch->name, sizeof(ch->name), name);
	ct_channel_endpoint(ch->name, ch->endpoint, sizeof(ch->endpoint), &is_local);
	ch->is_local = is_local ? 1u : 0u;
	ch->gone = 1;
	ch->is_trunk = ct_channel_is_trunk(t, ch) ? 1u : 0u;
	return ch;
}

/* The caller leg's row: the one whose leg is the call's first channel. */
static const struct cdr_row *caller_row(const struct cdr_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].uniqueid, rows[i].linkedid) == 0)
			return &rows[i];
	return &rows[0];
}

static void cdr_caller(struct call_tracker *t, struct call *c, const struct cdr_row *r)
{
	struct ct_channel *leg = cdr_channel(t, c, r->channel);

	if (leg && !leg->is_local)
		endpoint_kinds_caller(&t->kinds, leg->endpoint, r->dcontext, r->src);
	if (ct_withheld(r->src)) {
		c->withheld = 1;
	} else {
		copy_text(c->external_number, sizeof(c->external_number), r->src);
		clid_name(r->clid, c->external_name, sizeof(c->external_name));
	}
	copy_text(c->did, sizeof(c->did), r->did);
}

/* A leg dialled from the caller's side: rung, answered, or what the dial
 * said.  The answer is that leg's end minus its billsec. */
static void cdr_leg(struct call_tracker *t, struct call *c, const struct cdr_row *r)
{
	struct ct_channel *d = cdr_channel(t, c, r->dstchannel);
	int answered = strcmp(r->disposition, "ANSWERED") == 0;

	if (d == NULL || d->is_local)
		return;
	d->is_trunk = ct_channel_is_trunk(t, d) ? 1u : 0u;
	if (d->is_trunk && c->dialled[0] == '\0')
		copy_text(c->dialled, sizeof(c->dialled), r->dst);
	ct_add_rung(c, d);
	if (answered) {
		int64_t at = r->start_ms + (r->duration - r->billsec) * 1000;
		if (!c->answered || at < c->answered_ms)
			c->answered_ms = at;
		c->answered = 1;
		if (!d->is_trunk)
			memcpy(c->answered_by, d->endpoint, sizeof(c->answered_by)); /* the last to answer */
	} else if (strcmp(r->disposition, "BUSY") == 0) {
		c->dial_busy = 1;
	} else if (strcmp(r->disposition, "CONGESTION") == 0) {
		c->dial_congestion = 1;
	} else if (strcmp(r->disposition, "FAILED") == 0) {
		c->dial_unavail = 1;
	}
}

static int64_t cdr_end(const struct cdr_row *rows, size_t n)
{
	int64_t end = 0;
	for (size_t i = 0; i < n; i++)
		if (rows[i].start_ms + rows[i].duration * 1000 > end)
			end = rows[i].start_ms + rows[i].duration * 1000;
	return end;
}

/* How far the start we heard is past the CDR's: its calldate is the same
 * moment cut to the second, so its times are put on our start (else the
 * record's duration could come out a second short: a start to the
 * millisecond, an end to the second).  0 when the two are not that. */
static int64_t cdr_shift(const struct call *c, const struct cdr_row *rows, size_t n)
{
	int64_t first = rows[0].start_ms;
	for (size_t i = 1; i < n; i++)
		if (rows[i].start_ms < first)
			first = rows[i].start_ms;
	int64_t shift = c->started_ms - first;
	return shift >= 0 && shift < 1000 ? shift : 0;
}

/* A call part of which happened while we were away (begun, or answered),
 * ended since, its end heard: what we missed from its rows (the start of
 * one never seen to begin, the answer), its end as heard; then it is
 * whole.  A start we heard stays, and the CDR's times are put on it. */
static void cdr_complete_late(struct call_tracker *t, struct call *c, const struct cdr_row *rows, size_t n)
{
	int64_t ended = c->ended_ms, shift = 0, answered_ms = c->answered_ms;
	int was_answered = c->answered;
	char answered_by[CT_ENDPOINT_MAX];

	if (c->seen_late) {
		c->started_ms = rows[0].start_ms;
		for (size_t i = 1; i < n; i++)
			if (rows[i].start_ms < c->started_ms)
				c->started_ms = rows[i].start_ms;
	} else {
		shift = cdr_shift(c, rows, n);
	}
	memcpy(answered_by, c->answered_by, sizeof(answered_by));
	c->answered = 0; /* an answer noticed at the sync is not the PBX's: the CDR's is */
	for (size_t i = 0; i < n; i++)
		cdr_leg(t, c, &rows[i]);
	if (c->answered) {
		c->answered_ms += shift;
	} else if (was_answered) { /* the rows say nothing of it: what we had stands */
		c->answered = 1;
		c->answered_ms = answered_ms;
	}
	if (c->answered_by[0] == '\0')
		memcpy(c->answered_by, answered_by, sizeof(c->answered_by));
	c->partial = 0;
	c->awaiting_cdr = 0;
	c->cdr_covered = 0;
	ct_finish(t, c, ended > c->started_ms ? ended : cdr_end(rows, n), 0);
}

/* A call we knew, which ended while we were away: its end, answer and
 * dial results from the CDR; then it is whole. */
static void cdr_complete(struct call_tracker *t, struct call *c, const struct cdr_row *rows, size_t n)
{
	int64_t shift = cdr_shift(c, rows, n);
	int was_answered = c->answered;
	int64_t answered_ms = c->answered_ms;
	char answered_by[CT_ENDPOINT_MAX];

	memcpy(answered_by, c->answered_by, sizeof(answered_by));
	for (size_t i = 0; i < n; i++)
		cdr_leg(t, c, &rows[i]);
	if (was_answered) { /* what we saw live stands */
		c->answered_ms = answered_ms;
		if (answered_by[0] && c->answered_by[0] == '\0')
			memcpy(c->answered_by, answered_by, sizeof(c->answered_by));
	} else if (c->answered) {
		c->answered_ms += shift;
	}
	c->awaiting_cdr = 0;
	c->cdr_covered = 0;
	ct_finish(t, c, cdr_end(rows, n) + shift, 0);
}

enum cdr_outcome call_tracker_cdr_call(struct call_tracker *t, const struct cdr_row *rows, size_t n, int64_t now_ms)
{
	struct call *c;
	(void)now_ms;

	if (n == 0 || !ct_linkedid_ok(rows[0].linkedid) || strlen(rows[0].linkedid) >= CT_ID_MAX)
		return CDR_UNUSABLE;
	for (size_t i = 0; i < n; i++)
		if (!cdr_row_times_ok(&rows[i]))
			return CDR_UNUSABLE;
	if ((c = *ct_slot_of(t, rows[0].linkedid)) != NULL) {
		if (!c->awaiting_cdr)
			return CDR_LIVE;
		if (c->cdr_wanted)
			return CDR_LIVE; /* it ended after this read was asked for: the next one is its */
		if (c->ended_heard)
			cdr_complete_late(t, c, rows, n);
		else
			cdr_complete(t, c, rows, n);
		return CDR_COMPLETED;
	}
	if (t->o.journal && call_journal_was_emitted(t->o.journal, rows[0].linkedid))
		return CDR_EMITTED_ALREADY;
	if ((c = ct_new_call(t, rows[0].linkedid, rows[0].start_ms)) == NULL)
		return CDR_UNUSABLE;
	c->from_cdr = 1;
	c->clock_provisional = 0;
	for (size_t i = 0; i < n; i++)
		if (rows[i].start_ms < c->started_ms)
			c->started_ms = rows[i].start_ms;
	cdr_caller(t, c, caller_row(rows, n));
	for (size_t i = 0; i < n; i++)
		cdr_leg(t, c, &rows[i]);
	c->legs = c->nch;
	ct_finish(t, c, cdr_end(rows, n), 0);
	return CDR_RECOVERED;
}

void call_tracker_cdr_begin(struct call_tracker *t)
{
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct call *c = t->buckets[i]; c; c = c->next)
			c->cdr_covered = c->awaiting_cdr && !c->cdr_wanted;
}

size_t call_tracker_cdr_done(struct call_tracker *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nbuckets; i++) {
		for (struct call *c = t->buckets[i], *next; c; c = next) {
			next = c->next;
			if (!c->awaiting_cdr || !c->cdr_covered)
				continue;
			c->awaiting_cdr = 0;
			c->cdr_covered = 0;
			ct_finish(t, c, c->ended_ms, 1);
			n++;
		}
	}
	return n;
}

int call_tracker_cdr_wanted(struct call_tracker *t, int64_t *from_ms, int64_t *to_ms)
{
	int any = 0;

	for (size_t i = 0; t->cdr_wanted > 0 && i < t->nbuckets; i++) {
		for (struct call *c = t->buckets[i]; c; c = c->next) {
			if (!c->cdr_wanted)
				continue;
			c->cdr_wanted = 0;
			t->cdr_wanted--;
			*from_ms = any && *from_ms < c->started_ms ? *from_ms : c->started_ms;
			*to_ms = any && *to_ms > c->ended_ms ? *to_ms : c->ended_ms;
			any = 1;
		}
	}
	return any;
}
