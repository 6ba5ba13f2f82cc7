#include "live_store.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state_topics.h"
#include "topic.h"

#define TOMBSTONE_KEEP_MS 60000 /* a removal is remembered this long for readers behind */
#define UNLISTED_GRACE_MS 5000  /* a call missing from state/calls is gone after this */
#define SWEEP_EVERY_MS    1000  /* stale calls and old removals are looked for at most this often */
#define NAME_MAX_BYTES    256
#define SITE_MAX_BYTES    256

/* The kinds of state (common/state_topics.h) and, after them, the calls
 * and the click-to-call requests of this consumer. */
#define K_CALLS STATE_CALLS
#define K_CALL  STATE_TOPICS
#define K_DIAL  (STATE_TOPICS + 1)
#define K_LOG   (STATE_TOPICS + 2)
#define K_RING  (STATE_TOPICS + 3)
typedef int kind_t; /* an enum state_topic, K_CALL, K_DIAL, K_LOG or K_RING */

static const char *kind_name(kind_t kind)
{
	return kind == K_CALL   ? "call"
	       : kind == K_DIAL ? "dial"
	       : kind == K_LOG  ? "log"
	       : kind == K_RING ? "ringing"
	                        : state_topics[kind].item;
}

struct entry {
	char site[SITE_MAX_BYTES];
	char name[NAME_MAX_BYTES];
	kind_t kind;
	char *value; /* canonical JSON (one line), NULL: removed (a tombstone) */
	uint64_t version;
	int64_t changed_ms;
};

struct live_store {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct entry *e;
	size_t n;
	size_t bytes;
	uint64_t version;
	uint64_t horizon; /* removals at or before this version are forgotten */
	int64_t swept_ms;
	int closing;
	struct live_text *whole; /* the whole picture at whole_version, shared; NULL: not written */
	/* what a topic ends in, or holds, for each kind: written once, from the
	 * shared vocabulary ("/calls/hangup", "/state/system", "/state/queues/") */
	char call_suffix[CALL_PHASES][32];
	char ring_suffix[32];
	live_customer_fn customer; /* NULL: no customers */
	void *customer_ctx;
	char state_suffix[STATE_TOPICS][48];
	uint64_t whole_version;
};

struct live_store *live_store_new(live_customer_fn customer, void *ctx)
{
	struct live_store *st = calloc(1, sizeof(*st));
	pthread_condattr_t attr;

	if (st == NULL || (st->e = calloc(LIVE_MAX_ENTRIES, sizeof(*st->e))) == NULL) {
		free(st);
		return NULL;
	}
	pthread_mutex_init(&st->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&st->changed, &attr);
	pthread_condattr_destroy(&attr);
	st->version = 1; /* 0 is a new reader's: it never equals a version given out */
	for (int k = 0; k < CALL_PHASES; k++)
		snprintf(st->call_suffix[k], sizeof(st->call_suffix[k]), "/" TOPIC_CALLS "/%s", topic_call_phases[k]);
	snprintf(st->ring_suffix, sizeof(st->ring_suffix), "/%s", TOPIC_RINGING);
	st->customer = customer;
	st->customer_ctx = ctx;
	for (int k = 0; k < STATE_TOPICS; k++)
		snprintf(st->state_suffix[k], sizeof(st->state_suffix[k]), "/" TOPIC_STATE "/%s%s",
		         state_topics[k].folder, state_topics[k].per_entity ? "/" : "");
	return st;
}

void live_store_free(struct live_store *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n; i++)
		free(st->e[i].value);
	free(st->e);
	live_text_put(st->whole);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->changed);
	free(st);
}

/* site = topic[0..len) when it fits; 0 or -1. */
static int take_site(char *site, const char *topic, size_t len)
{
	if (len == 0 || len >= SITE_MAX_BYTES)
		return -1;
	memcpy(site, topic, len);
	site[len] = '\0';
	return 0;
}

/* The last place mid occurs in topic past its first byte, or NULL (a site
 * may hold the word too). */
static const char *last_in(const char *topic, const char *mid)
{
	const char *at = NULL;
	for (const char *p = strstr(topic, mid); p; p = strstr(p + 1, mid))
		at = p;
	return at == topic ? NULL : at;
}

/* Splits a topic into site, kind and name; -1 when it is neither a state
 * topic nor a call record topic.  *phase: 'h' for calls/hangup. */
static int classify(const struct live_store *st, const char *topic, char *site, kind_t *kind, char *name, char *phase)
{
	size_t len = strlen(topic);

	*phase = 0;
	name[0] = '\0';
	size_t rl = strlen(st->ring_suffix);
	if (len > rl && strcmp(topic + len - rl, st->ring_suffix) == 0) {
		*kind = K_RING;
		return take_site(site, topic, len - rl);
	}
	for (int k = 0; k < CALL_PHASES; k++) {
		const char *fix = st->call_suffix[k];
		size_t fl = strlen(fix);
		if (len > fl && strcmp(topic + len - fl, fix) == 0) {
			*kind = K_CALL;
			*phase = k == CALL_HANGUP ? 'h' : 0;
			return take_site(site, topic, len - fl);
		}
	}
	/* whole documents first: their suffix is exact, an entity's name is not */
	for (int i = 0; i < 2 * STATE_TOPICS; i++) {
		int k = i % STATE_TOPICS;
		const struct state_topic_desc *d = &state_topics[k];
		if (d->per_entity != (i >= STATE_TOPICS))
			continue;
		const char *fix = st->state_suffix[k];
		size_t fl = strlen(fix);
		*kind = k;
		if (!d->per_entity) {
			if (len > fl && strcmp(topic + len - fl, fix) == 0)
				return take_site(site, topic, len - fl);
			continue;
		}
		const char *at = last_in(topic, fix);
		if (at == NULL)
			continue;
		const char *n = at + fl;
		if (*n == '\0' || strchr(n, '/') != NULL || strlen(n) >= NAME_MAX_BYTES)
			return -1;
		memcpy(name, n, strlen(n) + 1);
		return take_site(site, topic, (size_t)(at - topic));
	}
	return -1;
}

static struct entry *find(struct live_store *st, const char *site, kind_t kind, const char *name)
{
	for (size_t i = 0; i < st->n; i++) {
		struct entry *e = &st->e[i];
		if (e->kind == kind && strcmp(e->name, name) == 0 && strcmp(e->site, site) == 0)
			return e;
	}
	return NULL;
}

static void set_value(struct live_store *st, struct entry *e, char *value, int64_t now_ms)
{
	if (e->value)
		st->bytes -= strlen(e->value);
	free(e->value);
	e->value = value;
	if (value)
		st->bytes += strlen(value);
	e->version = ++st->version;
	e->changed_ms = now_ms;
}

/* Tombstones past their time are dropped; readers older than the newest
 * of them start again from the whole picture. */
static void forget_old_removals(struct live_store *st, int64_t now_ms)
{
	size_t w = 0;
	for (size_t i = 0; i < st->n; i++) {
		struct entry *e = &st->e[i];
		if (e->value == NULL && now_ms - e->changed_ms > TOMBSTONE_KEEP_MS) {
			if (e->version > st->horizon)
				st->horizon = e->version;
			continue;
		}
		if (w != i)
			st->e[w] = *e;
		w++;
	}
	st->n = w;
}

/* Is e a ring to take away: its call over a moment ago, or silent too long? */
static int ring_gone(const struct entry *e, int64_t now_ms)
{
	if (now_ms - e->changed_ms > LIVE_CALL_MAX_AGE_MS)
		return 1;
	return now_ms - e->changed_ms >= LIVE_RING_LINGER_MS && strstr(e->value, "\"ended\":true") != NULL;
}

/* Calls the site's state/calls no longer lists (a hangup lost: the feed
 * is QoS 0), and calls silent for too long, are gone; so are rings of
 * calls over. */
static void prune_calls(struct live_store *st, const char *site, const cJSON *listed, int64_t now_ms)
{
	for (size_t i = 0; i < st->n; i++) {
		struct entry *e = &st->e[i];
		if (e->kind == K_RING && e->value != NULL && ring_gone(e, now_ms))
			set_value(st, e, NULL, now_ms);
		if (e->kind != K_CALL || e->value == NULL)
			continue;
		int stale = now_ms - e->changed_ms > LIVE_CALL_MAX_AGE_MS;
		if (!stale && listed != NULL && strcmp(e->site, site) == 0 &&
		    now_ms - e->changed_ms > UNLISTED_GRACE_MS) {
			stale = 1;
			const cJSON *c;
			cJSON_ArrayForEach(c, listed)
			{
				const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "call_id");
				if (cJSON_IsString(id) && strcmp(id->valuestring, e->name) == 0)
					stale = 0;
			}
		}
		if (stale)
			set_value(st, e, NULL, now_ms);
	}
}

/* A call item is named by its call_id, a ringing one "<call_id>/<extension>";
 * -1 when the document has no such strings. */
static int call_item_name(kind_t kind, const cJSON *doc, char *name)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "call_id");
	const cJSON *ext = cJSON_GetObjectItemCaseSensitive(doc, "extension");

	if (!cJSON_IsString(id) || id->valuestring[0] == '\0' || strchr(id->valuestring, '/') != NULL)
		return -1;
	if (kind == K_CALL) {
		size_t n = strlen(id->valuestring);
		if (n >= NAME_MAX_BYTES)
			return -1;
		memcpy(name, id->valuestring, n + 1);
		return 0;
	}
	if (!cJSON_IsString(ext) || ext->valuestring[0] == '\0')
		return -1;
	int n = snprintf(name, NAME_MAX_BYTES, "%s/%s", id->valuestring, ext->valuestring);
	return n > 0 && n < NAME_MAX_BYTES ? 0 : -1;
}

/* The caller's number in a call or ringing document, or NULL. */
static const char *caller_number(kind_t kind, const cJSON *doc)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(doc, kind == K_RING ? "caller_number" : "external_number");
	return cJSON_IsString(n) ? n->valuestring : NULL;
}

static void set_key(cJSON *doc, const char *key, cJSON *v)
{
	if (cJSON_HasObjectItem(doc, key))
		cJSON_ReplaceItemInObjectCaseSensitive(doc, key, v);
	else
		cJSON_AddItemToObject(doc, key, v);
}

/* doc (a call or ringing item) as one line with its caller's customer:
 * customer_id and customer_name, null until known and when none (a
 * lookup is asked for, once per call).  Anything a bridge wrote under
 * those keys is replaced.  NULL when out of memory. */
static char *with_customer(struct live_store *st, const char *site, kind_t kind, cJSON *doc)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "call_id");
	int64_t customer = 0;
	char name[LIVE_CUSTOMER_NAME_MAX] = "";

	if (st->customer)
		st->customer(st->customer_ctx, site, id->valuestring, caller_number(kind, doc), &customer, name,
		             sizeof(name));
	set_key(doc, "customer_id", customer > 0 ? cJSON_CreateNumber((double)customer) : cJSON_CreateNull());
	set_key(doc, "customer_name", customer > 0 && name[0] ? cJSON_CreateString(name) : cJSON_CreateNull());
	return cJSON_PrintUnformatted(doc);
}

/* The rings of a call that is over say so ("ended": true) a moment, the
 * last state the pop shows, then the sweep takes them away. */
static void end_rings(struct live_store *st, const char *site, const char *call_id, int64_t now_ms)
{
	size_t n = strlen(call_id);

	for (size_t i = 0; i < st->n; i++) {
		struct entry *e = &st->e[i];
		if (e->kind != K_RING || e->value == NULL || strncmp(e->name, call_id, n) != 0 || e->name[n] != '/' ||
		    strcmp(e->site, site) != 0)
			continue;
		cJSON *doc = cJSON_Parse(e->value);
		char *v = NULL;
		if (doc != NULL && !cJSON_HasObjectItem(doc, "ended")) {
			cJSON_AddTrueToObject(doc, "ended");
			v = cJSON_PrintUnformatted(doc);
		}
		if (v != NULL)
			set_value(st, e, v, now_ms);
		cJSON_Delete(doc);
	}
}

void live_store_matched(struct live_store *st, const char *site, const char *call_id)
{
	size_t n = strlen(call_id);

	pthread_mutex_lock(&st->lock);
	uint64_t before = st->version;
	for (size_t i = 0; i < st->n; i++) {
		struct entry *e = &st->e[i];
		int ours = e->kind == K_CALL   ? strcmp(e->name, call_id) == 0
		           : e->kind == K_RING ? strncmp(e->name, call_id, n) == 0 && e->name[n] == '/'
		                               : 0;
		if (!ours || e->value == NULL || strcmp(e->site, site) != 0)
			continue;
		cJSON *doc = cJSON_Parse(e->value);
		char *v = doc ? with_customer(st, site, e->kind, doc) : NULL;
		if (v != NULL && strcmp(v, e->value) != 0)
			set_value(st, e, v, e->changed_ms);
		else
			free(v);
		cJSON_Delete(doc);
	}
	if (st->version != before)
		pthread_cond_broadcast(&st->changed);
	pthread_mutex_unlock(&st->lock);
}

/* The document, or NULL when it is not what its topic carries. */
static cJSON *parse_doc(const char *payload, size_t len, kind_t kind)
{
	cJSON *doc = len ? cJSON_ParseWithLength(payload, len) : NULL;
	if (doc != NULL && (kind == K_CALLS ? !cJSON_IsArray(doc) : !cJSON_IsObject(doc))) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	return doc;
}

/* Would value (replacing old, NULL: a new entry) take site past its
 * share?  Tombstones count as entries until forgotten, as in the store. */
static int over_site_share(const struct live_store *st, const char *site, const char *old, const char *value)
{
	size_t entries = old == NULL, bytes = strlen(value) - (old ? strlen(old) : 0);

	if (old != NULL && strlen(value) <= strlen(old))
		return 0; /* it does not grow */
	for (size_t i = 0; i < st->n; i++) {
		if (strcmp(st->e[i].site, site) != 0)
			continue;
		entries++;
		bytes += st->e[i].value ? strlen(st->e[i].value) : 0;
	}
	return entries > LIVE_SITE_MAX_ENTRIES || bytes > LIVE_SITE_MAX_BYTES;
}

static int store_locked(struct live_store *st, const char *site, kind_t kind, const char *name, char *value,
                        int64_t now_ms)
{
	struct entry *e = find(st, site, kind, name);

	if (value != NULL && st->bytes + strlen(value) > LIVE_MAX_BYTES)
		return -1;
	if (value != NULL && over_site_share(st, site, e ? e->value : NULL, value))
		return -1;
	if (e == NULL) {
		if (value == NULL)
			return 0; /* nothing to remove */
		if (st->n == LIVE_MAX_ENTRIES)
			return -1;
		e = &st->e[st->n++];
		memset(e, 0, sizeof(*e));
		snprintf(e->site, sizeof(e->site), "%s", site);
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->kind = kind;
	} else if (value != NULL && e->value != NULL && strcmp(value, e->value) == 0) {
		free(value); /* unchanged: readers need not hear of it */
		return 0;
	}
	set_value(st, e, value, now_ms);
	return 0;
}

int live_store_message(struct live_store *st, const char *topic, const char *payload, size_t len, int64_t now_ms)
{
	char site[SITE_MAX_BYTES], name[NAME_MAX_BYTES], phase;
	kind_t kind;
	cJSON *doc = NULL;
	char *value = NULL;
	int rc = -1;

	if (len > LIVE_PAYLOAD_MAX || classify(st, topic, site, &kind, name, &phase) < 0)
		return -1;
	if (len > 0 && (doc = parse_doc(payload, len, kind)) == NULL)
		goto out;
	int call_item = kind == K_CALL || kind == K_RING;
	if (call_item && call_item_name(kind, doc, name) < 0)
		goto out;
	/* one line of JSON; a call's with its customer (written under the lock,
	 * which the match table shares); none for a hangup: the call leaves */
	if (doc != NULL && !call_item && (value = cJSON_PrintUnformatted(doc)) == NULL)
		goto out;
	pthread_mutex_lock(&st->lock);
	uint64_t before = st->version;
	if (call_item && phase != 'h')
		value = with_customer(st, site, kind, doc);
	int lost = value == NULL && len > 0 && phase != 'h'; /* out of memory */
	rc = lost ? -1 : store_locked(st, site, kind, name, value, now_ms);
	if (phase == 'h')
		end_rings(st, site, name, now_ms);
	if (rc == 0)
		value = NULL;
	/* Sweeps are whole-store walks: with a site's list of calls (at most
	 * once a second from each bridge) or once a second, not per message. */
	if (kind == K_CALLS || now_ms - st->swept_ms >= SWEEP_EVERY_MS) {
		prune_calls(st, site, kind == K_CALLS ? doc : NULL, now_ms);
		forget_old_removals(st, now_ms);
		st->swept_ms = now_ms;
	}
	if (st->version != before)
		pthread_cond_broadcast(&st->changed);
	pthread_mutex_unlock(&st->lock);
out:
	free(value);
	cJSON_Delete(doc);
	return rc;
}

void live_store_sweep(struct live_store *st, int64_t now_ms)
{
	pthread_mutex_lock(&st->lock);
	uint64_t before = st->version;
	if (now_ms - st->swept_ms >= SWEEP_EVERY_MS) {
		prune_calls(st, "", NULL, now_ms);
		forget_old_removals(st, now_ms);
		st->swept_ms = now_ms;
	}
	if (st->version != before)
		pthread_cond_broadcast(&st->changed);
	pthread_mutex_unlock(&st->lock);
}

/* An item of the consumer's own (not from the bus); doc NULL: it leaves. */
static int store_own(struct live_store *st, const char *site, kind_t kind, const char *name, const char *doc,
                     int64_t now_ms)
{
	char *value = NULL;
	int rc;

	if (strlen(site) >= SITE_MAX_BYTES || strlen(name) >= NAME_MAX_BYTES || (doc && (value = strdup(doc)) == NULL))
		return -1;
	pthread_mutex_lock(&st->lock);
	uint64_t before = st->version;
	if ((rc = store_locked(st, site, kind, name, value, now_ms)) == 0)
		value = NULL;
	if (st->version != before)
		pthread_cond_broadcast(&st->changed);
	pthread_mutex_unlock(&st->lock);
	free(value);
	return rc;
}

int live_store_dial(struct live_store *st, const char *site, const char *id, const char *doc, int64_t now_ms)
{
	return store_own(st, site, K_DIAL, id, doc, now_ms);
}

int live_store_calls_logged(struct live_store *st, uint64_t rows, int64_t now_ms)
{
	char doc[48];

	snprintf(doc, sizeof(doc), "{\"rows\":%llu}", (unsigned long long)rows);
	return store_own(st, "", K_LOG, "calls", doc, now_ms);
}

static cJSON *item_json(const struct entry *e)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "site", e->site);
	cJSON_AddStringToObject(o, "kind", kind_name(e->kind));
	cJSON_AddStringToObject(o, "name", e->name);
	cJSON_AddItemToObject(o, "value", e->value ? cJSON_CreateRaw(e->value) : cJSON_CreateNull());
	return o;
}

static void wait_locked(struct live_store *st, uint64_t since, int wait_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!st->closing && st->version <= since)
		if (pthread_cond_timedwait(&st->changed, &st->lock, &until) != 0)
			break;
}

void live_text_put(struct live_text *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	free(t->s);
	free(t);
}

/* The items after since (every live one when reset) as a counted text. */
static struct live_text *write_changes(const struct live_store *st, uint64_t since, int reset)
{
	struct live_text *t = calloc(1, sizeof(*t));
	cJSON *o = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(o, "items");

	cJSON_AddNumberToObject(o, "version", (double)st->version);
	cJSON_AddBoolToObject(o, "reset", reset);
	for (size_t i = 0; i < st->n; i++) {
		const struct entry *e = &st->e[i];
		if (reset ? e->value != NULL : e->version > since)
			cJSON_AddItemToArray(items, item_json(e));
	}
	if (t != NULL && (t->s = cJSON_PrintUnformatted(o)) != NULL) {
		t->len = strlen(t->s);
		atomic_init(&t->refs, 1);
	} else {
		free(t);
		t = NULL;
	}
	cJSON_Delete(o);
	return t;
}

/* The whole picture of this version: written once, shared. */
static struct live_text *whole_picture(struct live_store *st)
{
	if (st->whole == NULL || st->whole_version != st->version) {
		live_text_put(st->whole);
		st->whole = write_changes(st, 0, 1);
		st->whole_version = st->version;
	}
	if (st->whole != NULL)
		atomic_fetch_add(&st->whole->refs, 1);
	return st->whole;
}

struct live_text *live_store_changes(struct live_store *st, uint64_t *version, int wait_ms)
{
	struct live_text *out = NULL;

	pthread_mutex_lock(&st->lock);
	/* A new reader (version 0) gets the picture at once, even an empty one. */
	if (*version != 0 && wait_ms > 0)
		wait_locked(st, *version, wait_ms);
	int reset = *version == 0 || *version < st->horizon || *version > st->version;
	if (!st->closing && (reset || st->version > *version)) {
		out = reset ? whole_picture(st) : write_changes(st, *version, 0);
		*version = st->version;
	}
	pthread_mutex_unlock(&st->lock);
	return out;
}

void live_store_close(struct live_store *st)
{
	pthread_mutex_lock(&st->lock);
	st->closing = 1;
	pthread_cond_broadcast(&st->changed);
	pthread_mutex_unlock(&st->lock);
}

int live_store_closed(struct live_store *st)
{
	pthread_mutex_lock(&st->lock);
	int c = st->closing;
	pthread_mutex_unlock(&st->lock);
	return c;
}
