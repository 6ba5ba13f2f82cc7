/*
 * Where the consumer's records go.  A sink writes a batch as one unit:
 * every item of it is in, or none is, and it fills in each item's outcome.
 * The consumer releases the MQTT acknowledgements only after SINK_OK.
 * The first sink (PostgreSQL, db_sink in db.c) decides the outcomes; the
 * ones after it are copies (the archive file, archive_sink.c): they are
 * given the batch once the first committed it, write the items it settled,
 * and leave every outcome as it is.  A copy that fails holds the batch's
 * acknowledgements back like the first would; the batch comes again, and
 * the first sink then finds its rows there (duplicates, settled).
 */
#ifndef PBXBUS_SINK_H
#define PBXBUS_SINK_H

#include <stddef.h>

#include "batch_item.h"

#define CONSUMER_MAX_SINKS 3 /* the database, the archive file, the webhook */
/* Batches on their way to the first sink at once: a second is queued
 * behind the first so the database never waits for us. */
#define SINK_BATCHES_OUT 2

enum sink_rc {
	SINK_OK = 0,        /* written and committed: outcomes set */
	SINK_DOWN = -1,     /* the sink is gone: nothing of the batch counts, it comes again */
	SINK_BAD_ITEM = -2, /* an item was refused: the consumer writes them one by one */
	SINK_BUSY = -3      /* receive: the answer has not all come yet */
};

/*
 * Every sink fills the whole table.  The first sink's send/receive/socket
 * let the consumer read on while it works; a sink that writes at once
 * (the archive, the webhook) keeps the answer of send for receive, and
 * has no socket to wait on and nothing out to drop: sink_written,
 * sink_kept_receive, sink_none_socket, sink_none_drop.
 */
/* What a sink keeps of one batch sent and not yet all answered, held in
 * the consumer's one queue of batches in flight (its order is the order
 * they were sent, and receive is always given the oldest). */
struct sink_batch {
	size_t taken;   /* items whose result is taken */
	unsigned flags; /* the sink's own (the database: sent as one statement, its result taken) */
	int rc;         /* enum sink_rc: the first failure so far */
};

struct sink {
	const char *name;
	void *ctx;
	/* Ready to write, connecting if need be?  0, or -1 (error() says why). */
	int (*open)(void *ctx);
	enum sink_rc (*write)(void *ctx, struct batch_item *items, size_t n);
	/* write in two halves, for the first sink, so that the consumer reads
	 * on while it works: send puts the batch on its way (SINK_OK) or fails;
	 * receive takes what has come of the answer, SINK_BUSY until all has,
	 * then what write would have returned; socket is what to poll for it. */
	enum sink_rc (*send)(void *ctx, struct batch_item *items, size_t n, struct sink_batch *b);
	enum sink_rc (*receive)(void *ctx, struct batch_item *items, size_t n, struct sink_batch *b);
	int (*socket)(void *ctx);
	/* Gives up every batch sent and not yet received (a sink that does
	 * not answer in time): none of them counts. */
	void (*drop)(void *ctx, const char *why);
	const char *(*error)(void *ctx);
	unsigned long long (*reconnects)(void *ctx);
};

int sink_none_socket(void *ctx);
void sink_none_drop(void *ctx, const char *why);
/* For a sink that writes at once: send is its write, the answer kept in
 * the batch (sink_written), and receive gives it back (sink_kept_receive). */
enum sink_rc sink_written(struct sink_batch *b, size_t n, enum sink_rc rc);
enum sink_rc sink_kept_receive(void *ctx, struct batch_item *items, size_t n, struct sink_batch *b);

#endif
