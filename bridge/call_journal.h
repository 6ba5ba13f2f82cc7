/*
 * What the bridge knew of the calls in flight, on disk beside the outbox
 * (calls.journal), so that a bridge that restarts (SIGKILL included) carries
 * on with each call's real start, answer and parties.  An append-only log,
 * each entry with a length and a CRC-32:
 *   'C' id state  the latest state of call id (the call tracker's format)
 *   'E' id        call id's record is in the outbox, on disk: emitted
 *   'T' ms off    the last moment the bridge's view of the PBX was whole, on
 *                 the PBX's clock, and that clock's offset from the bridge's
 *                 (the times of the calls carried over are on it)
 * Loading keeps the last 'C' of every id with no 'E' after it, the last
 * JOURNAL_EMITTED_KEEP emitted ids and the last 'T'; a torn tail is cut
 * off, a damaged entry inside is skipped (and the file written again).  Entries are written as things happen (a SIGKILL
 * loses nothing written) and fdatasync'd by call_journal_sync, which the bridge runs at most every 200 ms: a machine
 * crash loses at most that, and those calls come back partial, never twice.  An 'E' is written only once the outbox
 * holds the record on disk (call_journal_emitted_durable), so a call is never both forgotten here and missing there.
 * The log is rewritten (temporary file, fsync, rename) when it holds four times what is live.
 */
#ifndef PBXBUS_CALL_JOURNAL_H
#define PBXBUS_CALL_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_PATH_MAX     512
#define JOURNAL_ID_MAX       48
#define JOURNAL_STATE_MAX    (64 * 1024) /* a call with 64 channels is ~20 KiB */
#define JOURNAL_EMITTED_KEEP 10000       /* ids kept for the CDR backfill: hours of calls */

struct journal_call {
	char id[JOURNAL_ID_MAX];
	unsigned char *state;
	uint32_t len;
	int ended; /* its 'E' waits for the outbox */
	struct journal_call *next;
};

struct call_journal {
	char path[JOURNAL_PATH_MAX];
	int fd;
	uint64_t size, live_bytes;
	struct journal_call **buckets;
	size_t nbuckets, nlive;
	char (*emitted)[JOURNAL_ID_MAX]; /* a ring of the last ids emitted */
	size_t emitted_next, emitted_n;
	int64_t seen_ms, seen_written_ms;
	int64_t clock_offset_ms; /* the PBX's clock minus the bridge's, at seen_ms */
	int dirty;               /* written since the last fdatasync */
	size_t max_live;         /* calls kept at most (the tracker's max_calls) */
	int rewrite;             /* damage was skipped at load: written again clean */
	int loading;             /* max_live applies while the file is read */
	uint64_t write_failures, cut_bytes, over_cap;
	char last_error[JOURNAL_PATH_MAX + 128];
};

/* Opens or creates dir/calls.journal and loads it, keeping at most
 * max_live calls (more are counted in over_cap).  -1 with err. */
int call_journal_open(struct call_journal *j, const char *dir, size_t max_live, char *err, size_t errsz);
void call_journal_close(struct call_journal *j);

/* The latest state of call id.  -1 when it could not be written (counted,
 * last_error): the call is then only as safe as it was. */
int call_journal_put(struct call_journal *j, const char *id, const void *state, size_t len);
/* Call id's record was handed to the outbox; its 'E' is written by
 * call_journal_emitted_durable once the outbox has it on disk. */
void call_journal_end(struct call_journal *j, const char *id);
void call_journal_emitted_durable(struct call_journal *j);
/* The bridge's view of the PBX was whole at ms, on the PBX's clock, which
 * was offset_ms from the bridge's (written at most once a second). */
void call_journal_seen(struct call_journal *j, int64_t ms, int64_t offset_ms);
/* fdatasync if anything was written since the last one. */
void call_journal_sync(struct call_journal *j);

/* Every call loaded or put and not ended, in no order. */
void call_journal_each(const struct call_journal *j,
                       void (*fn)(void *ctx, const char *id, const void *state, size_t len), void *ctx);
/* Was a record with this id emitted (among the last JOURNAL_EMITTED_KEEP)? */
int call_journal_was_emitted(const struct call_journal *j, const char *id);

#endif
