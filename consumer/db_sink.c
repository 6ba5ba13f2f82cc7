#include "db.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "call_record_schema.h"
#include "clock.h"
#include "db_internal.h"
#include "pg_array.h"

/*
 * The batch's one statement, written at connect from the record schema
 * (common/call_record_schema.h): each field that feeds a column arrives as
 * an array of its SQL type, then what the consumer derives (the caller's
 * E.164, the body, the raw record, the topic); unnest() turns the arrays
 * back into rows, so the planner and the executor start once per batch.
 * Each row is matched to a customer (exact E.164, else a unique match on
 * the last digits; %d is match_suffix_digits, written as a literal so an
 * index on right(phone_e164, 9) can serve it) and inserted unless its id
 * is there; an old copy of the same call (a duplicate) is told from
 * another call under the same id (a collision, kept as a dead letter).
 * Returns (ordinality, outcome, match) for every row.  A batch where an id
 * repeats is sent as one statement per row, in order.
 */
#define DERIVED_PARAMS 4
/* What the consumer adds to a row, in parameter order after the schema's
 * columns: the name it has in r, and how it is inserted (NULL: it is not a
 * column, only used by the statement). */
static const struct {
	const char *name, *inserted_as;
} derived[DERIVED_PARAMS] = {
    {"external_e164", "r.external_e164"}, {"body", "r.body"}, {"raw", "r.raw::jsonb"}, {"topic", NULL}};

static const char insert_head_sql[] = "WITH r AS (\n  SELECT * FROM unnest(";
static const char insert_match_sql[] =
    "  WITH ORDINALITY AS r(%s ord)),\n"
    "m AS (\n"
    "  SELECT r.ord, CASE WHEN e.n = 1 THEN e.id WHEN e.n = 0 AND s.n = 1 THEN s.id END AS customer_id,\n"
    "    CASE WHEN e.n = 1 THEN 'exact' WHEN e.n > 1 OR s.n > 1 THEN 'ambiguous'\n"
    "         WHEN s.n = 1 THEN 'suffix' ELSE 'none' END AS how\n"
    "  FROM r\n"
    "  CROSS JOIN LATERAL (SELECT count(DISTINCT p.customer_id) AS n, min(p.customer_id) AS id\n"
    "    FROM pbxbus_customer_phones p WHERE p.phone_e164 = r.external_e164) e\n"
    "  CROSS JOIN LATERAL (SELECT count(DISTINCT p.customer_id) AS n, min(p.customer_id) AS id\n"
    "    FROM pbxbus_customer_phones p\n"
    "    WHERE e.n = 0 AND %d > 0 AND length(r.external_e164) > %d\n"
    "      AND right(p.phone_e164, %d) = right(r.external_e164, %d)) s),\n"
    "ins AS (\n"
    "  INSERT INTO crm_comms_log (%s customer_id, type, source)\n"
    "  SELECT %s m.customer_id, 'call', 'pbx'\n"
    "  FROM r JOIN m USING (ord) ORDER BY r.ord\n"
    "  ON CONFLICT (ext_message_id) DO NOTHING RETURNING ext_message_id),\n"
    "old AS (\n"
    "  SELECT r.ord, c.id,\n"
    "    (c.occurred_at = r.occurred_at AND c.external_number IS NOT DISTINCT FROM r.external_number) AS same\n"
    "  FROM r JOIN crm_comms_log c ON c.ext_message_id = r.ext_message_id\n"
    "  LEFT JOIN ins ON ins.ext_message_id = r.ext_message_id WHERE ins.ext_message_id IS NULL),\n"
    "kept AS (\n"
    "  SELECT old.ord, old.id FROM old WHERE NOT old.same ORDER BY old.ord LIMIT $%d::integer),\n"
    "dl AS (\n"
    "  INSERT INTO pbxbus_dead_letters (topic, payload, payload_size, error, payload_sha256)\n"
    "  SELECT r.topic, substring(convert_to(r.raw, 'UTF8') FROM 1 FOR %d), octet_length(r.raw),\n"
    "    'id collision: ' || r.ext_message_id || ' is already row ' || kept.id || ' with another call',\n"
    "    encode(sha256(convert_to(r.raw, 'UTF8')), 'hex')\n"
    "  FROM kept JOIN r USING (ord) RETURNING 1)\n"
    "SELECT r.ord, CASE WHEN ins.ext_message_id IS NOT NULL THEN 'inserted'\n"
    "                   WHEN kept.ord IS NOT NULL THEN 'collision'\n"
    "                   WHEN old.same IS FALSE THEN 'collision counted' ELSE 'duplicate' END, m.how\n"
    "FROM r JOIN m USING (ord) LEFT JOIN ins ON ins.ext_message_id = r.ext_message_id\n"
    "LEFT JOIN old USING (ord) LEFT JOIN kept USING (ord) ORDER BY r.ord";

static const char *sql_type(enum record_type t)
{
	switch (t) {
	case RT_INT:
		return "integer";
	case RT_BOOL:
		return "boolean";
	case RT_TIME:
		return "timestamptz";
	case RT_STRING:
	case RT_STRINGS:
		break;
	}
	return "text";
}

/* Appends to a bounded buffer; -1 once it is full. */
static int put(char *out, size_t size, size_t *at, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int put(char *out, size_t size, size_t *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = *at < size ? vsnprintf(out + *at, size - *at, fmt, ap) : -1;
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *at)
		return -1;
	*at += (size_t)n;
	return 0;
}

int db_insert_sql(char *out, size_t size, int suffix_digits)
{
	char names[512], inserted[512], selected[512];
	size_t at = 0, an = 0, ai = 0, as = 0;
	int k = 1, ok = put(out, size, &at, "%s", insert_head_sql) == 0;

	for (int f = 0; f < RF_COUNT && ok; f++) {
		const struct record_field_def *d = &call_record_fields[f];
		if (d->column == NULL)
			continue;
		ok = put(out, size, &at, "$%d::%s[], ", k++, sql_type(d->type)) == 0 &&
		     put(names, sizeof(names), &an, "%s, ", d->column) == 0 &&
		     put(inserted, sizeof(inserted), &ai, "%s, ", d->column) == 0 &&
		     put(selected, sizeof(selected), &as, "r.%s, ", d->column) == 0;
	}
	for (int j = 0; j < DERIVED_PARAMS && ok; j++) {
		ok = put(out, size, &at, "$%d::text[]%s", k++, j + 1 < DERIVED_PARAMS ? ", " : ")\n") == 0 &&
		     put(names, sizeof(names), &an, "%s, ", derived[j].name) == 0;
		if (ok && derived[j].inserted_as)
			ok = put(inserted, sizeof(inserted), &ai, "%s, ", derived[j].name) == 0 &&
			     put(selected, sizeof(selected), &as, "%s, ", derived[j].inserted_as) == 0;
	}
	/* The last parameter: how many collisions this statement may keep as
	 * dead letters (the consumer's dead-letter rate), each only its head. */
	int t = suffix_digits;
	return ok && put(out, size, &at, insert_match_sql, names, t, t, t, t, inserted, selected, k,
	                 DEAD_LETTER_KEEP) == 0
	           ? k
	           : -1;
}

static const char dead_letter_sql[] =
    "INSERT INTO pbxbus_dead_letters (topic, payload, payload_size, error, payload_sha256) "
    "VALUES ($1, $2, $3::integer, $4, $5)";

#define TEXTOID  25
#define BYTEAOID 17

static int prepare(struct db *d)
{
	/* Every parameter typed: text, cast in SQL where needed; bytea for a
	 * dead letter's payload, which may be any bytes. */
	Oid insert_types[ROW_PARAMS_MAX];
	static const Oid dead_types[5] = {TEXTOID, BYTEAOID, TEXTOID, TEXTOID, TEXTOID};
	char sql[8192];
	int n = db_insert_sql(sql, sizeof(sql), d->suffix_digits);

	if (n < 0 || n > ROW_PARAMS_MAX) {
		snprintf(d->last_error, sizeof(d->last_error), "prepare: the insert statement does not fit");
		return -1;
	}
	for (int k = 0; k < n; k++)
		insert_types[k] = TEXTOID;
	d->row_params = n;
	PGresult *r = PQprepare(CONN(d), "pbxbus_insert_calls", sql, n, insert_types);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		db_set_error(d, "prepare", r);
	PQclear(r);
	if (!ok)
		return -1;
	r = PQprepare(CONN(d), "pbxbus_dead_letter", dead_letter_sql, 5, dead_types);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		db_set_error(d, "prepare", r);
	PQclear(r);
	d->prepared = ok;
	return ok ? 0 : -1;
}

static int send_dead_letter(struct db *d, struct batch_item *it)
{
	char size[24];
	size_t keep = it->len < DEAD_LETTER_KEEP ? it->len : DEAD_LETTER_KEEP;

	if (it->sha256[0] == '\0')
		payload_sha256_hex(it->payload, it->len, it->sha256);
	snprintf(size, sizeof(size), "%zu", it->len);
	const char *p[5] = {it->topic, it->payload, size, it->error, it->sha256[0] ? it->sha256 : NULL};
	int lens[5] = {0, (int)keep, 0, 0, 0};
	int fmts[5] = {0, 1, 0, 0, 0};
	return PQsendQueryPrepared(CONN(d), "pbxbus_dead_letter", 5, p, lens, fmts, 0);
}

/* A row's parameters, in the statement's order (db_insert_sql): the
 * columns the schema gives, then what the consumer derives. */
static int row_params(const struct batch_item *it, const char *p[ROW_PARAMS_MAX])
{
	const struct call_row *r = &it->row;
	int k = 0;

	for (int f = 0; f < RF_COUNT; f++)
		if (call_record_fields[f].column != NULL)
			p[k++] = call_row_column(r, (enum record_field)f);
	p[k++] = r->external_e164[0] ? r->external_e164 : NULL;
	p[k++] = r->body;
	p[k++] = it->payload;
	p[k++] = it->topic;
	return k;
}

/* The parsed rows of items[0..n) as one statement: an array per parameter. */
static int send_rows(struct db *d, const struct batch_item *items, size_t n)
{
	struct pg_array cols[ROW_PARAMS_MAX];
	const char *p[ROW_PARAMS_MAX];
	int np = d->row_params, ok = 1;

	char allowance[24];

	np--; /* the arrays; then the collisions it may keep */
	for (int k = 0; k < np; k++)
		pg_array_init(&cols[k]);
	for (size_t i = 0; i < n; i++) {
		const char *v[ROW_PARAMS_MAX];
		if (!items[i].parsed)
			continue;
		ok = ok && row_params(&items[i], v) == np;
		for (int k = 0; k < np && ok; k++)
			pg_array_add(&cols[k], v[k]);
	}
	for (int k = 0; k < np; k++)
		ok = ok && (p[k] = pg_array_finish(&cols[k])) != NULL;
	snprintf(allowance, sizeof(allowance), "%d", d->collisions_kept_max);
	p[np] = allowance;
	if (ok)
		ok = PQsendQueryPrepared(CONN(d), "pbxbus_insert_calls", np + 1, p, NULL, NULL, 0);
	for (int k = 0; k < np; k++)
		pg_array_free(&cols[k]);
	return ok;
}

static int send_item(struct db *d, struct batch_item *it)
{
	return it->parsed ? send_rows(d, it, 1) : send_dead_letter(d, it);
}

/* The statement says inserted, duplicate or collision (a row is there
 * with this id and other content). */
static void take_outcome(struct batch_item *it, const PGresult *r, int row)
{
	if (!it->parsed) {
		it->outcome = ITEM_DEAD;
		return;
	}
	int have = row < PQntuples(r);
	const char *o = have ? PQgetvalue(r, row, 1) : "";
	it->collision = strncmp(o, "collision", 9) == 0;
	it->collision_counted = strcmp(o, "collision counted") == 0; /* past the dead-letter rate */
	it->duplicate = !it->collision && strcmp(o, "inserted") != 0;
	it->outcome = it->collision ? ITEM_DEAD : ITEM_SETTLED;
	snprintf(it->match, sizeof(it->match), "%s", have ? PQgetvalue(r, row, 2) : "");
}

/* The set statement answers (ord, outcome, match) for its rows in order;
 * ord counts the parsed items only. */
static void take_set_outcomes(struct batch_item *items, size_t n, const PGresult *r)
{
	int row = 0;
	for (size_t i = 0; i < n; i++)
		if (items[i].parsed)
			take_outcome(&items[i], r, row++);
}

static int cmp_ids(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Several parsed rows, none sharing an id: the set statement applies. */
static int set_applies(const struct batch_item *items, size_t n)
{
	const char **ids = malloc(n * sizeof(*ids));
	size_t k = 0;
	int distinct = 1;

	if (ids == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (items[i].parsed)
			ids[k++] = items[i].row.call_id;
	qsort(ids, k, sizeof(*ids), cmp_ids);
	for (size_t i = 1; i < k && distinct; i++)
		distinct = strcmp(ids[i - 1], ids[i]) != 0;
	free(ids);
	return k >= 2 && distinct;
}

static enum sink_rc send_batch(struct db *d, struct batch_item *items, size_t n, int as_set)
{
	PGconn *c = CONN(d);

	if (!PQenterPipelineMode(c)) {
		db_set_error(d, "pipeline", NULL);
		return SINK_DOWN;
	}
	if (as_set && !send_rows(d, items, n)) {
		db_set_error(d, "send", NULL);
		return SINK_DOWN;
	}
	for (size_t i = 0; i < n; i++) {
		if (items[i].dl_dropped)
			continue; /* no statement, no result */
		if ((!as_set || !items[i].parsed) && !send_item(d, &items[i])) {
			db_set_error(d, "send", NULL);
			return SINK_DOWN;
		}
	}
	if (!PQpipelineSync(c)) {
		db_set_error(d, "sync", NULL);
		return SINK_DOWN;
	}
	return SINK_OK;
}

/* One statement's result: OK (and r set, to be cleared by the caller), or
 * the first failure recorded in *rc and in err. */
static int take_result(struct db *d, enum sink_rc *rc, PGresult **out, char *err, size_t errsz)
{
	PGconn *c = CONN(d);
	PGresult *r = PQgetResult(c);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;

	*out = NULL;
	if (r == NULL) {
		*rc = SINK_DOWN;
		return -1;
	}
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		*out = r;
	} else {
		if (*rc == SINK_OK) {
			db_set_error(d, "write", r);
			*rc = (st == PGRES_PIPELINE_ABORTED || !db_connection_lost(r, c)) ? SINK_BAD_ITEM : SINK_DOWN;
			if (st == PGRES_FATAL_ERROR && *rc == SINK_BAD_ITEM && err)
				snprintf(err, errsz, "%.200s", d->last_error);
		}
		PQclear(r);
	}
	PQclear(PQgetResult(c)); /* the NULL that ends this query's results */
	return 0;
}

/* The database's flags of a batch (struct sink_batch). */
#define DB_AS_SET    1u /* its parsed rows went as one statement */
#define DB_SET_TAKEN 2u /* ... whose result is taken */

enum sink_rc db_send_batch(struct db *d, struct batch_item *items, size_t n, struct sink_batch *b)
{
	if (!db_connected(d) || (!d->prepared && prepare(d) < 0))
		return SINK_DOWN;
	if (d->out_count == SINK_BATCHES_OUT) {
		snprintf(d->last_error, sizeof(d->last_error), "more batches out than %d", SINK_BATCHES_OUT);
		db_close(d);
		return SINK_DOWN;
	}
	*b = (struct sink_batch){.flags = n > 1 && set_applies(items, n) ? DB_AS_SET : 0, .rc = SINK_OK};
	enum sink_rc rc = send_batch(d, items, n, (b->flags & DB_AS_SET) != 0);
	if (rc != SINK_OK) {
		db_close(d);
		return rc;
	}
	d->out_count++;
	return SINK_OK;
}

/* One more result of the batch may be taken without waiting? */
static int result_here(struct db *d)
{
	return !PQisBusy(CONN(d));
}

/* Results in order: the set statement's if sent, one per item it did not
 * cover, then the Sync's. */
enum sink_rc db_receive_batch(struct db *d, struct batch_item *items, size_t n, struct sink_batch *b)
{
	PGconn *c = CONN(d);
	PGresult *r;
	enum sink_rc rc = (enum sink_rc)b->rc; /* the first failure so far, kept in b between calls */

	if (c == NULL || d->out_count == 0)
		return SINK_DOWN;
	if (!PQconsumeInput(c)) {
		db_set_error(d, "read", NULL);
		db_close(d);
		return SINK_DOWN;
	}
	if ((b->flags & DB_AS_SET) && !(b->flags & DB_SET_TAKEN)) {
		if (!result_here(d))
			return SINK_BUSY;
		if (take_result(d, &rc, &r, NULL, 0) == 0 && r) {
			take_set_outcomes(items, n, r);
			PQclear(r);
		}
		b->rc = rc;
		b->flags |= DB_SET_TAKEN;
	}
	for (; b->taken < n && rc != SINK_DOWN; b->taken++) {
		struct batch_item *it = &items[b->taken];
		if (it->dl_dropped)
			it->outcome = ITEM_DEAD;
		if (((b->flags & DB_AS_SET) && it->parsed) || it->dl_dropped)
			continue; /* no statement of its own */
		if (!result_here(d))
			return SINK_BUSY;
		if (take_result(d, &rc, &r, it->error, sizeof(it->error)) == 0 && r) {
			take_outcome(it, r, 0);
			PQclear(r);
		}
		b->rc = rc;
	}
	if (rc != SINK_DOWN) {
		if (!result_here(d))
			return SINK_BUSY;
		r = PQgetResult(c);
		if (PQresultStatus(r) != PGRES_PIPELINE_SYNC)
			rc = SINK_DOWN;
		PQclear(r);
	}
	if (rc != SINK_DOWN)
		d->out_count--;
	if (rc == SINK_DOWN || (d->out_count == 0 && !PQexitPipelineMode(c))) {
		db_close(d);
		return SINK_DOWN;
	}
	return rc;
}

int db_socket(const struct db *d)
{
	return d->conn ? PQsocket(d->conn) : -1;
}

void db_drop_batches(struct db *d, const char *why)
{
	if (d->out_count > 0)
		snprintf(d->last_error, sizeof(d->last_error), "%d batch(es) given up: %s", d->out_count, why);
	db_close(d);
}

enum sink_rc db_write_batch(struct db *d, struct batch_item *items, size_t n)
{
	struct sink_batch b;
	enum sink_rc rc = db_send_batch(d, items, n, &b);

	int64_t deadline = clock_mono_ms() + d->wait_max_ms;

	if (rc != SINK_OK)
		return rc;
	while ((rc = db_receive_batch(d, items, n, &b)) == SINK_BUSY) {
		struct pollfd p = {db_socket(d), POLLIN, 0};
		int64_t left = deadline - clock_mono_ms();
		int ready = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (ready == 0) {
			db_drop_batches(d, "the database did not answer in time");
			return SINK_DOWN;
		}
		if (ready < 0 && errno != EINTR) {
			db_set_error(d, "poll", NULL);
			db_close(d);
			return SINK_DOWN;
		}
	}
	return rc;
}

static int sink_open(void *ctx)
{
	struct db *d = ctx;
	return db_connected(d) ? 0 : db_connect(d);
}

static enum sink_rc sink_write(void *ctx, struct batch_item *items, size_t n)
{
	return db_write_batch(ctx, items, n);
}

static enum sink_rc sink_send(void *ctx, struct batch_item *items, size_t n, struct sink_batch *b)
{
	return db_send_batch(ctx, items, n, b);
}

static enum sink_rc sink_receive(void *ctx, struct batch_item *items, size_t n, struct sink_batch *b)
{
	return db_receive_batch(ctx, items, n, b);
}

static int sink_socket(void *ctx)
{
	return db_socket(ctx);
}

static void sink_drop(void *ctx, const char *why)
{
	db_drop_batches(ctx, why);
}

static const char *sink_error(void *ctx)
{
	const struct db *d = ctx;
	return d->last_error;
}

static unsigned long long sink_reconnects(void *ctx)
{
	const struct db *d = ctx;
	return (unsigned long long)d->reconnects;
}

void db_sink(struct db *d, struct sink *out)
{
	*out = (struct sink){.name = "db",
	                     .ctx = d,
	                     .open = sink_open,
	                     .write = sink_write,
	                     .send = sink_send,
	                     .receive = sink_receive,
	                     .socket = sink_socket,
	                     .drop = sink_drop,
	                     .error = sink_error,
	                     .reconnects = sink_reconnects};
}
