#include "record.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "call_record_schema.h"
#include "clock.h"
#include "utf8.h"

#define RECORD_MAX_KEYS 100 /* a record has 25 */
/* Keys the schema does not name (a newer bridge's, say) are kept in the raw
 * record up to this much JSON text in all; past it the record is no
 * record of ours but a way to fill the database (audit-3 N4). */
#define RECORD_UNKNOWN_KEYS_MAX 1024

/* One field against the schema (common/call_record_schema.h): absent or
 * null only where a hangup record may leave it so, else of its type and
 * within its bounds.  v is the record's value (NULL when absent); *out is
 * it, or NULL when absent or null. */
static int check_field(const cJSON *v, const struct record_field_def *d, const cJSON **out, char *err, size_t errsz)
{
	const cJSON *item;

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v)) {
		if (d->required)
			snprintf(err, errsz, "missing %s", d->key);
		return d->required ? -1 : 0;
	}
	switch (d->type) {
	case RT_INT:
		if (!cJSON_IsNumber(v))
			return snprintf(err, errsz, "%s is not a whole number", d->key), -1;
		/* Range first: converting an out-of-range double is undefined (found by fuzz_record). */
		if (!(v->valuedouble >= 0 && v->valuedouble <= (double)d->max))
			return snprintf(err, errsz, "%s out of range", d->key), -1;
		if (v->valuedouble != (double)(long long)v->valuedouble)
			return snprintf(err, errsz, "%s is not a whole number", d->key), -1;
		break;
	case RT_STRING:
	case RT_TIME:
		if (!cJSON_IsString(v))
			return snprintf(err, errsz, "%s is not a string", d->key), -1;
		if (strlen(v->valuestring) > (size_t)d->max)
			return snprintf(err, errsz, "%s longer than %lld bytes", d->key, d->max), -1;
		if (d->type == RT_TIME && iso8601_parse_ms(v->valuestring) < 0)
			return snprintf(err, errsz, "%s is not an ISO 8601 UTC time", d->key), -1;
		if (d->words && !call_record_word_ok(v->valuestring, d->words))
			return snprintf(err, errsz, "%s not one of the documented values", d->key), -1;
		break;
	case RT_BOOL:
		if (!cJSON_IsBool(v))
			return snprintf(err, errsz, "%s is not true or false", d->key), -1;
		break;
	case RT_STRINGS:
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > d->max)
			return snprintf(err, errsz, "%s is not a list of at most %lld strings", d->key, d->max), -1;
		cJSON_ArrayForEach(item, v)
		{
			if (!cJSON_IsString(item) || strlen(item->valuestring) > 255)
				return snprintf(err, errsz, "%s is not a list of strings", d->key), -1;
		}
		break;
	}
	*out = v;
	return 0;
}

/* A checked string value (or "" for null) into out, which the schema's
 * bound fits. */
static void copy_str(const cJSON *v, char *out, size_t size)
{
	snprintf(out, size, "%s", v ? v->valuestring : "");
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
	const char *const *p = call_record_dispositions;

	if (strcmp(disposition, p[RP_ANSWERED]) == 0)
		snprintf(out, size, "Call duration: %llds", seconds);
	else if (strcmp(disposition, p[RP_BUSY]) == 0)
		snprintf(out, size, "Busy");
	else if (strcmp(disposition, p[RP_FAILED]) == 0)
		snprintf(out, size, "Failed call");
	else if (strcmp(disposition, p[RP_CONGESTION]) == 0)
		snprintf(out, size, "Failed call (congestion)");
	else if (strcmp(direction, call_record_directions[RD_INBOUND]) == 0)
		snprintf(out, size, "Missed call");
	else
		snprintf(out, size, "No answer");
}

/* The schema field a key names, or -1.  Our bridge writes the keys in the
 * schema's order, so the field after the last one found is tried first:
 * one comparison per key, where a lookup per field (cJSON's) was a scan of
 * the keys and a fifth of the consumer's CPU. */
static int field_of(const char *key, int hint)
{
	if (hint < RF_COUNT && strcmp(call_record_fields[hint].key, key) == 0)
		return hint;
	for (int f = 0; f < RF_COUNT; f++)
		if (call_record_fields[f].key[0] == key[0] && strcmp(call_record_fields[f].key, key) == 0)
			return f;
	return -1;
}

/* The JSON text of key and value, taken from *budget; -1 once it is
 * spent.  Printed into a buffer of the budget's size: nothing allocated,
 * and a value too big fails there. */
static int take_unknown(const cJSON *a, size_t *budget)
{
	char text[RECORD_UNKNOWN_KEYS_MAX + 8]; /* cJSON asks for 5 bytes of slack */
	size_t key = strlen(a->string) + 3;     /* "key": */

	if (key > *budget || !cJSON_PrintPreallocated((cJSON *)a, text, (int)(*budget - key + 5), 0))
		return -1;
	size_t used = key + strlen(text);
	if (used > *budget)
		return -1;
	*budget -= used;
	return 0;
}

/* Each key bound to its field in one pass.  Each key once (cJSON reads the
 * first of two, PostgreSQL's jsonb keeps the last: the row and its raw
 * record would disagree), and not too many.  val[f] NULL: absent. */
static int bind_keys(const cJSON *o, const cJSON *val[RF_COUNT], char *err, size_t errsz)
{
	int n = 0, next = 0;
	size_t unknown_budget = RECORD_UNKNOWN_KEYS_MAX;

	for (int f = 0; f < RF_COUNT; f++)
		val[f] = NULL;
	for (const cJSON *a = o->child; a; a = a->next, n++) {
		if (n >= RECORD_MAX_KEYS) {
			snprintf(err, errsz, "more than %d keys", RECORD_MAX_KEYS);
			return -1;
		}
		int f = field_of(a->string, next);
		int again = f >= 0 && val[f] != NULL;
		for (const cJSON *b = o->child; f < 0 && b != a && !again; b = b->next)
			again = strcmp(a->string, b->string) == 0; /* a key the schema does not name */
		if (again) {
			snprintf(err, errsz, "duplicate key %.64s", a->string);
			for (char *e = err; *e; e++) /* the key is the sender's text, stored and logged: */
				if ((unsigned char)*e < 0x20 || (unsigned char)*e >= 0x7f)
					*e = '?'; /* one line, and valid UTF-8 however %.64s cut it */
			return -1;
		}
		if (f < 0 && take_unknown(a, &unknown_budget) < 0) {
			snprintf(err, errsz, "keys the schema does not name hold over %d bytes",
			         RECORD_UNKNOWN_KEYS_MAX);
			return -1;
		}
		if (f >= 0) {
			val[f] = a;
			next = f + 1;
		}
	}
	return 0;
}

const char *call_row_column(const struct call_row *r, enum record_field f)
{
	return r->column_at[f] < 0 ? NULL : r->columns + r->column_at[f];
}

/* The text of each checked field that has a column, for the row. */
static int fill_columns(const cJSON *const val[RF_COUNT], struct call_row *r, char *err, size_t errsz)
{
	size_t at = 0;

	for (int f = 0; f < RF_COUNT; f++) {
		const struct record_field_def *d = &call_record_fields[f];
		const cJSON *v = val[f];
		size_t room = sizeof(r->columns) - at;
		int n = 0;

		r->column_at[f] = -1;
		if (d->column == NULL || v == NULL || (cJSON_IsString(v) && v->valuestring[0] == '\0'))
			continue;
		if (d->type == RT_INT)
			n = snprintf(r->columns + at, room, "%lld", (long long)v->valuedouble);
		else if (d->type == RT_BOOL)
			n = snprintf(r->columns + at, room, "%s", cJSON_IsTrue(v) ? "true" : "false");
		else if (d->type == RT_STRING || d->type == RT_TIME)
			n = (int)strnlen(v->valuestring,
			                 room); /* checked against its bound: no printf on the hot path */
		else
			n = -1; /* a list has no column type (a unit test keeps it so) */
		if (n < 0 || (size_t)n >= room) {
			snprintf(err, errsz, "%s does not fit its column", d->key);
			return -1;
		}
		if (d->type == RT_STRING || d->type == RT_TIME)
			memcpy(r->columns + at, v->valuestring, (size_t)n + 1);
		r->column_at[f] = (int16_t)at;
		at += (size_t)n + 1;
	}
	return 0;
}

static int check_fields(const cJSON *o, const struct phone_plan *plan, struct call_row *r, char *err, size_t errsz)
{
	const cJSON *val[RF_COUNT];
	char started[40], ended[40];

	if (bind_keys(o, val, err, errsz) < 0)
		return -1;
	for (int f = 0; f < RF_COUNT; f++)
		if (check_field(val[f], &call_record_fields[f], &val[f], err, errsz) < 0)
			return -1;
	if (val[RF_V]->valuedouble != CALL_RECORD_VERSION) {
		snprintf(err, errsz, "unsupported record version %lld", (long long)val[RF_V]->valuedouble);
		return -1;
	}
	copy_str(val[RF_PBX], r->pbx, sizeof(r->pbx));
	copy_str(val[RF_CALL_ID], r->call_id, sizeof(r->call_id));
	copy_str(val[RF_DIRECTION], r->direction, sizeof(r->direction));
	copy_str(val[RF_DISPOSITION], r->disposition, sizeof(r->disposition));
	copy_str(val[RF_STARTED_AT], started, sizeof(started));
	copy_str(val[RF_ENDED_AT], ended, sizeof(ended));
	copy_str(val[RF_EXTERNAL_NUMBER], r->external_number, sizeof(r->external_number));
	r->duration = (long long)val[RF_DURATION_S]->valuedouble;
	r->billsec = (long long)val[RF_BILLSEC_S]->valuedouble;
	if (!record_call_id_ok(r->call_id)) {
		snprintf(err, errsz, "call_id is not \"<pbx>:<Linkedid>\"");
		return -1;
	}
	r->started_ms = iso8601_parse_ms(started);
	r->ended_ms = iso8601_parse_ms(ended);
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
	return fill_columns(val, r, err, errsz);
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
