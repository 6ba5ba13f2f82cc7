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

int64_t cdr_local_to_ms(const char *datetime)
{
	struct tm tm;
	char extra;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(datetime, "%d-%d-%d %d:%d:%d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	           &tm.tm_sec, &extra) != 6 ||
	    tm.tm_year < 1970)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_isdst = -1; /* the zone's rules say whether summer time applied */
	time_t t = mktime(&tm);
	return t == (time_t)-1 ? -1 : (int64_t)t * 1000;
}

void cdr_ms_to_local(int64_t ms, char *out, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL || strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, size, "1970-01-01 00:00:00");
}

static void copy_cell(char *dst, const char *src, unsigned long len)
{
	size_t n = src == NULL ? 0 : len < CDR_TEXT_MAX - 1 ? len : CDR_TEXT_MAX - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static int row_of(MYSQL_ROW r, const unsigned long *len, struct cdr_row *out)
{
	char *cells[] = {out->linkedid,   out->uniqueid, NULL,          out->clid,
	                 out->src,        out->dst,      out->dcontext, out->channel,
	                 out->dstchannel, out->lastapp,  out->did,      out->disposition};
	char calldate[32];

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++)
		if (cells[i])
			copy_cell(cells[i], r[i], len[i]);
	copy_cell(calldate, r[2], len[2] < sizeof(calldate) - 1 ? len[2] : sizeof(calldate) - 1);
	out->start_ms = cdr_local_to_ms(calldate);
	out->duration = r[12] ? strtoll(r[12], NULL, 10) : 0;
	out->billsec = r[13] ? strtoll(r[13], NULL, 10) : 0;
	if (out->linkedid[0] == '\0') /* a CDR store without linkedid: the leg is its own call */
		memcpy(out->linkedid, out->uniqueid, sizeof(out->linkedid));
	return out->start_ms >= 0 && out->duration >= 0 && out->billsec >= 0 && out->duration < 86400LL * 365 ? 0 : -1;
}

/* One page after (last_date, last_uid); returns rows read, -1 on failure. */
static long read_page(struct cdr_store *s, const char *lookback, const char *from, const char *to, char *last_date,
                      char *last_uid, void (*fn)(void *, const struct cdr_row *), void *ctx)
{
	char sql[2048], esc_uid[2 * CDR_TEXT_MAX + 1];
	size_t n = 0;
	long got = 0;

	mysql_real_escape_string(s->db, esc_uid, last_uid, (unsigned long)strlen(last_uid));
	n += (size_t)snprintf(sql, sizeof(sql), "SELECT ");
	for (size_t i = 0; i < NCOLUMNS; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s%s", i ? "," : "", columns[i]);
	snprintf(sql + n, sizeof(sql) - n,
	         " FROM `%s` WHERE calldate >= '%s' AND calldate < '%s'"
	         " AND DATE_ADD(calldate, INTERVAL duration SECOND) >= '%s'"
	         " AND (calldate > '%s' OR (calldate = '%s' AND uniqueid > '%s'))"
	         " ORDER BY calldate, uniqueid LIMIT %d",
	         s->o.table, lookback, to, from, last_date, last_date, esc_uid, CDR_PAGE);
	if (mysql_query(s->db, sql) != 0)
		return fail(s, "reading CDRs");
	MYSQL_RES *res = mysql_store_result(s->db);
	if (res == NULL)
		return fail(s, "reading CDRs");
	MYSQL_ROW r;
	while ((r = mysql_fetch_row(res)) != NULL) {
		struct cdr_row row;
		const unsigned long *len = mysql_fetch_lengths(res);
		got++;
		copy_cell(last_date, r[2], len[2] < 31 ? len[2] : 31);
		copy_cell(last_uid, r[1], len[1]);
		if (row_of(r, len, &row) == 0) {
			s->rows_read++;
			fn(ctx, &row);
		}
	}
	mysql_free_result(res);
	return got;
}

int cdr_store_rows(struct cdr_store *s, int64_t from_ms, int64_t to_ms, int64_t lookback_ms,
                   void (*fn)(void *ctx, const struct cdr_row *row), void *ctx)
{
	char lookback[32], from[32], to[32], last_date[CDR_TEXT_MAX] = "1970-01-01 00:00:00",
	                                     last_uid[CDR_TEXT_MAX] = "";
	long got;

	if (connect_db(s) < 0)
		return -1;
	cdr_ms_to_local(from_ms - lookback_ms, lookback, sizeof(lookback));
	cdr_ms_to_local(from_ms, from, sizeof(from));
	cdr_ms_to_local(to_ms + 999, to, sizeof(to)); /* the whole second of the gap's end */
	do {
		if ((got = read_page(s, lookback, from, to, last_date, last_uid, fn, ctx)) < 0)
			return -1;
	} while (got == CDR_PAGE);
	return 0;
}
