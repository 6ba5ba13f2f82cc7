#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db_internal.h"

/* A request of the HTTP side: sent on its own connection (connected if
 * need be), answered within DB_REQUEST_TIMEOUT_MS or the connection given
 * up.  NULL with err set when no answer came. */
static void request_refused(struct db *d, const char *what, PGresult *r, const char *client_classes, char *err,
                            size_t errsz, int *err_is_client);

static PGresult *request_within(struct db *d, const char *sql, int n, const char *const *params, int timeout_ms,
                                char *err, size_t errsz)
{
	PGresult *r = NULL;

	if (!db_connected(d) && db_connect(d) < 0) {
		snprintf(err, errsz, "database unavailable");
		return NULL;
	}
	if (PQsendQueryParams(CONN(d), sql, n, NULL, params, NULL, NULL, 0))
		r = db_result_by(d, clock_mono_ms() + timeout_ms);
	if (r == NULL) {
		snprintf(err, errsz, "%s", d->conn ? PQerrorMessage(CONN(d)) : d->last_error);
		db_close(d);
	}
	return r;
}

static PGresult *request(struct db *d, const char *sql, int n, const char *const *params, char *err, size_t errsz)
{
	return request_within(d, sql, n, params, DB_REQUEST_TIMEOUT_MS, err, errsz);
}

int db_live_match(struct db *d, const char *e164, int timeout_ms, long long *customer_id, char *name, size_t namesz,
                  char *err, size_t errsz)
{
	char tail[16];
	int rc = -1;

	snprintf(tail, sizeof(tail), "%d", d->suffix_digits);
	const char *p[2] = {e164, tail};
	/* the name through to_jsonb: an integrator's view may have no name column */
	PGresult *r = request_within(d,
	                             "SELECT m.customer_id, to_jsonb(c) ->> 'name' FROM pbxbus_match_customer($1, "
	                             "$2::integer) m LEFT JOIN pbxbus_customers c ON c.customer_id = m.customer_id",
	                             2, p, timeout_ms, err, errsz);
	if (r == NULL)
		return -1;
	*customer_id = 0;
	name[0] = '\0';
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		if (!PQgetisnull(r, 0, 0))
			*customer_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		if (!PQgetisnull(r, 0, 1))
			snprintf(name, namesz, "%s", PQgetvalue(r, 0, 1));
		rc = 0;
	} else {
		int client;
		request_refused(d, "match", r, "", err, errsz, &client);
	}
	PQclear(r);
	return rc;
}

/* A request the server refused: err says why; the input's fault when its
 * SQLSTATE class is one of client_classes ("22", "2223": data, constraint). */
static void request_refused(struct db *d, const char *what, PGresult *r, const char *client_classes, char *err,
                            size_t errsz, int *err_is_client)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	db_set_error(d, what, r);
	snprintf(err, errsz, "%s", d->last_error);
	*err_is_client = 0;
	for (const char *c = client_classes; state && c[0] && c[1]; c += 2)
		if (strncmp(state, c, 2) == 0)
			*err_is_client = 1;
	if (db_connection_lost(r, CONN(d)))
		db_close(d);
}

long long db_manual_call(struct db *d, long long customer_id, const char *direction, long long duration,
                         const char *notes, const char *occurred_at, char *err, size_t errsz, int *err_is_client)
{
	char cid[24], dur[24], body[64];
	long long id = -1;

	*err_is_client = 0;
	snprintf(cid, sizeof(cid), "%lld", customer_id);
	snprintf(dur, sizeof(dur), "%lld", duration);
	record_body(direction, duration > 0 ? "ANSWERED" : "NO ANSWER", duration, body, sizeof(body));
	const char *p[6] = {cid, direction, body, occurred_at, dur, notes};
	PGresult *r =
	    request(d,
	            "INSERT INTO crm_comms_log (customer_id, type, direction, body, ext_message_id, occurred_at, "
	            "duration_seconds, billsec_seconds, source, notes) "
	            "SELECT $1::bigint, 'call', $2, $3, 'manual:' || gen_random_uuid(), $4::timestamptz, $5::integer, "
	            "$5::integer, 'manual', $6 WHERE EXISTS (SELECT 1 FROM pbxbus_customers WHERE customer_id = "
	            "$1::bigint) RETURNING id",
	            6, p, err, errsz);
	if (r == NULL)
		return -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	} else if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		snprintf(err, errsz, "unknown customer_id %lld", customer_id);
		*err_is_client = 1;
	} else {
		/* data (22) or a constraint (23): the input's fault, not the database's */
		request_refused(d, "insert", r, "2223", err, errsz, err_is_client);
	}
	PQclear(r);
	return id;
}

int db_query_text(struct db *d, const char *sql, int nparams, const char *const *params, char **out, char *err,
                  size_t errsz, int *err_is_client)
{
	int rc = -1;

	*out = NULL;
	*err_is_client = 0;
	PGresult *r = request(d, sql, nparams, params, err, errsz);
	if (r == NULL)
		return -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		rc = 0;
		if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) && (*out = strdup(PQgetvalue(r, 0, 0))) == NULL) {
			snprintf(err, errsz, "out of memory");
			rc = -1;
		}
	} else {
		request_refused(d, "query", r, "22", err, errsz, err_is_client);
	}
	PQclear(r);
	return rc;
}
