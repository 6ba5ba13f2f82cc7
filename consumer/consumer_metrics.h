/*
 * What the consumer counts, shared with the HTTP side's threads (/metrics,
 * /healthz): atomics, written by the main loop, read by the others.  The
 * HTTP side is given these and the settings, never the consumer itself.
 */
#ifndef PBXBUS_CONSUMER_METRICS_H
#define PBXBUS_CONSUMER_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "call_record_schema.h"
#include "sink.h"

/* The lag from a call's end to its row, as a histogram: bucket bounds in
 * seconds (Prometheus's le), the last one +Inf. */
#define LAG_BOUNDS_S                                                                                                   \
	{                                                                                                              \
		1, 5, 15, 60, 300, 900, 3600, 21600, 86400                                                             \
	}
#define LAG_BUCKETS 9
/* Dead letters by what was wrong (dead_letters_by_reason_total{reason}). */
enum dead_reason { DEAD_INVALID, DEAD_BAD_TIMES, DEAD_ID_COLLISION, DEAD_REASONS };
#define DEAD_REASON_NAMES                                                                                              \
	{                                                                                                              \
		"invalid", "bad_times", "id_collision"                                                                 \
	}
#define CALL_DIRECTIONS   3 /* call_record_directions */
#define CALL_DISPOSITIONS 5 /* call_record_dispositions */

struct consumer_metrics {
	_Atomic uint64_t received, inserted, duplicates, dead_letters, collisions, acks_published;
	_Atomic uint64_t bad_times;            /* dead letters whose only fault is their times */
	_Atomic uint64_t retained_ignored;     /* retained messages on record topics, skipped */
	_Atomic uint64_t dead_letters_dropped; /* past the dead-letter rate: counted, not stored */
	_Atomic uint64_t foreign;              /* records claiming another site's calls */
	_Atomic uint64_t pending;              /* received, not yet committed */
	_Atomic uint64_t dead_letters_trimmed; /* deleted, oldest first, past dead_letters_max_mb */
	_Atomic uint64_t deferred;             /* past their site's rate: not taken, left to their bridge */
	_Atomic int64_t db_wait_since_ms;      /* the main loop's oldest database work began (0: none) */
	_Atomic int64_t last_lag_ms;
	_Atomic uint64_t calls[CALL_DIRECTIONS][CALL_DISPOSITIONS];  /* rows inserted, by the call's words */
	_Atomic uint64_t lag_le[LAG_BUCKETS], lag_count, lag_sum_ms; /* lag_le[i]: at most LAG_BOUNDS_S[i] */
	_Atomic uint64_t dead_by_reason[DEAD_REASONS];
	_Atomic int mqtt_up;
	/* One a sink, in the consumer's order (the first is the database):
	 * named before the HTTP side starts, then only their values change. */
	struct sink_gauges {
		const char *name;
		_Atomic int up; /* open at the last try */
		_Atomic uint64_t reconnects;
	} sinks[CONSUMER_MAX_SINKS];
	size_t nsinks;
};

/* A row inserted, by its call's direction and disposition (words of the
 * record schema; others are not counted). */
void consumer_metrics_count_call(struct consumer_metrics *m, const char *direction, const char *disposition);
/* A row's lag from its call's end, into the histogram (a negative lag,
 * clocks apart, counts as 0). */
void consumer_metrics_count_lag(struct consumer_metrics *m, int64_t lag_ms);

#endif
