#include "dial_requests.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "topic.h"

#define ANSWER_WORDS_MAX 200 /* a bridge's message, kept for the person */

enum dial_state { DR_FREE, DR_QUEUED, DR_SENT, DR_RINGING, DR_DONE };
static const char *const state_names[] = {"", "queued", "sent", "ringing", "done"};

struct dial_request {
	enum dial_state state;
	char id[COMMAND_ID_MAX + 1];
	struct dial_ask ask;
	int64_t expires_wall_ms;
	int64_t changed_ms; /* when it last changed state (monotonic) */
	int ok;             /* -1: null */
	int from_bridge;    /* done by the bridge's own final answer (ours may be taken back) */
	int swept;          /* its end on our side was told to the live picture */
	char error[32];
	char message[ANSWER_WORDS_MAX + 1];
	char call_id[80];
};

struct dial_requests {
	pthread_mutex_t lock;
	int wake_fd;
	struct dial_request r[DIAL_REQUESTS_MAX];
};

/* ---- the POST body ---- */

static const char *string_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Is site one the consumer serves: a subscription's prefix, or a level
 * that a subscription's '+' stands for? */
static int site_served(const struct dial_sites *sites, const char *site)
{
	char topic[TOPIC_MAX + 32], level[TOPIC_MAX];
	const char *why;

	if (topic_prefix_valid(site, &why) < 0 || strpbrk(site, "+#") != NULL ||
	    topic_join(topic, sizeof(topic), site, TOPIC_CALL_RECORDS, NULL) < 0)
		return 0;
	for (size_t i = 0; i < sites->nsubs; i++)
		if (topic_site(topic_strip_share(sites->subs[i]), topic, level, sizeof(level)) >= 0)
			return 1;
	return 0;
}

/* The one site, where the consumer serves exactly one; -1 otherwise. */
static int only_site(const struct dial_sites *sites, char *out, size_t outsz)
{
	if (sites->nsubs != 1 || strchr(sites->subs[0], '+') != NULL)
		return -1;
	return topic_record_prefix(topic_strip_share(sites->subs[0]), out, outsz);
}

const char *dial_ask_parse(const char *body, size_t len, const struct dial_sites *sites, struct dial_ask *a)
{
	cJSON *o = cJSON_ParseWithLength(body, len);
	const char *bad = NULL;

	memset(a, 0, sizeof(*a));
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return "the body is not a JSON object";
	}
	const char *site = string_of(o, "site"), *ext = string_of(o, "extension"), *number = string_of(o, "number");
	const char *id = string_of(o, "id");
	if (cJSON_GetObjectItemCaseSensitive(o, "id") != NULL && (id == NULL || !command_id_valid(id)))
		bad = "id: 1 to 64 letters, digits, '.', '-' or '_' (or none: one is made)";
	else if (cJSON_GetObjectItemCaseSensitive(o, "site") != NULL && site == NULL)
		bad = "site: a string";
	else if (site == NULL && only_site(sites, a->site, sizeof(a->site)) < 0)
		bad = "site: say which PBX (the topic prefix of its bridge, e.g. \"pbx/site1\")";
	else if (site != NULL && (strlen(site) >= sizeof(a->site) || !site_served(sites, site)))
		bad = "site: not a PBX this consumer serves";
	else if (ext == NULL || !dial_extension_valid(ext))
		bad = "extension: letters, digits, '-' or '_' (up to 32): your phone's extension";
	else if (number == NULL || phone_to_e164(number, sites->plan, a->e164) < 0)
		bad = "number: a phone number (best in E.164, e.g. +15559876543)";
	if (bad == NULL) {
		if (site != NULL)
			snprintf(a->site, sizeof(a->site), "%s", site);
		snprintf(a->extension, sizeof(a->extension), "%s", ext);
		snprintf(a->id, sizeof(a->id), "%s", id ? id : "");
	}
	cJSON_Delete(o);
	return bad;
}

/* ---- the table ---- */

struct dial_requests *dial_requests_new(void)
{
	struct dial_requests *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	if ((d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		free(d);
		return NULL;
	}
	pthread_mutex_init(&d->lock, NULL);
	return d;
}

void dial_requests_free(struct dial_requests *d)
{
	if (d == NULL)
		return;
	close(d->wake_fd);
	pthread_mutex_destroy(&d->lock);
	explicit_bzero(d->r, sizeof(d->r)); /* numbers */
	free(d);
}

int dial_requests_wake_fd(const struct dial_requests *d)
{
	return d->wake_fd;
}

void dial_requests_woken(struct dial_requests *d)
{
	uint64_t n;

	if (read(d->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warnx("dial: the live feed's wake-up: %s", strerror(errno));
}

static struct dial_request *find(struct dial_requests *d, const char *id)
{
	for (size_t i = 0; i < DIAL_REQUESTS_MAX; i++)
		if (d->r[i].state != DR_FREE && strcmp(d->r[i].id, id) == 0)
			return &d->r[i];
	return NULL;
}

static void finish(struct dial_request *r, int64_t now_ms, int ok, const char *error, const char *message)
{
	r->state = DR_DONE;
	r->ok = ok;
	r->changed_ms = now_ms;
	snprintf(r->error, sizeof(r->error), "%s", error ? error : "");
	snprintf(r->message, sizeof(r->message), "%s", message);
}

/* What our side can tell without the bridge: the broker never took the
 * request, the bridge never answered, or rang and never said more. */
static void settle(struct dial_request *r, int64_t now_ms)
{
	int64_t age = now_ms - r->changed_ms;

	if (r->state == DR_QUEUED && age > DIAL_REQUEST_TTL_MS)
		finish(r, now_ms, 0, "broker_unavailable",
		       "the broker could not be reached in time; nothing was dialled");
	else if (r->state == DR_SENT && age > DIAL_REQUEST_TTL_MS + DIAL_SILENCE_MS)
		finish(r, now_ms, 0, "no_answer",
		       "the PBX's bridge did not answer: is click-to-call on there (commands_enabled, dial_enabled)?");
	else if (r->state == DR_RINGING && age > DIAL_RINGING_MAX_MS)
		finish(r, now_ms, 0, "timeout", "the PBX never said how the dial ended");
}

/* A free place, or the one that finished longest ago; NULL when every
 * place holds a request in flight. */
static struct dial_request *place(struct dial_requests *d, int64_t now_ms)
{
	struct dial_request *oldest = NULL;

	for (size_t i = 0; i < DIAL_REQUESTS_MAX; i++) {
		struct dial_request *r = &d->r[i];
		if (r->state == DR_FREE)
			return r;
		settle(r, now_ms);
		if (r->state == DR_DONE && (oldest == NULL || r->changed_ms < oldest->changed_ms))
			oldest = r;
	}
	return oldest;
}

static int new_id(char id[COMMAND_ID_MAX + 1])
{
	unsigned char raw[9];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -1;
	int n = snprintf(id, COMMAND_ID_MAX + 1, "d-");
	for (size_t i = 0; i < sizeof(raw); i++)
		n += snprintf(id + n, (size_t)(COMMAND_ID_MAX + 1 - n), "%02x", raw[i]);
	return 0;
}

int dial_requests_add(struct dial_requests *d, const struct dial_ask *a, int64_t now_ms, int64_t wall_ms,
                      char id[COMMAND_ID_MAX + 1])
{
	uint64_t one = 1;

	if (a->id[0] != '\0')
		snprintf(id, COMMAND_ID_MAX + 1, "%s", a->id);
	else if (new_id(id) < 0)
		return -1;
	pthread_mutex_lock(&d->lock);
	if (find(d, id) != NULL) {
		pthread_mutex_unlock(&d->lock);
		return 1; /* asked again: it is the same request */
	}
	struct dial_request *r = place(d, now_ms);
	if (r != NULL) {
		memset(r, 0, sizeof(*r));
		r->state = DR_QUEUED;
		r->ok = -1;
		r->ask = *a;
		r->changed_ms = now_ms;
		r->expires_wall_ms = wall_ms + DIAL_REQUEST_TTL_MS;
		snprintf(r->id, sizeof(r->id), "%s", id);
		snprintf(r->message, sizeof(r->message), "waiting for the broker");
	}
	pthread_mutex_unlock(&d->lock);
	if (r == NULL)
		return -1;
	if (write(d->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warnx("dial: cannot wake the live feed: %s", strerror(errno));
	return 0;
}

static char *request_payload(const struct dial_request *r)
{
	char at[ISO8601_LEN];
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", r->id);
	cJSON_AddStringToObject(o, "expires_at", iso8601_ms(r->expires_wall_ms, at));
	cJSON_AddStringToObject(o, "site", r->ask.site);
	cJSON_AddStringToObject(o, "extension", r->ask.extension);
	cJSON_AddStringToObject(o, "number", r->ask.e164);
	cJSON_AddStringToObject(o, "by", r->ask.by);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

int dial_requests_next(struct dial_requests *d, int64_t now_ms, char *topic, size_t topicsz, char *payload,
                       size_t payloadsz)
{
	int given = 0;

	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < DIAL_REQUESTS_MAX && !given; i++) {
		struct dial_request *r = &d->r[i];
		if (r->state != DR_QUEUED)
			continue;
		settle(r, now_ms);
		char *p = r->state == DR_QUEUED ? request_payload(r) : NULL;
		if (p == NULL || strlen(p) >= payloadsz ||
		    topic_join(topic, topicsz, r->ask.site, TOPIC_COMMANDS, "dial") < 0) {
			if (r->state == DR_QUEUED)
				finish(r, now_ms, 0, "bad_request", "the request did not fit on the bus");
			free(p);
			continue;
		}
		snprintf(payload, payloadsz, "%s", p);
		explicit_bzero(p, strlen(p));
		free(p);
		r->state = DR_SENT;
		r->changed_ms = now_ms;
		snprintf(r->message, sizeof(r->message), "asking the PBX");
		given = 1;
	}
	pthread_mutex_unlock(&d->lock);
	return given;
}

/* The answer's words into r: state, ok, error, message, call_id. */
static void take_answer(struct dial_request *r, const cJSON *o, int64_t now_ms)
{
	const cJSON *final = cJSON_GetObjectItemCaseSensitive(o, "final");
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(o, "ok");
	const char *error = string_of(o, "error"), *message = string_of(o, "message"), *call = string_of(o, "call_id");

	r->state = cJSON_IsTrue(final) ? DR_DONE : DR_RINGING;
	r->from_bridge = r->state == DR_DONE;
	r->ok = cJSON_IsBool(ok) ? cJSON_IsTrue(ok) : -1;
	r->changed_ms = now_ms;
	r->swept = 0;
	snprintf(r->error, sizeof(r->error), "%s", error && strlen(error) < sizeof(r->error) ? error : "");
	snprintf(r->message, sizeof(r->message), "%s", message ? message : "");
	snprintf(r->call_id, sizeof(r->call_id), "%s", call && strlen(call) < sizeof(r->call_id) ? call : "");
}

static char *state_json(const struct dial_request *r)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", r->id);
	cJSON_AddStringToObject(o, "site", r->ask.site);
	cJSON_AddStringToObject(o, "extension", r->ask.extension);
	cJSON_AddStringToObject(o, "state", state_names[r->state]);
	cJSON_AddBoolToObject(o, "final", r->state == DR_DONE);
	cJSON_AddItemToObject(o, "ok", r->ok < 0 ? cJSON_CreateNull() : cJSON_CreateBool(r->ok));
	cJSON_AddItemToObject(o, "error", r->error[0] ? cJSON_CreateString(r->error) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "message", r->message[0] ? cJSON_CreateString(r->message) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "call_id", r->call_id[0] ? cJSON_CreateString(r->call_id) : cJSON_CreateNull());
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

int dial_requests_answer(struct dial_requests *d, const char *topic, const char *payload, size_t len, int64_t now_ms,
                         char **doc, char site[TOPIC_MAX], char id[COMMAND_ID_MAX + 1])
{
	const char *slash = strrchr(topic, '/');
	char expected[TOPIC_MAX + COMMAND_ID_MAX + 32];
	int rc = -1;

	*doc = NULL;
	if (slash == NULL || !command_id_valid(slash + 1))
		return -1;
	cJSON *o = cJSON_ParseWithLength(payload, len);
	const char *said = string_of(o, "id");
	pthread_mutex_lock(&d->lock);
	struct dial_request *r = find(d, slash + 1);
	/* the answer comes from the site the request went to, about it */
	if (r != NULL && cJSON_IsObject(o) && said != NULL && strcmp(said, r->id) == 0 &&
	    topic_join(expected, sizeof(expected), r->ask.site, TOPIC_COMMAND_RESULTS, r->id) == 0 &&
	    strcmp(expected, topic) == 0 && r->state != DR_QUEUED && !r->from_bridge) {
		take_answer(r, o, now_ms);
		*doc = state_json(r);
		memcpy(site, r->ask.site, TOPIC_MAX);
		memcpy(id, r->id, COMMAND_ID_MAX + 1);
		rc = 0;
	}
	pthread_mutex_unlock(&d->lock);
	cJSON_Delete(o);
	return rc;
}

char *dial_requests_json(struct dial_requests *d, const char *id, int64_t now_ms)
{
	char *s = NULL;

	pthread_mutex_lock(&d->lock);
	struct dial_request *r = find(d, id);
	if (r != NULL) {
		settle(r, now_ms);
		s = state_json(r);
	}
	pthread_mutex_unlock(&d->lock);
	return s;
}

void dial_requests_sweep(struct dial_requests *d, int64_t now_ms,
                         void (*gone)(void *ctx, const char *site, const char *id, const char *doc), void *ctx)
{
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < DIAL_REQUESTS_MAX; i++) {
		struct dial_request *r = &d->r[i];
		if (r->state == DR_FREE)
			continue;
		settle(r, now_ms);
		if (r->state == DR_DONE && now_ms - r->changed_ms > DIAL_REQUEST_KEEP_MS) {
			gone(ctx, r->ask.site, r->id, NULL);
			explicit_bzero(r, sizeof(*r));
			r->state = DR_FREE;
		} else if (r->state == DR_DONE && !r->from_bridge && !r->swept) {
			char *doc = state_json(r);
			if (doc != NULL)
				gone(ctx, r->ask.site, r->id, doc);
			free(doc);
			r->swept = 1;
		}
	}
	pthread_mutex_unlock(&d->lock);
}
