#include <stdio.h>
#include <stdlib.h>

#include "ami_codec.h"
#include "asterisk_version.h"
#include "call_record.h"
#include "call_tracker.h"
#include "cdr_store.h"
#include "unit.h"

/* Synthetic event sequences for the paths the captures do not cover. */

struct rec_log {
	int starts, answers, hangups;
	char last[4096];
	char all[8192]; /* every hangup record, one a line */
	struct jw w;
};

struct feeder {
	struct call_tracker *t;
	int64_t now;
	int as_sync_item; /* a CoreShowChannels item rather than an event */
};

static void on_rec(void *ctx, enum call_phase kind, const struct call *c, int64_t now_ms)
{
	struct rec_log *l = ctx;
	(void)now_ms;
	if (kind == CALL_START)
		l->starts++;
	if (kind == CALL_ANSWER)
		l->answers++;
	if (kind == CALL_HANGUP) {
		l->hangups++;
		const char *doc = call_record_json(&l->w, c, kind, "t", NULL);
		snprintf(l->last, sizeof(l->last), "%s", doc ? doc : "");
		size_t used = strlen(l->all);
		snprintf(l->all + used, sizeof(l->all) - used, "%s\n", doc ? doc : "");
	}
}

static void on_msg(void *ctx, const struct ami_msg *m)
{
	struct feeder *f = ctx;
	if (f->as_sync_item)
		call_tracker_sync_channel(f->t, m, f->now);
	else
		call_tracker_event(f->t, m, f->now);
}

/* Feeds "Key: Value|Key: Value" (| as line break) as one message at time t. */
static void feed(struct call_tracker *t, int64_t at, const char *spec, int as_sync_item)
{
	struct feeder f = {t, at, as_sync_item};
	unit_feed_message(spec, on_msg, &f);
}

static void ev(struct call_tracker *t, int64_t at, const char *spec)
{
	feed(t, at, spec, 0);
}

/* An item of the CoreShowChannels list. */
static void sync_item(struct call_tracker *t, int64_t at, const char *spec)
{
	feed(t, at, spec, 1);
}

static struct glob_list contexts, no_endpoints;

static void setup(struct call_tracker *t, struct rec_log *l, size_t max_calls)
{
	glob_list_parse(&contexts, "from-pstn from-trunk");
	struct call_tracker_opts o = {.trunk_contexts = &contexts,
	                              .trunk_endpoints = &no_endpoints,
	                              .idle_timeout_ms = 4LL * 3600 * 1000,
	                              .max_calls = max_calls};
	memset(l, 0, sizeof(*l));
	jw_init(&l->w, 1 << 16);
	CHECK(call_tracker_init(t, &o, on_rec, l) == 0);
}

static void teardown(struct call_tracker *t, struct rec_log *l)
{
	glob_list_free(&contexts);
	call_tracker_free(t);
	jw_free(&l->w);
}

#define TRUNK_NEW(lid, uid)                                                                                            \
	"Event: Newchannel|Channel: PJSIP/trunk-provider-000000" uid                                                   \
	"|CallerIDNum: 15550001|CallerIDName: X|Context: from-pstn|Exten: 5551000|Uniqueid: " lid "." uid              \
	"|Linkedid: " lid ".00"

void test_tracker_caller_cancels_while_ringing(void)
{
	struct call_tracker t;
	struct rec_log l;
	setup(&t, &l, 100);
	ev(&t, 1000, TRUNK_NEW("9", "00"));
	ev(&t, 1100,
	   "Event: Newchannel|Channel: PJSIP/100-00000001|Context: from-internal|Exten: s|Uniqueid: 9.01|Linkedid: "
	   "9.00");
	ev(&t, 1200,
	   "Event: DialBegin|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 9.00|Linkedid: 9.00|DestChannel: "
	   "PJSIP/100-00000001|DialString: 100");
	ev(&t, 1300,
	   "Event: Newstate|Channel: PJSIP/100-00000001|ChannelStateDesc: Ringing|Uniqueid: 9.01|Linkedid: 9.00");
	ev(&t, 4000,
	   "Event: Hangup|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 9.00|Linkedid: 9.00|Cause: 16|Cause-txt: "
	   "Normal Clearing");
	CHECK_EQ_INT(l.hangups, 0); /* the extension's leg is still up */
	ev(&t, 4010,
	   "Event: DialEnd|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 9.00|Linkedid: 9.00|DestChannel: "
	   "PJSIP/100-00000001|DialStatus: CANCEL");
	ev(&t, 4020,
	   "Event: Hangup|Channel: PJSIP/100-00000001|Uniqueid: 9.01|Linkedid: 9.00|Cause: 0|Cause-txt: Unknown");
	CHECK_EQ_INT(l.starts, 1);
	CHECK_EQ_INT(l.answers, 0);
	CHECK_EQ_INT(l.hangups, 1);
	CHECK(strstr(l.last, "\"disposition\":\"NO ANSWER\"") != NULL);
	CHECK(strstr(l.last, "\"extension\":\"100\"") != NULL);
	CHECK(strstr(l.last, "\"duration_s\":3") != NULL);
	CHECK(strstr(l.last, "\"pbx_answered\":false") != NULL);
	CHECK(strstr(l.last, "\"hangup_cause\":16") != NULL);
	CHECK_EQ_INT(t.ncalls, 0);
	teardown(&t, &l);
}

void test_tracker_withheld_caller_has_no_number(void)
{
	struct call_tracker t;
	struct rec_log l;
	setup(&t, &l, 100);
	ev(&t, 0,
	   "Event: Newchannel|Channel: PJSIP/trunk-provider-00000005|CallerIDNum: anonymous|CallerIDName: "
	   "<unknown>|Context: from-trunk|Exten: 5551000|Uniqueid: 7.5|Linkedid: 7.5");
	ev(&t, 900,
	   "Event: Hangup|Channel: PJSIP/trunk-provider-00000005|Uniqueid: 7.5|Linkedid: 7.5|Cause: 17|Cause-txt: User "
	   "busy");
	CHECK(strstr(l.last, "\"external_number\":null,\"external_name\":null,\"withheld\":true") != NULL);
	CHECK(strstr(l.last, "\"disposition\":\"BUSY\"") != NULL);
	CHECK(strstr(l.last, "\"duration_s\":1") != NULL);
	/* A number presented, then restricted (NewCallerid, as in capture 15):
	 * withheld, and the number is in no record any more. */
	ev(&t, 1000, TRUNK_NEW("8", "00"));
	ev(&t, 1100,
	   "Event: NewCallerid|Channel: PJSIP/trunk-provider-00000000|CallerIDNum: 15550001|CallerIDName: X|"
	   "Uniqueid: 8.00|Linkedid: 8.00|CID-CallingPres: 33 (Presentation Prohibited, Passed Screen)");
	ev(&t, 2000, "Event: Hangup|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 8.00|Linkedid: 8.00|Cause: 16");
	CHECK(strstr(l.last, "\"external_number\":null,\"external_name\":null,\"withheld\":true") != NULL);
	CHECK(strstr(l.last, "15550001") == NULL);
	/* allowed presentation: nothing withheld */
	ev(&t, 3000, TRUNK_NEW("9", "00"));
	ev(&t, 3100,
	   "Event: NewCallerid|Channel: PJSIP/trunk-provider-00000000|CallerIDNum: 15550001|Uniqueid: 9.00|"
	   "Linkedid: 9.00|CID-CallingPres: 0 (Presentation Allowed, Not Screened)");
	ev(&t, 4000, "Event: Hangup|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 9.00|Linkedid: 9.00|Cause: 16");
	CHECK(strstr(l.last, "\"external_number\":\"15550001\",\"external_name\":\"X\",\"withheld\":false") != NULL);
	teardown(&t, &l);
}

void test_tracker_reconnect_sync_closes_vanished_calls(void)
{
	struct call_tracker t;
	struct rec_log l;
	setup(&t, &l, 100);
	ev(&t, 1000, TRUNK_NEW("1", "00"));
	ev(&t, 1000, TRUNK_NEW("2", "00"));
	CHECK_EQ_INT(t.ncalls, 2);
	call_tracker_sync_begin(&t);
	ev(&t, 5000, TRUNK_NEW("3", "00")); /* created during the sync: alive */
	sync_item(&t, 5500,
	          "Event: CoreShowChannel|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 2.00|Linkedid: "
	          "2.00|Duration: 00:00:04");
	/* a call that began while we were away: tracked from now, partial */
	sync_item(&t, 5500,
	          "Event: CoreShowChannel|Channel: PJSIP/100-00000009|Context: from-internal|Uniqueid: 4.09|Linkedid: "
	          "4.00|Duration: 00:01:05|BridgeId: ");
	call_tracker_sync_end(&t, 6000);
	CHECK_EQ_INT(l.hangups, 1);
	CHECK(strstr(l.last, "\"call_id\":\"t:1.00\"") != NULL);
	CHECK(strstr(l.last, "\"partial\":true") != NULL);
	CHECK_EQ_INT(t.ncalls, 3);
	CHECK_EQ_INT(t.calls_partial, 1);
	CHECK_EQ_INT(l.starts, 4);
	ev(&t, 7000, "Event: Hangup|Channel: PJSIP/100-00000009|Uniqueid: 4.09|Linkedid: 4.00|Cause: 16");
	CHECK_EQ_INT(l.hangups, 2);
	CHECK(strstr(l.last, "\"partial\":true") != NULL);
	CHECK(strstr(l.last, "\"duration_s\":67") != NULL); /* 65 s before the sync + 1.5 s */
	teardown(&t, &l);
}

/* A call begun while we were away, its channels listed callee first (the
 * PBX's list has no set order) or a callee's event heard before the list:
 * the trunk leg whose Uniqueid is the Linkedid began it, so the call is
 * inbound from the trunk's caller, not outbound to nobody (the flake of
 * the CDR outage test: "outbound", no number). */
void test_tracker_call_seen_late_takes_its_originator_as_caller(void)
{
	static const char *const callee_first_by[] = {
	    "Event: CoreShowChannel|Channel: PJSIP/100-00000009|Context: from-internal|Exten: 100|CallerIDNum: "
	    "15550001|Uniqueid: 7.09|Linkedid: 7.08|Duration: 00:00:03|BridgeId: b7",
	    "Event: Newstate|Channel: PJSIP/100-00000009|ChannelStateDesc: Up|Context: from-internal|Exten: "
	    "100|CallerIDNum: 15550001|Uniqueid: 7.09|Linkedid: 7.08"};
	for (int way = 0; way < 2; way++) {
		struct call_tracker t;
		struct rec_log l;
		setup(&t, &l, 100);
		call_tracker_sync_begin(&t);
		feed(&t, 5000, callee_first_by[way], way == 0);
		sync_item(&t, 5000,
		          "Event: CoreShowChannel|Channel: PJSIP/trunk-provider-00000008|Context: from-pstn|Exten: "
		          "5551000|CallerIDNum: 15550002|CallerIDName: Y|Uniqueid: 7.08|Linkedid: 7.08|Duration: "
		          "00:00:04|BridgeId: b7");
		sync_item(&t, 5000, callee_first_by[0]); /* listed after all, or again */
		call_tracker_sync_end(&t, 5100);
		ev(&t, 9000, "Event: Hangup|Channel: PJSIP/100-00000009|Uniqueid: 7.09|Linkedid: 7.08|Cause: 16");
		ev(&t, 9010,
		   "Event: Hangup|Channel: PJSIP/trunk-provider-00000008|Uniqueid: 7.08|Linkedid: 7.08|Cause: 16");
		CHECK_EQ_INT(l.hangups, 1);
		CHECK(strstr(l.last, "\"direction\":\"inbound\"") != NULL);
		CHECK(strstr(l.last, "\"external_number\":\"15550002\",\"external_name\":\"Y\"") != NULL);
		CHECK(strstr(l.last, "\"extension\":\"100\"") != NULL);
		enum ep_why why;
		CHECK(endpoint_kind(&t.kinds, "100", &why) != EP_TRUNK); /* a callee's number taught nothing */
		teardown(&t, &l);
	}
}

/* Back just after a call began: the caller's Newchannel was missed, the
 * callee's heard.  A Newchannel opens a call whole only if it is the
 * originator's; the caller leg, heard next, is the caller (the CDR outage
 * test's flake after the one above: "outbound", no number). */
static void play_callee_heard_first(struct call_tracker *t)
{
	ev(t, 5000,
	   "Event: Newchannel|Channel: PJSIP/100-00000009|ChannelStateDesc: Down|Context: from-internal|Exten: "
	   "100|CallerIDNum: 100|Uniqueid: 7.09|Linkedid: 7.08");
	ev(t, 5100,
	   "Event: Newstate|Channel: PJSIP/trunk-provider-00000008|ChannelStateDesc: Up|Context: from-pstn|Exten: "
	   "5551000|CallerIDNum: 15550002|CallerIDName: Y|Uniqueid: 7.08|Linkedid: 7.08");
	ev(t, 9000, "Event: Hangup|Channel: PJSIP/100-00000009|Uniqueid: 7.09|Linkedid: 7.08|Cause: 16");
	ev(t, 9010, "Event: Hangup|Channel: PJSIP/trunk-provider-00000008|Uniqueid: 7.08|Linkedid: 7.08|Cause: 16");
}

void test_tracker_callee_newchannel_first_is_seen_late(void)
{
	struct call_tracker t;
	struct rec_log l;
	setup(&t, &l, 100);
	play_callee_heard_first(&t);
	CHECK_EQ_INT(l.hangups, 1);
	CHECK(strstr(l.last, "\"direction\":\"inbound\"") != NULL);
	CHECK(strstr(l.last, "\"external_number\":\"15550002\",\"external_name\":\"Y\"") != NULL);
	CHECK(strstr(l.last, "\"partial\":true") != NULL);
	teardown(&t, &l);
}

/* The same call with a CDR store (the CI flake of this stop: a call begun
 * 2 ms before the login, every channel then heard live, came out partial):
 * at its end it waits for its CDR, which makes it whole. */
void test_tracker_call_begun_unseen_waits_for_its_cdr(void)
{
	struct call_tracker t;
	struct rec_log l;
	setup(&t, &l, 100);
	t.o.hold_for_cdr = 1;
	play_callee_heard_first(&t);
	CHECK_EQ_INT(l.hangups, 0); /* its CDR first */
	int64_t from = 0, to = 0;
	CHECK(call_tracker_cdr_wanted(&t, &from, &to) == 1);
	CHECK(from <= 5000 && to >= 9010);
	struct cdr_row row = {.linkedid = "7.08", .uniqueid = "7.08", .start_ms = 4000, .duration = 5, .billsec = 0};
	snprintf(row.channel, sizeof(row.channel), "PJSIP/trunk-provider-00000008");
	snprintf(row.dstchannel, sizeof(row.dstchannel), "PJSIP/100-00000009");
	snprintf(row.src, sizeof(row.src), "15550002");
	snprintf(row.disposition, sizeof(row.disposition), "NO ANSWER");
	call_tracker_cdr_begin(&t);
	CHECK(call_tracker_cdr_call(&t, &row, 1, 10000) == CDR_COMPLETED);
	CHECK_EQ_INT(l.hangups, 1);
	CHECK(strstr(l.last, "\"partial\":false") != NULL);
	CHECK(strstr(l.last, "\"external_number\":\"15550002\"") != NULL);
	CHECK_EQ_INT(call_tracker_cdr_done(&t), 0);
	teardown(&t, &l);
}

void test_tracker_idle_calls_expire_and_are_freed(void)
{
	struct call_tracker t;
	struct rec_log l;
	setup(&t, &l, 100);
	ev(&t, 0, TRUNK_NEW("4", "00"));
	ev(&t, 1000, TRUNK_NEW("5", "00"));
	call_tracker_expire(&t, 4LL * 3600 * 1000 + 500);
	CHECK_EQ_INT(l.hangups, 1);
	CHECK_EQ_INT(t.ncalls, 1);
	call_tracker_expire(&t, 4LL * 3600 * 1000 + 1500);
	CHECK_EQ_INT(l.hangups, 2);
	CHECK_EQ_INT(t.ncalls, 0);
	CHECK_EQ_INT(t.calls_partial, 2);
	CHECK(strstr(l.last, "\"partial\":true") != NULL);
	teardown(&t, &l);
}

void test_tracker_bounded_calls_and_channels(void)
{
	struct call_tracker t;
	struct rec_log l;
	char spec[512];
	setup(&t, &l, 2);
	ev(&t, 0, TRUNK_NEW("6", "00"));
	ev(&t, 0, TRUNK_NEW("7", "00"));
	ev(&t, 0, TRUNK_NEW("8", "00"));
	CHECK_EQ_INT(t.ncalls, 2);
	CHECK_EQ_INT(t.calls_refused, 1);
	teardown(&t, &l);

	setup(&t, &l, 10);
	for (int i = 0; i < CT_MAX_CHANNELS + 6; i++) {
		snprintf(spec, sizeof(spec),
		         "Event: Newchannel|Channel: PJSIP/1%02d-000000%02d|Context: from-internal|Exten: s|Uniqueid: "
		         "9.%d|Linkedid: 9.0",
		         i, i, i);
		ev(&t, 0, spec);
	}
	CHECK_EQ_INT(t.channels_capped, 6);
	for (int i = 0; i < CT_MAX_CHANNELS + 6; i++) {
		snprintf(spec, sizeof(spec),
		         "Event: Hangup|Channel: PJSIP/1%02d-000000%02d|Uniqueid: 9.%d|Linkedid: 9.0|Cause: 16", i, i,
		         i);
		ev(&t, 10, spec);
	}
	CHECK_EQ_INT(l.hangups, 1);
	CHECK(strstr(l.last, "\"partial\":true") != NULL);
	CHECK(strstr(l.last, "\"legs\":70") != NULL);
	CHECK_EQ_INT(t.ncalls, 0);
	teardown(&t, &l);
}

void test_tracker_many_calls_leave_nothing_behind(void)
{
	struct call_tracker t;
	struct rec_log l;
	char spec[512];
	setup(&t, &l, 100000);
	for (int i = 0; i < 50000; i++) {
		snprintf(spec, sizeof(spec),
		         "Event: Newchannel|Channel: PJSIP/trunk-x-%08x|Context: from-pstn|Exten: 1|Uniqueid: "
		         "%d.0|Linkedid: %d.0",
		         i, i, i);
		ev(&t, i, spec);
		if (i >= 1000) { /* 1000 calls in flight all along */
			snprintf(spec, sizeof(spec),
			         "Event: Hangup|Channel: PJSIP/trunk-x-%08x|Uniqueid: %d.0|Linkedid: %d.0|Cause: 16",
			         i - 1000, i - 1000, i - 1000);
			ev(&t, i, spec);
		}
	}
	CHECK_EQ_INT(t.ncalls, 1000);
	CHECK_EQ_INT(l.hangups, 49000);
	call_tracker_expire(&t, 50000 + 5LL * 3600 * 1000);
	CHECK_EQ_INT(t.ncalls, 0);
	CHECK_EQ_INT(t.calls_ended, 50000);
	teardown(&t, &l);
}

void test_tracker_ignores_garbage_events(void)
{
	struct call_tracker t;
	struct rec_log l;
	setup(&t, &l, 10);
	ev(&t, 0, "Event: Hangup|Linkedid: nope|Uniqueid: nope");        /* unknown call */
	ev(&t, 0, "Event: BridgeEnter|Uniqueid: 1|Channel: x");          /* no Linkedid */
	ev(&t, 0, "Event: DialBegin|Linkedid: 1|Uniqueid: 1|Channel: "); /* no channel */
	ev(&t, 0, "Event: Newchannel|Linkedid: 2|Uniqueid: 2|Channel: PJSIP/abc");
	ev(&t, 0, "Event: DialBegin|Linkedid: 2|Uniqueid: 2|Channel: PJSIP/abc|DestChannel: PJSIP/none|DialString: @");
	ev(&t, 5, "Event: Hangup|Linkedid: 2|Uniqueid: 2|Channel: PJSIP/abc|Cause: 99999999999999999999");
	CHECK_EQ_INT(l.hangups, 1);
	CHECK(strstr(l.last, "\"hangup_cause\":0") != NULL);
	CHECK_EQ_INT(t.ncalls, 0);
	teardown(&t, &l);
}

void test_tracker_one_clock_per_record(void)
{
	struct call_tracker t;
	struct rec_log l;
	const int64_t day = 86400000;
	setup(&t, &l, 100);
	/* After a restart the PBX's clock is not known yet: a call adopted from
	 * CoreShowChannels is dated on the assumed clock (here the bridge's,
	 * 8 days ahead of the PBX's) ... */
	t.clock_provisional = 1;
	call_tracker_sync_begin(&t);
	sync_item(&t, 8 * day + 5000,
	          "Event: CoreShowChannel|Channel: PJSIP/100-00000009|Context: from-internal|Uniqueid: 4.09|Linkedid: "
	          "4.00|Duration: 00:01:05|BridgeId: ");
	call_tracker_sync_end(&t, 8 * day + 5000);
	/* ... then the PBX's first Timestamp: shows its clock 8 days behind:
	 * the call moves with it, and its hangup (on the PBX's clock) ends it
	 * 67 s after its start, not 8 days before it. */
	call_tracker_clock_confirmed(&t, -8 * day);
	ev(&t, 7000, "Event: Hangup|Channel: PJSIP/100-00000009|Uniqueid: 4.09|Linkedid: 4.00|Cause: 16");
	CHECK_EQ_INT(l.hangups, 1);
	CHECK(strstr(l.last, "\"duration_s\":67") != NULL);
	CHECK_EQ_INT(t.times_fixed, 0);
	/* A clock that steps back mid-call: the record still reads in order. */
	ev(&t, 100000, TRUNK_NEW("5", "00"));
	ev(&t, 90000, "Event: Hangup|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 5.00|Linkedid: 5.00|Cause: 16");
	CHECK_EQ_INT(l.hangups, 2);
	CHECK_EQ_INT(t.times_fixed, 1);
	CHECK(strstr(l.last, "\"duration_s\":0") != NULL);
	const char *s = strstr(l.last, "\"started_at\":\""), *e = strstr(l.last, "\"ended_at\":\"");
	CHECK(s && e && strncmp(s + 14, e + 12, 24) == 0);
	teardown(&t, &l);
}

/* Audit L6: a Linkedid that is no id (a control character, invalid UTF-8)
 * would give a call_id the JSON escapes and the outbox keys raw: never
 * retired.  Such a call is not tracked, and counted. */
void test_tracker_refuses_linkedids_that_are_no_ids(void)
{
	struct call_tracker t;
	struct rec_log l;
	setup(&t, &l, 100);
	ev(&t, 0,
	   "Event: Newchannel|Channel: PJSIP/trunk-provider-00000001|CallerIDNum: 1555|Context: from-pstn|Exten: "
	   "5551000|Uniqueid: 1700\x01"
	   "ctrl.3|Linkedid: 1700\x01"
	   "ctrl.3");
	ev(&t, 0,
	   "Event: Newchannel|Channel: PJSIP/trunk-provider-00000002|CallerIDNum: 1555|Context: from-pstn|Exten: "
	   "5551000|Uniqueid: 1700\xff\xfe.4|Linkedid: 1700\xff\xfe.4");
	CHECK_EQ_INT(t.ncalls, 0);
	CHECK_EQ_INT(t.bad_linkedids, 2);
	CHECK_EQ_INT(l.starts, 0);
	/* a SystemName in front is an id */
	ev(&t, 0,
	   "Event: Newchannel|Channel: SIP/150010001-00000001|CallerIDNum: 201|Context: internal|Exten: 202|"
	   "Uniqueid: 195176c06ab8-1529936170.42|Linkedid: 195176c06ab8-1529936170.42");
	CHECK_EQ_INT(t.ncalls, 1);
	teardown(&t, &l);
}

/* Asterisk 11: channel events without a Linkedid cannot make records; the
 * tracker counts them (the bridge says it out loud), and nothing is made. */
void test_tracker_asterisk_11_is_said_not_silent(void)
{
	struct call_tracker t;
	struct rec_log l;
	setup(&t, &l, 100);
	ev(&t, 0,
	   "Event: Newchannel|Channel: SIP/voipgrid-siproute-docker-0000000c|Uniqueid: 2087873f7e47-1509101015.24|"
	   "Exten: +31853030904|CallerIDNum: +31853030900|Context: voipgrid_in");
	ev(&t, 100,
	   "Event: Hangup|Channel: SIP/voipgrid-siproute-docker-0000000c|Uniqueid: 2087873f7e47-1509101015.24");
	CHECK_EQ_INT(t.no_linkedid, 2);
	CHECK_EQ_INT(t.ncalls, 0);
	CHECK_EQ_INT(l.starts + l.hangups, 0);
	teardown(&t, &l);
	CHECK_EQ_INT(asterisk_version_supported("22.10.1"), 1);
	CHECK_EQ_INT(asterisk_version_supported("13.13.1"), 1);
	CHECK_EQ_INT(asterisk_version_supported("certified/18.9-cert4"), 1);
	CHECK_EQ_INT(asterisk_version_supported("11.25.3"), 0);
	CHECK_EQ_INT(asterisk_version_supported("1.8.32.3"), 0);
	CHECK_EQ_INT(asterisk_version_supported("GIT-master-abc"), -1);
}

/* Issue 13 (capture 05b's form): the answering phone's own events never
 * come; DialEnd ANSWER is the only word of who answered.  Used when
 * nothing better came, never against the call's own evidence. */
void test_tracker_dialend_answer_is_evidence(void)
{
	struct call_tracker t;
	struct rec_log l;
	setup(&t, &l, 100);
	ev(&t, 0, TRUNK_NEW("6", "00"));
	ev(&t, 1000,
	   "Event: DialEnd|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 6.00|Linkedid: 6.00|"
	   "DestChannel: SIP/9001-00012462|DestUniqueid: 6.09|DialStatus: ANSWER");
	ev(&t, 9000, "Event: Hangup|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 6.00|Linkedid: 6.00|Cause: 16");
	CHECK(strstr(l.last, "\"extension\":\"9001\"") != NULL);
	CHECK(strstr(l.last, "\"disposition\":\"ANSWERED\"") != NULL);
	CHECK(strstr(l.last, "\"billsec_s\":8") != NULL);
	/* a Local channel answering says nothing of the person behind it */
	ev(&t, 10000, TRUNK_NEW("7", "00"));
	ev(&t, 11000,
	   "Event: DialEnd|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 7.00|Linkedid: 7.00|"
	   "DestChannel: Local/FMGL-9000#@from-internal-00000001;1|DestUniqueid: 7.01|DialStatus: ANSWER");
	ev(&t, 12000, "Event: Hangup|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 7.00|Linkedid: 7.00|Cause: 16");
	CHECK(strstr(l.last, "\"disposition\":\"NO ANSWER\"") != NULL);
	teardown(&t, &l);
}

#define XFER_EV(what, chan, uid, lid, extra) "Event: " what "|Channel: " chan "|Uniqueid: " uid "|Linkedid: " lid extra

/* An attended transfer on Asterisk 13 (capture 15 of ami-outside): the
 * target's channel shows up under the caller's Linkedid.  The consultation
 * call ends with its own channels, the caller's names the final party. */
void test_tracker_follows_a_channel_into_another_linkedid(void)
{
	struct call_tracker t;
	struct rec_log l;
	setup(&t, &l, 100);
	ev(&t, 1000, TRUNK_NEW("1", "00"));
	ev(&t, 1100, XFER_EV("Newchannel", "PJSIP/101-00000001", "1.01", "1.00", "|CallerIDNum: 101|Context: x"));
	ev(&t, 1200,
	   XFER_EV("DialBegin", "PJSIP/trunk-provider-00000000", "1.00", "1.00",
	           "|DestChannel: PJSIP/101-00000001|DialString: 101"));
	ev(&t, 2000, XFER_EV("BridgeEnter", "PJSIP/trunk-provider-00000000", "1.00", "1.00", "|BridgeUniqueid: b1"));
	ev(&t, 2000, XFER_EV("BridgeEnter", "PJSIP/101-00000001", "1.01", "1.00", "|BridgeUniqueid: b1"));
	/* 101 calls 100 to consult */
	ev(&t, 3000,
	   XFER_EV("Newchannel", "PJSIP/101-00000002", "2.00", "2.00", "|CallerIDNum: 101|Context: x|Exten: 100"));
	ev(&t, 3100, XFER_EV("Newchannel", "PJSIP/100-00000003", "2.01", "2.00", "|CallerIDNum: 100|Context: x"));
	ev(&t, 3200,
	   XFER_EV("DialBegin", "PJSIP/101-00000002", "2.00", "2.00",
	           "|DestChannel: PJSIP/100-00000003|DialString: 100"));
	ev(&t, 4000, XFER_EV("BridgeEnter", "PJSIP/101-00000002", "2.00", "2.00", "|BridgeUniqueid: b2"));
	ev(&t, 4000, XFER_EV("BridgeEnter", "PJSIP/100-00000003", "2.01", "2.00", "|BridgeUniqueid: b2"));
	CHECK_EQ_INT(l.answers, 2);
	/* the transfer: the caller joins b2, 100's channel moves to Linkedid 1.00 */
	ev(&t, 5000, XFER_EV("BridgeLeave", "PJSIP/101-00000002", "2.00", "2.00", "|BridgeUniqueid: b2"));
	ev(&t, 5000, XFER_EV("BridgeLeave", "PJSIP/trunk-provider-00000000", "1.00", "1.00", "|BridgeUniqueid: b1"));
	ev(&t, 5000, XFER_EV("BridgeEnter", "PJSIP/trunk-provider-00000000", "1.00", "1.00", "|BridgeUniqueid: b2"));
	ev(&t, 5010, XFER_EV("NewConnectedLine", "PJSIP/100-00000003", "2.01", "1.00", ""));
	ev(&t, 5020, "Event: AttendedTransfer|TransfereeLinkedid: 1.00|Result: Success");
	ev(&t, 5030, XFER_EV("Hangup", "PJSIP/101-00000001", "1.01", "1.00", "|Cause: 16"));
	CHECK_EQ_INT(l.hangups, 0);
	ev(&t, 5040, XFER_EV("Hangup", "PJSIP/101-00000002", "2.00", "2.00", "|Cause: 16"));
	CHECK_EQ_INT(l.hangups, 1); /* the consultation: its own channels are gone */
	CHECK(strstr(l.last, "\"call_id\":\"t:2.00\"") != NULL);
	CHECK(strstr(l.last, "\"direction\":\"internal\"") != NULL);
	CHECK(strstr(l.last, "\"extension\":\"101\"") != NULL);
	CHECK(strstr(l.last, "\"disposition\":\"ANSWERED\"") != NULL);
	CHECK(strstr(l.last, "\"partial\":false") != NULL);
	ev(&t, 9000, XFER_EV("Hangup", "PJSIP/100-00000003", "2.01", "1.00", "|Cause: 16"));
	ev(&t, 9010, XFER_EV("Hangup", "PJSIP/trunk-provider-00000000", "1.00", "1.00", "|Cause: 16"));
	CHECK_EQ_INT(l.hangups, 2);
	CHECK(strstr(l.last, "\"call_id\":\"t:1.00\"") != NULL);
	CHECK(strstr(l.last, "\"direction\":\"inbound\"") != NULL);
	CHECK(strstr(l.last, "\"extension\":\"100\"") != NULL); /* the final party */
	CHECK(strstr(l.last, "\"transferred\":true") != NULL);
	CHECK(strstr(l.last, "\"partial\":false") != NULL);
	CHECK(strstr(l.last, "\"duration_s\":8") != NULL);
	CHECK_EQ_INT(t.ncalls, 0);
	teardown(&t, &l);
}

static char asked_channel[CT_NAME_MAX], asked_linkedid[CT_ID_MAX];

static void on_ask(void *ctx, const char *channel, const char *linkedid)
{
	(void)ctx;
	snprintf(asked_channel, sizeof(asked_channel), "%s", channel);
	snprintf(asked_linkedid, sizeof(asked_linkedid), "%s", linkedid);
}

static struct rec_log start_log;

static void on_start_rec(void *ctx, enum call_phase kind, const struct call *c, int64_t now_ms)
{
	on_rec(ctx, kind, c, now_ms);
	if (kind == CALL_START) {
		const char *doc = call_record_json(&start_log.w, c, kind, "t", NULL);
		snprintf(start_log.last, sizeof(start_log.last), "%s", doc ? doc : "");
	}
}

/* calls/start waits (start_hold_ms) for the PBX to say the caller is
 * withheld; it goes out at the hold's end, or before the answer. */
void test_tracker_holds_the_start_until_the_caller_is_known(void)
{
	struct call_tracker t;
	struct rec_log l;
	glob_list_parse(&contexts, "from-pstn");
	struct call_tracker_opts o = {.trunk_contexts = &contexts,
	                              .trunk_endpoints = &no_endpoints,
	                              .idle_timeout_ms = 3600 * 1000,
	                              .max_calls = 10,
	                              .start_hold_ms = 2000,
	                              .ask_presentation = on_ask};
	memset(&l, 0, sizeof(l));
	memset(&start_log, 0, sizeof(start_log));
	jw_init(&l.w, 1 << 16);
	jw_init(&start_log.w, 1 << 16);
	CHECK(call_tracker_init(&t, &o, on_start_rec, &l) == 0);

	/* a caller allowed: the start goes out when the hold is over */
	ev(&t, 1000, TRUNK_NEW("1", "00"));
	CHECK_EQ_STR(asked_channel, "PJSIP/trunk-provider-00000000");
	CHECK_EQ_STR(asked_linkedid, "1.00");
	call_tracker_presentation(&t, "1.00", "allowed_not_screened");
	call_tracker_release_starts(&t, 2999);
	CHECK_EQ_INT(l.starts, 0);
	CHECK_EQ_INT(t.starts_held, 1);
	call_tracker_release_starts(&t, 3000);
	CHECK_EQ_INT(l.starts, 1);
	CHECK(strstr(start_log.last, "\"external_number\":\"15550001\"") != NULL);

	/* a caller the Getvar says is restricted: withheld in every record */
	ev(&t, 5000, TRUNK_NEW("2", "00"));
	call_tracker_presentation(&t, "2.00", "prohib_passed_screen");
	ev(&t, 5100, XFER_EV("Newchannel", "PJSIP/100-00000001", "2.01", "2.00", "|CallerIDNum: 100|Context: x"));
	ev(&t, 5200, XFER_EV("BridgeEnter", "PJSIP/trunk-provider-00000000", "2.00", "2.00", "|BridgeUniqueid: b"));
	ev(&t, 5200, XFER_EV("BridgeEnter", "PJSIP/100-00000001", "2.01", "2.00", "|BridgeUniqueid: b"));
	CHECK_EQ_INT(l.starts, 2); /* sent before the answer, not after the hold */
	CHECK_EQ_INT(l.answers, 1);
	CHECK(strstr(start_log.last, "\"withheld\":true") != NULL);
	CHECK(strstr(start_log.last, "15550001") == NULL);
	ev(&t, 6000, XFER_EV("Hangup", "PJSIP/trunk-provider-00000000", "2.00", "2.00", "|Cause: 16"));
	ev(&t, 6000, XFER_EV("Hangup", "PJSIP/100-00000001", "2.01", "2.00", "|Cause: 16"));
	CHECK(strstr(l.last, "\"withheld\":true") != NULL);
	CHECK(strstr(l.last, "\"external_number\":null") != NULL);
	CHECK(strstr(l.last, "15550001") == NULL);

	/* a call that ends inside the hold: start, then hangup */
	ev(&t, 7000, TRUNK_NEW("3", "00"));
	ev(&t, 7100, XFER_EV("Hangup", "PJSIP/trunk-provider-00000000", "3.00", "3.00", "|Cause: 16"));
	CHECK_EQ_INT(l.starts, 3);
	CHECK_EQ_INT(l.hangups, 2); /* call 1 is still up */
	CHECK_EQ_INT(t.starts_held, 0);
	call_tracker_free(&t);
	glob_list_free(&contexts);
	jw_free(&l.w);
	jw_free(&start_log.w);
}

/* recording: FreePBX's CALLFILENAME first, then MIXMONITOR_FILENAME (the
 * file itself), which wins; other VarSets and a call not tracked change
 * nothing; a withheld caller's is not named. */
void test_tracker_records_the_recording_file_name(void)
{
	struct call_tracker t;
	struct rec_log l;
	setup(&t, &l, 100);
	ev(&t, 1000, TRUNK_NEW("7", "00"));
	ev(&t, 1010,
	   "Event: VarSet|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 7.00|Linkedid: 7.00|Variable: "
	   "CALLFILENAME|Value: exten-100-15550001-20261122-100358-7.00");
	ev(&t, 1020,
	   "Event: VarSet|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 7.00|Linkedid: 7.00|Variable: "
	   "MIXMONITOR_FILENAME|Value: /var/spool/asterisk/monitor/2026/11/22/"
	   "exten-100-15550001-20261122-100358-7.00.wav");
	ev(&t, 1030,
	   "Event: VarSet|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 7.00|Linkedid: 7.00|Variable: "
	   "CALLFILENAME|Value: later-and-not-the-file");
	ev(&t, 1040,
	   "Event: VarSet|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 7.00|Linkedid: 7.00|Variable: "
	   "BRIDGEPEER|Value: PJSIP/100-00000001");
	ev(&t, 1050,
	   "Event: VarSet|Channel: PJSIP/x-00000009|Uniqueid: 8.00|Linkedid: 8.00|Variable: "
	   "MIXMONITOR_FILENAME|Value: /a/b.wav"); /* no call 8.00: none made for it */
	CHECK_EQ_INT(t.ncalls, 1);
	ev(&t, 3000,
	   "Event: Hangup|Channel: PJSIP/trunk-provider-00000000|Uniqueid: 7.00|Linkedid: 7.00|Cause: 16|Cause-txt: "
	   "Normal Clearing");
	CHECK_EQ_INT(l.hangups, 1);
	CHECK(strstr(l.last, "\"recording\":\"/var/spool/asterisk/monitor/2026/11/22/"
	                     "exten-100-15550001-20261122-100358-7.00.wav\"") != NULL);
	/* the same for a withheld caller: not named */
	ev(&t, 5000,
	   "Event: Newchannel|Channel: PJSIP/trunk-provider-00000002|CallerIDNum: anonymous|CallerIDName: "
	   "Anonymous|Context: from-pstn|Exten: 5551000|Uniqueid: 6.00|Linkedid: 6.00");
	ev(&t, 5010,
	   "Event: VarSet|Channel: PJSIP/trunk-provider-00000002|Uniqueid: 6.00|Linkedid: 6.00|Variable: "
	   "MIXMONITOR_FILENAME|Value: /var/spool/asterisk/monitor/in-5551000-anonymous-6.00.wav");
	ev(&t, 6000,
	   "Event: Hangup|Channel: PJSIP/trunk-provider-00000002|Uniqueid: 6.00|Linkedid: 6.00|Cause: 16|Cause-txt: "
	   "Normal Clearing");
	CHECK_EQ_INT(l.hangups, 2);
	CHECK(strstr(l.last, "\"withheld\":true") != NULL);
	CHECK(strstr(l.last, "\"recording\":null") != NULL);
	teardown(&t, &l);
}
