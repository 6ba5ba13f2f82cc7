#include "call_tracker_internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "call_journal.h"
#include "log.h"

/* ---- the journal: calls in flight across a restart ---- */

/* A call as the journal holds it: this header, the struct, its channels.
 * Another build's layout is not guessed at: its calls are not restored. */
struct call_image {
	uint32_t format, call_size, channel_size, nch;
};
#define CALL_IMAGE_FORMAT 1

static int write_image(struct call_tracker *t, struct call *c)
{
	struct call_image h = {CALL_IMAGE_FORMAT, sizeof(struct call), sizeof(struct ct_channel), (uint32_t)c->nch};
	size_t len = sizeof(h) + sizeof(*c) + (size_t)c->nch * sizeof(*c->ch);
	unsigned char *buf = malloc(len);

	if (buf == NULL)
		return -1;
	memcpy(buf, &h, sizeof(h));
	/* byte copies (padding included: calls and channels are zeroed when made) */
	memcpy(buf + sizeof(h), c, sizeof(*c));
	memset(buf + sizeof(h) + offsetof(struct call, next), 0, sizeof(c->next));
	memset(buf + sizeof(h) + offsetof(struct call, ch), 0, sizeof(c->ch));
	memset(buf + sizeof(h) + offsetof(struct call, rings), 0, sizeof(c->rings)); /* rings are live only */
	memset(buf + sizeof(h) + offsetof(struct call, nring), 0, sizeof(c->nring));
	if (c->nch)
		memcpy(buf + sizeof(h) + sizeof(*c), c->ch, (size_t)c->nch * sizeof(*c->ch));
	int rc = call_journal_put(t->o.journal, c->linkedid, buf, len);
	free(buf);
	return rc;
}

void call_tracker_journal_flush(struct call_tracker *t)
{
	for (size_t i = 0; t->journal_dirty > 0 && i < t->nbuckets; i++) {
		for (struct call *c = t->buckets[i]; c; c = c->next) {
			if (!c->journal_dirty)
				continue;
			c->journal_dirty = 0;
			t->journal_dirty--;
			write_image(t, c);
		}
	}
}

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

/* Every string of a channel ends inside its array. */
static int channel_sound(const struct ct_channel *ch)
{
	return TERMINATED(ch->uniqueid) && TERMINATED(ch->name) && TERMINATED(ch->endpoint) && TERMINATED(ch->bridge) &&
	       TERMINATED(ch->cause_txt);
}

/*
 * A call read back is checked field by field before it is used: counts in
 * their bounds, every string terminated inside its array, times not
 * negative.  The file is ours, but a damaged or crafted one (audit-3 N10:
 * nrung 100000 in a CRC-valid image) must not take the bridge down at
 * every start.
 */
static int call_sound(const struct call *c, const char *id)
{
	int ok = TERMINATED(c->linkedid) && strcmp(c->linkedid, id) == 0 && TERMINATED(c->external_number) &&
	         TERMINATED(c->external_name) && TERMINATED(c->did) && TERMINATED(c->dialled) && TERMINATED(c->queue) &&
	         TERMINATED(c->recording) && TERMINATED(c->answered_by) && TERMINATED(c->dial_answered_by) &&
	         TERMINATED(c->originated_request_id) && TERMINATED(c->originated_by) && c->nrung >= 0 &&
	         c->nrung <= CT_MAX_RUNG && c->nch >= 0 && c->nch <= CT_MAX_CHANNELS && c->legs >= 0 &&
	         c->legs <= CT_MAX_LEGS && c->started_ms >= 0 && c->answered_ms >= 0 && c->ended_ms >= 0 &&
	         c->last_event_ms >= 0 && c->dial_answered_ms >= 0 && c->start_due_ms >= 0;
	for (int i = 0; ok && i < CT_MAX_RUNG; i++)
		ok = TERMINATED(c->rung[i]);
	return ok;
}

static struct call *read_image(const char *id, const void *state, size_t len)
{
	struct call_image h;
	const unsigned char *p = state;

	if (len < sizeof(h))
		return NULL;
	memcpy(&h, p, sizeof(h));
	if (h.format != CALL_IMAGE_FORMAT || h.call_size != sizeof(struct call) ||
	    h.channel_size != sizeof(struct ct_channel) || h.nch > CT_MAX_CHANNELS ||
	    len != sizeof(h) + sizeof(struct call) + (size_t)h.nch * sizeof(struct ct_channel))
		return NULL;
	struct call *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	memcpy(c, p + sizeof(h), sizeof(*c));
	c->next = NULL;
	c->rings = NULL;
	c->nring = 0;
	c->ch = h.nch ? calloc(h.nch, sizeof(*c->ch)) : NULL;
	if ((h.nch && c->ch == NULL) || c->nch != (int)h.nch || !call_sound(c, id)) {
		free(c->ch);
		free(c);
		return NULL;
	}
	if (h.nch)
		memcpy(c->ch, p + sizeof(h) + sizeof(*c), h.nch * sizeof(*c->ch));
	for (int i = 0; i < c->nch; i++) {
		if (!channel_sound(&c->ch[i])) {
			free(c->ch);
			free(c);
			return NULL;
		}
	}
	c->cap = c->nch;
	return c;
}

static void restore_one(void *ctx, const char *id, const void *state, size_t len)
{
	struct call_tracker *t = ctx;
	struct call *c = read_image(id, state, len);

	if (c == NULL || !ct_linkedid_ok(id) || *ct_slot_of(t, id) != NULL || t->ncalls >= t->o.max_calls) {
		if (c)
			ct_free_call(c);
		t->calls_unrestored++;
		return;
	}
	c->restored = 1;
	c->clock_provisional = 0; /* dated by the PBX's clock before the restart */
	c->start_held = 0;        /* a start not sent before the restart is not sent */
	c->journal_dirty = 0;
	struct call **p = ct_slot_of(t, id);
	c->next = *p;
	*p = c;
	t->ncalls++;
	t->calls_restored++;
}

size_t call_tracker_restore(struct call_tracker *t)
{
	uint64_t before = t->calls_restored;

	if (t->o.journal)
		call_journal_each(t->o.journal, restore_one, t);
	if (t->calls_unrestored)
		log_warnx(
		    "call tracker: %llu call(s) in the journal could not be read back (written by another version?); "
		    "they are followed from the PBX's channel list as partial calls",
		    (unsigned long long)t->calls_unrestored);
	return (size_t)(t->calls_restored - before);
}
