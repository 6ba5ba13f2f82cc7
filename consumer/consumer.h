/*
 * The consumer daemon's core: one poll() loop over the MQTT socket and the
 * database's.  QoS 1 call records read in a round form a batch; a batch is
 * committed to PostgreSQL in one transaction (up to DB_BATCHES_OUT batches
 * are out at once, pipelined); only then are its PUBACKs written and an
 * end-to-end ack published on <prefix>/acks/<consumer id>.  A crash at any point means the
 * broker delivers again, never a loss; the idempotent insert absorbs the
 * repeats.
 */
#ifndef PBXBUS_CONSUMER_H
#define PBXBUS_CONSUMER_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "archive_sink.h"
#include "backoff.h"
#include "consumer_config.h"
#include "db.h"
#include "dead_letter.h"
#include "json_writer.h"
#include "log.h"
#include "mqtt_link.h"
#include "sink.h"
#include "site_rate.h"

struct consumer_metrics {
	_Atomic uint64_t received, inserted, duplicates, dead_letters, collisions, db_reconnects, acks_published;
	_Atomic uint64_t bad_times;            /* dead letters whose only fault is their times */
	_Atomic uint64_t retained_ignored;     /* retained messages on record topics, skipped */
	_Atomic uint64_t dead_letters_dropped; /* past the dead-letter rate: counted, not stored */
	_Atomic uint64_t foreign;              /* records claiming another site's calls */
	_Atomic uint64_t pending;              /* received, not yet committed */
	_Atomic uint64_t dead_letters_trimmed; /* deleted, oldest first, past dead_letters_max_mb */
	_Atomic uint64_t deferred;             /* past their site's rate: not taken, left to their bridge */
	_Atomic int64_t db_wait_since_ms;      /* the main loop's oldest database work began (0: none) */
	_Atomic int64_t last_lag_ms;
	_Atomic int mqtt_up, db_up;
	_Atomic int archive_up; /* 1 while the archive file takes records (0 when none is set) */
};

struct consumer {
	struct consumer_settings *s;
	struct mqtt_link mqtt;
	struct db db;                          /* the first sink's connection (the HTTP side has its own) */
	struct archive archive;                /* the copy sink, when archive_file is set */
	struct sink sinks[CONSUMER_MAX_SINKS]; /* where records go: the database, then the archive */
	size_t nsinks;
	int sinks_up;                /* every sink open at the last try */
	int64_t sinks_down_since_ms; /* 0 while they are up */
	int offline;                 /* MQTT closed on purpose until the sinks are back */
	struct batch_item *batch;
	size_t nbatch, cap;
	int64_t held_since_ms; /* the batch's first arrival: its PUBACKs held since */
	size_t held_count;     /* records read since the PUBACKs were last let go */
	/* The first items of the batch, on their way to the first sink, as
	 * batches in order (a second waits in the database behind the first). */
	struct batch_out {
		size_t n;
		int done;        /* its answer is in: rc */
		int rc;          /* enum sink_rc */
		int64_t sent_ms; /* for the debug line */
	} out[DB_BATCHES_OUT];
	int nout;
	size_t parsed_upto; /* the batch's items before this are parsed or dead letters */
	struct backoff db_backoff;
	int64_t next_db_attempt_ms;
	int64_t next_purge_ms, next_trim_ms;
	uint64_t dead_letters_at_trim; /* dead_letters stored at the last trim */
	struct jw ack_json;
	struct consumer_metrics m;
	struct log_ratelimit retained_log, collision_log;
	struct dead_letters dead;
	struct site_rate sites;
};

int consumer_init(struct consumer *c, struct consumer_settings *s, char *err, size_t errsz);
void consumer_free(struct consumer *c);
/* Runs until *stop; commits what it holds before it returns. */
void consumer_run(struct consumer *c, volatile sig_atomic_t *stop);

#endif
