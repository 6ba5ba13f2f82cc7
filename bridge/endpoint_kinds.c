#include "endpoint_kinds.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* An outside caller's number: "+31150010001", "15559876543".  Extensions
 * are shorter than 7 digits on every PBX we have seen. */
#define OUTSIDE_NUMBER_MIN_DIGITS 7

int endpoint_kinds_init(struct endpoint_kinds *k, const struct glob_list *trunk_endpoints,
                        const struct glob_list *phone_endpoints)
{
	memset(k, 0, sizeof(*k));
	k->trunk_endpoints = trunk_endpoints;
	k->phone_endpoints = phone_endpoints;
	k->cap = 64;
	k->slots = calloc(k->cap, sizeof(*k->slots));
	return k->slots ? 0 : -1;
}

void endpoint_kinds_free(struct endpoint_kinds *k)
{
	free(k->slots);
	k->slots = NULL;
	k->cap = k->n = 0;
}

static size_t hash_name(const char *s)
{
	size_t h = 2166136261u;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* The slot holding name, or the empty slot where it would go. */
static struct ep_entry *slot_for(const struct endpoint_kinds *k, const char *name)
{
	size_t i = hash_name(name) & (k->cap - 1);
	while (k->slots[i].name[0] && strcmp(k->slots[i].name, name) != 0)
		i = (i + 1) & (k->cap - 1);
	return &k->slots[i];
}

static int grow(struct endpoint_kinds *k)
{
	struct endpoint_kinds bigger = *k;
	bigger.cap = k->cap * 2;
	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (bigger.slots == NULL)
		return -1;
	for (size_t i = 0; i < k->cap; i++)
		if (k->slots[i].name[0])
			*slot_for(&bigger, k->slots[i].name) = k->slots[i];
	free(k->slots);
	*k = bigger;
	return 0;
}

/* The entry for endpoint, added if there is room; NULL when full. */
static struct ep_entry *entry(struct endpoint_kinds *k, const char *endpoint)
{
	if (k->slots == NULL || endpoint[0] == '\0' || strlen(endpoint) >= EP_NAME_MAX)
		return NULL;
	struct ep_entry *e = slot_for(k, endpoint);
	if (e->name[0])
		return e;
	if (k->n >= EP_MAX) {
		k->full++;
		return NULL;
	}
	if ((k->n + 1) * 2 > k->cap) {
		if (grow(k) < 0)
			return NULL;
		e = slot_for(k, endpoint);
	}
	memcpy(e->name, endpoint, strlen(endpoint) + 1);
	k->n++;
	return e;
}

static enum ep_kind configured(const struct endpoint_kinds *k, const char *endpoint)
{
	if (k->trunk_endpoints && glob_list_match(k->trunk_endpoints, endpoint))
		return EP_TRUNK;
	if (k->phone_endpoints && glob_list_match(k->phone_endpoints, endpoint))
		return EP_PHONE;
	return EP_UNKNOWN;
}

enum ep_kind endpoint_kind(const struct endpoint_kinds *k, const char *endpoint, enum ep_why *why)
{
	enum ep_kind kind = configured(k, endpoint);

	*why = kind != EP_UNKNOWN ? EPW_CONFIGURED : EPW_NONE;
	if (kind != EP_UNKNOWN || k->slots == NULL || endpoint[0] == '\0')
		return kind;
	const struct ep_entry *e = slot_for(k, endpoint);
	if (e->name[0] == '\0')
		return EP_UNKNOWN;
	*why = (enum ep_why)e->why;
	return (enum ep_kind)e->kind;
}

void endpoint_kinds_learn(struct endpoint_kinds *k, const char *endpoint, enum ep_kind kind, enum ep_why why)
{
	struct ep_entry *e = entry(k, endpoint);

	if (e == NULL || kind == EP_UNKNOWN || e->why >= why)
		return;
	e->kind = (unsigned char)kind;
	e->why = (unsigned char)why;
}

/* ---- what the PBX says ---- */

/* "PJSIP/100&SIP/200&Custom:DND100": every device with a technology is a
 * phone (Custom: and Queue: states have no '/'). */
static void learn_hint(struct endpoint_kinds *k, const char *hint)
{
	char dev[EP_NAME_MAX + 16];

	while (*hint) {
		size_t n = strcspn(hint, "&,");
		const char *slash = memchr(hint, '/', n);
		if (slash && n < sizeof(dev)) {
			size_t len = n - (size_t)(slash + 1 - hint);
			memcpy(dev, slash + 1, len);
			dev[len] = '\0';
			endpoint_kinds_learn(k, dev, EP_PHONE, EPW_HINT);
		}
		hint += n;
		hint += *hint ? 1 : 0;
	}
}

/* PJSIP: an endpoint that authenticates outbound registers or calls out as
 * a client of someone else's server: a trunk.  One with no authentication
 * at all can only be matched by its address (identify): a trunk too. */
static void learn_pjsip_endpoint(struct endpoint_kinds *k, const struct ami_msg *m)
{
	char name[EP_NAME_MAX], out[128], in[128];

	ami_msg_get(m, "ObjectName", name, sizeof(name));
	ami_msg_get(m, "OutboundAuths", out, sizeof(out));
	ami_msg_get(m, "Auths", in, sizeof(in));
	if (out[0] || (in[0] == '\0' && ami_msg_find(m, "Auths") != NULL))
		endpoint_kinds_learn(k, name, EP_TRUNK, EPW_LISTED);
}

/* chan_sip: a peer with a dynamic host registers to us: a phone. */
static void learn_sip_peer(struct endpoint_kinds *k, const struct ami_msg *m)
{
	char name[EP_NAME_MAX];

	if (ami_field_is(ami_msg_find(m, "Dynamic"), "yes"))
		endpoint_kinds_learn(k, ami_msg_get(m, "ObjectName", name, sizeof(name)), EP_PHONE, EPW_LISTED);
}

void endpoint_kinds_event(struct endpoint_kinds *k, const struct ami_msg *m)
{
	const struct ami_field *ev = ami_msg_find(m, "Event");
	char hint[256];

	if (ami_field_is(ev, "ExtensionStatus"))
		learn_hint(k, ami_msg_get(m, "Hint", hint, sizeof(hint)));
	else if (ami_field_is(ev, "EndpointList"))
		learn_pjsip_endpoint(k, m);
	else if (ami_field_is(ev, "PeerEntry"))
		learn_sip_peer(k, m);
}

/* ---- what the calls say ---- */

/* "+31150010001", "0201234567", "*86": what a person dials. */
static int is_number(const char *s, size_t len, size_t *digits)
{
	size_t d = 0;

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (isdigit((unsigned char)s[i]))
			d++;
		else if (!(s[i] == '+' && i == 0) && s[i] != '*' && s[i] != '#')
			return 0;
	}
	if (digits)
		*digits = d;
	return d > 0;
}

/* "100/sip:100@10.0.0.5:5060" or "150010002/150010002/172.20.0.13!!201":
 * the part after the endpoint names the endpoint again. */
static int names_itself(const char *rest, const char *endpoint)
{
	size_t n = strlen(endpoint);

	if (strncmp(rest, "sip:", 4) == 0)
		rest += 4;
	return strncmp(rest, endpoint, n) == 0 && (rest[n] == '\0' || rest[n] == '@' || rest[n] == '/');
}

void endpoint_kinds_dialled(struct endpoint_kinds *k, const char *endpoint, const char *dialstring)
{
	size_t n = strlen(endpoint);
	const char *at = strchr(dialstring, '@');

	if (n == 0)
		return;
	if (at && at > dialstring && strcmp(at + 1, endpoint) == 0) {
		endpoint_kinds_learn(k, endpoint, EP_TRUNK, EPW_DIALLED);
	} else if (strcmp(dialstring, endpoint) == 0) {
		endpoint_kinds_learn(k, endpoint, EP_PHONE, EPW_DIALLED);
	} else if (strncmp(dialstring, endpoint, n) == 0 && dialstring[n] == '/') {
		const char *rest = dialstring + n + 1;
		if (is_number(rest, strlen(rest), NULL))
			endpoint_kinds_learn(k, endpoint, EP_TRUNK, EPW_DIALLED);
		else if (names_itself(rest, endpoint))
			endpoint_kinds_learn(k, endpoint, EP_PHONE, EPW_DIALLED);
	}
}

static int has_letter(const char *s)
{
	for (; *s; s++)
		if (isalpha((unsigned char)*s))
			return 1;
	return 0;
}

static const char *ep_kind_name(enum ep_kind kind)
{
	return kind == EP_TRUNK ? "trunk" : kind == EP_PHONE ? "phone" : "unknown";
}

static const char *ep_why_text(enum ep_why why)
{
	static const char *const text[] = {
	    [EPW_NONE] = "nothing known",
	    [EPW_GUESS] = "a guess: nothing tells (see the log)",
	    [EPW_CALLER_NUMBER] = "the numbers its calls present",
	    [EPW_DIALLED] = "how it is dialled",
	    [EPW_LISTED] = "the PBX's endpoint list",
	    [EPW_HINT] = "behind a hint",
	    [EPW_CONFIGURED] = "trunk_endpoints / phone_endpoints",
	};
	return why <= EPW_CONFIGURED ? text[why] : "?";
}

static void guess(struct endpoint_kinds *k, const char *endpoint, const char *context)
{
	enum ep_kind kind = has_letter(endpoint) ? EP_TRUNK : EP_PHONE;
	struct ep_entry *e;

	endpoint_kinds_learn(k, endpoint, kind, EPW_GUESS);
	if ((e = entry(k, endpoint)) == NULL || e->why != EPW_GUESS || e->guess_said)
		return;
	e->guess_said = 1;
	k->guessed++;
	log_warnx("endpoint %s (calls from context %s): cannot tell whether it is a phone or a trunk (no hint, "
	          "not in the endpoint list, its callers' numbers do not say); taken for a %s. If that is wrong, "
	          "add it to %s",
	          endpoint, context[0] ? context : "?", ep_kind_name(kind),
	          kind == EP_TRUNK ? "phone_endpoints" : "trunk_endpoints");
}

void endpoint_kinds_caller(struct endpoint_kinds *k, const char *endpoint, const char *context,
                           const char *caller_number)
{
	enum ep_why why;
	size_t digits = 0;

	if (endpoint_kind(k, endpoint, &why) != EP_UNKNOWN && why > EPW_CALLER_NUMBER)
		return;
	if (strcmp(caller_number, endpoint) == 0)
		endpoint_kinds_learn(k, endpoint, EP_PHONE, EPW_CALLER_NUMBER);
	else if (is_number(caller_number, strlen(caller_number), &digits) &&
	         (caller_number[0] == '+' || digits >= OUTSIDE_NUMBER_MIN_DIGITS))
		endpoint_kinds_learn(k, endpoint, EP_TRUNK, EPW_CALLER_NUMBER);
	else
		guess(k, endpoint, context);
}

/* ---- reporting ---- */

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct ep_entry *const *)a)->name, (*(const struct ep_entry *const *)b)->name);
}

void endpoint_kinds_render(struct jw *w, const struct endpoint_kinds *k)
{
	const struct ep_entry **sorted = calloc(k->n ? k->n : 1, sizeof(*sorted));
	size_t n = 0;

	jw_obj_begin(w);
	if (sorted == NULL) {
		jw_obj_end(w);
		return;
	}
	for (size_t i = 0; i < k->cap; i++)
		if (k->slots[i].name[0] && n < k->n)
			sorted[n++] = &k->slots[i];
	qsort(sorted, n, sizeof(*sorted), by_name);
	for (size_t i = 0; i < n; i++) {
		enum ep_why why;
		enum ep_kind kind = endpoint_kind(k, sorted[i]->name, &why);
		jw_keyz(w, sorted[i]->name);
		jw_obj_begin(w);
		jw_keyz(w, "kind");
		jw_strz(w, ep_kind_name(kind));
		jw_keyz(w, "why");
		jw_strz(w, ep_why_text(why));
		jw_obj_end(w);
	}
	jw_obj_end(w);
	free(sorted);
}
