#include "record.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "utf8.h"

static const char *const directions[] = {"inbound", "outbound", "internal", NULL};
static const char *const dispositions[] = {"ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION", NULL};

static int one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(s, *set) == 0)
			return 1;
	return 0;
}

/* A string member (or null when allowed) copied into out. */
static int get_string(const cJSON *o, const char *key, int required, char *out, size_t size, char *err, size_t errsz)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	out[0] = '\0';
	if (v == NULL || cJSON_IsNull(v)) {
		if (required)
			snprintf(err, errsz, "missing %s", key);
		return required ? -1 : 0;
	}
	if (!cJSON_IsString(v)) {
		snprintf(err, errsz, "%s is not a string", key);
		return -1;
	}
	if (strlen(v->valuestring) >= size) {
		snprintf(err, errsz, "%s longer than %zu bytes", key, size - 1);
		return -1;
	}
	memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

static int get_int(const cJSON *o, const char *key, long long max, long long *out, char *err, size_t errsz)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (v == NULL || !cJSON_IsNumber(v)) {
		snprintf(err, errsz, "%s is not a whole number", key);
		return -1;
	}
	/* Range first: converting an out-of-range double is undefined (found by fuzz_record). */
	if (!(v->valuedouble >= 0 && v->valuedouble <= (double)max)) {
		snprintf(err, errsz, "%s out of range", key);
		return -1;
	}
	if (v->valuedouble != (double)(long long)v->valuedouble) {
		snprintf(err, errsz, "%s is not a whole number", key);
		return -1;
	}
	*out = (long long)v->valuedouble;
	return 0;
}

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int record_call_id_ok(const char *id)
{
	return id[0] != '\0' && printable(id) && strchr(id, ':') != NULL;
}

void record_body(const char *direction, const char *disposition, long long seconds, char *out, size_t size)
{
	if (strcmp(disposition, "ANSWERED") == 0)
		snprintf(out, size, "Call duration: %llds", seconds);
	else if (strcmp(disposition, "BUSY") == 0)
		snprintf(out, size, "Busy");
	else if (strcmp(disposition, "FAILED") == 0)
		snprintf(out, size, "Failed call");
	else if (strcmp(disposition, "CONGESTION") == 0)
		snprintf(out, size, "Failed call (congestion)");
	else if (strcmp(direction, "inbound") == 0)
		snprintf(out, size, "Missed call");
	else
		snprintf(out, size, "No answer");
}

static int check_fields(const cJSON *o, const struct phone_plan *plan, struct call_row *r, char *err, size_t errsz)
{
	char ended[40];
	long long v;

	if (get_int(o, "v", 1000, &v, err, errsz) < 0)
		return -1;
	if (v != 1) {
		snprintf(err, errsz, "unsupported record version %lld", v);
		return -1;
	}
	if (get_string(o, "call_id", 1, r->call_id, sizeof(r->call_id), err, errsz) < 0 ||
	    get_string(o, "direction", 1, r->direction, sizeof(r->direction), err, errsz) < 0 ||
	    get_string(o, "disposition", 1, r->disposition, sizeof(r->disposition), err, errsz) < 0 ||
	    get_string(o, "started_at", 1, r->started_at, sizeof(r->started_at), err, errsz) < 0 ||
	    get_string(o, "ended_at", 1, ended, sizeof(ended), err, errsz) < 0 ||
	    get_string(o, "external_number", 0, r->external_number, sizeof(r->external_number), err, errsz) < 0 ||
	    get_string(o, "extension", 0, r->extension, sizeof(r->extension), err, errsz) < 0 ||
	    get_string(o, "did", 0, r->did, sizeof(r->did), err, errsz) < 0 ||
	    get_int(o, "duration_s", 10LL * 365 * 86400, &r->duration, err, errsz) < 0 ||
	    get_int(o, "billsec_s", 10LL * 365 * 86400, &r->billsec, err, errsz) < 0)
		return -1;
	if (!record_call_id_ok(r->call_id)) {
		snprintf(err, errsz, "call_id is not \"<pbx>:<Linkedid>\"");
		return -1;
	}
	if (!one_of(r->direction, directions) || !one_of(r->disposition, dispositions)) {
		snprintf(err, errsz, "direction or disposition not one of the documented values");
		return -1;
	}
	if ((r->started_ms = iso8601_parse_ms(r->started_at)) < 0 || (r->ended_ms = iso8601_parse_ms(ended)) < 0) {
		snprintf(err, errsz, "started_at/ended_at are not ISO 8601 UTC times");
		return -1;
	}
	/* Well-formed but contradicting itself: a bridge's clock problem,
	 * which the caller says loudly (RECORD_BAD_TIMES). */
	if (r->ended_ms < r->started_ms) {
		snprintf(err, errsz, "ended_at is before started_at");
		return RECORD_BAD_TIMES;
	}
	if (r->billsec > r->duration) {
		snprintf(err, errsz, "billsec_s greater than duration_s");
		return RECORD_BAD_TIMES;
	}
	if (phone_to_e164(r->external_number, plan, r->external_e164) < 0)
		r->external_e164[0] = '\0';
	record_body(r->direction, r->disposition, r->billsec, r->body, sizeof(r->body));
	return 0;
}

int record_parse(const char *payload, size_t len, const struct phone_plan *plan, struct call_row *row, char *err,
                 size_t errsz)
{
	memset(row, 0, sizeof(*row));
	if (len > RECORD_MAX_BYTES) {
		snprintf(err, errsz, "payload of %zu bytes is over the %d byte limit", len, RECORD_MAX_BYTES);
		return -1;
	}
	/* PostgreSQL's jsonb refuses both; better a dead letter than a failed batch. */
	if (!utf8_valid(payload, len) || memmem(payload, len, "\\u0000", 6) != NULL) {
		snprintf(err, errsz, "payload is not valid UTF-8 JSON text (or holds \\u0000)");
		return -1;
	}
	cJSON *o = cJSON_ParseWithLength(payload, len);
	if (o == NULL || !cJSON_IsObject(o)) {
		snprintf(err, errsz, "payload is not a JSON object");
		cJSON_Delete(o);
		return -1;
	}
	int rc = check_fields(o, plan, row, err, errsz);
	cJSON_Delete(o);
	return rc;
}

int record_topic_prefix(const char *topic, char *out, size_t size)
{
	static const char suffix[] = "/calls/hangup";
	size_t len = strlen(topic), sl = sizeof(suffix) - 1;

	if (len <= sl || strcmp(topic + len - sl, suffix) != 0 || len - sl >= size)
		return -1;
	memcpy(out, topic, len - sl);
	out[len - sl] = '\0';
	return 0;
}
