/* libFuzzer: the console's live store (consumer/live_store.c) on arbitrary
 * bus messages: the first line of an input is the topic, the rest the
 * payload.  Whatever arrives, the store stays within its bounds, and what
 * it gives readers is one line of valid JSON. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "live_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct live_store *st;
	static uint64_t version;
	static int64_t now;
	char topic[512];

	if (st == NULL && (st = live_store_new()) == NULL)
		return 0;
	const uint8_t *nl = memchr(data, '\n', size < sizeof(topic) ? size : sizeof(topic));
	if (nl == NULL)
		return 0;
	memcpy(topic, data, (size_t)(nl - data));
	topic[nl - data] = '\0';
	now += 700; /* time moves: removals are forgotten, calls go stale */
	live_store_message(st, topic, (const char *)nl + 1, size - (size_t)(nl - data) - 1, now);
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
