#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call_record.h"
#include "call_record_schema.h"
#include "unit.h"

/* docs/topics.md's key table of the call records is the schema's, key for key,
 * in order: the table is the one place a field is added. */
void test_schema_matches_the_documented_keys(void)
{
	FILE *f = fopen("docs/topics.md", "r");
	char line[2048];
	int in_table = 0, n = 0;

	CHECK(f != NULL);
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "| `v` | integer |", 17) == 0)
			in_table = 1;
		if (in_table && strncmp(line, "| `", 3) != 0)
			break;
		if (!in_table)
			continue;
		char *end = strchr(line + 3, '`');
		if (end == NULL)
			break;
		*end = '\0';
		if (n < RF_COUNT)
			CHECK_EQ_STR(line + 3, call_record_fields[n].key);
		n++;
	}
	fclose(f);
	CHECK_EQ_INT(n, RF_COUNT);
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
