#include "call_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

/* Answered, as the console has it: a record's disposition, or for a
 * row without one (an older CRM's, or logged by hand) its talk time. */
#define ANSWERED(l)                                                                                                    \
	"(" l ".disposition = 'ANSWERED' OR (" l ".disposition IS NULL AND coalesce(" l ".billsec_seconds, 0) > 0))"
#define ANSWERED_L ANSWERED("l")
#define ANSWERED_P ANSWERED("p")
#define ANSWERED_B ANSWERED("b")

/* The partial index crm_comms_log_calls_time (occurred_at DESC, id DESC)
 * WHERE type = 'call' (migration 3) serves the order and the key. */
const char call_log_page_sql[] =
    "WITH page AS (\n"
    "  SELECT l.id, l.occurred_at, l.direction, l.duration_seconds, l.billsec_seconds, l.disposition,\n"
    "    l.extension, l.external_number, l.did, l.customer_id, l.source, l.notes, l.ext_message_id,\n"
    "    l.raw ->> 'originated_by' AS originated_by, l.raw ->> 'queue' AS queue,\n"
    "    coalesce(l.raw ->> 'withheld', '') = 'true' AS withheld,\n"
    "    row_number() OVER (ORDER BY l.occurred_at DESC, l.id DESC) AS n\n"
    "  FROM crm_comms_log l\n"
    "  WHERE l.type = 'call'\n"
    "    AND ($1::text IS NULL OR l.direction = $1::text)\n"
    "    AND ($2::boolean IS NULL OR " ANSWERED_L " = $2::boolean)\n"
    "    AND ($3::bigint IS NULL OR l.customer_id = $3::bigint)\n"
    "    AND ($4::text IS NULL OR l.extension = $4::text)\n"
    "    AND ($5::timestamptz IS NULL OR l.occurred_at >= $5::timestamptz)\n"
    "    AND ($6::timestamptz IS NULL OR l.occurred_at < $6::timestamptz)\n"
    "    AND ($7::text IS NULL OR strpos(coalesce(l.external_number, ''), $7::text) > 0\n"
    "         OR strpos(coalesce(l.external_e164, ''), $7::text) > 0)\n"
    "    AND ($8::bigint IS NULL OR (l.occurred_at, l.id) <\n"
    "         (timestamptz 'epoch' + $8::bigint * interval '1 microsecond', $9::bigint))\n"
    "  ORDER BY l.occurred_at DESC, l.id DESC\n"
    "  LIMIT $10::integer + 1)\n"
    "SELECT json_build_object(\n"
    "  'calls', coalesce((SELECT json_agg(json_build_object(\n"
    "      'id', p.id, 'occurred_at', p.occurred_at, 'direction', p.direction,\n"
    "      'duration_seconds', p.duration_seconds, 'billsec_seconds', p.billsec_seconds,\n"
    "      'disposition', p.disposition,\n"
    "      'answered', " ANSWERED_P ",\n"
    "      'extension', p.extension, 'external_number', p.external_number, 'did', p.did,\n"
    "      'customer_id', p.customer_id,\n"
    "      'customer_name', (SELECT to_jsonb(c) ->> 'name' FROM pbxbus_customers c\n"
    "                        WHERE c.customer_id = p.customer_id LIMIT 1),\n"
    "      'source', p.source, 'notes', p.notes, 'call_id', p.ext_message_id,\n"
    "      'originated_by', p.originated_by, 'queue', p.queue, 'withheld', p.withheld) ORDER BY "
    "p.n)\n"
    "    FROM page p WHERE p.n <= $10::integer), '[]'::json),\n"
    "  'next', (SELECT (extract(epoch FROM p.occurred_at) * 1000000)::bigint || '_' || p.id\n"
    "           FROM page p WHERE p.n = $10::integer AND EXISTS (SELECT 1 FROM page q WHERE q.n > "
    "$10::integer))\n"
    ")::text";

/* The time index (migration 3) finds the days' calls; the number index
 * (crm_comms_log_calls_number, migration 5) whether each was answered or
 * called back since. */
const char call_log_missed_sql[] =
    "WITH missed AS (\n"
    "  SELECT l.id, l.occurred_at, l.external_number, l.external_e164, l.did, l.customer_id,\n"
    "    l.duration_seconds, l.ext_message_id, l.raw ->> 'queue' AS queue,\n"
    "    coalesce(l.raw ->> 'withheld', '') = 'true' AS withheld\n"
    "  FROM crm_comms_log l\n"
    "  WHERE l.type = 'call' AND l.direction = 'inbound' AND NOT " ANSWERED_L "\n"
    "    AND l.source IS DISTINCT FROM 'manual'\n"
    "    AND l.occurred_at >= now() - $1::integer * interval '1 day'\n"
    "    AND NOT (l.external_e164 IS NOT NULL AND EXISTS (\n"
    "      SELECT 1 FROM crm_comms_log b\n"
    "      WHERE b.type = 'call' AND b.external_e164 = l.external_e164 AND b.occurred_at > l.occurred_at\n"
    "        AND (b.direction = 'outbound' OR (b.direction = 'inbound' AND " ANSWERED_B "))))\n"
    "),\n"
    "grouped AS (\n"
    "  SELECT coalesce(m.external_e164, CASE WHEN m.withheld THEN '' END, 'n:' || m.external_number, "
    "'') AS who,\n"
    "    count(*) AS calls, (array_agg(m.id ORDER BY m.occurred_at DESC, m.id DESC))[1] AS last_id\n"
    "  FROM missed m GROUP BY 1\n"
    "),\n"
    "page AS (\n"
    "  SELECT g.calls, m.* FROM grouped g JOIN missed m ON m.id = g.last_id\n"
    "  ORDER BY m.occurred_at DESC, m.id DESC LIMIT $2::integer\n"
    ")\n"
    "SELECT json_build_object(\n"
    "  'count', (SELECT count(*) FROM grouped),\n"
    "  'missed', coalesce((SELECT json_agg(json_build_object(\n"
    "      'number', CASE WHEN p.withheld THEN NULL ELSE p.external_number END,\n"
    "      'e164', CASE WHEN p.withheld THEN NULL ELSE p.external_e164 END, 'withheld', p.withheld,\n"
    "      'customer_id', p.customer_id,\n"
    "      'customer_name', (SELECT to_jsonb(c) ->> 'name' FROM pbxbus_customers c\n"
    "                        WHERE c.customer_id = p.customer_id LIMIT 1),\n"
    "      'calls', p.calls, 'last_at', p.occurred_at, 'did', p.did, 'queue', p.queue,\n"
    "      'waited_s', p.duration_seconds, 'call_id', p.ext_message_id)\n"
    "    ORDER BY p.occurred_at DESC, p.id DESC) FROM page p), '[]'::json)\n"
    ")::text";

/* to_jsonb: the name column is the integrator's to map (README); a view
 * without one gives null, not an error. */
const char call_log_customer_sql[] =
    "SELECT json_build_object('customer_id', c.customer_id, 'name', to_jsonb(c) ->> 'name',\n"
    "  'phones', (SELECT coalesce(json_agg(DISTINCT p.phone_e164), '[]') FROM pbxbus_customer_phones p\n"
    "             WHERE p.customer_id = c.customer_id))::text\n"
    "FROM pbxbus_customers c WHERE c.customer_id = $1::bigint LIMIT 1";

static int all_of(const char *s, const char *allowed, size_t min, size_t max)
{
	size_t n = strlen(s);
	return n >= min && n <= max && strspn(s, allowed) == n;
}

int call_log_customer_id_ok(const char *id)
{
	return id != NULL && all_of(id, "0123456789", 1, 18) && id[0] != '0' ? 0 : -1;
}

/* "2026-11-22" or an ISO 8601 UTC time, as PostgreSQL reads it. */
static int time_param(const char *s, char *out, size_t outsz)
{
	char t[40];

	if (strlen(s) == 10)
		snprintf(t, sizeof(t), "%sT00:00:00Z", s);
	else
		snprintf(t, sizeof(t), "%.39s", s);
	if (strlen(s) >= 32 || iso8601_parse_ms(t) < 0)
		return -1;
	snprintf(out, outsz, "%s", t);
	return 0;
}

static const char *key_params(const char *key, struct call_log_bufs *b)
{
	const char *us = key, *sep = strchr(key, '_');

	if (sep == NULL || (size_t)(sep - us) >= sizeof(b->key_us) || strlen(sep + 1) >= sizeof(b->key_id))
		return "before must be the \"next\" of the page before";
	memcpy(b->key_us, us, (size_t)(sep - us));
	b->key_us[sep - us] = '\0';
	snprintf(b->key_id, sizeof(b->key_id), "%s", sep + 1);
	if (!all_of(b->key_us, "-0123456789", 1, 20) || !all_of(b->key_id, "0123456789", 1, 19))
		return "before must be the \"next\" of the page before";
	return NULL;
}

static const char *whole_param(const char *s, long dflt, long max, char *out, size_t outsz, const char *bad)
{
	long n = dflt;

	if (s != NULL) {
		if (!all_of(s, "0123456789", 1, 3))
			return bad;
		n = strtol(s, NULL, 10);
	}
	if (n < 1 || n > max)
		return bad;
	snprintf(out, outsz, "%ld", n);
	return NULL;
}

static const char *limit_param(const char *s, struct call_log_bufs *b)
{
	return whole_param(s, CALL_LOG_LIMIT, CALL_LOG_LIMIT_MAX, b->limit, sizeof(b->limit),
	                   "limit must be a whole number from 1 to 200");
}

static int one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return 1;
	return 0;
}

const char *call_log_missed_params(const char *days, const char *limit, const char *p[MISSED_PARAMS],
                                   struct missed_bufs *b)
{
	const char *bad = whole_param(days, MISSED_DAYS, MISSED_DAYS_MAX, b->days, sizeof(b->days),
	                              "days must be a whole number from 1 to 90");
	if (bad == NULL)
		bad = whole_param(limit, CALL_LOG_LIMIT, CALL_LOG_LIMIT_MAX, b->limit, sizeof(b->limit),
		                  "limit must be a whole number from 1 to 200");
	p[0] = b->days;
	p[1] = b->limit;
	return bad;
}

const char *call_log_params(const struct call_log_filter *f, const char *p[CALL_LOG_PARAMS], struct call_log_bufs *b)
{
	static const char *const directions[] = {"inbound", "outbound", "internal", NULL};
	static const char *const answered[] = {"yes", "no", NULL};
	const char *bad;

	memset(p, 0, CALL_LOG_PARAMS * sizeof(*p));
	if (f->direction && !one_of(f->direction, directions))
		return "direction must be inbound, outbound or internal";
	p[0] = f->direction;
	if (f->answered && !one_of(f->answered, answered))
		return "answered must be yes or no";
	p[1] = f->answered ? (f->answered[0] == 'y' ? "true" : "false") : NULL;
	if (f->customer && call_log_customer_id_ok(f->customer) < 0)
		return "customer must be a customer id";
	p[2] = f->customer;
	if (f->extension &&
	    !all_of(f->extension, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.@+-*#", 1, 64))
		return "extension must be 1 to 64 letters, digits or _.@+-*#";
	p[3] = f->extension;
	if (f->from && time_param(f->from, b->from, sizeof(b->from)) < 0)
		return "from must be a date (2026-11-22) or an ISO 8601 UTC time";
	p[4] = f->from ? b->from : NULL;
	if (f->to && time_param(f->to, b->to, sizeof(b->to)) < 0)
		return "to must be a date (2026-11-22) or an ISO 8601 UTC time";
	p[5] = f->to ? b->to : NULL;
	if (f->number && (!all_of(f->number, "+0123456789", 1, 32) || strchr(f->number + 1, '+') != NULL))
		return "number must be digits (a leading + allowed)";
	p[6] = f->number;
	if (f->before && (bad = key_params(f->before, b)) != NULL)
		return bad;
	p[7] = f->before ? b->key_us : NULL;
	p[8] = f->before ? b->key_id : NULL;
	if ((bad = limit_param(f->limit, b)) != NULL)
		return bad;
	p[9] = b->limit;
	return NULL;
}
