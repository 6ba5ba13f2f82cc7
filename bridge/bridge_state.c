#include "bridge_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"
#include "clock.h"
#include "log.h"
#include "state_kinds.h"
#include "state_render.h"
#include "topic.h"
#include "version.h"

#define STATE_PUBLISH_PER_ROUND 500

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

struct sync_round {
	struct pbx_state *st;
	struct endpoint_kinds *kinds; /* what the lists say endpoints are */
	int outstanding;
	int failed;
	int *active;
};

static void round_done(struct sync_round *r)
{
	if (--r->outstanding > 0)
		return;
	if (!r->failed)
		for (int k = 0; k < ST_KINDS; k++)
			pbx_state_sync_end(r->st, (enum st_kind)k);
	*r->active = 0;
}

static void on_list(void *arg, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	struct sync_round *r = arg;
	(void)c;
	switch (kind) {
	case AMI_REPLY_RESPONSE:
		if (!ami_field_is(ami_msg_find(m, "EventList"), "start"))
			round_done(r); /* an Error: this PBX does not have it */
		break;
	case AMI_REPLY_LIST_ITEM:
		endpoint_kinds_event(r->kinds, m);
		pbx_state_event(r->st, m, clock_wall_ms());
		break;
	case AMI_REPLY_LIST_DONE:
		round_done(r);
		break;
	case AMI_REPLY_LOST:
		r->failed = 1; /* no verdict on what is gone */
		round_done(r);
		break;
	}
}

static void on_core_reply(void *arg, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	struct sync_round *r = arg;
	(void)c;
	if (kind == AMI_REPLY_RESPONSE)
		pbx_state_response(r->st, m);
	if (kind == AMI_REPLY_RESPONSE || kind == AMI_REPLY_LOST)
		round_done(r);
}

static int start_round(struct ami_client *ami, struct sync_round *r)
{
	const char *actions[LIST_ACTIONS_MAX];
	size_t n = list_actions(actions);

	r->failed = 0;
	r->outstanding = (int)n + 2;
	*r->active = 1;
	for (int k = 0; k < ST_KINDS; k++)
		pbx_state_sync_begin(r->st, (enum st_kind)k);
	int ok = ami_client_action(ami, "CoreSettings", NULL, on_core_reply, r) == 0;
	ok &= ami_client_action(ami, "CoreStatus", NULL, on_core_reply, r) == 0;
	for (size_t i = 0; i < n; i++)
		ok &= ami_client_action(ami, actions[i], NULL, on_list, r) == 0;
	return ok ? 0 : -1;
}

static struct sync_round bridge_round;

void bridge_state_sync(struct bridge *b)
{
	if (b->state_syncing)
		return;
	bridge_round.st = &b->state;
	bridge_round.kinds = &b->calls.kinds;
	bridge_round.active = &b->state_syncing;
	if (start_round(&b->ami, &bridge_round) < 0)
		log_warnx("ami: could not send every state action; the next resync tries again");
	b->next_resync_ms = clock_mono_ms() + b->s->state_resync_ms;
}

static struct state_view view_of(struct bridge *b)
{
	return (struct state_view){&b->state,    &b->calls,      &b->calls.kinds,
	                           b->s->pbx_id, PBXBUS_VERSION, b->started_wall_ms};
}

static uint64_t hash_doc(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211u;
	return h | 1; /* 0 means "nothing published" */
}

/* Publishes doc on topic if it differs from what is there; 1 if sent. */
static int publish_if_changed(struct bridge *b, const char *topic, const char *doc, size_t len, uint64_t *published)
{
	uint64_t h = doc ? hash_doc(doc, len) : 0;

	if (h == *published)
		return 0;
	enum mqtt_rc rc =
	    mqtt_link_publish(&b->mqtt, NULL, topic, doc ? doc : "", doc ? (int)len : 0, b->s->qos_state, 1);
	if (rc != MQTT_OK)
		return 0;
	*published = h;
	return 1;
}

static int publish_entities(struct bridge *b, const struct state_view *v, int budget)
{
	char topic[TOPIC_MAX], seg[TOPIC_SEGMENT_MAX + 1];
	size_t len;

	for (size_t i = 0; i < b->state.n && budget > 0; i++) {
		struct st_entity *e = &b->state.e[i];
		const char *key = pbx_state_key(e);
		topic_segment(seg, sizeof(seg), key, strlen(key));
		if (topic_join(topic, sizeof(topic), b->s->prefix, st_kind(e->kind)->topic_folder, seg) < 0)
			continue;
		const char *doc = NULL;
		if (!e->removed) {
			jw_reset(&b->state_json);
			render_entity(&b->state_json, v, e);
			doc = jw_finish(&b->state_json, &len);
		}
		budget -= publish_if_changed(b, topic, doc, len, &e->published);
		e->dirty = 0;
	}
	int left = 0;
	for (size_t i = 0; i < b->state.n; i++)
		left |= b->state.e[i].removed && b->state.e[i].published != 0;
	if (!left)
		pbx_state_compact(&b->state);
	return budget;
}

static void write_snapshot(struct bridge *b, const struct state_view *v)
{
	char tmp[1100];
	size_t len;

	jw_reset(&b->state_json);
	render_snapshot(&b->state_json, v);
	const char *doc = jw_finish(&b->state_json, &len);
	uint64_t h = doc ? hash_doc(doc, len) : 0;
	if (doc == NULL || h == b->snapshot_hash)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", b->s->snapshot_file);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	int ok = fd >= 0 && write(fd, doc, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	if (ok && rename(tmp, b->s->snapshot_file) == 0) {
		b->snapshot_hash = h;
		return;
	}
	log_warn("snapshot %s", b->s->snapshot_file);
	unlink(tmp);
}

void bridge_state_tick(struct bridge *b, int64_t now)
{
	char topic[TOPIC_MAX];
	size_t len;

	if (b->ami.state == AMI_UP && now >= b->next_resync_ms)
		bridge_state_sync(b);
	if (now < b->next_state_tick_ms)
		return;
	b->next_state_tick_ms = now + 1000;
	struct state_view v = view_of(b);
	if (b->s->snapshot_file)
		write_snapshot(b, &v);
	if (!b->mqtt.connected || !b->s->publish_state)
		return;
	int budget = publish_entities(b, &v, STATE_PUBLISH_PER_ROUND);
	if (budget <= 0)
		return;
	jw_reset(&b->state_json);
	render_system(&b->state_json, &v);
	const char *doc = jw_finish(&b->state_json, &len);
	if (doc && topic_join(topic, sizeof(topic), b->s->prefix, "state/system", NULL) == 0)
		publish_if_changed(b, topic, doc, len, &b->state.sys.published);
	jw_reset(&b->state_json);
	render_calls(&b->state_json, &v);
	doc = jw_finish(&b->state_json, &len);
	if (doc && topic_join(topic, sizeof(topic), b->s->prefix, "state/calls", NULL) == 0)
		publish_if_changed(b, topic, doc, len, &b->calls_published);
}

/* ---- --collect ---- */

static int collect_over(void *arg)
{
	struct ami_client *c = ((void **)arg)[0];
	int *active = ((void **)arg)[1];
	int *started = ((void **)arg)[2];
	return c->state == AMI_DISCONNECTED ? 1 : (*started && !*active);
}

/* What --collect holds: the PBX's state and what each endpoint is. */
struct collection {
	struct ami_client ami;
	struct pbx_state st;
	struct glob_list trunks, phones;
	struct endpoint_kinds kinds;
};

static int collect_is_trunk(void *ctx, const char *endpoint)
{
	enum ep_why why;
	return endpoint_kind(ctx, endpoint, &why) == EP_TRUNK;
}

static int collection_init(struct collection *c, struct bridge_settings *s)
{
	struct ami_callbacks cb = {0};

	memset(c, 0, sizeof(*c));
	if (glob_list_parse(&c->trunks, s->trunk_endpoints) < 0 ||
	    glob_list_parse(&c->phones, s->phone_endpoints) < 0 ||
	    endpoint_kinds_init(&c->kinds, &c->trunks, &c->phones) < 0)
		return -1;
	pbx_state_init(&c->st, collect_is_trunk, &c->kinds);
	return ami_client_init(&c->ami, &s->ami, &cb);
}

static void collection_free(struct collection *c)
{
	ami_client_free(&c->ami);
	pbx_state_free(&c->st);
	endpoint_kinds_free(&c->kinds);
	glob_list_free(&c->trunks);
	glob_list_free(&c->phones);
}

static int collect_login(struct bridge_settings *s, struct ami_client *ami)
{
	int64_t end = clock_mono_ms() + s->ami.connect_timeout_ms + s->ami.action_timeout_ms + 2000;

	while (clock_mono_ms() < end && ami->state != AMI_UP &&
	       !(ami->state == AMI_DISCONNECTED && ami->connects > 0)) {
		int64_t wait = ami_client_tick(ami, clock_mono_ms());
		struct pollfd pfd;
		ami_client_pollfd(ami, &pfd);
		if (poll(&pfd, pfd.fd >= 0 ? 1 : 0, (int)(wait > 100 ? 100 : wait)) > 0)
			ami_client_handle(ami, pfd.revents, clock_mono_ms());
	}
	if (ami->state == AMI_UP)
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
	struct sync_round r = {0};
	int active = 0, started = 0, rc = 1;

	s->ami.reconnect_max_ms = s->ami.auth_retry_ms = 3600 * 1000;
	if (collection_init(&c, s) < 0) {
		fprintf(stderr, "pbxbus-bridge: out of memory\n");
		collection_free(&c);
		return 1;
	}
	r.st = &c.st;
	r.kinds = &c.kinds;
	r.active = &active;
	void *arg[3] = {&c.ami, &active, &started};
	if (collect_login(s, &c.ami) == 0) {
		started = start_round(&c.ami, &r) == 0;
		if (!started || ami_client_run_until(&c.ami, collect_over, arg, s->ami.action_timeout_ms + 2000) < 0 ||
		    active || r.failed)
			fprintf(stderr, "pbxbus-bridge: the PBX did not answer every state action\n");
		else
			rc = collect_print(s, &c) == 0 ? 0 : 1;
	}
	collection_free(&c);
	return rc;
}
