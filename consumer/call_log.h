/*
 * The console's reads of the call log: a page of calls (type "call" in
 * crm_comms_log), newest first, filtered by the server and paged by a key
 * (the last row's time and id), never an offset, so a page deep in the
 * past costs what the first one does; and one customer.  PostgreSQL
 * builds the JSON; this file checks the filter and names the parameters.
 */
#ifndef PBXBUS_CALL_LOG_H
#define PBXBUS_CALL_LOG_H

#define CALL_LOG_PARAMS    10
#define CALL_LOG_LIMIT_MAX 200
#define CALL_LOG_LIMIT     50

struct call_log_filter {
	const char *direction; /* inbound, outbound, internal */
	const char *answered;  /* yes, no */
	const char *customer;  /* a customer id */
	const char *extension;
	const char *from, *to; /* ISO 8601 UTC times or dates; to is exclusive */
	const char *number;    /* digits (and a leading +) found in the caller's or callee's number */
	const char *before;    /* the "next" key of the page before */
	const char *limit;     /* 1..CALL_LOG_LIMIT_MAX */
};

/* { "calls": [...], "next": "<key>" or null } */
extern const char call_log_page_sql[];
/* { "customer_id": N, "name": "..." or null }, no row when unknown */
extern const char call_log_customer_sql[];

/*
 * Missed calls to call back: inbound calls no person answered (not logged
 * by hand) in the last $1 days, left out once the same number (E.164) was
 * later answered or called (any outbound call), grouped by number (calls
 * whose number was withheld are one group), newest first, $2 groups:
 * { "count": N groups in all, "missed": [{ "number", "e164", "withheld",
 *   "customer_id", "customer_name", "calls", "last_at", "did", "queue",
 *   "waited_s", "call_id" } ...] }, each group's fields those of its
 * newest call.
 */
#define MISSED_PARAMS   2
#define MISSED_DAYS     7
#define MISSED_DAYS_MAX 90
extern const char call_log_missed_sql[];
struct missed_bufs {
	char days[8], limit[8];
};
const char *call_log_missed_params(const char *days, const char *limit, const char *p[MISSED_PARAMS],
                                   struct missed_bufs *b);

/*
 * Checks the filter and fills the page query's parameters (NULL: not
 * filtered); bufs holds the converted ones.  NULL when fine, else what is
 * wrong, for a 400.
 */
struct call_log_bufs {
	char from[40], to[40], key_us[24], key_id[24], limit[8];
};
const char *call_log_params(const struct call_log_filter *f, const char *p[CALL_LOG_PARAMS], struct call_log_bufs *b);

/* A customer id as the database takes it; -1 when it is not one. */
int call_log_customer_id_ok(const char *id);

#endif
