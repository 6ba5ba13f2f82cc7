#include "customer_search.h"

#include <string.h>

#include "call_log.h"
#include "utf8.h"

/* $1 the name's LIKE pattern or $2 the digits' (one of them), $3 the key
 * (customer id) after which the page starts, $4 the limit.  The name is
 * read as c.name (not to_jsonb(c) ->> 'name', as elsewhere) so that an
 * index on lower(name) serves it; a view without the column says so. */
const char customer_search_sql[] =
    /* the ids first, each way on its own index (an IN under an OR would be
     * a filter over every customer), then the names in order */
    "WITH ids AS (\n"
    "  SELECT c.customer_id FROM pbxbus_customers c WHERE $1::text IS NOT NULL AND lower(c.name) LIKE $1::text\n"
    "  UNION\n"
    "  SELECT p.customer_id FROM pbxbus_customer_phones p WHERE $2::text IS NOT NULL AND p.phone_e164 LIKE $2::text),\n"
    "found AS (\n"
    "  SELECT c.customer_id, c.name::text AS name FROM ids JOIN pbxbus_customers c ON c.customer_id = ids.customer_id\n"
    "  WHERE $3::bigint IS NULL OR (lower(c.name), c.customer_id) >\n"
    "        (SELECT lower(k.name), k.customer_id FROM pbxbus_customers k WHERE k.customer_id = $3::bigint)\n"
    "  ORDER BY lower(c.name), c.customer_id\n"
    "  LIMIT $4::integer + 1),\n"
    "page AS (SELECT f.*, row_number() OVER (ORDER BY lower(f.name), f.customer_id) AS n FROM found f)\n"
    "SELECT json_build_object(\n"
    "  'customers', coalesce((SELECT json_agg(json_build_object('customer_id', p.customer_id, 'name', p.name,\n"
    "      'phones', (SELECT coalesce(json_agg(DISTINCT ph.phone_e164), '[]') FROM pbxbus_customer_phones ph\n"
    "                 WHERE ph.customer_id = p.customer_id)) ORDER BY p.n)\n"
    "    FROM page p WHERE p.n <= $4::integer), '[]'::json),\n"
    "  'next', (SELECT p.customer_id::text FROM page p\n"
    "           WHERE p.n = $4::integer AND EXISTS (SELECT 1 FROM page q WHERE q.n > $4::integer))\n"
    ")::text";

#define LIMIT_TEXT "20"

/* A number as typed (digits, + - ( ) . and spaces, enough digits): its
 * digits as the LIKE pattern %digits% in out. */
static int number_pattern(const char *q, char *out, size_t outsz)
{
	size_t n = 0;

	if (strspn(q, "0123456789+-(). ") != strlen(q))
		return 0;
	out[n++] = '%';
	for (; *q; q++)
		if (*q >= '0' && *q <= '9' && n + 2 < outsz)
			out[n++] = *q;
	out[n++] = '%';
	out[n] = '\0';
	return n - 2 >= CUSTOMER_SEARCH_MIN;
}

/* %q% with q lowered (ASCII; PostgreSQL's lower() takes the rest) and
 * LIKE's own characters taken literally. */
static void name_pattern(const char *q, char *out)
{
	size_t n = 0;

	out[n++] = '%';
	for (; *q; q++) {
		if (*q == '%' || *q == '_' || *q == '\\')
			out[n++] = '\\';
		out[n++] = *q >= 'A' && *q <= 'Z' ? (char)(*q - 'A' + 'a') : *q;
	}
	out[n++] = '%';
	out[n] = '\0';
}

/* A name's part: valid UTF-8 with no control character, of at least
 * CUSTOMER_SEARCH_MIN characters that are not all spaces. */
static int name_like(const char *q, size_t len)
{
	size_t chars = 0;

	if (!utf8_valid(q, len) || strspn(q, " ") == len)
		return 0;
	for (const unsigned char *u = (const unsigned char *)q; *u; u++) {
		if (*u < 0x20 || *u == 0x7f)
			return 0;
		chars += (*u & 0xC0) != 0x80;
	}
	return chars >= CUSTOMER_SEARCH_MIN;
}

const char *customer_search_params(const char *q, const char *after, const char *p[CUSTOMER_SEARCH_PARAMS],
                                   struct customer_search_bufs *b)
{
	static const char bad_q[] = "q must be 3 to 64 characters of a name, or 3 or more digits of a number";
	size_t len = q ? strlen(q) : 0;

	memset(p, 0, CUSTOMER_SEARCH_PARAMS * sizeof(*p));
	if (q == NULL || len > CUSTOMER_SEARCH_MAX)
		return bad_q;
	if (number_pattern(q, b->digits, sizeof(b->digits))) {
		p[1] = b->digits;
	} else if (name_like(q, len)) {
		name_pattern(q, b->name);
		p[0] = b->name;
	} else {
		return bad_q;
	}
	if (after != NULL && call_log_customer_id_ok(after) < 0)
		return "after must be the \"next\" of the page before";
	p[2] = after;
	p[3] = LIMIT_TEXT;
	return NULL;
}
