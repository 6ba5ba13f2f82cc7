/*
 * Calls made while the bridge was away, back from the PBX's CDR store.
 * After each gap in its view of the PBX (a restart, a lost or refused AMI
 * session) the bridge reads the CDRs of the gap (calls that began before
 * its end and ended after its start, with their legs), a few seconds after
 * the login (Asterisk writes a CDR as a call ends), groups them by
 * Linkedid and hands each call to the tracker: calls recorded live are left
 * alone, calls that ended while it was away are completed, calls it never
 * saw are recorded with origin "cdr".  The gap is read a page a round of
 * the poll loop, at most CDR_BACKFILL_ROWS_MAX rows.  A store that fails is tried again
 * (3 times, 10 s apart); then the calls waiting for it are closed partial
 * and the gap is said to be lost, loudly.
 */
#ifndef PBXBUS_CDR_BACKFILL_H
#define PBXBUS_CDR_BACKFILL_H

#include <stddef.h>
#include <stdint.h>

#include "call_tracker.h"
#include "cdr_store.h"

/* Rows of one gap held at most (about 1 KB each): three days of a busy
 * PBX's calls.  Past it the rest are counted and said, not kept. */
#define CDR_BACKFILL_ROWS_MAX 50000

struct cdr_backfill {
	struct cdr_store store;
	struct cdr_cursor cursor; /* the gap being read, a page a round */
	int enabled;
	int64_t max_ms; /* longest gap read (its last part) */
	int pending, attempts;
	int reading; /* pages of the gap are being read */
	uint64_t dropped_at_start;
	int64_t from_ms, to_ms, due_mono_ms; /* the gap, on the PBX's clock */
	struct cdr_row *rows;
	size_t nrows, cap;
	uint64_t runs, recovered, completed, failures;
	uint64_t rows_dropped; /* rows not kept (out of memory): their calls come out partial or not at all */
};

void cdr_backfill_init(struct cdr_backfill *b, const struct cdr_store_opts *o, int64_t max_ms);
void cdr_backfill_free(struct cdr_backfill *b);
/* A gap from..to (PBX clock): read it once the calls have had time to end. */
void cdr_backfill_gap(struct cdr_backfill *b, int64_t from_ms, int64_t to_ms, int64_t now_mono_ms);
/* Runs a job that is due; returns ms until it next needs to run. */
int64_t cdr_backfill_tick(struct cdr_backfill *b, struct call_tracker *t, int64_t now_mono_ms, int64_t pbx_now_ms);

#endif
