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
