#include "dead_letter.h"

#include "bounds.h"

void dead_letters_init(struct dead_letters *d, _Atomic uint64_t *dropped, _Atomic uint64_t *bad_times, int64_t now_ms)
{
	d->tokens = DEAD_LETTER_BURST;
	d->refill_ms = now_ms;
	d->log = (struct log_ratelimit){.interval_ms = 1000};
	d->bad_times_log = (struct log_ratelimit){.interval_ms = 1000};
	d->dropped = dropped;
	d->bad_times = bad_times;
}

/* A whole record whose times contradict each other: the bridge's clock is
 * wrong.  It is kept as a dead letter and acknowledged (sent again it would
 * be the same), so say it loudly, with its id; it is counted once settled. */
static void say_bad_times(struct dead_letters *d, struct batch_item *it, int64_t now_ms)
{
	uint64_t held_back;

	it->bad_times = 1;
	if (log_ratelimit_ok(&d->bad_times_log, now_ms, &held_back))
		log_crit(
		    "record %s on %s failed its time checks (%s): kept as a dead letter and acknowledged; check the "
		    "PBX's and the bridge's clocks (%llu more such records since the last line)",
		    record_call_id_ok(it->row.call_id) ? it->row.call_id : "(no id)", it->topic, it->error,
		    (unsigned long long)held_back);
}

static void refill(struct dead_letters *d, int64_t now_ms)
{
	d->tokens += (double)(now_ms - d->refill_ms) * DEAD_LETTER_RATE / 1000.0;
	if (d->tokens > DEAD_LETTER_BURST)
		d->tokens = DEAD_LETTER_BURST;
	d->refill_ms = now_ms;
}

int dead_letters_allowance(struct dead_letters *d, int64_t now_ms)
{
	refill(d, now_ms);
	return d->tokens >= 1 ? (int)d->tokens : 0;
}

void dead_letter(struct dead_letters *d, struct batch_item *it, int rc, int64_t now_ms)
{
	uint64_t held_back;

	if (rc == RECORD_BAD_TIMES)
		say_bad_times(d, it, now_ms);
	refill(d, now_ms);
	if (d->tokens >= 1) {
		d->tokens -= 1;
	} else {
		it->dl_dropped = 1;
	}
	if (log_ratelimit_ok(&d->log, now_ms, &held_back))
		log_warnx("record on %s is a dead letter%s: %s (%llu more since the last line, %llu not stored so far)",
		          it->topic, it->dl_dropped ? " (not stored: over the rate)" : "", it->error,
		          (unsigned long long)held_back, (unsigned long long)atomic_load(d->dropped));
}

/* Counted when settled, not when decided: a batch dropped with the
 * connection comes again, and a refused row is judged a second time. */
void dead_letter_settled(struct dead_letters *d, const struct batch_item *it)
{
	if (it->collision && !it->collision_counted)
		d->tokens -= 1; /* two batches out may both have kept some: below 0 waits longer */
	if (it->dl_dropped || (it->collision && it->collision_counted))
		atomic_fetch_add(d->dropped, 1);
	if (it->bad_times)
		atomic_fetch_add(d->bad_times, 1);
}
