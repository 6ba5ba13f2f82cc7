/*
 * One message of the consumer's batch, from its arrival to its outcome:
 * what a sink writes, and what the consumer acknowledges from.
 */
#ifndef PBXBUS_BATCH_ITEM_H
#define PBXBUS_BATCH_ITEM_H

#include <stddef.h>

#include "payload_digest.h"
#include "record.h"

enum item_outcome {
	ITEM_PENDING, /* not written, or written in a batch that did not commit */
	ITEM_SETTLED, /* its row is in: inserted now, or there already (duplicate) */
	ITEM_DEAD     /* a dead letter (stored, or counted past the rate), or an id collision */
};

/* payload/topic are owned by the item; payload is NUL-terminated and holds
 * len bytes, or only DEAD_LETTER_KEEP when len is over RECORD_MAX_BYTES
 * (then sha256 is already set). */
struct batch_item {
	char *topic;
	char *payload;
	size_t len;
	char sha256[SHA256_HEX_LEN]; /* of the whole payload, for a dead letter */
	int dl_dropped;              /* a dead letter past the rate: settled, not stored */
	int no_ack;                  /* never acknowledged: another site's record, or one deferred */
	int deferred;                /* past its site's rate: not written, not acknowledged (its bridge sends it
	                                again); dl_dropped is set too, so no sink writes it */
	int parsed;                  /* row is valid; else error says why it is a dead letter */
	struct call_row row;
	char error[256];
	enum item_outcome outcome;
	unsigned duplicate : 1;         /* settled: the same record was there already */
	unsigned collision : 1;         /* dead: its id is another call's (never acknowledged) */
	unsigned collision_counted : 1; /* ... past the dead-letter rate: counted, not stored */
	unsigned bad_times : 1;         /* dead: its only fault is times that contradict each other */
	char match[16];                 /* exact, suffix, ambiguous, none */
};

#endif
