/*
 * The consumer daemon's core: one poll() loop over the MQTT socket and the
 * database's.  QoS 1 call records read in a round form a batch; a batch is
 * committed to PostgreSQL in one transaction (up to SINK_BATCHES_OUT batches
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

#include "backoff.h"
#include "batch_item.h"
#include "consumer_config.h"
#include "consumer_metrics.h"
#include "dead_letter.h"
#include "json_writer.h"
#include "log.h"
#include "mqtt_link.h"
#include "sink.h"
#include "site_rate.h"

struct db;

struct consumer {
	struct consumer_settings *s;
	struct mqtt_link mqtt;
	struct db *db;                         /* the database's housekeeping and dead-letter allowance; may be NULL */
	struct sink sinks[CONSUMER_MAX_SINKS]; /* where records go: the first decides, the others copy */
	size_t nsinks;
	int sinks_up;                /* every sink open at the last try */
	int64_t sinks_down_since_ms; /* 0 while they are up */
	int offline;                 /* MQTT closed on purpose until the sinks are back */
	struct batch_item *batch;
	size_t nbatch, cap;
	int64_t held_since_ms; /* the batch's first arrival: its PUBACKs held since */
	size_t held_count;     /* records read since the PUBACKs were last let go */
	/* The one queue of batches in flight: the first items of the batch,
	 * on their way to the first sink, in the order sent (a second waits in
	 * the database behind the first); each with what the sink keeps of it. */
	struct batch_out {
		size_t n;
		int done;             /* its answer is in: rc */
		int rc;               /* enum sink_rc */
		int64_t sent_ms;      /* for the debug line */
		struct sink_batch sb; /* the sink's, between send and the answer */
	} out[SINK_BATCHES_OUT];
	int nout;
	size_t parsed_upto;           /* the batch's items before this are parsed or dead letters */
	struct backoff sinks_backoff; /* between tries to open the sinks */
	int64_t next_sinks_attempt_ms;
	int64_t next_purge_ms, next_trim_ms;
	uint64_t dead_letters_at_trim; /* dead_letters stored at the last trim */
	struct jw ack_json;
	struct consumer_metrics m;
	struct log_ratelimit retained_log, collision_log;
	struct dead_letters dead;
	struct site_rate sites;
};

/* The sinks are given (main builds them: the database first, then the
 * archive): a copy of the table is kept, their contexts must outlive the
 * consumer.  db, when one is given, is the database the consumer keeps
 * (housekeeping, the collisions its statement may keep). */
int consumer_init(struct consumer *c, struct consumer_settings *s, struct db *db, const struct sink *sinks,
                  size_t nsinks, char *err, size_t errsz);
/* What the MQTT link hands in (consumer_run's callback; tests call it). */
void consumer_received(struct consumer *c, const struct mqtt_message *msg);
/* The batch work of one loop round: answers taken, the next batch sent. */
void consumer_work(struct consumer *c);
void consumer_free(struct consumer *c);
/* Runs until *stop; commits what it holds before it returns. */
void consumer_run(struct consumer *c, volatile sig_atomic_t *stop);

#endif
