#include "call_service.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

/* calls/start waits this long for the answer or the end, so that a caller
 * withheld a moment after the call began (NewCallerid, the Getvar's
 * answer) is withheld in it too (docs/topics.md). */
#define CALL_START_HOLD_MS 2000
/* calls/ringing waits at most this long for the same answer (milliseconds
 * on a PBX that answers): a screen pop must not wait for calls/start's. */
#define RING_HOLD_MS 500
/* The bridge's view of the PBX is marked whole once a second: shorter
 * gaps are not told apart from that. */
#define GAP_MIN_MS         1000
#define EXPIRE_INTERVAL_MS 60000
#define START_TICK_MS      100
#define RING_TICK_MS       5
#define JOURNAL_SYNC_MS    200
#define CALLS_TICK_MS      1000

static void on_new_caller(void *ctx, const char *channel, const char *linkedid)
{
	struct call_service *cs = ctx;
	caller_presentation_ask(&cs->presentation, channel, linkedid);
}

static void forward_ring(void *ctx, const struct call *c, const struct ct_ring *r, int64_t now_ms)
{
	struct call_service *cs = ctx;
	cs->on_ring(cs->record_ctx, c, r, now_ms);
}

/* The tracker's records, to whoever the service was given them for. */
static void forward_record(void *ctx, enum call_phase phase, const struct call *c, int64_t now_ms)
{
	struct call_service *cs = ctx;
	cs->on_record(cs->record_ctx, phase, c, now_ms);
}

int call_service_init(struct call_service *cs, const struct bridge_settings *s, struct ami_client *ami,
                      call_record_cb on_record, call_ring_cb on_ring, void *ctx, char *err, size_t errsz)
{
	memset(cs, 0, sizeof(*cs));
	cs->ami = ami;
	if (call_journal_open(&cs->journal, s->outbox_dir, s->max_calls, err, errsz) < 0)
		return -1;
	cdr_backfill_init(&cs->backfill, &s->cdr, s->cdr_backfill_max_ms);
	cs->alive_ms = cs->journal.seen_ms;
	pbx_clock_resume(&cs->clock, cs->journal.clock_offset_ms); /* the clock the carried-over calls are dated on */
	if (glob_list_parse(&cs->trunk_contexts, s->trunk_contexts) < 0 ||
	    glob_list_parse(&cs->trunk_endpoints, s->trunk_endpoints) < 0 ||
	    glob_list_parse(&cs->phone_endpoints, s->phone_endpoints) < 0) {
		snprintf(err, errsz, "trunk_contexts/trunk_endpoints/phone_endpoints: too many globs");
		return -1;
	}
	struct call_tracker_opts co = {.trunk_contexts = &cs->trunk_contexts,
	                               .trunk_endpoints = &cs->trunk_endpoints,
	                               .phone_endpoints = &cs->phone_endpoints,
	                               .idle_timeout_ms = s->call_idle_timeout_ms,
	                               .max_calls = s->max_calls,
	                               .start_hold_ms = CALL_START_HOLD_MS,
	                               .ask_presentation = on_new_caller,
	                               .journal = &cs->journal,
	                               .hold_for_cdr = cs->backfill.enabled,
	                               .on_ring = forward_ring,
	                               .ring_hold_ms = RING_HOLD_MS};
	cs->on_record = on_record;
	cs->on_ring = on_ring;
	cs->record_ctx = ctx;
	if (call_tracker_init(&cs->tracker, &co, forward_record, cs) < 0) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	caller_presentation_init(&cs->presentation, ami, &cs->tracker);
	return 0;
}

void call_service_free(struct call_service *cs)
{
	call_tracker_free(&cs->tracker);
	call_journal_close(&cs->journal);
	cdr_backfill_free(&cs->backfill);
	glob_list_free(&cs->trunk_contexts);
	glob_list_free(&cs->trunk_endpoints);
	glob_list_free(&cs->phone_endpoints);
}

size_t call_service_restore(struct call_service *cs)
{
	return call_tracker_restore(&cs->tracker);
}

/* An event's time on the PBX's clock (see pbx_clock.h): its Timestamp:,
 * else now on that clock.  The session's first Timestamp: confirms the
 * clock, and calls dated before it move with it. */
static int64_t event_time_ms(struct call_service *cs, const struct ami_msg *m)
{
	const struct ami_field *ts = ami_msg_find(m, "Timestamp");
	int64_t ms = ts ? ami_timestamp_ms(ts->val, ts->val_len) : -1;
	int64_t wall = clock_wall_ms();

	if (ms < 0)
		return pbx_clock_now(&cs->clock, wall);
	int first = !cs->clock.seen_in_session;
	int64_t moved = pbx_clock_saw(&cs->clock, ms, wall);
	if (first)
		call_tracker_clock_confirmed(&cs->tracker, moved);
	return ms;
}

int64_t call_service_event(struct call_service *cs, const struct ami_msg *m)
{
	int64_t at_ms = event_time_ms(cs, m);
	call_tracker_event(&cs->tracker, m, at_ms);
	return at_ms;
}

/* After a (re)login: which channels still exist?  Calls whose channels
 * vanished while we were away are closed as partial. */
static void on_channels_listed(void *arg, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	struct call_service *cs = arg;
	(void)c;
	switch (kind) {
	case AMI_REPLY_RESPONSE:
		if (ami_field_is(ami_msg_find(m, "Response"), "Success"))
			call_tracker_sync_begin(&cs->tracker);
		break;
	case AMI_REPLY_LIST_ITEM:
		call_tracker_sync_channel(&cs->tracker, m, event_time_ms(cs, m));
		break;
	case AMI_REPLY_LIST_DONE:
		call_tracker_sync_end(&cs->tracker, pbx_clock_now(&cs->clock, clock_wall_ms()));
		break;
	case AMI_REPLY_LOST:
		call_tracker_sync_lost(&cs->tracker);
		break;
	case AMI_REPLY_EVENT: /* an Originate's: not this list's */
		break;
	}
}

/* The bridge did not see the PBX from `alive_ms` (the session was lost, or
 * the bridge was not running) until this login: said once, counted. */
static void note_gap(struct call_service *cs)
{
	int64_t now = pbx_clock_now(&cs->clock, clock_wall_ms());
	char from[ISO8601_LEN], to[ISO8601_LEN];

	if (cs->alive_ms <= 0)
		return;
	/* even a short one: calls may wait for it */
	cdr_backfill_gap(&cs->backfill, cs->alive_ms, now, clock_mono_ms());
	if (now - cs->alive_ms < GAP_MIN_MS)
		return;
	cs->gaps.count++;
	cs->gaps.seconds += (uint64_t)((now - cs->alive_ms) / 1000);
	cs->gaps.last_from_ms = cs->alive_ms;
	cs->gaps.last_to_ms = now;
	cs->news = 1;
	log_warnx("calls made between %s and %s were not seen (%lld s without the PBX's events); calls still up are "
	          "followed; %s",
	          iso8601_ms(cs->alive_ms, from), iso8601_ms(now, to), (long long)((now - cs->alive_ms) / 1000),
	          cs->backfill.enabled
	              ? "the others come from the PBX's CDR store"
	              : "calls that ended meanwhile are closed as partial, and calls made meanwhile are "
	                "lost: set cdr_db_user (and cdr_db_host or cdr_db_socket) to recover them from "
	                "the PBX's CDR store");
}

void call_service_login(struct call_service *cs)
{
	note_gap(cs);
	pbx_clock_new_session(&cs->clock);
	call_tracker_clock_unconfirmed(&cs->tracker);
	if (ami_client_action(cs->ami, "CoreShowChannels", NULL, on_channels_listed, cs) < 0)
		log_warnx("ami: could not ask for CoreShowChannels");
}

int64_t call_service_tick(struct call_service *cs, int64_t now)
{
	int64_t pbx_now = pbx_clock_now(&cs->clock, clock_wall_ms());

	if (cs->ami->state == AMI_UP) {
		cs->alive_ms = pbx_now;
		call_journal_seen(&cs->journal, pbx_now, cs->clock.offset_ms);
	}
	call_tracker_release_starts(&cs->tracker, pbx_now);
	call_tracker_journal_flush(&cs->tracker);
	if (now >= cs->journal_sync_ms) {
		call_journal_sync(&cs->journal);
		cs->journal_sync_ms = now + JOURNAL_SYNC_MS;
	}
	if (now >= cs->next_expire_ms) {
		cs->next_expire_ms = now + EXPIRE_INTERVAL_MS;
		call_tracker_expire(&cs->tracker, pbx_now);
	}
	int64_t wait = cs->next_expire_ms - now < CALLS_TICK_MS ? cs->next_expire_ms - now : CALLS_TICK_MS;
	int64_t bf = cdr_backfill_tick(&cs->backfill, &cs->tracker, now, pbx_now);
	if (bf < wait)
		wait = bf;
	if (cs->tracker.rings_due > 0)
		return RING_TICK_MS;
	return cs->tracker.starts_held > 0 || cs->journal.dirty ? START_TICK_MS : wait;
}

int call_service_news(struct call_service *cs)
{
	int news = cs->news;
	cs->news = 0;
	return news;
}
