#include "manual_call.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <string.h>

#include "clock.h"
#include "utf8.h"

/* The body as it came: bytes and length (not NUL-terminated for the parser). */
struct request {
	const char *body;
	size_t len;
};

static int whole_number(const cJSON *v, long long min, long long *out)
{
	/* Range before the conversion: an out-of-range double is undefined. */
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= (double)min && v->valuedouble <= 9e15) ||
	    v->valuedouble != (double)(long long)v->valuedouble)
		return -1;
	*out = (long long)v->valuedouble;
	return 0;
}

/* Checks the manual log body; NULL when fine, else what is wrong. */
static const char *check_manual(const cJSON *o, long long *cid, const char **dir, long long *dur, const char **notes,
                                char *when, size_t whensz)
{
	const cJSON *v;

	if (!cJSON_IsObject(o))
		return "body is not a JSON object";
	if (whole_number(cJSON_GetObjectItemCaseSensitive(o, "customer_id"), 1, cid) < 0)
		return "customer_id must be a positive whole number";
	v = cJSON_GetObjectItemCaseSensitive(o, "direction");
	if (!cJSON_IsString(v) || (strcmp(v->valuestring, "inbound") != 0 && strcmp(v->valuestring, "outbound") != 0))
		return "direction must be \"inbound\" or \"outbound\"";
	*dir = v->valuestring;
	v = cJSON_GetObjectItemCaseSensitive(o, "duration_seconds");
	if (v == NULL)
		*dur = 0;
	else if (whole_number(v, 0, dur) < 0 || *dur > 7 * 86400)
		return "duration_seconds must be a whole number from 0 to 604800";
	v = cJSON_GetObjectItemCaseSensitive(o, "notes");
	*notes = NULL;
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v) || strlen(v->valuestring) > 4000)
			return "notes must be a string of at most 4000 bytes";
		if (!utf8_valid(v->valuestring, strlen(v->valuestring)))
			return "notes must be valid UTF-8";
		*notes = v->valuestring;
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "occurred_at");
	if (v == NULL || cJSON_IsNull(v)) {
		iso8601_ms(clock_wall_ms(), when);
	} else {
		if (!cJSON_IsString(v) || iso8601_parse_ms(v->valuestring) < 0 || strlen(v->valuestring) >= whensz)
			return "occurred_at must be an ISO 8601 UTC time like 2026-11-22T10:03:58Z";
		memcpy(when, v->valuestring, strlen(v->valuestring) + 1);
	}
	return NULL;
}

/* The body as one JSON object, or NULL: nothing after it, valid UTF-8, no
 * NUL (escaped or not: C strings would cut the notes there), each key once
 * (else the first wins here and a proxy may read the last). */
static cJSON *manual_body(const struct request *rq)
{
	const char *end = NULL;

	if (rq->len == 0 || !utf8_valid(rq->body, rq->len) || memchr(rq->body, '\0', rq->len) != NULL ||
	    memmem(rq->body, rq->len, "\\u0000", 6) != NULL)
		return NULL;
	cJSON *o = cJSON_ParseWithLengthOpts(rq->body, rq->len, &end, 0);
	while (o && end && end < rq->body + rq->len && isspace((unsigned char)*end))
		end++;
	if (o == NULL || !cJSON_IsObject(o) || end != rq->body + rq->len) {
		cJSON_Delete(o);
		return NULL;
	}
	for (const cJSON *a = o->child; a; a = a->next) {
		for (const cJSON *b = a->next; b; b = b->next) {
			if (strcmp(a->string, b->string) == 0) {
				cJSON_Delete(o);
				return NULL;
			}
		}
	}
	return o;
}

const char *manual_call_parse(const char *body, size_t len, struct manual_call *m)
{
	struct request rq = {body, len};

	memset(m, 0, sizeof(*m));
	cJSON *o = manual_body(&rq);
	if (o == NULL)
		return "body is not one JSON object (valid UTF-8, no \\u0000, each key once, nothing after it)";
	const char *bad =
	    check_manual(o, &m->customer_id, &m->direction, &m->duration, &m->notes, m->when, sizeof(m->when));
	if (bad != NULL) {
		cJSON_Delete(o);
		return bad;
	}
	m->doc = o;
	return NULL;
}

void manual_call_free(struct manual_call *m)
{
	cJSON_Delete(m->doc);
	m->doc = NULL;
}
