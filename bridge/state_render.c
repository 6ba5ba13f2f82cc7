#include "state_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "state_kinds.h"
#include "topic.h"

static void kv(struct jw *w, const char *k, const char *v)
{
	jw_keyz(w, k);
	jw_strz(w, v && *v ? v : NULL);
}

static void kint(struct jw *w, const char *k, long long v)
{
	jw_keyz(w, k);
	jw_int(w, v);
}

static void ktime(struct jw *w, const char *k, int64_t ms)
{
	jw_keyz(w, k);
	jw_time_ms(w, ms);
}

/* The call (call_id) a live channel of this endpoint is in, or NULL. */
static const char *state_call_of_endpoint(const struct state_view *v, const char *endpoint, char *buf, size_t size)
{
	const struct call_tracker *t = v->calls;

	for (size_t i = 0; t && i < t->nbuckets; i++) {
		for (const struct call *c = t->buckets[i]; c; c = c->next) {
			for (int j = 0; j < c->nch; j++) {
				if (!c->ch[j].gone && !c->ch[j].is_local && strcmp(c->ch[j].endpoint, endpoint) == 0) {
					call_id_format(buf, size, v->pbx_id, c->linkedid);
					return buf;
				}
			}
		}
	}
	return NULL;
}

/* A caller whose call is withheld (or not yet known not to be): its
 * number and name are not shown.  if_unknown: the answer for a channel the
 * tracker does not hold. */
static int caller_hidden(const struct state_view *v, const char *channel, int if_unknown)
{
	const struct call_tracker *t = v->calls;

	for (size_t i = 0; t && i < t->nbuckets; i++)
		for (const struct call *c = t->buckets[i]; c; c = c->next)
			for (int j = 0; j < c->nch; j++)
				if (strcmp(c->ch[j].name, channel) == 0)
					return c->withheld || c->start_held;
	return if_unknown;
}

/* "sip:100@127.0.0.1:5071;ob" → ip 127.0.0.1, port 5071 */
static void uri_host_port(const char *uri, char *ip, size_t ipsz, int *port)
{
	const char *at = strchr(uri, '@');
	const char *host = at ? at + 1 : (strncmp(uri, "sip:", 4) == 0 ? uri + 4 : uri);
	size_t hl = strcspn(host, ":;>");
	snprintf(ip, ipsz, "%.*s", (int)hl, host);
	*port = host[hl] == ':' ? (int)strtol(host + hl + 1, NULL, 10) : 0;
}

void render_extension(struct jw *w, const struct state_view *v, const struct st_entity *e)
{
	const struct st_ext *x = &e->u.ext;

	char ip[64], call[128];
	int port;
	const char *state = state_model_ext_state(x);
	const char *call_id = state_call_of_endpoint(v, x->endpoint, call, sizeof(call));

	kv(w, "extension", x->ext);
	kv(w, "tech", x->tech);
	kv(w, "endpoint", x->endpoint);
	kv(w, "state", state);
	jw_keyz(w, "contacts");
	jw_arr_begin(w);
	for (int i = 0; i < x->ncontacts; i++) {
		const struct st_contact *c = &x->contacts[i];
		uri_host_port(c->uri, ip, sizeof(ip), &port);
		jw_obj_begin(w);
		kv(w, "uri", c->uri);
		kv(w, "ip", ip);
		jw_keyz(w, "port");
		if (port > 0)
			jw_int(w, port);
		else
			jw_null(w);
		jw_keyz(w, "rtt_ms");
		if (c->rtt_ms >= 0)
			jw_int(w, c->rtt_ms);
		else
			jw_null(w);
		kv(w, "status", c->status);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	kv(w, "call_id", call_id);
}

void render_trunk(struct jw *w, const struct state_view *v, const struct st_entity *e)
{
	const struct st_trunk *t = &e->u.trunk;

	(void)v;
	kv(w, "trunk", t->endpoint);
	kv(w, "tech", t->tech);
	kv(w, "registration", t->registration);
	kv(w, "registration_name", t->registration_name);
	kv(w, "server_uri", t->server_uri);
	kv(w, "reachability", t->reachability[0] ? t->reachability : "unknown");
	kv(w, "device_state", t->dev_state[0] ? t->dev_state : "unknown");
	ktime(w, "changed_at", t->changed_ms);
}

static const char *member_state(int status)
{
	static const char *const words[] = {"unknown",     "idle",    "in_use",  "busy",   "unavailable",
	                                    "unavailable", "ringing", "ringing", "on_hold"};
	return status >= 0 && status < (int)(sizeof(words) / sizeof(words[0])) ? words[status] : "unknown";
}

void render_queue(struct jw *w, const struct state_view *v, const struct st_entity *e)
{
	const struct st_queue *q = e->u.q;

	kv(w, "queue", q->name);
	kv(w, "strategy", q->strategy);
	jw_keyz(w, "callers");
	jw_arr_begin(w);
	for (int i = 0; i < q->ncallers; i++) {
		jw_obj_begin(w);
		int hidden = caller_hidden(v, q->callers[i].channel, 0);
		kv(w, "channel", q->callers[i].channel);
		kv(w, "number", hidden ? NULL : q->callers[i].number);
		kv(w, "name", hidden ? NULL : q->callers[i].name);
		ktime(w, "waiting_since", q->callers[i].joined_ms);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_keyz(w, "members");
	jw_arr_begin(w);
	for (int i = 0; i < q->nmembers; i++) {
		jw_obj_begin(w);
		kv(w, "name", q->members[i].name);
		kv(w, "location", q->members[i].location);
		kv(w, "state", member_state(q->members[i].status));
		jw_keyz(w, "paused");
		jw_bool(w, q->members[i].paused);
		jw_keyz(w, "in_call");
		jw_bool(w, q->members[i].in_call);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	kint(w, "completed", q->completed);
	kint(w, "abandoned", q->abandoned);
	kint(w, "holdtime_s", q->holdtime);
	kint(w, "talktime_s", q->talktime);
}

void render_parked(struct jw *w, const struct state_view *v, const struct st_entity *e)
{
	const struct st_parked *p = &e->u.parked;
	char call[128];
	/* A parked call the tracker does not hold (parked before a restart, say)
	 * may be withheld: not shown until it is known. */
	int hidden = caller_hidden(v, p->channel, 1);

	kv(w, "lot", p->lot);
	kv(w, "space", p->space);
	kv(w, "channel", p->channel);
	kv(w, "number", hidden ? NULL : p->number);
	kv(w, "name", hidden ? NULL : p->name);
	int have_id = p->linkedid[0] && call_id_format(call, sizeof(call), v->pbx_id, p->linkedid) == 0;
	kv(w, "call_id", have_id ? call : NULL);
	ktime(w, "parked_at", p->parked_ms);
	/* the PBX gives the call back to whoever parked it then */
	if (p->timeout_s > 0)
		ktime(w, "times_out_at", p->timeout_from_ms + p->timeout_s * 1000);
	else
		kv(w, "times_out_at", NULL);
}

void render_entity(struct jw *w, const struct state_view *v, const struct st_entity *e)
{
	jw_obj_begin(w);
	st_kind(e->kind)->render(w, v, e);
	jw_obj_end(w);
}

void render_system(struct jw *w, const struct state_view *v)
{
	const struct st_system *y = &v->st->sys;

	jw_obj_begin(w);
	kv(w, "pbx", v->pbx_id);
	kv(w, "asterisk_version", y->asterisk_version);
	kv(w, "ami_version", y->ami_version);
	kv(w, "asterisk_started", y->startup);
	kv(w, "asterisk_reloaded", y->reload);
	kint(w, "active_calls", v->calls ? (long long)v->calls->ncalls : 0);
	kv(w, "bridge_version", v->bridge_version);
	ktime(w, "bridge_started_at", v->bridge_started_ms);
	jw_obj_end(w);
}

void render_calls(struct jw *w, const struct state_view *v)
{
	const struct call_tracker *t = v->calls;
	char id[128];

	jw_arr_begin(w);
	for (size_t i = 0; t && i < t->nbuckets; i++) {
		for (const struct call *c = t->buckets[i]; c; c = c->next) {
			jw_obj_begin(w);
			call_id_format(id, sizeof(id), v->pbx_id, c->linkedid);
			kv(w, "call_id", id);
			kv(w, "direction", call_direction_name(call_direction(c)));
			kv(w, "external_number", call_external_number(c));
			kv(w, "extension", call_extension(c));
			kv(w, "trunk", call_trunk(c));
			jw_keyz(w, "answered");
			jw_bool(w, c->answered);
			ktime(w, "since", c->started_ms);
			jw_obj_end(w);
		}
	}
	jw_arr_end(w);
}

void render_snapshot(struct jw *w, const struct state_view *v)
{
	jw_obj_begin(w);
	jw_keyz(w, state_topics[STATE_SYSTEM].folder);
	render_system(w, v);
	for (int k = 0; k < ST_KINDS; k++) {
		jw_keyz(w, state_topics[st_kind((enum st_kind)k)->topic].folder);
		jw_obj_begin(w);
		for (size_t i = 0; i < v->st->n; i++) {
			const struct st_entity *e = &v->st->e[i];
			if ((int)e->kind != k || e->removed)
				continue;
			jw_keyz(w, state_model_key(e));
			render_entity(w, v, e);
		}
		jw_obj_end(w);
	}
	jw_keyz(w, state_topics[STATE_CALLS].folder);
	render_calls(w, v);
	if (v->kinds) {
		jw_keyz(w, "endpoints");
		endpoint_kinds_render(w, v->kinds);
	}
	jw_obj_end(w);
}
