#include <stdio.h>
#include <stdlib.h>

#include "ami_codec.h"
#include "call_tracker.h"
#include "ring_record.h"
#include "unit.h"

/* The ringing records (calls/ringing) the tracker gives for the lab's
 * captures, each fed whole: which phones pop, how the call reached them,
 * and what their stop says. */

struct ring_log {
	struct call_tracker *t;
	struct jw w;
	char all[8192]; /* "ringing 100 direct" / "stopped 100 answered_by=100" lines */
	char last[2048];
	int64_t now;
};

static void on_ring(void *ctx, const struct call *c, const struct ct_ring *r, int64_t now_ms)
{
	struct ring_log *l = ctx;
	size_t used = strlen(l->all), len;
	const char *doc = ring_record_json(&l->w, c, r, "t", now_ms, &len);

	snprintf(l->last, sizeof(l->last), "%s", doc ? doc : "");
	if (!r->stop_sent)
		snprintf(l->all + used, sizeof(l->all) - used, "ringing %s %s\n", r->extension,
		         ring_record_vias[r->via]);
	else
		snprintf(l->all + used, sizeof(l->all) - used, "stopped %s by=%s\n", r->extension,
		         call_ring_answered_by(c, r));
}

static void on_msg(void *ctx, const struct ami_msg *m)
{
	struct ring_log *l = ctx;
	l->now += 10;
	call_tracker_event(l->t, m, l->now);
	call_tracker_release_starts(l->t, l->now); /* as the bridge's loop does after each read */
}

static struct glob_list contexts, none;
static const char *presentation_answer; /* what the Getvar answers at once; NULL: it never does */

static void on_ask(void *ctx, const char *channel, const char *linkedid)
{
	struct ring_log *l = ctx;
	(void)channel;
	if (presentation_answer)
		call_tracker_presentation(l->t, linkedid, presentation_answer);
}

static void play_capture(const char *dir, const char *name, struct ring_log *l)
{
	struct call_tracker t;
	char path[512];
	size_t len;

	glob_list_parse(&contexts, "from-pstn from-trunk voipgrid_in");
	struct call_tracker_opts o = {.trunk_contexts = &contexts,
	                              .trunk_endpoints = &none,
	                              .phone_endpoints = &none,
	                              .idle_timeout_ms = 4LL * 3600 * 1000,
	                              .max_calls = 100,
	                              .on_ring = on_ring,
	                              .ring_hold_ms = 500,
	                              .ask_presentation = presentation_answer != (const char *)-1 ? on_ask : NULL};
	memset(l, 0, sizeof(*l));
	l->t = &t;
	jw_init(&l->w, 1 << 16);
	CHECK(call_tracker_init(&t, &o, NULL, l) == 0);
	snprintf(path, sizeof(path), "%s/%s.server.txt", dir, name);
	char *text = unit_read_file(path, &len);
	CHECK(text != NULL);
	if (text) {
		struct ami_codec codec;
		struct ami_codec_handlers h = {NULL, on_msg, NULL, l};
		ami_codec_init(&codec, &h);
		ami_codec_reset(&codec, 1); /* the banner first */
		ami_codec_feed(&codec, text, len);
		ami_codec_free(&codec);
	}
	free(text);
	CHECK_EQ_INT(t.rings_due, 0); /* every call ended: nothing waits, the bridge need not look again soon */
	call_tracker_free(&t);
	glob_list_free(&contexts);
	jw_free(&l->w);
}

void test_ringing_direct_call_pops_once_and_says_who_answered(void)
{
	struct ring_log l;
	presentation_answer = (const char *)-1; /* nothing asked: as presented */
	play_capture(unit_fixtures, "10-in-answered-caller-hangup", &l);
	CHECK_EQ_STR(l.all, "ringing 100 direct\nstopped 100 by=100\n");
}

void test_ringing_ring_group_pops_both_phones(void)
{
	struct ring_log l;
	presentation_answer = (const char *)-1;
	play_capture(unit_fixtures, "72-in-ringgroup-5554000-100-answers", &l);
	CHECK_EQ_STR(l.all, "ringing 100 ring_group\nringing 101 ring_group\nstopped 100 by=100\nstopped 101 by=100\n");
}

void test_ringing_queue_names_its_queue(void)
{
	struct ring_log l;
	presentation_answer = (const char *)-1;
	play_capture(unit_fixtures, "17-queue-answered", &l);
	CHECK(strstr(l.all, "ringing 100 queue\n") != NULL);
	CHECK(strstr(l.all, "ringing 101 queue\n") != NULL);
}

void test_ringing_transfers_pop_the_target(void)
{
	struct ring_log l;
	presentation_answer = (const char *)-1;
	play_capture(unit_fixtures, "73-in-blind-transfer-101-to-100", &l);
	CHECK_EQ_STR(l.all, "ringing 101 direct\nstopped 101 by=101\nringing 100 transfer\nstopped 100 by=100\n");
	play_capture(unit_fixtures, "74-in-attended-transfer-101-to-100", &l);
	CHECK_EQ_STR(l.all, "ringing 101 direct\nstopped 101 by=101\nringing 100 transfer\nstopped 100 by=100\n");
}

void test_ringing_not_for_the_phones_own_calls(void)
{
	struct ring_log l;
	presentation_answer = (const char *)-1;
	play_capture(unit_fixtures, "14-out-answered", &l);
	CHECK_EQ_STR(l.all, "");
}

void test_ringing_missed_call_says_missed(void)
{
	struct ring_log l;
	presentation_answer = (const char *)-1;
	play_capture(unit_fixtures, "12-in-noanswer", &l);
	CHECK_EQ_STR(l.all, "ringing 100 direct\nstopped 100 by=\n");
	CHECK(strstr(l.last, "\"state\":\"stopped\"") != NULL);
	CHECK(strstr(l.last, "\"missed\":true") != NULL);
	CHECK(strstr(l.last, "\"answered_by\":null") != NULL);
}

/* The caller shows only once the presentation is known to allow it. */
void test_ringing_caller_only_once_the_presentation_allows(void)
{
	struct ring_log l;

	presentation_answer = "allowed_not_screened";
	play_capture(unit_fixtures, "10-in-answered-caller-hangup", &l);
	CHECK(strstr(l.last, "\"caller_number\":\"15559876543\"") != NULL);
	CHECK(strstr(l.last, "\"withheld\":false") != NULL);
	CHECK(strstr(l.last, "\"via\":\"direct\"") != NULL);
	CHECK(strstr(l.last, "\"did\":\"5551000\"") != NULL);

	presentation_answer = "prohib_passed_screen";
	play_capture(unit_fixtures, "10-in-answered-caller-hangup", &l);
	CHECK_EQ_STR(l.all, "ringing 100 direct\nstopped 100 by=100\n");
	CHECK(strstr(l.last, "\"caller_number\":null,\"caller_name\":null,\"withheld\":true") != NULL);
	CHECK(strstr(l.last, "1555") == NULL);

	presentation_answer = NULL; /* never answered: out after ring_hold_ms, the caller not known */
	play_capture(unit_fixtures, "10-in-answered-caller-hangup", &l);
	CHECK_EQ_STR(l.all, "ringing 100 direct\nstopped 100 by=100\n");
	CHECK(strstr(l.last, "\"caller_number\":null,\"caller_name\":null,\"withheld\":null") != NULL);
	presentation_answer = (const char *)-1;
}
