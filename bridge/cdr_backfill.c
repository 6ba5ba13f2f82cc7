#include "cdr_backfill.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define START_DELAY_MS 3000 /* after the login: the gap's last calls get their CDRs written */
#define RETRY_MS       10000
#define ATTEMPTS       3
#define LOOKBACK_MS    (24LL * 3600 * 1000) /* a call in flight when the gap began started within a day */
#define IDLE_MS        (3600LL * 1000)

void cdr_backfill_init(struct cdr_backfill *b, const struct cdr_store_opts *o, int64_t max_ms)
{
	memset(b, 0, sizeof(*b));
	cdr_store_init(&b->store, o);
	b->enabled = cdr_store_configured(o);
	b->max_ms = max_ms;
}

void cdr_backfill_free(struct cdr_backfill *b)
{
	cdr_store_close(&b->store);
	free(b->rows);
	b->rows = NULL;
}

void cdr_backfill_gap(struct cdr_backfill *b, int64_t from_ms, int64_t to_ms, int64_t now_mono_ms)
{
	char a[ISO8601_LEN], c[ISO8601_LEN];

	if (!b->enabled)
		return;
	if (to_ms - from_ms > b->max_ms) {
		log_warnx("a gap from %s to %s is longer than cdr_backfill_max: only its last %lld s are read from the "
		          "CDR store",
		          iso8601_ms(from_ms, a), iso8601_ms(to_ms, c), (long long)(b->max_ms / 1000));
		from_ms = to_ms - b->max_ms;
	}
	if (b->pending && b->from_ms < from_ms)
		from_ms = b->from_ms; /* an earlier gap not read yet: one read covers both */
	if (b->pending && b->to_ms > to_ms)
		to_ms = b->to_ms; /* ... to the later of their ends */
	b->pending = 1;
	b->reading = 0; /* a read under way starts again, over both */
	b->attempts = 0;
	b->from_ms = from_ms;
	b->to_ms = to_ms;
	b->due_mono_ms = now_mono_ms + START_DELAY_MS;
}

static void keep_row(void *ctx, const struct cdr_row *row)
{
	struct cdr_backfill *b = ctx;

	if (b->nrows == CDR_BACKFILL_ROWS_MAX) {
		b->rows_dropped++; /* said loudly when the gap is read */
		return;
	}
	if (b->nrows == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct cdr_row *n = realloc(b->rows, cap * sizeof(*n));
		if (n == NULL) {
			b->rows_dropped++; /* said in the run's log line */
			return;
		}
		b->rows = n;
		b->cap = cap;
	}
	b->rows[b->nrows++] = *row;
}

static int by_call(const void *x, const void *y)
{
	const struct cdr_row *a = x, *b = y;
	int c = strcmp(a->linkedid, b->linkedid);
	if (c)
		return c;
	return a->start_ms < b->start_ms ? -1 : a->start_ms > b->start_ms;
}

static void hand_over(struct cdr_backfill *b, struct call_tracker *t, int64_t pbx_now_ms)
{
	if (b->nrows > 1) /* none read: rows may be NULL, which qsort may not be given */
		qsort(b->rows, b->nrows, sizeof(*b->rows), by_call);
	for (size_t i = 0, j; i < b->nrows; i = j) {
		for (j = i + 1; j < b->nrows && strcmp(b->rows[j].linkedid, b->rows[i].linkedid) == 0; j++)
			;
		switch (call_tracker_cdr_call(t, &b->rows[i], j - i, pbx_now_ms)) {
		case CDR_RECOVERED:
			b->recovered++;
			break;
		case CDR_COMPLETED:
			b->completed++;
			break;
		default:
			break;
		}
	}
}

/* The gap read in full: its calls to the tracker, and what came of it said. */
static void finish(struct cdr_backfill *b, struct call_tracker *t, int64_t pbx_now_ms)
{
	char a[ISO8601_LEN], c[ISO8601_LEN];
	uint64_t recovered = b->recovered, completed = b->completed;

	b->runs++;
	hand_over(b, t, pbx_now_ms);
	size_t partial = call_tracker_cdr_done(t);
	log_info("CDR backfill of %s to %s: %zu rows in %llu page(s) (%llu not kept: out of memory or past %d; %llu "
	         "refused: a bad time or duration), %llu call(s) recovered, %llu completed, %zu without a CDR closed "
	         "as partial",
	         iso8601_ms(b->from_ms, a), iso8601_ms(b->to_ms, c), b->nrows, (unsigned long long)b->cursor.pages,
	         (unsigned long long)(b->rows_dropped - b->dropped_at_start), CDR_BACKFILL_ROWS_MAX,
	         (unsigned long long)b->cursor.rows_refused, (unsigned long long)(b->recovered - recovered),
	         (unsigned long long)(b->completed - completed), partial);
	if (b->rows_dropped > b->dropped_at_start)
		log_crit("CDR backfill of %s to %s: %llu row(s) past the bound of %d not kept: their calls are not "
		         "recovered (or come out partial)",
		         iso8601_ms(b->from_ms, a), iso8601_ms(b->to_ms, c),
		         (unsigned long long)(b->rows_dropped - b->dropped_at_start), CDR_BACKFILL_ROWS_MAX);
	b->pending = 0;
	b->reading = 0;
	b->nrows = 0;
}

/*
 * One page of the gap a round, so the poll loop goes on between pages
 * (audit-3 N11: 100,000 rows read in one call held AMI and MQTT 39 s); the
 * rows kept are bounded (CDR_BACKFILL_ROWS_MAX).
 */
static void run(struct cdr_backfill *b, struct call_tracker *t, int64_t now_mono_ms, int64_t pbx_now_ms)
{
	char a[ISO8601_LEN], c[ISO8601_LEN];

	if (!b->reading) {
		b->nrows = 0;
		b->dropped_at_start = b->rows_dropped;
		cdr_cursor_init(&b->cursor, b->from_ms, b->to_ms, LOOKBACK_MS);
		call_tracker_cdr_begin(t);
		b->reading = 1;
	}
	int rc = cdr_store_page(&b->store, &b->cursor, keep_row, b);
	if (rc == 1) {
		finish(b, t, pbx_now_ms);
		return;
	}
	if (rc == 0) {
		b->due_mono_ms = now_mono_ms; /* the next page, next round */
		return;
	}
	b->reading = 0; /* a failed read starts the gap again */
	b->failures++;
	if (++b->attempts < ATTEMPTS) {
		log_warnx("CDR store: %s; trying again in %d s", b->store.last_error, RETRY_MS / 1000);
		b->due_mono_ms = now_mono_ms + RETRY_MS;
		return;
	}
	size_t lost = call_tracker_cdr_done(t);
	log_crit("CDR store: %s: calls made between %s and %s are not recovered (%zu call(s) that ended "
	         "meanwhile closed as partial)",
	         b->store.last_error, iso8601_ms(b->from_ms, a), iso8601_ms(b->to_ms, c), lost);
	b->pending = 0;
}

int64_t cdr_backfill_tick(struct cdr_backfill *b, struct call_tracker *t, int64_t now_mono_ms, int64_t pbx_now_ms)
{
	int64_t from, to;

	/* calls begun while we were away that have ended since: their CDRs */
	if (b->enabled && !b->reading && call_tracker_cdr_wanted(t, &from, &to))
		cdr_backfill_gap(b, from, to, now_mono_ms);
	if (!b->pending)
		return IDLE_MS;
	if (now_mono_ms < b->due_mono_ms)
		return b->due_mono_ms - now_mono_ms;
	run(b, t, now_mono_ms, pbx_now_ms);
	return b->pending ? b->due_mono_ms - now_mono_ms : IDLE_MS;
}
