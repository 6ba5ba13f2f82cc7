/*
 * The bridge's call service: the call tracker and what keeps it whole, the
 * call journal (calls in flight across a restart), the PBX's clock, the
 * caller's presentation asked of AMI, the gaps in the bridge's view of the
 * PBX and the CDR backfill that fills them.  Records it completes go to
 * the callback given (the bridge hands them to delivery).
 */
#ifndef PBXBUS_CALL_SERVICE_H
#define PBXBUS_CALL_SERVICE_H

#include <stdint.h>

#include "ami_client.h"
#include "bridge_config.h"
#include "call_journal.h"
#include "call_tracker.h"
#include "caller_presentation.h"
#include "cdr_backfill.h"
#include "globs.h"
#include "pbx_clock.h"

/* Gaps in the bridge's view of the PBX: counted, the last one kept. */
struct call_gaps {
	uint64_t count, seconds;
	int64_t last_from_ms, last_to_ms;
};

struct call_service {
	struct ami_client *ami;
	call_record_cb on_record; /* where completed records go */
	call_ring_cb on_ring;     /* ... and ringing phones */
	void *record_ctx;
	struct call_tracker tracker;
	struct call_journal journal;
	struct pbx_clock clock;
	struct caller_presentation presentation;
	struct cdr_backfill backfill;
	struct glob_list trunk_contexts, trunk_endpoints, phone_endpoints;
	int64_t alive_ms; /* PBX time the AMI session was last known whole (the journal keeps it) */
	struct call_gaps gaps;
	int64_t journal_sync_ms, next_expire_ms;
	int news; /* something bridge/status shows changed */
};

int call_service_init(struct call_service *cs, const struct bridge_settings *s, struct ami_client *ami,
                      call_record_cb on_record, call_ring_cb on_ring, void *ctx, char *err, size_t errsz);
void call_service_free(struct call_service *cs);
/* Calls in flight before a restart, back from the journal: how many. */
size_t call_service_restore(struct call_service *cs);
/* An AMI event: dated on the PBX's clock, given to the tracker; returns
 * its time (ms since the epoch, PBX clock). */
int64_t call_service_event(struct call_service *cs, const struct ami_msg *m);
/* A (re)login: the gap since the view was last whole is said and read
 * from the CDR store; the channels still up are asked for. */
void call_service_login(struct call_service *cs);
/* Idle calls closed, held calls/start records sent, the journal synced,
 * the backfill run.  Returns ms until it needs to run again. */
int64_t call_service_tick(struct call_service *cs, int64_t now_mono_ms);
/* 1 (once) when what bridge/status says of calls changed. */
int call_service_news(struct call_service *cs);

#endif
