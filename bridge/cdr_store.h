/*
 * The PBX's own account of its calls: the CDR table FreePBX keeps in
 * MariaDB (asteriskcdrdb.cdr, written by cdr_adaptive_odbc), read with
 * libmariadb to bring back the calls made while the bridge was away.
 * Read-only (the operator grants SELECT on the one table), blocking with
 * short timeouts (connect 5 s, read 10 s) and paged, so the poll loop is held
 * at most that long per page.  `calldate` is the PBX's local time: it is
 * read and written in the process's time zone, which cdr_timezone sets.
 */
#ifndef PBXBUS_CDR_STORE_H
#define PBXBUS_CDR_STORE_H

#include <stddef.h>
#include <stdint.h>

#define CDR_TEXT_MAX 82 /* FreePBX's varchar(80) columns */
#define CDR_PAGE     500

struct cdr_row {
	char linkedid[CDR_TEXT_MAX], uniqueid[CDR_TEXT_MAX];
	int64_t start_ms; /* calldate, in UTC */
	char clid[CDR_TEXT_MAX], src[CDR_TEXT_MAX], dst[CDR_TEXT_MAX], dcontext[CDR_TEXT_MAX];
	char channel[CDR_TEXT_MAX], dstchannel[CDR_TEXT_MAX], lastapp[CDR_TEXT_MAX];
	char disposition[CDR_TEXT_MAX], did[CDR_TEXT_MAX];
	long long duration, billsec;
};

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

/*
 * Calls fn for every row of a call that began before to_ms and ended after
 * from_ms (calldate within lookback_ms before from_ms), in calldate order,
 * paged.  -1 with last_error when the store failed part way (rows already
 * given stay given).
 */
int cdr_store_rows(struct cdr_store *s, int64_t from_ms, int64_t to_ms, int64_t lookback_ms,
                   void (*fn)(void *ctx, const struct cdr_row *row), void *ctx);

/* "2026-11-30 16:40:01" in the process's time zone <-> ms since the epoch. */
int64_t cdr_local_to_ms(const char *datetime);
void cdr_ms_to_local(int64_t ms, char *out, size_t size);

#endif
