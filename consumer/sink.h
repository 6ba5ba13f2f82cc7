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

#define CONSUMER_MAX_SINKS 2

enum sink_rc {
	SINK_OK = 0,        /* written and committed: outcomes set */
	SINK_DOWN = -1,     /* the sink is gone: nothing of the batch counts, it comes again */
	SINK_BAD_ITEM = -2, /* an item was refused: the consumer writes them one by one */
	SINK_BUSY = -3      /* receive: the answer has not all come yet */
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
	enum sink_rc (*send)(void *ctx, struct batch_item *items, size_t n);
	enum sink_rc (*receive)(void *ctx, struct batch_item *items, size_t n);
	int (*socket)(void *ctx);
	const char *(*error)(void *ctx);
	unsigned long long (*reconnects)(void *ctx);
};

#endif
