#include "db.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db_internal.h"
#include "log.h"
#include "migrations.h"

int db_conninfo_check(const char *conninfo, char *err, size_t errsz)
{
	char *msg = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
	int rc = 0;

	/* libpq's message may quote the string, and with it a password. */
	if (opts == NULL) {
		snprintf(err, errsz, "db_conninfo: not a connection string or URI libpq accepts");
		rc = -1;
	}
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL) {
			snprintf(err, errsz,
			         "db_conninfo: holds a password (visible in ps, echoed by libpq): use db_password_file "
			         "or db_password");
			rc = -1;
		}
	}
	PQfreemem(msg);
	PQconninfoFree(opts);
	return rc;
}

void db_init(struct db *d, const char *conninfo, const char *password, int suffix_digits)
{
	memset(d, 0, sizeof(*d));
	d->conninfo = conninfo;
	d->password = password;
	d->suffix_digits = suffix_digits;
	d->wait_max_ms = DB_WAIT_MAX_MS;
}

int db_connected(const struct db *d)
{
	return d->conn != NULL && PQstatus(CONN(d)) == CONNECTION_OK;
}

void db_close(struct db *d)
{
	if (d->conn)
		PQfinish(CONN(d));
	d->conn = NULL;
	d->prepared = 0;
	d->out_count = 0; /* what was out is lost with it */
}

void db_set_error(struct db *d, const char *what, const struct pg_result *res)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;

	if (msg == NULL)
		msg = d->conn ? PQerrorMessage(CONN(d)) : "not connected";
	snprintf(d->last_error, sizeof(d->last_error), "%s: %s%s%s", what, msg, hint ? " (hint: " : "",
	         hint ? hint : "");
	size_t n = strlen(d->last_error);
	while (n > 0 && (d->last_error[n - 1] == '\n' || d->last_error[n - 1] == ' '))
		d->last_error[--n] = '\0';
	if (hint)
		strncat(d->last_error, ")", sizeof(d->last_error) - strlen(d->last_error) - 1);
}

/* "relation already exists, skipping" and the like: not worth a warning. */
static void on_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("db: %.*s", (int)strcspn(message, "\n"), message);
}

int db_connect(struct db *d)
{
	/* A server that stops answering is noticed: TCP keepalives, and
	 * tcp_user_timeout for data the kernel cannot get acknowledged. */
	const char *keys[] = {"dbname",
	                      "password",
	                      "connect_timeout",
	                      "application_name",
	                      "keepalives",
	                      "keepalives_idle",
	                      "keepalives_interval",
	                      "keepalives_count",
	                      "tcp_user_timeout",
	                      NULL};
	const char *vals[] = {d->conninfo, d->password, "5", "pbxbus-consumer", "1", "10", "5", "3", "30000", NULL};

	db_close(d);
	/* dbname holding a whole conninfo string is expanded (expand_dbname). */
	d->conn = (struct pg_conn *)PQconnectdbParams(keys, vals, 1);
	if (d->conn == NULL || PQstatus(CONN(d)) != CONNECTION_OK) {
		db_set_error(d, "connect", NULL);
		db_close(d);
		return -1;
	}
	if (d->connects++ > 0)
		d->reconnects++;
	PQsetNoticeProcessor(CONN(d), on_notice, NULL);
	PGresult *r = PQexec(CONN(d), "SET synchronous_commit = on");
	PQclear(r);
	if (d->statement_timeout_ms > 0) {
		char sql[64];
		snprintf(sql, sizeof(sql), "SET statement_timeout = %d", d->statement_timeout_ms);
		r = PQexec(CONN(d), sql);
		PQclear(r);
		/* Short reads (the console's): JIT compiling costs more than it
		 * saves, 0.4 s on the missed calls over 100,000 calls
		 * (docs/benchmarks.md).  A server without JIT refuses; no matter. */
		r = PQexec(CONN(d), "SET jit = off");
		PQclear(r);
	}
	return 0;
}

PGresult *db_result_by(struct db *d, int64_t deadline_ms)
{
	PGconn *c = CONN(d);

	while (PQisBusy(c)) {
		int64_t left = deadline_ms - clock_mono_ms();
		struct pollfd p = {PQsocket(c), POLLIN, 0};
		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			snprintf(d->last_error, sizeof(d->last_error), "the database did not answer in time");
			db_close(d);
			return NULL;
		}
		if (!PQconsumeInput(c)) {
			db_set_error(d, "read", NULL);
			db_close(d);
			return NULL;
		}
	}
	PGresult *r = PQgetResult(c);
	PGresult *extra;
	while ((extra = PQgetResult(c)) != NULL)
		PQclear(extra);
	return r;
}

int db_ping(struct db *d, int timeout_ms)
{
	if (!db_connected(d) && db_connect(d) < 0)
		return -1;
	if (!PQsendQuery(CONN(d), "SELECT 1")) {
		db_set_error(d, "ping", NULL);
		db_close(d);
		return -1;
	}
	PGresult *r = db_result_by(d, clock_mono_ms() + timeout_ms);
	int ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	return ok ? 0 : -1;
}

static int query_int(struct db *d, const char *sql)
{
	PGresult *r = PQexec(CONN(d), sql);
	int v = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	else
		db_set_error(d, "schema version", r);
	PQclear(r);
	return v;
}

int db_schema_version(struct db *d)
{
	/* Two queries: a reference to a missing table fails even where unused. */
	int exists = query_int(d, "SELECT (to_regclass('pbxbus_schema') IS NOT NULL)::integer");
	if (exists <= 0)
		return exists;
	return query_int(d, "SELECT coalesce(max(version), 0) FROM pbxbus_schema");
}

static int exec_ok(struct db *d, const char *what, const char *sql)
{
	PGresult *r = PQexec(CONN(d), sql);
	ExecStatusType st = PQresultStatus(r);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		db_set_error(d, what, r);
	PQclear(r);
	return ok ? 0 : -1;
}

int db_migrate(struct db *d)
{
	char sql[160];

	if (exec_ok(d, "migrate",
	            "CREATE TABLE IF NOT EXISTS pbxbus_schema (version integer PRIMARY KEY, "
	            "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())") < 0)
		return -1;
	for (int i = 0; i < migrations_count; i++) {
		const struct migration *m = &migrations[i];
		/* One consumer migrates at a time; the others wait for the lock. */
		if (exec_ok(d, "migrate", "BEGIN; SELECT pg_advisory_xact_lock(7400502)") < 0)
			return -1;
		int current = db_schema_version(d);
		if (current < 0 || current >= m->version) {
			exec_ok(d, "migrate", current < 0 ? "ROLLBACK" : "COMMIT");
			if (current < 0)
				return -1;
			continue;
		}
		snprintf(sql, sizeof(sql), "INSERT INTO pbxbus_schema (version, name) VALUES (%d, '%s')", m->version,
		         "v");
		if (exec_ok(d, "migration", m->sql) < 0 || exec_ok(d, "migration", sql) < 0) {
			char keep[sizeof(d->last_error)];
			memcpy(keep, d->last_error, sizeof(keep));
			exec_ok(d, "migrate", "ROLLBACK");
			memcpy(d->last_error, keep, sizeof(keep));
			return -1;
		}
		if (exec_ok(d, "migrate", "COMMIT") < 0)
			return -1;
		log_info("db: applied migration %d (%s)", m->version, m->name);
	}
	return 0;
}

int db_connection_lost(const PGresult *r, const PGconn *c)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (PQstatus(c) != CONNECTION_OK || state == NULL)
		return 1;
	return strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0;
}
