#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call_record.h"
#include "call_record_schema.h"
#include "unit.h"

static const char *call_key(int i)
{
	return call_record_fields[i].key;
}

static const char *ring_key(int i)
{
	return ring_record_fields[i].key;
}

/* docs/topics.md's key table that begins with first_row holds the n keys
 * of a schema, key for key, in order. */
static void check_documented_keys(const char *first_row, const char *(*key)(int), int n_keys)
{
	FILE *f = fopen("docs/topics.md", "r");
	char line[2048];
	int in_table = 0, n = 0;

	CHECK(f != NULL);
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, first_row, strlen(first_row)) == 0)
			in_table = 1;
		if (in_table && strncmp(line, "| `", 3) != 0)
			break;
		if (!in_table)
			continue;
		char *end = strchr(line + 3, '`');
		if (end == NULL)
			break;
		*end = '\0';
		if (n < n_keys)
			CHECK_EQ_STR(line + 3, key(n));
		n++;
	}
	fclose(f);
	CHECK_EQ_INT(n, n_keys);
}

/* The call records' table is the schema's: the one place a field is added. */
void test_schema_matches_the_documented_keys(void)
{
	check_documented_keys("| `v` | integer | 1 |", call_key, RF_COUNT);
}

/* So is the ringing record's. */
void test_ring_schema_matches_the_documented_keys(void)
{
	check_documented_keys("| `v` | integer | 1 (the ringing record", ring_key, GF_COUNT);
}

/* The writer writes every key of the schema, in its order. */
void test_schema_every_key_written_in_order(void)
{
	struct jw w;
	struct call c;
	size_t len;

	memset(&c, 0, sizeof(c));
	memcpy(c.linkedid, "1795341833.0", 13);
	jw_init(&w, 64 * 1024);
	const char *doc = call_record_json(&w, &c, CALL_HANGUP, "lab", &len);
	CHECK(doc != NULL);
	const char *at = doc;
	for (int f = 0; doc && f < RF_COUNT; f++) {
		char key[64];
		snprintf(key, sizeof(key), "\"%s\":", call_record_fields[f].key);
		const char *p = strstr(at, key);
		CHECK(p != NULL);
		if (p)
			at = p;
	}
	CHECK(doc && strstr(doc, "\"call_id\":\"lab:1795341833.0\"") != NULL);
	CHECK(doc && strstr(doc, "\"v\":1,") != NULL);
	jw_free(&w);
}
