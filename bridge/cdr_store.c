#include "cdr_store.h"

#include <ctype.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONNECT_TIMEOUT_S 5
#define READ_TIMEOUT_S    10

/* The columns read, in the order of the SELECT. */
static const char *const columns[] = {"linkedid", "uniqueid",    "calldate", "clid",       "src",
                                      "dst",      "dcontext",    "channel",  "dstchannel", "lastapp",
                                      "did",      "disposition", "duration", "billsec"};
#define NCOLUMNS (sizeof(columns) / sizeof(columns[0]))

int cdr_store_configured(const struct cdr_store_opts *o)
{
	return o->user && o->user[0] && ((o->host && o->host[0]) || (o->socket && o->socket[0]));
}

void cdr_store_init(struct cdr_store *s, const struct cdr_store_opts *o)
{
	memset(s, 0, sizeof(*s));
	s->o = *o;
}

void cdr_store_close(struct cdr_store *s)
{
	if (s->db)
		mysql_close(s->db);
	s->db = NULL;
}

static int fail(struct cdr_store *s, const char *what)
{
	snprintf(s->last_error, sizeof(s->last_error), "%s: %s", what, s->db ? mysql_error(s->db) : "out of memory");
	s->failures++;
	cdr_store_close(s);
	return -1;
}

/* A table name goes into the SQL as text: letters, digits, '_' only. */
static int table_ok(const char *t)
{
	if (t == NULL || t[0] == '\0' || strlen(t) > 64)
		return 0;
	for (; *t; t++)
		if (!isalnum((unsigned char)*t) && *t != '_')
			return 0;
	return 1;
}

static int connect_db(struct cdr_store *s)
{
	unsigned connect_s = CONNECT_TIMEOUT_S, read_s = READ_TIMEOUT_S;
	const char *socket = s->o.socket && s->o.socket[0] ? s->o.socket : NULL;

	if (s->db)
		return 0;
	if (!table_ok(s->o.table)) {
		snprintf(s->last_error, sizeof(s->last_error), "cdr_db_table %s: only letters, digits and '_'",
		         s->o.table ? s->o.table : "");
		return -1;
	}
	if ((s->db = mysql_init(NULL)) == NULL)
		return fail(s, "connect");
	mysql_options(s->db, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
	mysql_options(s->db, MYSQL_OPT_READ_TIMEOUT, &read_s);
	mysql_options(s->db, MYSQL_OPT_WRITE_TIMEOUT, &read_s);
	if (mysql_real_connect(s->db, socket ? NULL : s->o.host, s->o.user, s->o.password, s->o.database,
	                       (unsigned)s->o.port, socket, 0) == NULL ||
	    mysql_set_character_set(s->db, "utf8mb4") != 0)
		return fail(s, "connect");
	return 0;
}

int cdr_store_check(struct cdr_store *s)
{
	char sql[512];
	size_t n = 0;

	if (connect_db(s) < 0)
		return -1;
	n += (size_t)snprintf(sql, sizeof(sql), "SELECT ");
	for (size_t i = 0; i < NCOLUMNS; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s%s", i ? "," : "", columns[i]);
	snprintf(sql + n, sizeof(sql) - n, " FROM `%s` LIMIT 0", s->o.table);
	if (mysql_query(s->db, sql) != 0)
		return fail(s, "reading the CDR table");
	MYSQL_RES *res = mysql_store_result(s->db);
	if (res)
		mysql_free_result(res);
	return 0;
}

/* "2026-11-30 16:40:01" in the process's time zone <-> ms since the epoch. */
static int64_t cdr_local_to_ms(const char *datetime)
{
	struct tm tm;
	char extra;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(datetime, "%d-%d-%d %d:%d:%d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	           &tm.tm_sec, &extra) != 6 ||
	    tm.tm_year < 1970 || tm.tm_year > 2100)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_isdst = -1; /* the zone's rules say whether summer time applied */
	time_t t = mktime(&tm);
	return t == (time_t)-1 ? -1 : (int64_t)t * 1000;
}

static void cdr_ms_to_local(int64_t ms, char *out, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL || strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, size, "1970-01-01 00:00:00");
}

/* ---- the page: one prepared statement, its keys bound, its rows streamed ---- */

#define NPARAMS 6

/* What one fetched row is bound to.  Text cells are cut to their buffer
 * (the row keeps CDR_TEXT_MAX - 1 bytes of each); the paging key
 * (calldate, uniqueid) must come whole, or paging could not go past it. */
struct page_row {
	char cell[NCOLUMNS][CDR_KEY_MAX];
	unsigned long len[NCOLUMNS];
	my_bool is_null[NCOLUMNS], error[NCOLUMNS];
};

static void cell_text(char *dst, size_t size, const struct page_row *pr, size_t i)
{
	size_t n = pr->is_null[i] ? 0 : pr->len[i] < size - 1 ? pr->len[i] : size - 1; /* size <= CDR_KEY_MAX */
	memcpy(dst, pr->cell[i], n);
	dst[n] = '\0';
}

static int row_of(const struct page_row *pr, struct cdr_row *out)
{
	char *cells[] = {out->linkedid,   out->uniqueid, NULL,          out->clid,
	                 out->src,        out->dst,      out->dcontext, out->channel,
	                 out->dstchannel, out->lastapp,  out->did,      out->disposition};
	char calldate[32], num[24];

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++)
		if (cells[i])
			cell_text(cells[i], CDR_TEXT_MAX, pr, i);
	cell_text(calldate, sizeof(calldate), pr, 2);
	out->start_ms = cdr_local_to_ms(calldate);
	cell_text(num, sizeof(num), pr, 12);
	out->duration = strtoll(num, NULL, 10);
	cell_text(num, sizeof(num), pr, 13);
	out->billsec = strtoll(num, NULL, 10);
	if (out->linkedid[0] == '\0') /* a CDR store without linkedid: the leg is its own call */
		memcpy(out->linkedid, out->uniqueid, sizeof(out->linkedid));
	if (out->billsec > out->duration)
		out->billsec = out->duration; /* a store's rounding: kept, clamped */
	return cdr_row_times_ok(out) ? 0 : -1;
}

static int stmt_fail(struct cdr_store *s, MYSQL_STMT *st, const char *what)
{
	snprintf(s->last_error, sizeof(s->last_error), "%s: %s", what, mysql_stmt_error(st));
	s->failures++;
	mysql_stmt_close(st);
	cdr_store_close(s);
	return -1;
}

void cdr_cursor_init(struct cdr_cursor *c, int64_t from_ms, int64_t to_ms, int64_t lookback_ms)
{
	memset(c, 0, sizeof(*c));
	cdr_ms_to_local(from_ms - lookback_ms, c->lookback, sizeof(c->lookback));
	cdr_ms_to_local(from_ms, c->from, sizeof(c->from));
	cdr_ms_to_local(to_ms + 999, c->to, sizeof(c->to)); /* the whole second of the gap's end */
	snprintf(c->last_date, sizeof(c->last_date), "1970-01-01 00:00:00");
}

static void bind_params(MYSQL_BIND *b, struct cdr_cursor *c, unsigned long *lens)
{
	char *v[NPARAMS] = {c->lookback, c->to, c->from, c->last_date, c->last_date, c->last_uid};

	memset(b, 0, NPARAMS * sizeof(*b));
	for (int i = 0; i < NPARAMS; i++) {
		lens[i] = (unsigned long)strlen(v[i]);
		b[i].buffer_type = MYSQL_TYPE_STRING;
		b[i].buffer = v[i];
		b[i].buffer_length = lens[i];
		b[i].length = &lens[i];
	}
}

static void bind_results(MYSQL_BIND *b, struct page_row *pr)
{
	memset(b, 0, NCOLUMNS * sizeof(*b));
	for (size_t i = 0; i < NCOLUMNS; i++) {
		b[i].buffer_type = MYSQL_TYPE_STRING;
		b[i].buffer = pr->cell[i];
		b[i].buffer_length = CDR_KEY_MAX;
		b[i].length = &pr->len[i];
		b[i].is_null = &pr->is_null[i];
		b[i].error = &pr->error[i];
	}
}

/* The page's rows, each given to fn, the cursor moved past each. */
static int fetch_rows(struct cdr_store *s, MYSQL_STMT *st, struct page_row *pr, struct cdr_cursor *c,
                      void (*fn)(void *, const struct cdr_row *), void *ctx, long *got)
{
	int rc;

	while ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
		struct cdr_row row;
		(*got)++;
		if (pr->is_null[1] || pr->is_null[2] || pr->len[1] >= CDR_KEY_MAX ||
		    pr->len[2] >= sizeof(c->last_date)) {
			snprintf(s->last_error, sizeof(s->last_error),
			         "a CDR row's calldate or uniqueid is empty or over %d bytes: the gap cannot be paged "
			         "past it",
			         CDR_KEY_MAX - 1);
			return -1;
		}
		cell_text(c->last_date, sizeof(c->last_date), pr, 2);
		cell_text(c->last_uid, sizeof(c->last_uid), pr, 1);
		if (row_of(pr, &row) == 0) {
			s->rows_read++;
			fn(ctx, &row);
		} else {
			c->rows_refused++;
		}
	}
	if (rc != MYSQL_NO_DATA) {
		snprintf(s->last_error, sizeof(s->last_error), "reading CDRs: %s", mysql_stmt_error(st));
		return -1;
	}
	return 0;
}

int cdr_store_page(struct cdr_store *s, struct cdr_cursor *c, void (*fn)(void *ctx, const struct cdr_row *row),
                   void *ctx)
{
	char sql[1024];
	size_t n = 0;
	MYSQL_BIND params[NPARAMS], results[NCOLUMNS];
	unsigned long lens[NPARAMS];
	long got = 0;

	if (connect_db(s) < 0)
		return -1;
	struct page_row *pr = calloc(1, sizeof(*pr));
	MYSQL_STMT *st = mysql_stmt_init(s->db);
	if (pr == NULL || st == NULL) {
		free(pr);
		if (st)
			mysql_stmt_close(st);
		return fail(s, "reading CDRs");
	}
	n += (size_t)snprintf(sql, sizeof(sql), "SELECT ");
	for (size_t i = 0; i < NCOLUMNS; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s%s", i ? "," : "", columns[i]);
	/* the table name is checked (table_ok); every value is a parameter */
	snprintf(sql + n, sizeof(sql) - n,
	         " FROM `%s` WHERE calldate >= ? AND calldate < ? AND DATE_ADD(calldate, INTERVAL duration SECOND) >= ?"
	         " AND (calldate > ? OR (calldate = ? AND uniqueid > ?)) ORDER BY calldate, uniqueid LIMIT %d",
	         s->o.table, CDR_PAGE);
	bind_params(params, c, lens);
	bind_results(results, pr);
	int rc = -1;
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0 || mysql_stmt_bind_param(st, params) != 0 ||
	    mysql_stmt_execute(st) != 0 || mysql_stmt_bind_result(st, results) != 0) {
		free(pr);
		return stmt_fail(s, st, "reading CDRs");
	}
	rc = fetch_rows(s, st, pr, c, fn, ctx, &got);
	free(pr);
	mysql_stmt_close(st);
	if (rc < 0) {
		s->failures++;
		cdr_store_close(s);
		return -1;
	}
	c->rows += (uint64_t)got;
	c->pages++;
	return got == CDR_PAGE ? 0 : 1;
}
