/* Housekeeping of the consumer's tables (consumer/db.h): the purge of old
 * personal data and the bound on dead letters, each step one short
 * statement that gives way to a lock (audit-3 N15). */
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "db_internal.h"

/* One bounded housekeeping statement in a transaction of its own that
 * waits at most DB_PURGE_LOCK_WAIT for a lock and DB_PURGE_STATEMENT for
 * itself: a table someone holds locked postpones it (audit-3 N15: a purge
 * stuck behind a lock held the consumer's main loop 76 s).  Rows touched,
 * or -1 with last_error. */
static long long bounded_statement(struct db *d, const char *sql, const char *param)
{
	static const char begin[] =
	    "BEGIN; SET LOCAL lock_timeout = " DB_PURGE_LOCK_WAIT "; SET LOCAL statement_timeout = " DB_PURGE_STATEMENT;
	const char *p[1] = {param};
	long long touched = -1;

	PGresult *r = PQexec(CONN(d), begin);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		db_set_error(d, "purge", r);
	PQclear(r);
	if (!ok)
		return -1;
	r = PQexecParams(CONN(d), sql, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_COMMAND_OK)
		touched = strtoll(PQcmdTuples(r), NULL, 10);
	else
		db_set_error(d, "purge", r);
	PQclear(r);
	r = PQexec(CONN(d), touched >= 0 ? "COMMIT" : "ROLLBACK");
	if (PQresultStatus(r) != PGRES_COMMAND_OK && touched >= 0) {
		db_set_error(d, "purge", r);
		touched = -1;
	}
	PQclear(r);
	if (touched < 0 && PQstatus(CONN(d)) != CONNECTION_OK)
		db_close(d);
	return touched;
}

#define PURGE_CHUNK 5000 /* rows a step: each one short */
#define STR_(x)     #x
#define STR(x)      STR_(x)

long long db_purge(struct db *d, int days, int *more)
{
	char n[16];
	long long touched = 0;
	static const char *const sql[] = {
	    "UPDATE crm_comms_log SET raw = NULL WHERE id IN (SELECT id FROM crm_comms_log WHERE raw IS NOT NULL AND "
	    "occurred_at < now() - $1::integer * interval '1 day' LIMIT " STR(PURGE_CHUNK) ")",
	    "DELETE FROM pbxbus_dead_letters WHERE id IN (SELECT id FROM pbxbus_dead_letters WHERE received_at < "
	    "now() - $1::integer * interval '1 day' LIMIT " STR(PURGE_CHUNK) ")",
	};

	*more = 0;
	if (!db_connected(d))
		return -1;
	snprintf(n, sizeof(n), "%d", days);
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		long long k = bounded_statement(d, sql[i], n);
		if (k < 0)
			return -1;
		*more |= k == PURGE_CHUNK;
		touched += k;
	}
	return touched;
}

long long db_trim_dead_letters(struct db *d, long long max_bytes, int *more)
{
	char n[24];
	/* the newest first, summed: what is past the budget goes, oldest first */
	static const char sql[] =
	    "DELETE FROM pbxbus_dead_letters WHERE id IN (SELECT id FROM (SELECT id, "
	    "sum(coalesce(octet_length(payload), "
	    "0) + octet_length(error) + coalesce(octet_length(topic), 0)) OVER (ORDER BY id DESC) AS held FROM "
	    "pbxbus_dead_letters) t WHERE held > $1::bigint ORDER BY id LIMIT " STR(PURGE_CHUNK) ")";

	*more = 0;
	if (!db_connected(d))
		return -1;
	snprintf(n, sizeof(n), "%lld", max_bytes);
	long long k = bounded_statement(d, sql, n);
	*more = k == PURGE_CHUNK;
	return k;
}
