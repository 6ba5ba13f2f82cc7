/* libFuzzer: click-to-call's two untrusted inputs on the consumer
 * (consumer/dial_requests.c): a POST /api/calls/dial body, and a bridge's
 * answer on <site>/commands/result/<id>.  A body is refused with a reason
 * or taken with a served site, a valid extension and an E.164 number; an
 * answer leaves the request's state one JSON object with a known state. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dial_requests.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void body(const char *in, size_t len)
{
	static const char subs[2][TOPIC_MAX] = {"pbx/calls/hangup", "pbx/+/calls/hangup"};
	struct phone_plan plan;
	struct dial_ask a;

	phone_plan_init(&plan, "1", "1", "011");
	struct dial_sites sites = {subs, 2, &plan};
	const char *bad = dial_ask_parse(in, len, &sites, &a);
	if (bad != NULL) {
		if (bad[0] == '\0')
			__builtin_trap(); /* a refusal says why */
		return;
	}
	if (!dial_extension_valid(a.extension) || a.e164[0] != '+' || strlen(a.e164) < 8 ||
	    strspn(a.e164 + 1, "0123456789") != strlen(a.e164) - 1 || strpbrk(a.site, "+#") != NULL ||
	    (strcmp(a.site, "pbx") != 0 && strncmp(a.site, "pbx/", 4) != 0) || strchr(a.site + 4, '/') != NULL)
		__builtin_trap();
}

static void answer(const char *in, size_t len)
{
	static const char *const states[] = {"sent", "ringing", "done"};
	struct dial_requests *d = dial_requests_new();
	struct dial_ask a = {"pbx", "100", "+15551234567", "console 127.0.0.1"};
	char id[COMMAND_ID_MAX + 1], topic[128], payload[512], site[TOPIC_MAX], rid[COMMAND_ID_MAX + 1], *doc;

	if (d == NULL || dial_requests_add(d, &a, 0, 0, id) < 0 ||
	    dial_requests_next(d, 0, topic, sizeof(topic), payload, sizeof(payload)) != 1)
		__builtin_trap();
	/* the fuzzer's bytes as the answer, its first "ID" made our id */
	char *text = malloc(len + sizeof(id));
	size_t n = 0;
	int named = 0;
	for (size_t i = 0; i < len; i++) {
		if (!named && i + 1 < len && in[i] == 'I' && in[i + 1] == 'D') {
			named = 1;
			memcpy(text + n, id, strlen(id));
			n += strlen(id);
			i++;
		} else {
			text[n++] = in[i];
		}
	}
	snprintf(topic, sizeof(topic), "pbx/commands/result/%s", id);
	if (dial_requests_answer(d, topic, text, n, 1, &doc, site, rid) == 0) {
		cJSON *o = cJSON_Parse(doc);
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "state");
		int known = 0;
		for (size_t i = 0; cJSON_IsString(st) && i < sizeof(states) / sizeof(states[0]); i++)
			known |= strcmp(st->valuestring, states[i]) == 0;
		if (!cJSON_IsObject(o) || !known || strcmp(rid, id) != 0 || strcmp(site, "pbx") != 0)
			__builtin_trap();
		cJSON_Delete(o);
		free(doc);
	}
	free(text);
	dial_requests_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 16 * 1024)
		return 0; /* the HTTP side refuses larger bodies (413) before parsing */
	if (data[0] & 1)
		answer((const char *)data + 1, size - 1);
	else
		body((const char *)data + 1, size - 1);
	return 0;
}
