#include "cdr_writer.h"

#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture.h"
#include "clock.h"
#include "log.h"

int cdr_writer_open(struct cdr_writer *w, const char *socket, double speed, char *err, size_t errsz)
{
	memset(w, 0, sizeof(*w));
	w->speed = speed > 0 ? speed : 1;
	if ((w->db = mysql_init(NULL)) == NULL ||
	    mysql_real_connect(w->db, NULL, "root", NULL, "asteriskcdrdb", 0, socket, 0) == NULL) {
		snprintf(err, errsz, "CDR store %s: %s", socket, w->db ? mysql_error(w->db) : "out of memory");
		cdr_writer_close(w);
		return -1;
	}
	return 0;
}

void cdr_writer_close(struct cdr_writer *w)
{
	if (w->db)
		mysql_close(w->db);
	w->db = NULL;
}

/* The channel of uid among the recent ones, or -1. */
static long channel_of(const struct cdr_writer *w, const char *uid)
{
	for (size_t i = 0; i < CDR_WRITER_IDS; i++)
		if (strcmp(w->ids[i].uid, uid) == 0)
			return (long)i;
	return -1;
}

/* A field of the event, escaped for a quoted SQL string. */
static const char *sql_field(struct cdr_writer *w, const char *raw, size_t len, const char *key, char *out,
                             size_t outsz)
{
	char v[256];

	if (!capture_field(raw, len, key, v, sizeof(v)))
		v[0] = '\0';
	if (strlen(v) * 2 + 1 > outsz)
		v[(outsz - 1) / 2] = '\0';
	mysql_real_escape_string(w->db, out, v, (unsigned long)strlen(v));
	return out;
}

static long long scaled_seconds(const struct cdr_writer *w, const char *raw, size_t len, const char *key)
{
	char v[32];
	return capture_field(raw, len, key, v, sizeof(v)) ? (long long)(strtod(v, NULL) / w->speed + 0.5) : 0;
}

static void write_cdr(struct cdr_writer *w, const char *raw, size_t len)
{
	char f[12][520], uid[48], lid[100], calldate[32], sql[8192];
	static const char *const keys[] = {
	    "CallerID",        "Source",   "Destination", "DestinationContext", "Channel",   "DestinationChannel",
	    "LastApplication", "LastData", "Disposition", "AccountCode",        "UserField", "UniqueID"};
	long long duration = scaled_seconds(w, raw, len, "Duration");
	long long billsec = scaled_seconds(w, raw, len, "BillableSeconds");
	int64_t now = clock_wall_ms();
	time_t start = (time_t)(now / 1000 - duration);
	struct tm tm;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		sql_field(w, raw, len, keys[i], f[i], sizeof(f[i]));
	if (!capture_field(raw, len, "UniqueID", uid, sizeof(uid)))
		uid[0] = '\0';
	long at = channel_of(w, uid);
	const char *l = at >= 0 ? w->ids[at].lid : uid;
	if (at >= 0) { /* as Asterisk: the leg's start, whole seconds */
		start = (time_t)(w->ids[at].born_ms / 1000);
		duration = (now - w->ids[at].born_ms + 500) / 1000;
	}
	mysql_real_escape_string(w->db, lid, l, (unsigned long)strnlen(l, 47));
	if (localtime_r(&start, &tm) == NULL || strftime(calldate, sizeof(calldate), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return;
	snprintf(sql, sizeof(sql),
	         "INSERT INTO cdr (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, "
	         "duration, billsec, disposition, amaflags, accountcode, userfield, uniqueid, linkedid) VALUES "
	         "('%s','%s','%s','%s','%s','%s','%s','%s','%s',%lld,%lld,'%s',3,'%s','%s','%s','%s')",
	         calldate, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], duration,
	         billsec > duration ? duration : billsec, f[8], f[9], f[10], f[11], lid);
	if (mysql_query(w->db, sql) != 0) {
		w->failed++;
		log_warnx("CDR store: %s", mysql_error(w->db));
		return;
	}
	w->written++;
}

void cdr_writer_event(struct cdr_writer *w, const char *raw, size_t len)
{
	char ev[32];

	if (w->db == NULL || !capture_field(raw, len, "Event", ev, sizeof(ev)))
		return;
	if (strcmp(ev, "Newchannel") == 0) {
		if (capture_field(raw, len, "Uniqueid", w->ids[w->next].uid, sizeof(w->ids[w->next].uid)) &&
		    capture_field(raw, len, "Linkedid", w->ids[w->next].lid, sizeof(w->ids[w->next].lid))) {
			w->ids[w->next].born_ms = clock_wall_ms();
			w->next = (w->next + 1) % CDR_WRITER_IDS;
		}
	} else if (strcmp(ev, "Cdr") == 0) {
		write_cdr(w, raw, len);
	}
}
