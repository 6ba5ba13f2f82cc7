/* libFuzzer: the console's live store (consumer/live_store.c) and the
 * bridges' fleet for /metrics (consumer/bridge_fleet.c) on arbitrary bus
 * messages: the first line of an input is the topic, the rest the payload.
 * Whatever arrives, the store stays within its bounds, and what it gives
 * readers is one line of valid JSON; every metrics line is a comment or
 * "name{labels} value" with the labels closed and the value a number. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_fleet.h"
#include "live_store.h"

static void check_metrics(struct bridge_fleet *f, int64_t now)
{
	struct fleet_text t = {0};

	bridge_fleet_metrics(f, &t, now, now);
	for (char *line = t.s, *end; line && *line; line = end + 1) {
		if ((end = strchr(line, '\n')) == NULL)
			__builtin_trap(); /* every line ends */
		*end = '\0';
		if (line[0] == '#')
			continue;
		char *close = strrchr(line, '}'), *space = strrchr(line, ' '), *rest;
		double v = space ? strtod(space + 1, &rest) : 0;
		if (close == NULL || space == NULL || space < close || rest == space + 1 || *rest != '\0' ||
		    !isfinite(v))
			__builtin_trap(); /* name{labels} and a finite number */
	}
	free(t.s);
}

/* A caller whose number begins with '+' is a customer, with a name that
 * needs escaping: call and ringing items are written again with it. */
static int some_customer(void *ctx, const char *site, const char *call_id, const char *number, int64_t *customer_id,
                         char *name, size_t namesz)
{
	(void)ctx;
	(void)site;
	(void)call_id;
	if (number == NULL || number[0] != '+')
		return 0;
	*customer_id = (int64_t)strlen(number);
	snprintf(name, namesz, "\"%s\" <\u00e9>", number);
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct live_store *st;
	static struct bridge_fleet *fleet;
	static uint64_t version;
	static int64_t now;
	char topic[512];

	if (st == NULL && ((st = live_store_new(some_customer, NULL)) == NULL || (fleet = bridge_fleet_new()) == NULL))
		return 0;
	const uint8_t *nl = memchr(data, '\n', size < sizeof(topic) ? size : sizeof(topic));
	if (nl == NULL)
		return 0;
	memcpy(topic, data, (size_t)(nl - data));
	topic[nl - data] = '\0';
	now += 700; /* time moves: removals are forgotten, calls go stale */
	live_store_message(st, topic, (const char *)nl + 1, size - (size_t)(nl - data) - 1, now);
	if ((now / 700) % 8 == 0)
		live_store_matched(st, "pbx", "lab:1.0"); /* an answer comes for a call that may be there */
	live_store_sweep(st, now);
	bridge_fleet_message(fleet, topic, (const char *)nl + 1, size - (size_t)(nl - data) - 1, now);
	if ((now / 700) % 64 == 0)
		check_metrics(fleet, now); /* the whole text, now and then: it grows with the sites */
	struct live_text *t = live_store_changes(st, &version, 0);
	if (t != NULL) {
		cJSON *o = cJSON_Parse(t->s);
		if (o == NULL || strchr(t->s, '\n') != NULL || strlen(t->s) != t->len)
			__builtin_trap(); /* readers get one line of JSON */
		cJSON_Delete(o);
		live_text_put(t);
	}
	return 0;
}
