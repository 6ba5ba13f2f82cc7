/*
 * The consumer's dead-letter policy in one place.  A payload that is no
 * record (or over RECORD_MAX_BYTES, or another site's) becomes a dead
 * letter: its head, size and SHA-256 are stored for inspection, at most
 * DEAD_LETTER_RATE a second (DEAD_LETTER_BURST at once).  Past that a flood
 * is counted, not stored, so bad input cannot fill the database; either
 * way it is settled (acknowledged when it names a call_id and is not
 * another site's).  What is said about it is rate-limited, with counts.
 * An id collision (found by the database's insert) goes by the same rate
 * and head: the statement keeps at most dead_letters_allowance() of them.
 */
#ifndef PBXBUS_DEAD_LETTER_H
#define PBXBUS_DEAD_LETTER_H

#include <stdatomic.h>
#include <stdint.h>

#include "batch_item.h"
#include "log.h"

struct dead_letters {
	double tokens; /* dead letters that may be stored now */
	int64_t refill_ms;
	struct log_ratelimit log, bad_times_log;
	_Atomic uint64_t *dropped;   /* counted, not stored */
	_Atomic uint64_t *bad_times; /* dead letters whose only fault is their times */
};

void dead_letters_init(struct dead_letters *d, _Atomic uint64_t *dropped, _Atomic uint64_t *bad_times, int64_t now_ms);
/* it failed to parse (rc, record_parse's) or was refused: a dead letter,
 * stored or (past the rate) only counted (it->dl_dropped). */
void dead_letter(struct dead_letters *d, struct batch_item *it, int rc, int64_t now_ms);
/* How many collisions the next insert statement may keep as dead letters
 * (the tokens there are now; taken when its batch commits). */
int dead_letters_allowance(struct dead_letters *d, int64_t now_ms);
/* it was a dead letter in a batch that committed: count it (a collision
 * kept takes its token here). */
void dead_letter_settled(struct dead_letters *d, const struct batch_item *it);

#endif
