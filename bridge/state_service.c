#include "state_service.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "state_kinds.h"
#include "state_render.h"
#include "topic.h"
#include "version.h"

#define STATE_PUBLISH_PER_ROUND 500
#define STATE_ROUND_MS          1000 /* changes go out at most this often */

/* Read-only actions whose answers fill the state; an Error answer (no
 * chan_sip, no PJSIP) is normal.  CoreShowChannels is the call tracker's. */
#define LIST_ACTIONS_MAX 16

/* The list actions of every kind, each once (kinds share lists). */
static size_t list_actions(const char *out[LIST_ACTIONS_MAX])
{
	size_t n = 0;

	for (int k = 0; k < ST_KINDS; k++)
		for (const char *const *a = st_kind((enum st_kind)k)->lists; *a; a++) {
			size_t i = 0;
			while (i < n && strcmp(out[i], *a) != 0)
				i++;
			if (i == n && n < LIST_ACTIONS_MAX)
				out[n++] = *a;
		}
	return n;
}

/* An Error answer that says the AMI user lacks a class. */
static void note_denied(struct sync_round *r, const struct ami_msg *m)
{
	if (ami_field_is(ami_msg_find(m, "Response"), "Error") &&
	    ami_field_is(ami_msg_find(m, "Message"), "Permission denied"))
		r->denied++;
}

/* Said once when it turns: a user without the classes leaves the live
 * state empty, silently otherwise (issue 29). */
static void judge_rights(struct sync_round *r)
{
	int rights = r->denied == 0;

	if (rights == r->rights)
		return;
	if (!rights)
		log_warnx(
		    "ami: the AMI user may not run the list actions (%d refused: Permission denied): the live state "
		    "stays empty and calls are tracked from events alone. Give the user, in /etc/asterisk/manager.conf "
		    "(FreePBX: manager_custom.conf): write = system,reporting",
		    r->denied);
	else if (r->rights == 0)
		log_info("ami: the AMI user may run the list actions now");
	r->rights = rights;
}

static void round_done(struct sync_round *r)
{
	if (--r->outstanding > 0)
		return;
	if (!r->failed)
		judge_rights(r);
	if (!r->failed)
		for (int k = 0; k < ST_KINDS; k++)
			state_model_sync_end(r->st, (enum st_kind)k);
	r->active = 0;
}

static void on_list(void *arg, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	struct sync_round *r = arg;
	(void)c;
	switch (kind) {
	case AMI_REPLY_RESPONSE:
		note_denied(r, m);
		if (!ami_field_is(ami_msg_find(m, "EventList"), "start"))
			round_done(r); /* an Error: this PBX does not have it, or the user may not */
		break;
	case AMI_REPLY_LIST_ITEM:
		endpoint_kinds_event(r->kinds, m);
		state_model_event(r->st, m, clock_wall_ms());
		break;
	case AMI_REPLY_LIST_DONE:
		round_done(r);
		break;
	case AMI_REPLY_LOST:
		r->failed = 1; /* no verdict on what is gone */
		round_done(r);
		break;
	case AMI_REPLY_EVENT: /* an Originate's: not this list's */
		break;
	}
}

static void on_core_reply(void *arg, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	struct sync_round *r = arg;
	(void)c;
	if (kind == AMI_REPLY_RESPONSE) {
		note_denied(r, m);
		state_model_response(r->st, m);
	}
	if (kind == AMI_REPLY_RESPONSE || kind == AMI_REPLY_LOST)
		round_done(r);
}

static int start_round(struct ami_client *ami, struct sync_round *r)
{
	const char *actions[LIST_ACTIONS_MAX];
	size_t n = list_actions(actions);

	r->failed = 0;
	r->denied = 0;
	r->outstanding = (int)n + 2;
	r->active = 1;
	for (int k = 0; k < ST_KINDS; k++)
		state_model_sync_begin(r->st, (enum st_kind)k);
	int ok = ami_client_action(ami, "CoreSettings", NULL, on_core_reply, r) == 0;
	ok &= ami_client_action(ami, "CoreStatus", NULL, on_core_reply, r) == 0;
	for (size_t i = 0; i < n; i++)
		ok &= ami_client_action(ami, actions[i], NULL, on_list, r) == 0;
	return ok ? 0 : -1;
}

/* An endpoint is a trunk as what the lists and the config say. */
static int is_trunk(void *kinds, const char *endpoint)
{
	enum ep_why why;
	return endpoint_kind(kinds, endpoint, &why) == EP_TRUNK;
}

void state_service_init(struct state_service *ss, const struct bridge_settings *s, const struct state_wiring *w,
                        int64_t started_wall_ms)
{
	memset(ss, 0, sizeof(*ss));
	ss->s = s;
	ss->w = *w;
	ss->started_wall_ms = started_wall_ms;
	jw_init(&ss->json, 16 << 20);
	state_model_init(&ss->st, is_trunk, w->kinds);
	ss->round.rights = -1;
}

void state_service_free(struct state_service *ss)
{
	jw_free(&ss->json);
	state_model_free(&ss->st);
}

void state_service_event(struct state_service *ss, const struct ami_msg *m, int64_t at_ms)
{
	state_model_event(&ss->st, m, at_ms);
}

void state_service_sync(struct state_service *ss, int new_session)
{
	if (new_session)
		ss->round.active = 0; /* a round of the lost session never completes */
	if (ss->round.active)
		return;
	ss->round.st = &ss->st;
	ss->round.kinds = ss->w.kinds;
	if (start_round(ss->w.ami, &ss->round) < 0)
		log_warnx("ami: could not send every state action; the next resync tries again");
	ss->next_resync_ms = clock_mono_ms() + ss->s->state_resync_ms;
}

static struct state_view view_of(const struct state_service *ss)
{
	return (struct state_view){&ss->st,       ss->w.calls,    ss->w.kinds,
	                           ss->s->pbx_id, PBXBUS_VERSION, ss->started_wall_ms};
}

static uint64_t hash_doc(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211u;
	return h | 1; /* 0 means "nothing published" */
}

/* Publishes doc on topic if it differs from what is there; 1 if sent. */
static int publish_if_changed(struct state_service *ss, const char *topic, const char *doc, size_t len,
                              uint64_t *published)
{
	uint64_t h = doc ? hash_doc(doc, len) : 0;

	if (h == *published)
		return 0;
	enum mqtt_rc rc =
	    mqtt_link_publish(ss->w.mqtt, NULL, topic, doc ? doc : "", doc ? (int)len : 0, ss->s->qos_state, 1);
	if (rc != MQTT_OK)
		return 0;
	*published = h;
	return 1;
}

static int publish_entities(struct state_service *ss, const struct state_view *v, int budget)
{
	char topic[TOPIC_MAX], seg[TOPIC_SEGMENT_MAX + 1];
	size_t len;

	for (size_t i = 0; i < ss->st.n && budget > 0; i++) {
		struct st_entity *e = &ss->st.e[i];
		const char *key = state_model_key(e);
		topic_segment(seg, sizeof(seg), key, strlen(key));
		if (state_topic_join(topic, sizeof(topic), ss->s->prefix, st_kind(e->kind)->topic, seg) < 0)
			continue;
		const char *doc = NULL;
		if (!e->removed) {
			jw_reset(&ss->json);
			render_entity(&ss->json, v, e);
			doc = jw_finish(&ss->json, &len);
		}
		budget -= publish_if_changed(ss, topic, doc, len, &e->published);
		e->dirty = 0;
	}
	int left = 0;
	for (size_t i = 0; i < ss->st.n; i++)
		left |= ss->st.e[i].removed && ss->st.e[i].published != 0;
	if (!left)
		state_model_compact(&ss->st);
	return budget;
}

static void write_snapshot(struct state_service *ss, const struct state_view *v)
{
	char tmp[1100];
	size_t len;

	jw_reset(&ss->json);
	render_snapshot(&ss->json, v);
	const char *doc = jw_finish(&ss->json, &len);
	uint64_t h = doc ? hash_doc(doc, len) : 0;
	if (doc == NULL || h == ss->snapshot_hash)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", ss->s->snapshot_file);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	int ok = fd >= 0 && write(fd, doc, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	if (ok && rename(tmp, ss->s->snapshot_file) == 0) {
		ss->snapshot_hash = h;
		return;
	}
	log_warn("snapshot %s", ss->s->snapshot_file);
	unlink(tmp);
}

/* state/system and state/calls: one document each. */
static void publish_whole(struct state_service *ss, enum state_topic kind,
                          void (*render)(struct jw *, const struct state_view *), const struct state_view *v,
                          uint64_t *published)
{
	char topic[TOPIC_MAX];
	size_t len;

	jw_reset(&ss->json);
	render(&ss->json, v);
	const char *doc = jw_finish(&ss->json, &len);
	if (doc && state_topic_join(topic, sizeof(topic), ss->s->prefix, kind, NULL) == 0)
		publish_if_changed(ss, topic, doc, len, published);
}

/* Once a second: the snapshot file written and the changes published. */
static void publish_round(struct state_service *ss)
{
	struct state_view v = view_of(ss);

	if (ss->s->snapshot_file)
		write_snapshot(ss, &v);
	if (!ss->w.mqtt->connected || !ss->s->publish_state)
		return;
	if (publish_entities(ss, &v, STATE_PUBLISH_PER_ROUND) <= 0)
		return;
	publish_whole(ss, STATE_SYSTEM, render_system, &v, &ss->st.sys.published);
	publish_whole(ss, STATE_CALLS, render_calls, &v, &ss->calls_published);
}

int64_t state_service_tick(struct state_service *ss, int64_t now)
{
	int up = ss->w.ami->state == AMI_UP;

	if (up && now >= ss->next_resync_ms)
		state_service_sync(ss, 0);
	if (now >= ss->next_tick_ms) {
		ss->next_tick_ms = now + STATE_ROUND_MS;
		publish_round(ss);
	}
	int64_t wait = ss->next_tick_ms - now;
	if (up && ss->next_resync_ms - now < wait)
		wait = ss->next_resync_ms - now;
	return wait;
}

/* ---- --collect ---- */

/* What --collect holds: the PBX's state and what each endpoint is. */
struct collection {
	struct ami_client ami;
	struct state_model st;
	struct glob_list trunks, phones;
	struct endpoint_kinds kinds;
	struct sync_round round;
	int started;
};

static int collect_over(void *arg)
{
	const struct collection *c = arg;
	return c->ami.state == AMI_DISCONNECTED ? 1 : (c->started && !c->round.active);
}

static int collection_init(struct collection *c, struct bridge_settings *s)
{
	struct ami_callbacks cb = {0};

	memset(c, 0, sizeof(*c));
	if (glob_list_parse(&c->trunks, s->trunk_endpoints) < 0 ||
	    glob_list_parse(&c->phones, s->phone_endpoints) < 0 ||
	    endpoint_kinds_init(&c->kinds, &c->trunks, &c->phones) < 0)
		return -1;
	state_model_init(&c->st, is_trunk, &c->kinds);
	return ami_client_init(&c->ami, &s->ami, &cb);
}

static void collection_free(struct collection *c)
{
	ami_client_free(&c->ami);
	state_model_free(&c->st);
	endpoint_kinds_free(&c->kinds);
	glob_list_free(&c->trunks);
	glob_list_free(&c->phones);
}

static int collect_login(struct bridge_settings *s, struct ami_client *ami)
{
	int64_t timeout = s->ami.connect_timeout_ms + s->ami.action_timeout_ms + 2000;

	if (ami_client_run_until(ami, ami_client_login_settled, ami, timeout) == 0 && ami->state == AMI_UP)
		return 0;
	fprintf(stderr, "pbxbus-bridge: cannot reach the PBX at %s:%d: %s\n", s->ami.host, s->ami.port,
	        ami->last_error[0] ? ami->last_error : "timed out");
	return -1;
}

static int collect_print(struct bridge_settings *s, struct collection *c)
{
	struct state_view v = {&c->st, NULL, &c->kinds, s->pbx_id, PBXBUS_VERSION, clock_wall_ms()};
	struct jw w;
	size_t len;

	jw_init(&w, 64 << 20);
	render_snapshot(&w, &v);
	const char *doc = jw_finish(&w, &len);
	if (doc)
		printf("%s\n", doc);
	jw_free(&w);
	return doc ? 0 : -1;
}

int bridge_collect(struct bridge_settings *s)
{
	struct collection c;
	int rc = 1;

	s->ami.reconnect_max_ms = s->ami.auth_retry_ms = 3600 * 1000;
	if (collection_init(&c, s) < 0) {
		fprintf(stderr, "pbxbus-bridge: %s\n", c.ami.last_error[0] ? c.ami.last_error : "out of memory");
		collection_free(&c);
		return 1;
	}
	c.round.st = &c.st;
	c.round.kinds = &c.kinds;
	if (collect_login(s, &c.ami) == 0) {
		c.started = start_round(&c.ami, &c.round) == 0;
		if (!c.started || ami_client_run_until(&c.ami, collect_over, &c, s->ami.action_timeout_ms + 2000) < 0 ||
		    c.round.active || c.round.failed)
			fprintf(stderr, "pbxbus-bridge: the PBX did not answer every state action\n");
		else
			rc = collect_print(s, &c) == 0 ? 0 : 1;
	}
	collection_free(&c);
	return rc;
}
