/*
 * The bridge's durable outbox for complete call records (calls/hangup).
 *
 * A record is appended in memory and written to an on-disk log at the next
 * sync (one write and one fdatasync per poll round covers every record of
 * that round); it is published once it is on disk.  It is retired only when
 * a consumer acknowledges its id on <prefix>/acks/<consumer> after its
 * database COMMIT; until then it is sent again after resend_timeout
 * (doubling per attempt, at most an hour; reset when the broker comes back)
 * and after a bridge restart, in order.  A broker's PUBACK proves nothing (it
 * acknowledges memory, not disk), so it retires nothing here.
 *
 * When the disk refuses (ENOSPC, EIO) or the log has reached max_bytes,
 * records wait in memory (at most mem_max bytes) and are written once there
 * is room; meanwhile they are published from memory, so a broker restart
 * loses none of them.  A failed write or sync leaves the log as it was
 * (written at the known end, cut back), so the log never holds a record
 * that is not whole, and nothing is indexed at an offset it does not have.
 * Only past mem_max is a record refused (the caller says so, by id).
 *
 * Log entries: 'R' (id, payload) and 'A' (id retired), each with a length
 * and a CRC-32.  A damaged entry is skipped by scanning to the next entry
 * whose length and CRC check out (a torn tail is cut off), so one bad entry
 * never costs the records after it.  The log is emptied when nothing is
 * pending and compacted when mostly retired.
 * Memory: an index entry (~56 bytes + id) per pending record, plus the
 * records that wait for the disk.
 */
#ifndef PBXBUS_OUTBOX_H
#define PBXBUS_OUTBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define OUTBOX_PATH_MAX 512

struct outbox_entry {
	uint64_t offset;   /* of the payload in the log, once on disk */
	uint32_t len;      /* of the payload */
	uint32_t id_off;   /* into the id arena */
	int64_t sent_ms;   /* 0: not sent since load */
	int64_t added_ms;  /* monotonic: when it was appended, or loaded at start */
	uint32_t attempts; /* sends so far */
	uint8_t retired;
	char *mem; /* the whole entry (header, id, payload) until it is on disk */
};

struct outbox {
	char path[OUTBOX_PATH_MAX];
	int fd;
	uint64_t size;          /* bytes in the log */
	uint64_t disk_live;     /* log bytes of pending records */
	uint64_t mem_bytes;     /* bytes of records waiting in memory */
	uint64_t max_bytes;     /* the log's bound */
	uint64_t mem_max;       /* refuse new records beyond this in memory */
	int64_t resend_ms;      /* first resend timeout */
	struct outbox_entry *e; /* in log order */
	size_t n, cap, head;    /* head: first entry that may be pending */
	char *ids;              /* id arena, NUL-separated */
	size_t ids_len, ids_cap;
	uint32_t *slots; /* hash of id → entry index + 1 */
	size_t nslots;
	size_t pending;         /* entries not retired */
	size_t on_disk;         /* entries [0, on_disk) are on disk or retired */
	unsigned char *retires; /* 'A' entries not yet written */
	size_t retires_len, retires_cap;
	int disk_failing; /* the last write or sync failed */
	int blocked;      /* the last sync found no room under max_bytes */
	uint64_t appended, retired, refused, resent, torn_bytes, skipped_bytes, write_failures;
	int high_warned;
	char last_error[OUTBOX_PATH_MAX + 128];
};

/* The system calls the outbox writes and reads with; tests replace them to
 * inject ENOSPC, EIO and short writes. */
struct outbox_io {
	ssize_t (*pwritev)(int fd, const struct iovec *iov, int n, off_t off);
	ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
	int (*fdatasync)(int fd);
	int (*ftruncate)(int fd, off_t len);
};
extern struct outbox_io outbox_io;

/* Opens or creates the log in dir and loads what is pending.  -1 with err. */
int outbox_open(struct outbox *o, const char *dir, uint64_t max_bytes, uint64_t mem_max, int64_t resend_ms, char *err,
                size_t errsz);
void outbox_close(struct outbox *o);

/* Takes a record; 0, or -1 when it cannot be kept (memory bound reached
 * while the disk refuses, or out of memory): refused. */
int outbox_append(struct outbox *o, const char *id, const char *payload, size_t len);
/* Writes what waits and fdatasyncs it; -1 (last_error) if the disk failed
 * or the log is full: what waits stays in memory and is tried again. */
int outbox_sync(struct outbox *o);
/* Retires id if pending and sent or on disk; returns 1 when it did. */
int outbox_retire(struct outbox *o, const char *id);
/* The broker came back: everything pending is due now, timers reset. */
void outbox_rewind(struct outbox *o);

/*
 * Calls send(ctx, id, payload, len) for records that are due, in log order:
 * never sent since load, or sent longer ago than their resend timeout.
 * Records on disk are due; records waiting in memory only while the disk
 * refuses them.  At most `window` records are outstanding (sent, not yet
 * due again).  send returns 0 when handed over; a nonzero return stops.
 */
typedef int (*outbox_send_fn)(void *ctx, const char *id, const char *payload, size_t len);
size_t outbox_pump(struct outbox *o, int64_t now_ms, size_t window, outbox_send_fn send, void *ctx);

/* When the oldest pending record was appended (or found at start),
 * monotonic; 0 when none is pending.  Its age: acks stalled. */
int64_t outbox_oldest_pending_ms(const struct outbox *o);

/* Percent of max_bytes used on disk, or of mem_max in memory: the higher. */
unsigned outbox_fill_percent(const struct outbox *o);
/* 1 once as the outbox passes 80% full, and again only after it fell
 * below 70%: when to warn. */
int outbox_high_water(struct outbox *o);

#endif
