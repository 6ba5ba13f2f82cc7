#include "call_tracker_internal.h"

#include <stdlib.h>
#include <string.h>

/*
 * The tracker's table of calls: a hash of Linkedid to call, chained, its
 * buckets a power of two, small at first and grown with the calls (every
 * whole-table walk, expiry, state/calls, a moved channel's search, costs
 * the buckets, not the calls).
 */

#define CT_FIRST_BUCKETS 16

static size_t hash_id(const char *s)
{
	size_t h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

int ct_table_init(struct call_tracker *t)
{
	t->nbuckets = CT_FIRST_BUCKETS;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	return t->buckets ? 0 : -1;
}

void ct_free_call(struct call *c)
{
	free(c->rings);
	free(c->ch);
	free(c);
}

void ct_table_free(struct call_tracker *t)
{
	for (size_t i = 0; t->buckets && i < t->nbuckets; i++) {
		for (struct call *c = t->buckets[i], *next; c; c = next) {
			next = c->next;
			ct_free_call(c);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->ncalls = 0;
}

struct call **ct_slot_of(struct call_tracker *t, const char *linkedid)
{
	struct call **p = &t->buckets[hash_id(linkedid) & (t->nbuckets - 1)];
	while (*p && strcmp((*p)->linkedid, linkedid) != 0)
		p = &(*p)->next;
	return p;
}

static void grow_table(struct call_tracker *t)
{
	size_t n = t->nbuckets * 2;
	struct call **nb = calloc(n, sizeof(*nb));
	if (nb == NULL)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < t->nbuckets; i++) {
		for (struct call *c = t->buckets[i], *next; c; c = next) {
			next = c->next;
			size_t h = hash_id(c->linkedid) & (n - 1);
			c->next = nb[h];
			nb[h] = c;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
}

struct call *ct_new_call(struct call_tracker *t, const char *linkedid, int64_t now_ms)
{
	if (t->ncalls >= t->o.max_calls) {
		t->calls_refused++;
		return NULL;
	}
	if (t->ncalls >= t->nbuckets * 2)
		grow_table(t);
	struct call *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	memcpy(c->linkedid, linkedid, strlen(linkedid) + 1);
	c->started_ms = now_ms;
	ct_touch(t, c, now_ms);
	c->clock_provisional = t->clock_provisional != 0;
	struct call **p = ct_slot_of(t, linkedid);
	c->next = *p;
	*p = c;
	t->ncalls++;
	t->calls_started++;
	return c;
}

void ct_remove_call(struct call_tracker *t, struct call *c)
{
	struct call **p = ct_slot_of(t, c->linkedid);
	if (c->journal_dirty)
		t->journal_dirty--;
	if (*p == c)
		*p = c->next;
	t->ncalls--;
	ct_free_call(c);
}
