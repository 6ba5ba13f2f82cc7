/*
 * Customers found by name or number for the console's search box:
 * GET /api/customers?q=...  A text with letters is looked for in the
 * name (case-insensitive, anywhere in it); one of digits (and + - ( ) .
 * and spaces) in the numbers, anywhere in their E.164.  From the
 * integrator's views (pbxbus_customers with its name column,
 * pbxbus_customer_phones), ordered by name then id, CUSTOMER_SEARCH_LIMIT
 * at most, paged by a key (the last customer's id); on the standalone
 * crm_customers the trigram indexes of migration 5 answer it
 * (docs/console.md, "Customer search").
 */
#ifndef PBXBUS_CUSTOMER_SEARCH_H
#define PBXBUS_CUSTOMER_SEARCH_H

#define CUSTOMER_SEARCH_PARAMS 4
#define CUSTOMER_SEARCH_LIMIT  20
#define CUSTOMER_SEARCH_MIN    3  /* characters (digits for a number): fewer match too much to page well */
#define CUSTOMER_SEARCH_MAX    64 /* bytes */

/* {"customers": [{"customer_id", "name", "phones": [...]}], "next": "<id>" or null} */
extern const char customer_search_sql[];

struct customer_search_bufs {
	char name[CUSTOMER_SEARCH_MAX * 2 + 3]; /* %...% with LIKE's own characters escaped */
	char digits[CUSTOMER_SEARCH_MAX + 3];
};

/*
 * Checks q and after (NULL: the first page) and fills the query's
 * parameters; NULL when fine, else what is wrong, for a 400.
 */
const char *customer_search_params(const char *q, const char *after, const char *p[CUSTOMER_SEARCH_PARAMS],
                                   struct customer_search_bufs *b);

#endif
