#include "capture.h"
#include "unit.h"

void test_replay_rewrites_every_id_field_and_nothing_else(void)
{
	static const char raw[] = "Event: DialBegin\r\nUniqueid: 1795341833.0\r\nLinkedid: 1795341833.0\r\n"
	                          "DestUniqueid: 1795341833.1\r\nDestLinkedID: 1795341833.0\r\n"
	                          "CallerIDNum: 1795341833.5\r\nUniqueid: <unknown>\r\nValue: Linkedid: 7.1\r\n"
	                          "Timestamp: 1795341833.250113\r\nTimestampX: 1795341833.5\r\n\r\n";
	char out[CAPTURE_REWRITE_SIZE(sizeof(raw))];
	size_t n = capture_rewrite_ids(raw, sizeof(raw) - 1, 2, out);
	out[n] = '\0';
	CHECK_EQ_STR(out, "Event: DialBegin\r\nUniqueid: 1795514633.0\r\nLinkedid: 1795514633.0\r\n"
	                  "DestUniqueid: 1795514633.1\r\nDestLinkedID: 1795514633.0\r\n"
	                  "CallerIDNum: 1795341833.5\r\nUniqueid: <unknown>\r\nValue: Linkedid: 7.1\r\n"
	                  "Timestamp: 1795514633.250113\r\nTimestampX: 1795341833.5\r\n\r\n");
	/* Loop 0 is the capture as it is. */
	n = capture_rewrite_ids(raw, sizeof(raw) - 1, 0, out);
	CHECK_EQ_INT(n, sizeof(raw) - 1);
	CHECK(memcmp(out, raw, n) == 0);
}

void test_replay_field_lookup_and_replayable(void)
{
	static const char ev[] = "Event: Newchannel\r\nchannel: PJSIP/100-00000001\r\nExten:\r\n\r\n";
	static const char answer[] = "Event: CoreShowChannel\r\nActionID: 7\r\n\r\n";
	static const char booted[] = "Event: FullyBooted\r\n\r\n";
	struct cap_msg m = {.raw = (char *)ev, .len = sizeof(ev) - 1};
	char v[64];

	CHECK(capture_field(ev, sizeof(ev) - 1, "Channel", v, sizeof(v)));
	CHECK_EQ_STR(v, "PJSIP/100-00000001");
	CHECK(capture_field(ev, sizeof(ev) - 1, "Exten", v, sizeof(v)));
	CHECK_EQ_STR(v, "");
	CHECK(!capture_field(ev, sizeof(ev) - 1, "Chan", v, sizeof(v)));
	CHECK(capture_is_replayable(&m));
	m = (struct cap_msg){.raw = (char *)answer, .len = sizeof(answer) - 1};
	CHECK(!capture_is_replayable(&m));
	m = (struct cap_msg){.raw = (char *)booted, .len = sizeof(booted) - 1};
	CHECK(!capture_is_replayable(&m));
}
