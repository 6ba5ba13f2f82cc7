#include "state_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "state_kinds.h"

static const char *get(const struct ami_msg *m, const char *key, char *buf, size_t size)
{
	return ami_msg_get(m, key, buf, size);
}

static int is(const struct ami_msg *m, const char *key, const char *val)
{
	return ami_field_is(ami_msg_find(m, key), val);
}

static void copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static long long num(const struct ami_msg *m, const char *key)
{
	char buf[32], *end;
	long long v = strtoll(get(m, key, buf, sizeof(buf)), &end, 10);
	return (buf[0] && *end == '\0') ? v : 0;
}

/* A span of time the PBX gives in seconds (a wait, a parking timeout): kept
 * only within a year, so that turning it into milliseconds cannot overflow
 * whatever a hostile or broken peer sends. Out of range reads as unknown. */
#define PBX_SECONDS_MAX (366LL * 24 * 3600)

static long long seconds(const struct ami_msg *m, const char *key)
{
	long long v = num(m, key);
	return (v >= 0 && v <= PBX_SECONDS_MAX) ? v : 0;
}

void state_model_init(struct state_model *s, int (*is_trunk_endpoint)(void *ctx, const char *endpoint), void *ctx)
{
	memset(s, 0, sizeof(*s));
	s->is_trunk_endpoint = is_trunk_endpoint;
	s->ctx = ctx;
}

static void free_entity(struct st_entity *e)
{
	st_kind(e->kind)->end(e);
}

void state_model_free(struct state_model *s)
{
	for (size_t i = 0; i < s->n; i++)
		free_entity(&s->e[i]);
	free(s->e);
	s->e = NULL;
	s->n = s->cap = 0;
}

const char *state_model_key(const struct st_entity *e)
{
	return st_kind(e->kind)->key(e);
}

static struct st_entity *state_model_find(struct state_model *s, enum st_kind kind, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].kind == kind && !s->e[i].removed && strcmp(state_model_key(&s->e[i]), key) == 0)
			return &s->e[i];
	return NULL;
}

static size_t count_kind(const struct state_model *s, enum st_kind kind)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += s->e[i].kind == kind && !s->e[i].removed;
	return n;
}

static struct st_entity *get_or_add(struct state_model *s, enum st_kind kind, const char *key)
{
	struct st_entity *e = state_model_find(s, kind, key);

	if (e != NULL || key[0] == '\0')
		return e;
	if (count_kind(s, kind) >= st_kind(kind)->max) {
		s->dropped++;
		return NULL;
	}
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 32;
		struct st_entity *ne = realloc(s->e, ncap * sizeof(*ne));
		if (ne == NULL)
			return NULL;
		s->e = ne;
		s->cap = ncap;
	}
	e = &s->e[s->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->dirty = 1;
	if (st_kind(kind)->start(e, key) < 0) {
		s->n--;
		return NULL;
	}
	return e;
}

void state_model_compact(struct state_model *s)
{
	size_t j = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (!s->e[i].removed)
			s->e[j++] = s->e[i];
		else
			free_entity(&s->e[i]);
	}
	s->n = j;
}

/* "PJSIP/100" → tech PJSIP, endpoint 100 */
static void split_device(const char *dev, char *tech, size_t tsz, char *ep, size_t esz)
{
	const char *slash = strchr(dev, '/');
	if (slash == NULL) {
		copy(tech, tsz, "");
		copy(ep, esz, dev);
		return;
	}
	snprintf(tech, tsz, "%.*s", (int)(slash - dev), dev);
	copy(ep, esz, slash + 1);
}

/* The extension whose hint or endpoint is this endpoint. */
static struct st_entity *ext_by_endpoint(struct state_model *s, const char *ep)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].kind == ST_EXT && !s->e[i].removed && strcmp(s->e[i].u.ext.endpoint, ep) == 0)
			return &s->e[i];
	return NULL;
}

static struct st_entity *trunk_by(struct state_model *s, int (*match)(const struct st_trunk *, const char *),
                                  const char *v)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].kind == ST_TRUNK && !s->e[i].removed && v[0] && match(&s->e[i].u.trunk, v))
			return &s->e[i];
	return NULL;
}

static int trunk_auth_is(const struct st_trunk *t, const char *v)
{
	return strcmp(t->outbound_auth, v) == 0;
}

static int trunk_reg_is(const struct st_trunk *t, const char *v)
{
	return strcmp(t->registration_name, v) == 0;
}

static int trunk_server_is(const struct st_trunk *t, const char *v)
{
	return strcmp(t->server_uri, v) == 0;
}

static void set_str(struct st_entity *e, char *field, size_t size, const char *v)
{
	if (strcmp(field, v) != 0) {
		copy(field, size, v);
		e->dirty = 1;
	}
}

/* ---- extensions ---- */

static const char *hint_word(const struct ami_msg *m)
{
	static const struct {
		long long code;
		const char *word;
	} codes[] = {{0, "idle"},    {1, "in_use"},  {2, "busy"},     {4, "unavailable"},
	             {8, "ringing"}, {9, "ringing"}, {16, "on_hold"}, {17, "on_hold"}};
	char st[16], *end;
	long long code = strtoll(get(m, "Status", st, sizeof(st)), &end, 10);

	if (st[0] == '\0' || *end != '\0')
		return "unknown";
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].word;
	return "unknown";
}

static const char *device_word(const char *state)
{
	static const char *const map[][2] = {
	    {"NOT_INUSE", "idle"},          {"INUSE", "in_use"},        {"BUSY", "busy"},
	    {"RINGING", "ringing"},         {"RINGINUSE", "ringing"},   {"ONHOLD", "on_hold"},
	    {"UNAVAILABLE", "unavailable"}, {"INVALID", "unavailable"}, {"UNKNOWN", "unknown"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(state, map[i][0]) == 0)
			return map[i][1];
	return "unknown";
}

const char *state_model_ext_state(const struct st_ext *x)
{
	if (x->hint_state[0])
		return x->hint_state;
	return x->dev_state[0] ? x->dev_state : "unknown";
}

static void on_extension_status(struct state_model *s, const struct ami_msg *m, const char *ev, int64_t now_ms)
{
	(void)ev;
	(void)now_ms;
	char exten[ST_NAME], hint[ST_NAME];
	struct st_entity *e = get_or_add(s, ST_EXT, get(m, "Exten", exten, sizeof(exten)));

	if (e == NULL)
		return;
	e->seen = 1;
	get(m, "Hint", hint, sizeof(hint));
	char *amp = strchr(hint, '&'); /* "PJSIP/100&Custom:x": the first device names it */
	if (amp)
		*amp = '\0';
	char tech[16], ep[ST_NAME];
	split_device(hint, tech, sizeof(tech), ep, sizeof(ep));
	set_str(e, e->u.ext.tech, sizeof(e->u.ext.tech), tech);
	set_str(e, e->u.ext.endpoint, sizeof(e->u.ext.endpoint), ep[0] ? ep : exten);
	set_str(e, e->u.ext.hint_state, sizeof(e->u.ext.hint_state), hint_word(m));
}

static void parse_contacts(struct st_entity *e, const char *list)
{
	/* "100/sip:100@127.0.0.1:5071,101/sip:...,": aor/uri pairs */
	struct st_ext *x = &e->u.ext;
	int n = 0;
	const char *p = list;

	while (*p && n < ST_MAX_CONTACTS) {
		size_t len = strcspn(p, ",");
		const char *slash = memchr(p, '/', len);
		if (slash && (size_t)(slash - p) + 1 < len) {
			char uri[ST_URI];
			snprintf(uri, sizeof(uri), "%.*s", (int)(len - (size_t)(slash - p) - 1), slash + 1);
			int found = 0;
			for (int i = 0; i < x->ncontacts; i++)
				found |= strcmp(x->contacts[i].uri, uri) == 0;
			if (!found) {
				struct st_contact *c =
				    &x->contacts[x->ncontacts < ST_MAX_CONTACTS ? x->ncontacts++ : 0];
				copy(c->uri, sizeof(c->uri), uri);
				copy(c->status, sizeof(c->status), "unknown");
				c->rtt_ms = -1;
				e->dirty = 1;
			}
			n++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
}

static void on_endpoint_list(struct state_model *s, const struct ami_msg *m, const char *ev, int64_t now_ms)
{
	(void)ev;
	(void)now_ms;
	char name[ST_NAME], contacts[1024], auth[ST_NAME], dev[32];
	get(m, "ObjectName", name, sizeof(name));
	get(m, "OutboundAuths", auth, sizeof(auth));
	get(m, "Contacts", contacts, sizeof(contacts));
	int trunk = auth[0] != '\0' || (s->is_trunk_endpoint && s->is_trunk_endpoint(s->ctx, name));
	struct st_entity *e;

	if (trunk) {
		if ((e = get_or_add(s, ST_TRUNK, name)) == NULL)
			return;
		e->seen = 1;
		set_str(e, e->u.trunk.tech, sizeof(e->u.trunk.tech), "PJSIP");
		set_str(e, e->u.trunk.outbound_auth, sizeof(e->u.trunk.outbound_auth), auth);
		set_str(e, e->u.trunk.dev_state, sizeof(e->u.trunk.dev_state),
		        device_word(get(m, "DeviceState", dev, sizeof(dev))));
		return;
	}
	e = ext_by_endpoint(s, name);
	if (e == NULL && (e = get_or_add(s, ST_EXT, name)) == NULL)
		return;
	e->seen = 1;
	set_str(e, e->u.ext.tech, sizeof(e->u.ext.tech), "PJSIP");
	set_str(e, e->u.ext.endpoint, sizeof(e->u.ext.endpoint), name);
	parse_contacts(e, contacts);
}

static void on_device_state(struct state_model *s, const struct ami_msg *m, const char *ev, int64_t now_ms)
{
	(void)ev;
	(void)now_ms;
	char device[ST_NAME], state[24], tech[16], ep[ST_NAME];
	get(m, "Device", device, sizeof(device));
	split_device(device, tech, sizeof(tech), ep, sizeof(ep));
	if (tech[0] == '\0' || strcasecmp(tech, "Queue") == 0 || strncasecmp(device, "MWI:", 4) == 0)
		return;
	const char *word = device_word(get(m, "State", state, sizeof(state)));
	struct st_entity *e = ext_by_endpoint(s, ep);
	if (e)
		set_str(e, e->u.ext.dev_state, sizeof(e->u.ext.dev_state), word);
	else if ((e = state_model_find(s, ST_TRUNK, ep)) != NULL)
		set_str(e, e->u.trunk.dev_state, sizeof(e->u.trunk.dev_state), word);
}

static void contact_status(struct st_entity *e, const char *uri, const char *status, int rtt)
{
	struct st_ext *x = &e->u.ext;
	int i;

	for (i = 0; i < x->ncontacts && strcmp(x->contacts[i].uri, uri) != 0; i++)
		;
	if (strcmp(status, "removed") == 0) {
		if (i < x->ncontacts) {
			memmove(&x->contacts[i], &x->contacts[i + 1],
			        (size_t)(x->ncontacts - i - 1) * sizeof(x->contacts[0]));
			x->ncontacts--;
			e->dirty = 1;
		}
		return;
	}
	if (i == x->ncontacts) {
		if (x->ncontacts == ST_MAX_CONTACTS)
			return;
		x->ncontacts++;
		copy(x->contacts[i].uri, sizeof(x->contacts[i].uri), uri);
		e->dirty = 1;
	}
	if (strcmp(x->contacts[i].status, status) != 0 || x->contacts[i].rtt_ms != rtt) {
		copy(x->contacts[i].status, sizeof(x->contacts[i].status), status);
		x->contacts[i].rtt_ms = rtt;
		e->dirty = 1;
	}
}

static void on_contact_status(struct state_model *s, const struct ami_msg *m, const char *ev, int64_t now_ms)
{
	(void)ev;
	(void)now_ms;
	char ep[ST_NAME], uri[ST_URI], st[24], rtt[24], *end;
	static const char *const map[][2] = {
	    {"Reachable", "reachable"}, {"Unreachable", "unreachable"},    {"Removed", "removed"},
	    {"Created", "created"},     {"NonQualified", "non_qualified"}, {"Updated", "reachable"},
	    {"Unknown", "unknown"}};
	const char *word = "unknown";

	get(m, "EndpointName", ep, sizeof(ep));
	get(m, "URI", uri, sizeof(uri));
	if (uri[0] == '\0')
		get(m, "Uri", uri, sizeof(uri));
	get(m, ami_msg_find(m, "ContactStatus") ? "ContactStatus" : "Status", st, sizeof(st));
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(st, map[i][0]) == 0)
			word = map[i][1];
	long long us = strtoll(get(m, "RoundtripUsec", rtt, sizeof(rtt)), &end, 10);
	int rtt_ms = (rtt[0] && *end == '\0' && us > 0) ? (int)(us / 1000) : -1;
	struct st_entity *e = ext_by_endpoint(s, ep);
	if (e && uri[0])
		contact_status(e, uri, word, rtt_ms);
	else if ((e = state_model_find(s, ST_TRUNK, ep)) != NULL && strcmp(word, "removed") != 0)
		set_str(e, e->u.trunk.reachability, sizeof(e->u.trunk.reachability), word);
}

static void on_peer_status(struct state_model *s, const struct ami_msg *m, const char *ev, int64_t now_ms)
{
	(void)ev;
	(void)now_ms;
	char peer[ST_NAME], tech[16], ep[ST_NAME], st[24];
	get(m, "Peer", peer, sizeof(peer));
	split_device(peer, tech, sizeof(tech), ep, sizeof(ep));
	get(m, "PeerStatus", st, sizeof(st));
	const char *word = strcasecmp(st, "Reachable") == 0 || strcasecmp(st, "Registered") == 0       ? "reachable"
	                   : strcasecmp(st, "Unreachable") == 0 || strcasecmp(st, "Unregistered") == 0 ? "unreachable"
	                                                                                               : "unknown";
	struct st_entity *e = state_model_find(s, ST_TRUNK, ep);
	if (e)
		set_str(e, e->u.trunk.reachability, sizeof(e->u.trunk.reachability), word);
}

/* chan_sip's SIPpeers answer (PeerEntry), written from the AMI documentation. */
static void on_peer_entry(struct state_model *s, const struct ami_msg *m, const char *ev, int64_t now_ms)
{
	(void)ev;
	(void)now_ms;
	char name[ST_NAME], ip[64], port[16], status[48];
	get(m, "ObjectName", name, sizeof(name));
	struct st_entity *e = s->is_trunk_endpoint && s->is_trunk_endpoint(s->ctx, name) ? get_or_add(s, ST_TRUNK, name)
	                                                                                 : ext_by_endpoint(s, name);
	if (e == NULL && (e = get_or_add(s, ST_EXT, name)) == NULL)
		return;
	e->seen = 1;
	get(m, "Status", status, sizeof(status));
	const char *word = strncmp(status, "OK", 2) == 0             ? "reachable"
	                   : strncmp(status, "UNREACHABLE", 11) == 0 ? "unreachable"
	                                                             : "unknown";
	if (e->kind == ST_TRUNK) {
		set_str(e, e->u.trunk.tech, sizeof(e->u.trunk.tech), "SIP");
		set_str(e, e->u.trunk.reachability, sizeof(e->u.trunk.reachability), word);
		return;
	}
	set_str(e, e->u.ext.tech, sizeof(e->u.ext.tech), "SIP");
	set_str(e, e->u.ext.endpoint, sizeof(e->u.ext.endpoint), name);
	get(m, "IPaddress", ip, sizeof(ip));
	get(m, "IPport", port, sizeof(port));
	if (ip[0] && strcmp(ip, "-none-") != 0) {
		char uri[ST_URI];
		snprintf(uri, sizeof(uri), "sip:%.40s@%.60s:%.8s", name, ip, port[0] ? port : "5060");
		contact_status(e, uri, word, -1);
	}
}

/* ---- trunks ---- */

static const char *registration_word(const char *st)
{
	if (strcasecmp(st, "Registered") == 0)
		return "registered";
	if (strcasecmp(st, "Rejected") == 0 || strcasecmp(st, "Failed") == 0 ||
	    strcasecmp(st, "No Authentication") == 0)
		return "rejected";
	if (strcasecmp(st, "Unregistered") == 0 || strcasecmp(st, "Stopped") == 0)
		return "unregistered";
	return "unknown";
}

static void set_registration(struct st_entity *e, const char *word, int64_t now_ms)
{
	if (strcmp(e->u.trunk.registration, word) != 0) {
		copy(e->u.trunk.registration, sizeof(e->u.trunk.registration), word);
		e->u.trunk.changed_ms = now_ms;
		e->dirty = 1;
	}
}

static void on_outbound_registration(struct state_model *s, const struct ami_msg *m, const char *ev, int64_t now_ms)
{
	(void)ev;
	char name[ST_NAME], auth[ST_NAME], ep[ST_NAME], uri[ST_URI], st[24];
	get(m, "ObjectName", name, sizeof(name));
	get(m, "OutboundAuth", auth, sizeof(auth));
	get(m, "Endpoint", ep, sizeof(ep));
	struct st_entity *e = ep[0] ? get_or_add(s, ST_TRUNK, ep) : trunk_by(s, trunk_auth_is, auth);
	if (e == NULL) {
		/* "trunk-provider-reg" → endpoint "trunk-provider" if there is one */
		size_t len = strlen(name);
		if (len > 4 && strcmp(name + len - 4, "-reg") == 0) {
			name[len - 4] = '\0';
			e = state_model_find(s, ST_TRUNK, name);
			name[len - 4] = '-';
		}
	}
	if (e == NULL && (e = get_or_add(s, ST_TRUNK, name)) == NULL)
		return;
	e->seen = 1;
	set_str(e, e->u.trunk.registration_name, sizeof(e->u.trunk.registration_name), name);
	set_str(e, e->u.trunk.server_uri, sizeof(e->u.trunk.server_uri), get(m, "ServerUri", uri, sizeof(uri)));
	set_registration(e, registration_word(get(m, "Status", st, sizeof(st))), now_ms);
}

/* Registry event (PJSIP and chan_sip): Domain is the registrar. */
static void on_registry(struct state_model *s, const struct ami_msg *m, const char *ev, int64_t now_ms)
{
	(void)ev;
	char domain[ST_URI], st[24];
	struct st_entity *e = trunk_by(s, trunk_server_is, get(m, "Domain", domain, sizeof(domain)));
	if (e)
		set_registration(e, registration_word(get(m, "Status", st, sizeof(st))), now_ms);
}

/* chan_sip's SIPshowregistry answer (RegistryEntry), from the documentation. */
static void on_registry_entry(struct state_model *s, const struct ami_msg *m, const char *ev, int64_t now_ms)
{
	(void)ev;
	char host[ST_NAME], st[24], uri[ST_URI], port[16];
	get(m, "Host", host, sizeof(host));
	struct st_entity *e = trunk_by(s, trunk_reg_is, host);
	if (e == NULL && (e = get_or_add(s, ST_TRUNK, host)) == NULL)
		return;
	e->seen = 1;
	set_str(e, e->u.trunk.tech, sizeof(e->u.trunk.tech), "SIP");
	set_str(e, e->u.trunk.registration_name, sizeof(e->u.trunk.registration_name), host);
	snprintf(uri, sizeof(uri), "sip:%s:%s", host, get(m, "Port", port, sizeof(port))[0] ? port : "5060");
	set_str(e, e->u.trunk.server_uri, sizeof(e->u.trunk.server_uri), uri);
	set_registration(e, registration_word(get(m, "State", st, sizeof(st))), now_ms);
}

/* ---- queues ---- */

static struct st_member *member(struct st_entity *e, const char *location, int add)
{
	struct st_queue *q = e->u.q;
	for (int i = 0; i < q->nmembers; i++)
		if (strcmp(q->members[i].location, location) == 0)
			return &q->members[i];
	if (!add || q->nmembers == ST_MAX_MEMBERS)
		return NULL;
	struct st_member *mb = &q->members[q->nmembers++];
	memset(mb, 0, sizeof(*mb));
	copy(mb->location, sizeof(mb->location), location);
	e->dirty = 1;
	return mb;
}

static void update_member(struct st_entity *e, const struct ami_msg *m, const char *name_key, const char *loc_key)
{
	char loc[ST_NAME], name[ST_NAME];
	struct st_member *mb = member(e, get(m, loc_key, loc, sizeof(loc)), 1);
	if (mb == NULL)
		return;
	struct st_member before = *mb;
	copy(mb->name, sizeof(mb->name), get(m, name_key, name, sizeof(name)));
	if (ami_msg_find(m, "Status"))
		mb->status = (int)num(m, "Status");
	if (ami_msg_find(m, "Paused"))
		mb->paused = num(m, "Paused") != 0;
	if (ami_msg_find(m, "InCall"))
		mb->in_call = num(m, "InCall") != 0;
	if (memcmp(&before, mb, sizeof(before)) != 0)
		e->dirty = 1;
}

static void remove_member(struct st_entity *e, const char *location)
{
	struct st_queue *q = e->u.q;
	for (int i = 0; i < q->nmembers; i++) {
		if (strcmp(q->members[i].location, location) == 0) {
			memmove(&q->members[i], &q->members[i + 1],
			        (size_t)(q->nmembers - i - 1) * sizeof(q->members[0]));
			q->nmembers--;
			e->dirty = 1;
			return;
		}
	}
}

static void add_caller(struct st_entity *e, const struct ami_msg *m, int64_t joined_ms)
{
	struct st_queue *q = e->u.q;
	char ch[ST_NAME];
	get(m, "Channel", ch, sizeof(ch));
	for (int i = 0; i < q->ncallers; i++)
		if (strcmp(q->callers[i].channel, ch) == 0)
			return;
	if (q->ncallers == ST_MAX_CALLERS)
		return;
	struct st_caller *c = &q->callers[q->ncallers++];
	copy(c->channel, sizeof(c->channel), ch);
	get(m, "CallerIDNum", c->number, sizeof(c->number));
	get(m, "CallerIDName", c->name, sizeof(c->name));
	c->joined_ms = joined_ms;
	e->dirty = 1;
}

static void remove_caller(struct st_entity *e, const char *channel)
{
	struct st_queue *q = e->u.q;
	for (int i = 0; i < q->ncallers; i++) {
		if (strcmp(q->callers[i].channel, channel) == 0) {
			memmove(&q->callers[i], &q->callers[i + 1],
			        (size_t)(q->ncallers - i - 1) * sizeof(q->callers[0]));
			q->ncallers--;
			e->dirty = 1;
			return;
		}
	}
}

static void on_queue_event(struct state_model *s, const struct ami_msg *m, const char *ev, int64_t now_ms)
{
	char qname[ST_NAME], buf[ST_NAME];
	struct st_entity *e = get_or_add(s, ST_QUEUE, get(m, "Queue", qname, sizeof(qname)));

	if (e == NULL)
		return;
	struct st_queue *q = e->u.q;
	if (strcmp(ev, "QueueParams") == 0) {
		/* QueueStatus lists the queue, then all its members and callers */
		e->seen = 1;
		struct st_queue before = *q;
		q->nmembers = q->ncallers = 0;
		get(m, "Strategy", q->strategy, sizeof(q->strategy));
		q->completed = num(m, "Completed");
		q->abandoned = num(m, "Abandoned");
		q->holdtime = num(m, "Holdtime");
		q->talktime = num(m, "TalkTime");
		if (memcmp(&before, q, sizeof(before)) != 0)
			e->dirty = 1;
	} else if (strcmp(ev, "QueueMember") == 0 || strcmp(ev, "QueueMemberAdded") == 0) {
		update_member(e, m, strcmp(ev, "QueueMember") == 0 ? "Name" : "MemberName",
		              strcmp(ev, "QueueMember") == 0 ? "Location" : "Interface");
	} else if (strcmp(ev, "QueueMemberStatus") == 0 || strcmp(ev, "QueueMemberPause") == 0) {
		if (member(e, get(m, "Interface", buf, sizeof(buf)), 0))
			update_member(e, m, "MemberName", "Interface");
	} else if (strcmp(ev, "QueueMemberRemoved") == 0) {
		remove_member(e, get(m, "Interface", buf, sizeof(buf)));
	} else if (strcmp(ev, "QueueEntry") == 0) {
		add_caller(e, m, now_ms - seconds(m, "Wait") * 1000);
	} else if (strcmp(ev, "QueueCallerJoin") == 0) {
		add_caller(e, m, now_ms);
	} else if (strcmp(ev, "QueueCallerLeave") == 0) {
		remove_caller(e, get(m, "Channel", buf, sizeof(buf)));
	} else if (strcmp(ev, "QueueCallerAbandon") == 0) {
		q->abandoned++;
		e->dirty = 1;
	} else if (strcmp(ev, "AgentComplete") == 0) {
		q->completed++;
		e->dirty = 1;
	}
}

/* ---- parked calls ---- */

/* ParkedCall (parked, and each item of the ParkedCalls list), ParkedCallSwap
 * (another channel took the space's call over): the space holds this call.
 * UnParkedCall, ParkedCallTimeOut, ParkedCallGiveUp: the space is free. */
static void on_parking_event(struct state_model *s, const struct ami_msg *m, const char *ev, int64_t now_ms)
{
	char lot[ST_NAME], space[16], key[ST_NAME + 24];

	get(m, "Parkinglot", lot, sizeof(lot));
	get(m, "ParkingSpace", space, sizeof(space));
	if (lot[0] == '\0' || space[0] == '\0')
		return;
	snprintf(key, sizeof(key), "%s@%s", space, lot);
	if (strcmp(ev, "ParkedCall") != 0 && strcmp(ev, "ParkedCallSwap") != 0) {
		struct st_entity *gone = state_model_find(s, ST_PARKED, key);
		if (gone) {
			gone->removed = 1;
			gone->dirty = 1;
		}
		return;
	}
	struct st_entity *e = get_or_add(s, ST_PARKED, key);
	if (e == NULL)
		return;
	struct st_parked *p = &e->u.parked, before = *p;
	e->seen = 1;
	copy(p->lot, sizeof(p->lot), lot);
	copy(p->space, sizeof(p->space), space);
	get(m, "ParkeeChannel", p->channel, sizeof(p->channel));
	get(m, "ParkeeCallerIDNum", p->number, sizeof(p->number));
	get(m, "ParkeeCallerIDName", p->name, sizeof(p->name));
	get(m, "ParkeeLinkedid", p->linkedid, sizeof(p->linkedid));
	/* The list repeats a call every resync: its start is kept, not moved
	 * by a second of rounding each time. */
	if (p->parked_ms == 0 || strcmp(before.channel, p->channel) != 0)
		p->parked_ms = now_ms - seconds(m, "ParkingDuration") * 1000;
	if (p->timeout_from_ms == 0 || strcmp(before.channel, p->channel) != 0) {
		p->timeout_s = seconds(m, "ParkingTimeout");
		p->timeout_from_ms = now_ms;
	}
	if (memcmp(&before, p, sizeof(before)) != 0)
		e->dirty = 1;
}

static void on_fully_booted(struct state_model *s, const struct ami_msg *m, const char *ev, int64_t now_ms)
{
	(void)m;
	(void)ev;
	(void)now_ms;
	s->sys.dirty = 1;
}

/* ---- dispatch ---- */

/* Which events (and list items) change which state: a kind's events are
 * its rows here (prefix: every event whose name begins so). */
static const struct {
	const char *name;
	int prefix;
	void (*on)(struct state_model *s, const struct ami_msg *m, const char *ev, int64_t now_ms);
} events[] = {
    {"ExtensionStatus", 0, on_extension_status},
    {"EndpointList", 0, on_endpoint_list},
    {"DeviceStateChange", 0, on_device_state},
    {"ContactStatus", 0, on_contact_status},
    {"ContactList", 0, on_contact_status},
    {"PeerStatus", 0, on_peer_status},
    {"PeerEntry", 0, on_peer_entry},
    {"OutboundRegistrationDetail", 0, on_outbound_registration},
    {"RegistryEntry", 0, on_registry_entry},
    {"Registry", 0, on_registry},
    {"Queue", 1, on_queue_event},
    {"AgentComplete", 0, on_queue_event},
    {"ParkedCall", 1, on_parking_event}, /* ParkedCall, ParkedCallSwap, ParkedCallTimeOut, ParkedCallGiveUp */
    {"UnParkedCall", 0, on_parking_event},
    {"FullyBooted", 0, on_fully_booted},
};

void state_model_event(struct state_model *s, const struct ami_msg *m, int64_t now_ms)
{
	char ev[48];

	get(m, "Event", ev, sizeof(ev));
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		size_t n = strlen(events[i].name);
		if (strncmp(ev, events[i].name, n) == 0 && (events[i].prefix || ev[n] == '\0')) {
			events[i].on(s, m, ev, now_ms);
			return;
		}
	}
}

void state_model_response(struct state_model *s, const struct ami_msg *m)
{
	struct st_system *y = &s->sys, before = s->sys;
	char date[16], time_[16];

	if (!is(m, "Response", "Success"))
		return;
	if (ami_msg_find(m, "AsteriskVersion")) {
		get(m, "AsteriskVersion", y->asterisk_version, sizeof(y->asterisk_version));
		get(m, "AMIversion", y->ami_version, sizeof(y->ami_version));
	}
	if (ami_msg_find(m, "CoreStartupDate")) {
		snprintf(y->startup, sizeof(y->startup), "%s %s", get(m, "CoreStartupDate", date, sizeof(date)),
		         get(m, "CoreStartupTime", time_, sizeof(time_)));
		snprintf(y->reload, sizeof(y->reload), "%s %s", get(m, "CoreReloadDate", date, sizeof(date)),
		         get(m, "CoreReloadTime", time_, sizeof(time_)));
		y->current_calls = num(m, "CoreCurrentCalls");
	}
	if (memcmp(&before, y, sizeof(before)) != 0)
		y->dirty = 1;
}

void state_model_sync_begin(struct state_model *s, enum st_kind kind)
{
	s->syncing[kind] = 1;
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].kind == kind)
			s->e[i].seen = 0;
}

void state_model_sync_end(struct state_model *s, enum st_kind kind)
{
	if (!s->syncing[kind])
		return;
	s->syncing[kind] = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->e[i].kind == kind && !s->e[i].seen && !s->e[i].removed) {
			s->e[i].removed = 1;
			s->e[i].dirty = 1;
		}
	}
}
