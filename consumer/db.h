/*
 * The consumer's PostgreSQL side (libpq), one file a concern: the
 * connection and migrations (db.c), the record sink (db_sink.c: the insert
 * statement from the schema, the pipelined batch write, dead letters), the
 * HTTP side's requests on their own connection (db_requests.c), and
 * retention (db_housekeeping.c).  A batch is one pipeline (one implicit
 * transaction up to its Sync): either every row of it is committed or none
 * is, and the caller releases the MQTT acknowledgements only after a
 * commit.  Connection loss (SQLSTATE class 08, 57P0x, or none) is told
 * apart from a bad row, which the caller then isolates.
 */
#ifndef PBXBUS_DB_H
#define PBXBUS_DB_H

#include <stddef.h>
#include <stdint.h>

#include "batch_item.h"
#include "sink.h"

struct pg_conn;
struct pg_result;

/* wait_max_ms unless the consumer sets it (from its MQTT keepalive). */
#define DB_WAIT_MAX_MS 30000

struct db {
	struct pg_conn *conn;
	const char *conninfo;
	const char *password; /* may be NULL: libpq's own sources apply */
	int suffix_digits;
	int statement_timeout_ms; /* 0: none (the batch path waits for the database); else short reads, JIT off */
	int wait_max_ms;          /* the longest wait for a batch's answer: then the connection is given up */
	int prepared;
	int row_params; /* the insert statement's, once prepared */
	/* Collisions the next insert statement may keep as dead letters: the
	 * consumer sets it from its dead-letter rate (dead_letters_allowance). */
	int collisions_kept_max;
	int out_count; /* batches sent, not yet all answered (the consumer holds their sink_batch) */
	uint64_t connects, reconnects;
	char last_error[512];
};

/* A password inside the connection string is refused (db_password is the
 * secret's place); so is a string libpq cannot read.  0, or -1 with err. */
int db_conninfo_check(const char *conninfo, char *err, size_t errsz);
void db_init(struct db *d, const char *conninfo, const char *password, int suffix_digits);
/* Connects (blocking, bounded by connect_timeout) and prepares. */
int db_connect(struct db *d);
int db_connected(const struct db *d);
void db_close(struct db *d);

/* Is the database answering?  A "SELECT 1" given timeout_ms; 0 or -1 (the
 * connection is then closed).  Blocks the caller at most that long. */
int db_ping(struct db *d, int timeout_ms);

/* The customer a live call's caller is (pbxbus_match_customer, as the call
 * log's rows), answered within timeout_ms: 0 with *customer_id (0: none)
 * and the name ("" when none or the view has no name); -1 with err. */
int db_live_match(struct db *d, const char *e164, int timeout_ms, long long *customer_id, char *name, size_t namesz,
                  char *err, size_t errsz);

/* Current schema version (0 when none); -1 on error. */
int db_schema_version(struct db *d);
/* Applies pending migrations; 0, or -1 with the server's message and hint. */
int db_migrate(struct db *d);

/* The batch insert statement, from the record schema (the columns its
 * fields feed) and match_suffix_digits: the number of parameters it takes
 * (at most ROW_PARAMS_MAX), or -1 if it does not fit out. */
#define ROW_PARAMS_MAX 40
int db_insert_sql(char *out, size_t size, int suffix_digits);

/* Writes every item (rows, or dead letters for unparsed ones) in one
 * transaction and fills in their outcomes: SINK_DOWN when the connection is
 * lost (SQLSTATE class 08, 57P0x, or none) or no answer came in
 * wait_max_ms (the connection is then closed), SINK_BAD_ITEM when a row was
 * refused (nothing of the batch is in). */
enum sink_rc db_write_batch(struct db *d, struct batch_item *items, size_t n);
/* The same in two halves (see struct sink): the batch sent, then its
 * results taken as they come, SINK_BUSY until all have; items must stay
 * where they are in between.  Up to SINK_BATCHES_OUT may be out at once
 * (each its own transaction); receive takes the oldest's.  db_write_batch
 * only with none out.  db_socket: what to poll meanwhile. */
enum sink_rc db_send_batch(struct db *d, struct batch_item *items, size_t n, struct sink_batch *b);
enum sink_rc db_receive_batch(struct db *d, struct batch_item *items, size_t n, struct sink_batch *b);
int db_socket(const struct db *d);
/* Gives up every batch out: the connection is closed, and with it their
 * transactions (none of them counts; they come again). */
void db_drop_batches(struct db *d, const char *why);
/* The database as the consumer's sink (connecting in open). */
void db_sink(struct db *d, struct sink *out);

/* last_error := what failed and the server's words (res may be NULL). */
void db_set_error(struct db *d, const char *what, const struct pg_result *res);

/* Housekeeping (consumer/db_housekeeping.c) waits at most this long for a
 * lock, and for itself. */
#define DB_PURGE_LOCK_WAIT "'1s'"
#define DB_PURGE_STATEMENT "'15s'"

/* Personal data kept no longer than needed: the raw record of rows and
 * dead letters older than days, up to 5,000 of each a call (*more: call
 * again soon).  Returns rows touched, or -1 with last_error. */
long long db_purge(struct db *d, int days, int *more);
/* Dead letters hold at most max_bytes in all: the oldest past it are
 * deleted, up to 5,000 a call (*more: call again soon).  Rows deleted, or
 * -1 with last_error. */
long long db_trim_dead_letters(struct db *d, long long max_bytes, int *more);

/* A manual call log (HTTP); returns the new row id, or -1 with err set
 * (err_is_client: the input was wrong, not the database).  Gives the
 * database DB_REQUEST_TIMEOUT_MS, then the connection up. */
#define DB_REQUEST_TIMEOUT_MS 5000
long long db_manual_call(struct db *d, long long customer_id, const char *direction, long long duration,
                         const char *notes, const char *occurred_at, char *err, size_t errsz, int *err_is_client);

/* A read for the console: the first column of the first row as text in
 * *out (malloc'd; NULL when no row), bounded like db_manual_call.  -1 with
 * err (err_is_client: the input was wrong, SQLSTATE class 22). */
int db_query_text(struct db *d, const char *sql, int nparams, const char *const *params, char **out, char *err,
                  size_t errsz, int *err_is_client);

#endif
