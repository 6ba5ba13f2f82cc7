#include "call_record_schema.h"
#include "db.h"
#include "dead_letter.h"
#include "log.h"
#include "migrations.h"
#include "pg_array.h"
#include "record.h"
#include "unit.h"

static const char good[] = "{\"v\":1,\"pbx\":\"lab\",\"call_id\":\"lab:1795341833.0\",\"direction\":\"inbound\","
                           "\"external_number\":\"15559876543\",\"extension\":\"100\",\"did\":\"5551000\","
                           "\"started_at\":\"2026-01-01T00:00:02.532Z\",\"ended_at\":\"2026-01-01T00:00:07.557Z\","
                           "\"duration_s\":5,\"billsec_s\":3,\"disposition\":\"ANSWERED\"}";

void test_record_parse_good_and_body(void)
{
	struct phone_plan us;
	struct call_row r;
	char err[256];

	phone_plan_init(&us, "1", "1", "011");
	CHECK(record_parse(good, strlen(good), &us, &r, err, sizeof(err)) == 0);
	CHECK_EQ_STR(r.call_id, "lab:1795341833.0");
	CHECK_EQ_STR(r.external_e164, "+15559876543");
	CHECK_EQ_STR(r.body, "Call duration: 3s");
	CHECK_EQ_INT(r.ended_ms - r.started_ms, 5025);
	char body[64];
	record_body("inbound", "NO ANSWER", 0, body, sizeof(body));
	CHECK_EQ_STR(body, "Missed call");
	record_body("outbound", "NO ANSWER", 0, body, sizeof(body));
	CHECK_EQ_STR(body, "No answer");
	record_body("inbound", "BUSY", 0, body, sizeof(body));
	CHECK_EQ_STR(body, "Busy");
}

/* What each column receives comes from the schema: the field's text, NULL
 * for "" or absent, and nothing for a field without a column. */
/* Keys in any order are bound to their fields (the bridge writes the
 * schema's order; another writer need not). */
void test_record_keys_in_any_order(void)
{
	struct phone_plan us;
	struct call_row r;
	char err[256];
	static const char reversed[] =
	    "{\"disposition\":\"ANSWERED\",\"billsec_s\":3,\"duration_s\":5,\"ended_at\":\"2026-01-01T00:00:07.557Z\","
	    "\"started_at\":\"2026-01-01T00:00:02.532Z\",\"extra\":[1],\"did\":\"5551000\",\"extension\":\"100\","
	    "\"external_number\":\"15559876543\",\"direction\":\"inbound\",\"call_id\":\"lab:1795341833.0\","
	    "\"pbx\":\"lab\",\"v\":1}";

	phone_plan_init(&us, "1", "1", "011");
	CHECK(record_parse(reversed, strlen(reversed), &us, &r, err, sizeof(err)) == 0);
	CHECK_EQ_STR(r.call_id, "lab:1795341833.0");
	CHECK_EQ_STR(r.body, "Call duration: 3s");
	CHECK_EQ_STR(call_row_column(&r, RF_EXTENSION), "100");
}

void test_record_columns_follow_the_schema(void)
{
	struct phone_plan us;
	struct call_row r;
	char err[256];

	phone_plan_init(&us, "1", "1", "011");
	CHECK(record_parse(good, strlen(good), &us, &r, err, sizeof(err)) == 0);
	CHECK_EQ_STR(call_row_column(&r, RF_CALL_ID), "lab:1795341833.0");
	CHECK_EQ_STR(call_row_column(&r, RF_DURATION_S), "5");
	CHECK_EQ_STR(call_row_column(&r, RF_STARTED_AT), "2026-01-01T00:00:02.532Z");
	CHECK_EQ_STR(call_row_column(&r, RF_DID), "5551000");
	CHECK(call_row_column(&r, RF_PBX) == NULL); /* no column */
	static const char no_number[] =
	    "{\"v\":1,\"call_id\":\"lab:1.1\",\"direction\":\"inbound\",\"external_number\":\"\","
	    "\"started_at\":\"2026-01-01T00:00:02Z\",\"ended_at\":\"2026-01-01T00:00:02Z\","
	    "\"duration_s\":0,\"billsec_s\":0,\"disposition\":\"NO ANSWER\"}";
	CHECK(record_parse(no_number, strlen(no_number), &us, &r, err, sizeof(err)) == 0);
	CHECK(call_row_column(&r, RF_EXTERNAL_NUMBER) == NULL);
	CHECK(call_row_column(&r, RF_EXTENSION) == NULL);

	/* Every column's longest text fits the row, and a list has no column. */
	size_t bytes = 0;
	for (int f = 0; f < RF_COUNT; f++) {
		const struct record_field_def *d = &call_record_fields[f];
		if (d->column == NULL)
			continue;
		CHECK(d->type != RT_STRINGS);
		bytes += d->type == RT_INT ? 21 : d->type == RT_BOOL ? 6 : (size_t)d->max + 1;
	}
	CHECK(bytes <= CALL_ROW_COLUMNS_BYTES);
}

/* The insert statement names every column the schema gives, in its order,
 * with one parameter each and the four the consumer derives. */
void test_insert_sql_is_written_from_the_schema(void)
{
	char sql[8192];
	int columns = 0;
	const char *at = sql;

	int n = db_insert_sql(sql, sizeof(sql), 9);
	for (int f = 0; f < RF_COUNT; f++) {
		const char *c = call_record_fields[f].column;
		if (c == NULL)
			continue;
		columns++;
		char want[64];
		snprintf(want, sizeof(want), "r.%s, ", c);
		const char *hit = strstr(at, want);
		CHECK(hit != NULL);
		at = hit ? hit : at;
	}
	CHECK_EQ_INT(n, columns + 5); /* four derived, and the collisions it may keep */
	CHECK(n <= ROW_PARAMS_MAX);
	CHECK(strstr(sql, "$14::text[])") != NULL);
	CHECK(strstr(sql, "LIMIT $15::integer") != NULL);
	CHECK(strstr(sql, "FROM 1 FOR 4096") != NULL); /* a collision keeps only its head */
	CHECK(strstr(sql, "right(p.phone_e164, 9)") != NULL);
	CHECK(db_insert_sql(sql, 200, 9) < 0); /* too small: refused, not cut */
}

void test_record_parse_rejects_with_reasons(void)
{
	struct phone_plan us;
	struct call_row r;
	char err[256];
	static const struct {
		const char *payload, *why;
	} bad[] = {
	    {"", "not a JSON object"},
	    {"[]", "not a JSON object"},
	    {"{\"v\":1}", "missing call_id"},
	    {"{\"v\":2e44,\"call_id\":\"a:b\"}", "v out of range"}, /* fuzz_record's first finding */
	    {"{\"v\":-1e300}", "v out of range"},
	    {"{\"v\":1.5}", "v is not a whole number"},
	    {"{\"v\":\"1\"}", "v is not a whole number"},
	    {"{\"v\":1,\"call_id\":\"x:\\u0000\"}", "\\u0000"},
	    {"{\"v\":1,\"call_id\":\"\xff\"}", "valid UTF-8"},
	    {"{\"v\":1,\"call_id\":\"lab:1.1\",\"call_id\":\"lab:1.2\"}", "duplicate key call_id"}, /* audit L9 */
	    {"{\"call_id\":\"lab:1.1\",\"v\":1,\"x\":1,\"call_id\":\"lab:1.2\"}", "duplicate key call_id"},
	    {"{\"v\":1,\"x\":1,\"call_id\":\"lab:1.1\",\"x\":2}", "duplicate key x"}, /* not in the schema */
	    /* audit-3 N9: a key's newline and escape never reach the log as such */
	    {"{\"v\":1,\"\\nFAKE: x\\u001b[31m\":1,\"\\nFAKE: x\\u001b[31m\":2}", "duplicate key ?FAKE: x?[31m"},
	};
	phone_plan_init(&us, "1", "1", "011");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		int rc = record_parse(bad[i].payload, strlen(bad[i].payload), &us, &r, err, sizeof(err));
		if (rc == 0 || strstr(err, bad[i].why) == NULL) {
			fprintf(stderr, "  %s: rc %d, err \"%s\", want \"%s\"\n", bad[i].payload, rc, err, bad[i].why);
			unit_failures++;
		}
	}
}

void test_pg_array_literal_quotes_everything(void)
{
	struct pg_array a;

	pg_array_init(&a);
	CHECK_EQ_STR(pg_array_finish(&a), "{}");
	pg_array_add(&a, "plain");
	pg_array_add(&a, NULL);
	pg_array_add(&a, "");
	pg_array_add(&a, "NULL");
	pg_array_add(&a, "{\"k\": \"a\\\\b\"}, x");
	CHECK_EQ_STR(pg_array_finish(&a), "{\"plain\",NULL,\"\",\"NULL\",\"{\\\"k\\\": \\\"a\\\\\\\\b\\\"}, x\"}");
	CHECK_EQ_INT(a.count, 5);
	pg_array_free(&a);

	/* Growth over many elements keeps every one. */
	pg_array_init(&a);
	for (int i = 0; i < 5000; i++)
		pg_array_add(&a, "\"\\");
	const char *s = pg_array_finish(&a);
	CHECK(s != NULL && strlen(s) == 2 + 5000 * 6 + 4999);
	pg_array_free(&a);
}

/* The schema version the consumer needs is its last migration's. */
void test_schema_version_is_the_last_migration(void)
{
	CHECK(migrations_count > 0);
	CHECK_EQ_INT(migrations[migrations_count - 1].version, SCHEMA_VERSION);
	for (int i = 1; i < migrations_count; i++)
		CHECK_EQ_INT(migrations[i].version, migrations[i - 1].version + 1);
}

void test_dead_letters_are_counted_once_settled(void)
{
	_Atomic uint64_t dropped = 0, bad_times = 0;
	struct dead_letters d;
	static struct batch_item it[DEAD_LETTER_BURST + 1]; /* a few MB: not on the stack */

	memset(it, 0, sizeof(it));
	dead_letters_init(&d, &dropped, &bad_times, 0);
	for (size_t i = 0; i < DEAD_LETTER_BURST + 1; i++) {
		it[i].topic = "pbx/calls/hangup";
		dead_letter(&d, &it[i], i == 0 ? RECORD_BAD_TIMES : -1, 0);
	}
	CHECK(!it[DEAD_LETTER_BURST - 1].dl_dropped);
	CHECK(it[DEAD_LETTER_BURST].dl_dropped); /* past the burst: not stored */
	CHECK(it[0].bad_times);
	/* decided, not settled: a batch lost with the connection comes again */
	CHECK_EQ_INT((int)atomic_load(&dropped), 0);
	CHECK_EQ_INT((int)atomic_load(&bad_times), 0);
	/* judged again (a row the database refused, or delivered again) */
	dead_letter(&d, &it[DEAD_LETTER_BURST], -1, 0);
	for (size_t i = 0; i < DEAD_LETTER_BURST + 1; i++)
		dead_letter_settled(&d, &it[i]);
	CHECK_EQ_INT((int)atomic_load(&dropped), 1);
	CHECK_EQ_INT((int)atomic_load(&bad_times), 1);
}

/* Audit-3 N4: keys the schema does not name are kept up to 1 KiB of JSON
 * in all (a newer bridge's few fields); a record padded past that is a
 * dead letter, not 60 KB in crm_comms_log.raw. */
void test_record_unknown_keys_are_bounded(void)
{
	struct phone_plan us;
	struct call_row r;
	char err[256], rec[4096];
	char pad[1100];

	phone_plan_init(&us, "1", "1", "011");
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	/* "pad":"<n p>" is n + 8 bytes of JSON text */
	for (int n = 1000; n <= 1030; n += 30) {
		snprintf(rec, sizeof(rec), "{\"pad\":\"%.*s\",%s", n, pad, good + 1);
		err[0] = '\0';
		int rc = record_parse(rec, strlen(rec), &us, &r, err, sizeof(err));
		CHECK_EQ_INT(rc, n + 8 <= 1024 ? 0 : -1);
	}
	CHECK(strstr(err, "keys the schema does not name hold over 1024 bytes") != NULL);
	/* many small ones add up too */
	size_t at = (size_t)snprintf(rec, sizeof(rec), "{");
	for (int i = 0; i < 120 && at < 2000; i++)
		at += (size_t)snprintf(rec + at, sizeof(rec) - at, "\"k%03d\":[1,2],", i);
	snprintf(rec + at, sizeof(rec) - at, "%s", good + 1);
	CHECK(record_parse(rec, strlen(rec), &us, &r, err, sizeof(err)) < 0);
}

/* Every log line is one line: a control byte formatted into it is '?'. */
void test_log_lines_are_defanged(void)
{
	char s[] = "a\nFAKE: forged\x1b[31m\r\x7f ok";
	log_defang(s);
	CHECK_EQ_STR(s, "a?FAKE: forged?[31m?? ok");
}

/* Every field with words in the schema is held to them by the parser, with
 * no hand-written check (a new field with words needs no parser edit). */
void test_record_fields_with_words_take_only_those(void)
{
	struct phone_plan us;
	struct call_row r;
	char payload[2048], err[256], want[128];
	int checked = 0;

	phone_plan_init(&us, "1", "1", "011");
	for (int f = 0; f < RF_COUNT; f++) {
		const struct record_field_def *d = &call_record_fields[f];
		if (d->words == NULL)
			continue;
		CHECK(d->type == RT_STRING);
		char key[64];
		snprintf(key, sizeof(key), "\"%s\":\"", d->key);
		const char *at = strstr(good, key);
		if (at) { /* the good record's value replaced by a word that is none of them (short: a bound is checked
			     first) */
			const char *end = strchr(at + strlen(key), '"');
			snprintf(payload, sizeof(payload), "%.*snope%s", (int)(at - good + (int)strlen(key)), good,
			         end);
		} else {
			snprintf(payload, sizeof(payload), "{%snope\",%s", key, good + 1);
		}
		snprintf(want, sizeof(want), "%s not one of the documented values", d->key);
		err[0] = '\0';
		CHECK(record_parse(payload, strlen(payload), &us, &r, err, sizeof(err)) < 0);
		CHECK(strstr(err, want) != NULL);
		for (const char *const *w = d->words; *w; w++) { /* and each of its words is taken */
			if (at) {
				const char *end = strchr(at + strlen(key), '"');
				snprintf(payload, sizeof(payload), "%.*s%s%s", (int)(at - good + (int)strlen(key)),
				         good, *w, end);
			} else {
				snprintf(payload, sizeof(payload), "{%s%s\",%s", key, *w, good + 1);
			}
			err[0] = '\0';
			int rc = record_parse(payload, strlen(payload), &us, &r, err, sizeof(err));
			if (rc != 0 && strstr(err, "documented values") != NULL) {
				fprintf(stderr, "  %s=%s refused: %s\n", d->key, *w, err);
				unit_failures++;
			}
		}
		checked++;
	}
	CHECK(checked == 3); /* direction, disposition, origin */
}
