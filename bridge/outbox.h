/*
 * The bridge's durable outbox for complete call records (calls/hangup).
 *
 * A record is appended to an on-disk log, and published only once the log
 * is synced (one fdatasync per poll round covers every record of that
 * round).  It is retired only when a consumer acknowledges its id on
 * <prefix>/acks/<consumer> after its database COMMIT; until then it is
 * sent again after resend_timeout (doubling per attempt, at most an hour)
 * and after a bridge restart, in order.  A broker's PUBACK proves nothing
 * (it acknowledges memory, not disk), so it retires nothing here.
 *
 * Log entries: 'R' (id, payload) and 'A' (id retired), each with a length
 * and a CRC-32; a torn tail after a crash is cut off at load.  The log is
 * emptied when nothing is pending and compacted when mostly retired.
 * Memory: an index entry (~48 bytes + id) per pending record.
 */
#ifndef PBXBUS_OUTBOX_H
#define PBXBUS_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#define OUTBOX_PATH_MAX 512

struct outbox_entry {
	uint64_t offset;   /* of the R entry in the log */
	uint32_t len;      /* of the payload */
	uint32_t id_off;   /* into the id arena */
	int64_t sent_ms;   /* 0: not sent since load */
	uint32_t attempts; /* sends so far */
	uint8_t retired;
};

struct outbox {
	char path[OUTBOX_PATH_MAX];
	int fd;
	uint64_t size;          /* bytes in the log */
	uint64_t live_bytes;    /* payload bytes of pending records */
	uint64_t max_bytes;     /* refuse new records beyond this */
	int64_t resend_ms;      /* first resend timeout */
	struct outbox_entry *e; /* in log order */
	size_t n, cap, head;    /* head: first entry that may be pending */
	char *ids;              /* id arena, NUL-separated */
	size_t ids_len, ids_cap;
	uint32_t *slots; /* hash of id → entry index + 1 */
	size_t nslots;
	size_t pending;     /* entries not retired */
	int unsynced;       /* appended since the last sync */
	size_t synced_upto; /* entries [0, synced_upto) are on disk */
	uint64_t appended, retired, refused, resent, torn_bytes;
	int full_warned, high_warned;
	char last_error[OUTBOX_PATH_MAX + 128];
};

/* Opens or creates the log in dir and loads what is pending.  -1 with err. */
int outbox_open(struct outbox *o, const char *dir, uint64_t max_bytes, int64_t resend_ms, char *err, size_t errsz);
void outbox_close(struct outbox *o);

/* Appends a record; 0, or -1 when full (or the disk failed): refused. */
int outbox_append(struct outbox *o, const char *id, const char *payload, size_t len);
/* fdatasync if something was appended; -1 if the disk failed. */
int outbox_sync(struct outbox *o);
/* Retires id if pending; returns 1 when it did. */
int outbox_retire(struct outbox *o, const char *id);

/*
 * Calls send(ctx, id, payload, len) for synced records that are due, in
 * log order: never sent since load, or sent longer ago than their resend
 * timeout.  At most `window` records are outstanding (sent, not yet due
 * again).  send returns 0 when handed over; a nonzero return stops the pump.
 */
typedef int (*outbox_send_fn)(void *ctx, const char *id, const char *payload, size_t len);
size_t outbox_pump(struct outbox *o, int64_t now_ms, size_t window, outbox_send_fn send, void *ctx);

/* Percent of max_bytes used. */
unsigned outbox_fill_percent(const struct outbox *o);

#endif
