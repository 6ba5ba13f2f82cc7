/*
 * The PBX's own account of its calls: the CDR table FreePBX keeps in
 * MariaDB (asteriskcdrdb.cdr, written by cdr_adaptive_odbc), read with
 * libmariadb to bring back the calls made while the bridge was away.
 * Read-only (the operator grants SELECT on the one table), blocking with
 * short timeouts (connect 5 s, read 10 s) and paged one page a call, so the
 * poll loop is held at most that long per page.  `calldate` is the PBX's local time: it is
 * read and written in the process's time zone, which cdr_timezone sets.
 */
#ifndef PBXBUS_CDR_STORE_H
#define PBXBUS_CDR_STORE_H

#include <stddef.h>
#include <stdint.h>

#define CDR_TEXT_MAX 82  /* FreePBX's varchar(80) columns */
#define CDR_KEY_MAX  256 /* a paging key (uniqueid, calldate) longer than this stops the gap's paging */
#define CDR_PAGE     500

struct cdr_row {
	char linkedid[CDR_TEXT_MAX], uniqueid[CDR_TEXT_MAX];
	int64_t start_ms; /* calldate, in UTC */
	char clid[CDR_TEXT_MAX], src[CDR_TEXT_MAX], dst[CDR_TEXT_MAX], dcontext[CDR_TEXT_MAX];
	char channel[CDR_TEXT_MAX], dstchannel[CDR_TEXT_MAX], lastapp[CDR_TEXT_MAX];
	char disposition[CDR_TEXT_MAX], did[CDR_TEXT_MAX];
	long long duration, billsec;
};

/* A row whose times a call can have: a calldate from 1970 to 2100, a
 * duration under a year, billsec not past it.  The store gives no other
 * (its calldate, duration and billsec are any text on an odd schema), and
 * the tracker takes no other (audit-3 I11: a fuzzer's year 2^31 overflowed
 * the answer's time). */
#define CDR_TIME_MAX_MS (4102444800000LL) /* 2100-01-01 */
static inline int cdr_row_times_ok(const struct cdr_row *r)
{
	return r->start_ms >= 0 && r->start_ms < CDR_TIME_MAX_MS && r->duration >= 0 && r->duration < 86400LL * 365 &&
	       r->billsec >= 0 && r->billsec <= r->duration;
}

struct cdr_store_opts {
	const char *host, *socket, *database, *table, *user, *password;
	int port;
};

struct cdr_store {
	struct cdr_store_opts o;
	void *db; /* MYSQL *, NULL when not connected */
	char last_error[512];
	uint64_t rows_read, failures;
};

int cdr_store_configured(const struct cdr_store_opts *o);
void cdr_store_init(struct cdr_store *s, const struct cdr_store_opts *o);
void cdr_store_close(struct cdr_store *s);

/* Connects, and checks that the table has every column read.  -1 with
 * last_error (which names what failed). */
int cdr_store_check(struct cdr_store *s);

/* Where the reading of one gap is: its bounds and the last row's key, as
 * the store wrote them (they go back only as bound parameters: audit-3
 * N12, a quote in a calldate was an injection). */
struct cdr_cursor {
	char lookback[32], from[32], to[32];
	char last_date[32], last_uid[CDR_KEY_MAX];
	uint64_t rows, pages, rows_refused; /* refused: a bad calldate, duration or billsec */
};

/* The rows of calls that began before to_ms and ended after from_ms
 * (calldate within lookback_ms before from_ms), in calldate order. */
void cdr_cursor_init(struct cdr_cursor *c, int64_t from_ms, int64_t to_ms, int64_t lookback_ms);
/*
 * The next page (at most CDR_PAGE rows, streamed: a row's cells are held
 * cut to their size, never whole) after the cursor, fn for each row, the
 * cursor moved on.  0: more pages follow; 1: that was the last; -1 with
 * last_error (a row whose key is over CDR_KEY_MAX included).
 */
int cdr_store_page(struct cdr_store *s, struct cdr_cursor *c, void (*fn)(void *ctx, const struct cdr_row *row),
                   void *ctx);

#endif
