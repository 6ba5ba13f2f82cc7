#include <cjson/cJSON.h>
#include <stdlib.h>

#include "ami_json.h"
#include "bounds.h"
#include "unit.h"

static struct ami_field F(const char *k, const char *v) {
	return (struct ami_field){k, v, (uint32_t)strlen(k), (uint32_t)strlen(v)};
}

void test_json_repeated_keys_become_arrays(void)
{
	struct ami_field f[] = {F("Event", "VarSet"), F("ChanVariable", "a=1"), F("Channel", "PJSIP/100-0000000a"),
	                        F("ChanVariable", "b=2"), F("ChanVariable", "")};
	struct ami_msg m = {f, 5};
	struct jw w;
	size_t len;

	jw_init(&w, 1 << 20);
	const char *doc = ami_msg_to_json(&w, &m, "2026-11-22T11:01:30.123Z", 42, &len);
	CHECK_EQ_STR(doc, "{\"Event\":\"VarSet\",\"ChanVariable\":[\"a=1\",\"b=2\",\"\"],\"Channel\":\"PJSIP/"
	                  "100-0000000a\",\"ts\":\"2026-11-22T11:01:30.123Z\",\"seq\":42}");
	CHECK_EQ_INT(len, strlen(doc));
	jw_free(&w);
}

void test_json_hostile_bytes_stay_valid(void)
{
	/* invalid UTF-8, overlong, surrogate, control chars, quotes */
	const char *name = "\"Bob\" \\ \x01\r\n\xff\xc0\xaf\xed\xa0\x80 caf\xc3\xa9 \xf0\x9f\x98\x80";
	struct ami_field f[] = {F("Event", "Newchannel"), F("CallerIDName", name)};
	struct ami_msg m = {f, 2};
	struct jw w;

	jw_init(&w, 1 << 20);
	const char *doc = ami_msg_to_json(&w, &m, "x", 1, NULL);
	CHECK(doc != NULL);
	cJSON *j = cJSON_Parse(doc);
	CHECK(j != NULL);
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(j, "CallerIDName"));
	CHECK_EQ_STR(v, "\"Bob\" \\ \x01\r\n\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
	                " caf\xc3\xa9 \xf0\x9f\x98\x80");
	cJSON_Delete(j);
	jw_free(&w);
}

void test_json_writer_bounds_and_nesting(void)
{
	struct jw w;
	jw_init(&w, 16);
	jw_obj_begin(&w);
	jw_keyz(&w, "k");
	jw_strz(&w, "this does not fit in sixteen");
	jw_obj_end(&w);
	CHECK(jw_finish(&w, NULL) == NULL);
	jw_reset(&w);
	jw_arr_begin(&w);
	jw_int(&w, -5);
	jw_bool(&w, 1);
	jw_null(&w);
	jw_arr_end(&w);
	CHECK_EQ_STR(jw_finish(&w, NULL), "[-5,true,null]");
	jw_reset(&w);
	jw_obj_begin(&w);
	CHECK(jw_finish(&w, NULL) == NULL); /* unbalanced */
	jw_free(&w);
}
