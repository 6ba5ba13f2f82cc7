#include "bridge_fleet.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "clock.h"
#include "topic.h"

#define DEFAULT_INTERVAL_MS 60000 /* a status without status_interval (an older bridge) */

/* The status document's numbers, each one series, named as Prometheus
 * names them: base units, _total for counters (docs/topics.md has the
 * keys, docs/monitoring.md the series). */
static const struct series {
	const char *key, *name, *type, *help;
} numbers[] = {
    {"events_published", "events_published_total", "counter", "AMI events handed to the broker"},
    {"events_shed", "events_shed_total", "counter", "AMI events shed (broker gone or slow)"},
    {"events_filtered", "events_filtered_total", "counter", "AMI events not published by events_allow/deny"},
    {"events_too_big", "events_too_big_total", "counter", "AMI events whose JSON did not fit"},
    {"ami_logins", "ami_logins_total", "counter", "successful AMI logins"},
    {"ami_disconnects", "ami_disconnects_total", "counter", "AMI sessions lost"},
    {"ami_bad_input", "ami_bad_input_total", "counter", "malformed or over-limit AMI messages skipped"},
    {"calls_active", "calls_active", "gauge", "calls in progress"},
    {"calls_completed", "calls_completed_total", "counter", "call records made (hangup)"},
    {"calls_partial", "calls_partial_total", "counter", "call records made from a partial view"},
    {"calls_untracked", "calls_untracked_total", "counter", "calls not tracked (max_calls reached)"},
    {"calls_times_fixed", "calls_times_fixed_total", "counter", "records whose times were put back in order"},
    {"calls_bad_ids", "calls_bad_ids_total", "counter", "events with an unusable Linkedid"},
    {"calls_restored", "calls_restored_total", "counter", "calls carried over a bridge restart"},
    {"calls_seen_late", "calls_seen_late_total", "counter", "calls found up that the bridge never saw begin"},
    {"gaps", "gaps_total", "counter", "gaps in the bridge's view of the PBX"},
    {"gap_seconds", "gap_seconds_total", "counter", "seconds of those gaps"},
    {"cdr_calls_recovered", "cdr_calls_recovered_total", "counter", "calls made in a gap, from the CDR store"},
    {"cdr_calls_completed", "cdr_calls_completed_total", "counter",
     "calls that ended in a gap, completed from the CDR store"},
    {"journal_write_failures", "journal_write_failures_total", "counter", "failed writes of the call journal"},
    {"endpoints_guessed", "endpoints_guessed", "gauge", "endpoints whose kind was guessed"},
    {"records_published", "records_published_total", "counter", "call records handed to the broker"},
    {"records_shed", "records_shed_total", "counter", "start/answer records shed"},
    {"outbox_pending", "outbox_pending_records", "gauge", "records waiting for a consumer's ack"},
    {"outbox_oldest_pending_age_s", "outbox_oldest_pending_age_seconds", "gauge",
     "how long the oldest of them has waited"},
    {"outbox_bytes", "outbox_bytes", "gauge", "size of the outbox log"},
    {"outbox_memory_bytes", "outbox_memory_bytes", "gauge", "records held in memory until the disk takes them"},
    {"outbox_write_failures", "outbox_write_failures_total", "counter", "failed writes of the outbox log"},
    {"outbox_refused", "outbox_refused_total", "counter", "records refused by a full outbox"},
    {"outbox_resent", "outbox_resent_total", "counter", "records sent again"},
    {"acks_received", "acks_received_total", "counter", "ack messages from consumers"},
    {"mqtt_connects", "mqtt_connects_total", "counter", "broker connections made"},
    {"mqtt_held_messages", "mqtt_held_messages", "gauge", "messages held for the broker"},
    {"mqtt_held_bytes", "mqtt_held_bytes", "gauge", "bytes held for the broker"},
    {"commands_ran", "commands_ran_total", "counter", "command channel requests that ran"},
    {"commands_refused", "commands_refused_total", "counter", "command channel requests refused or failed"},
    {"status_interval", "status_interval_seconds", "gauge", "seconds between status documents"},
};
#define NUMBERS (sizeof(numbers) / sizeof(numbers[0]))

struct site {
	char name[TOPIC_MAX];
	int seen;            /* a status document came */
	int online;          /* per the last document: online, or offline (its last will, a clean stop) */
	int ami, records_on; /* AMI connected; call records on */
	double v[NUMBERS];
	unsigned char has[NUMBERS];
	int64_t received_mono_ms, at_wall_ms, last_event_wall_ms, interval_ms;
	char version[32], asterisk[32];
};

struct bridge_fleet {
	pthread_mutex_t lock;
	struct site *sites;
	size_t n, cap;
};

struct bridge_fleet *bridge_fleet_new(void)
{
	struct bridge_fleet *f = calloc(1, sizeof(*f));
	if (f != NULL)
		pthread_mutex_init(&f->lock, NULL);
	return f;
}

void bridge_fleet_free(struct bridge_fleet *f)
{
	if (f == NULL)
		return;
	pthread_mutex_destroy(&f->lock);
	free(f->sites);
	free(f);
}

/* The site of "<site><suffix>" into site; -1 when topic is not that. */
static int site_of(const char *topic, const char *suffix, char site[TOPIC_MAX])
{
	size_t n = strlen(topic), k = strlen(suffix);

	if (n <= k || n - k >= TOPIC_MAX || strcmp(topic + n - k, suffix) != 0)
		return -1;
	memcpy(site, topic, n - k);
	site[n - k] = '\0';
	return 0;
}

static struct site *site_place(struct bridge_fleet *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->sites[i].name, name) == 0)
			return &f->sites[i];
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct site *s = cap <= FLEET_MAX_SITES ? realloc(f->sites, cap * sizeof(*s)) : NULL;
		if (s == NULL)
			return NULL;
		f->sites = s;
		f->cap = cap;
	}
	struct site *s = &f->sites[f->n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	return s;
}

static void copy_text(char *out, size_t size, const cJSON *v)
{
	if (cJSON_IsString(v))
		snprintf(out, size, "%s", v->valuestring);
}

static int64_t time_of(const cJSON *v)
{
	int64_t t = cJSON_IsString(v) ? iso8601_parse_ms(v->valuestring) : -1;
	return t > 0 ? t : 0;
}

/* A status document: an offline one (the last will) keeps the last
 * values, as Prometheus's users expect of a target that went away. */
static void take_status(struct site *s, const cJSON *o, int64_t now_mono_ms)
{
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(o, "state");

	s->seen = 1;
	s->received_mono_ms = now_mono_ms;
	s->online = cJSON_IsString(state) && strcmp(state->valuestring, "online") == 0;
	if (!s->online)
		return;
	const cJSON *ami = cJSON_GetObjectItemCaseSensitive(o, "ami");
	const cJSON *records = cJSON_GetObjectItemCaseSensitive(o, "call_records");
	s->ami = cJSON_IsString(ami) && strcmp(ami->valuestring, "connected") == 0;
	s->records_on = cJSON_IsString(records) && strcmp(records->valuestring, "on") == 0;
	s->at_wall_ms = time_of(cJSON_GetObjectItemCaseSensitive(o, "at"));
	s->last_event_wall_ms = time_of(cJSON_GetObjectItemCaseSensitive(o, "last_event_at"));
	copy_text(s->version, sizeof(s->version), cJSON_GetObjectItemCaseSensitive(o, "version"));
	for (size_t i = 0; i < NUMBERS; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, numbers[i].key);
		s->has[i] = cJSON_IsNumber(v) && isfinite(v->valuedouble) ? 1 : 0;
		s->v[i] = s->has[i] ? v->valuedouble : 0;
	}
	const cJSON *iv = cJSON_GetObjectItemCaseSensitive(o, "status_interval");
	s->interval_ms = cJSON_IsNumber(iv) && iv->valuedouble >= 1 && iv->valuedouble <= 86400
	                     ? (int64_t)iv->valuedouble * 1000
	                     : 0; /* the bridge's own bounds */
}

int bridge_fleet_message(struct bridge_fleet *f, const char *topic, const char *payload, size_t len,
                         int64_t now_mono_ms)
{
	char site[TOPIC_MAX];
	int status = site_of(topic, "/" TOPIC_STATUS, site) == 0;

	if (!status && site_of(topic, "/" TOPIC_STATE "/system", site) < 0)
		return -1;
	cJSON *o = len > 0 && len <= FLEET_STATUS_MAX ? cJSON_ParseWithLength(payload, len) : NULL;
	if (len > 0 && !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return -1;
	}
	pthread_mutex_lock(&f->lock);
	struct site *s = site_place(f, site);
	if (s != NULL && status)
		take_status(s, o, now_mono_ms); /* an empty (cleared) document: offline */
	else if (s != NULL)
		copy_text(s->asterisk, sizeof(s->asterisk), cJSON_GetObjectItemCaseSensitive(o, "asterisk_version"));
	pthread_mutex_unlock(&f->lock);
	cJSON_Delete(o);
	return s != NULL ? 0 : -1;
}

int bridge_fleet_is_status(const char *topic)
{
	char site[TOPIC_MAX];
	return site_of(topic, "/" TOPIC_STATUS, site) == 0;
}

void fleet_text_printf(struct fleet_text *t, const char *fmt, ...)
{
	va_list ap;

	for (int tries = 0; tries < 2 && !t->failed; tries++) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		int k = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? room : 0, fmt, ap);
		va_end(ap);
		if (k < 0) {
			t->failed = 1;
			return;
		}
		if (t->s && (size_t)k < room) {
			t->len += (size_t)k;
			return;
		}
		size_t cap = t->cap ? t->cap : 8192;
		while (cap < t->len + (size_t)k + 1)
			cap *= 2;
		char *s = realloc(t->s, cap);
		if (s == NULL) {
			t->failed = 1;
			return;
		}
		t->s = s;
		t->cap = cap;
	}
}

/* A label value as Prometheus's text format writes it. */
static const char *label(const char *in, char *out, size_t size)
{
	size_t w = 0;

	for (; *in && w + 3 < size; in++) {
		if (*in == '\\' || *in == '"' || *in == '\n') {
			out[w++] = '\\';
			out[w++] = *in == '\n' ? 'n' : *in;
		} else {
			out[w++] = *in;
		}
	}
	out[w] = '\0';
	return out;
}

static void family(struct fleet_text *t, const char *name, const char *type, const char *help)
{
	fleet_text_printf(t, "# HELP pbxbus_bridge_%s %s\n# TYPE pbxbus_bridge_%s %s\n", name, help, name, type);
}

/* Seconds since the document was published (its "at"; the receipt for
 * a bridge that does not say). */
static double status_age_s(const struct site *s, int64_t now_mono_ms, int64_t now_wall_ms)
{
	int64_t age = s->at_wall_ms ? now_wall_ms - s->at_wall_ms : now_mono_ms - s->received_mono_ms;
	return age > 0 ? (double)age / 1000.0 : 0;
}

static int site_up(const struct site *s, int64_t now_mono_ms, int64_t now_wall_ms)
{
	int64_t interval = s->interval_ms ? s->interval_ms : DEFAULT_INTERVAL_MS;
	return s->online &&
	       status_age_s(s, now_mono_ms, now_wall_ms) * 1000.0 <= (double)(FLEET_STALE_INTERVAL * interval);
}

static double up_of(const struct site *s, int64_t mono, int64_t wall)
{
	return site_up(s, mono, wall);
}

static double ami_of(const struct site *s, int64_t mono, int64_t wall)
{
	(void)mono, (void)wall;
	return s->ami;
}

static double records_on_of(const struct site *s, int64_t mono, int64_t wall)
{
	(void)mono, (void)wall;
	return s->records_on;
}

static double last_event_age_of(const struct site *s, int64_t mono, int64_t wall)
{
	(void)mono;
	if (s->last_event_wall_ms == 0)
		return -1; /* the bridge did not say */
	return wall > s->last_event_wall_ms ? (double)(wall - s->last_event_wall_ms) / 1000.0 : 0;
}

/* The families worked out from a status document (not a number in it):
 * one line a site that has the value (< 0: it has none), in seconds to
 * the millisecond or as a whole number. */
static const struct derived {
	const char *name, *help;
	double (*value)(const struct site *s, int64_t mono, int64_t wall);
	int seconds;
} derived[] = {
    {"up", "1 while the bridge's status says online and is fresh (2 status intervals)", up_of, 0},
    {"status_age_seconds", "seconds since the bridge published its status", status_age_s, 1},
    {"ami_connected", "1 while the bridge is logged in to AMI", ami_of, 0},
    {"call_records_enabled", "1 while the bridge makes call records (Asterisk 13 or later)", records_on_of, 0},
    {"last_event_age_seconds", "seconds since the last AMI event the bridge read", last_event_age_of, 1},
};

void bridge_fleet_metrics(struct bridge_fleet *f, struct fleet_text *t, int64_t now_mono_ms, int64_t now_wall_ms)
{
	char site[2 * TOPIC_MAX], v1[64], v2[64];

	pthread_mutex_lock(&f->lock);
	for (size_t k = 0; k < sizeof(derived) / sizeof(derived[0]); k++) {
		family(t, derived[k].name, "gauge", derived[k].help);
		for (size_t i = 0; i < f->n; i++) {
			double v = f->sites[i].seen ? derived[k].value(&f->sites[i], now_mono_ms, now_wall_ms) : -1;
			if (v >= 0)
				fleet_text_printf(t,
				                  derived[k].seconds ? "pbxbus_bridge_%s{site=\"%s\"} %.3f\n"
				                                     : "pbxbus_bridge_%s{site=\"%s\"} %.0f\n",
				                  derived[k].name, label(f->sites[i].name, site, sizeof(site)), v);
		}
	}
	for (size_t k = 0; k < NUMBERS; k++) {
		family(t, numbers[k].name, numbers[k].type, numbers[k].help);
		for (size_t i = 0; i < f->n; i++)
			if (f->sites[i].has[k])
				fleet_text_printf(t, "pbxbus_bridge_%s{site=\"%s\"} %.17g\n", numbers[k].name,
				                  label(f->sites[i].name, site, sizeof(site)), f->sites[i].v[k]);
	}
	family(t, "info", "gauge", "the bridge's version and its Asterisk's");
	for (size_t i = 0; i < f->n; i++)
		if (f->sites[i].seen)
			fleet_text_printf(
			    t, "pbxbus_bridge_info{site=\"%s\",version=\"%s\",asterisk_version=\"%s\"} 1\n",
			    label(f->sites[i].name, site, sizeof(site)), label(f->sites[i].version, v1, sizeof(v1)),
			    label(f->sites[i].asterisk, v2, sizeof(v2)));
	pthread_mutex_unlock(&f->lock);
}
