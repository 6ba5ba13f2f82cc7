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

#include "sink.h"

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

#endif
