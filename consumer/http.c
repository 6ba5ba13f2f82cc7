#include "http.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bridge_fleet.h"
#include "clock.h"
#include "console.h"
#include "db.h"
#include "http_guard.h"
#include "http_reply.h"
#include "live_feed.h"
#include "live_match.h"
#include "log.h"
#include "manual_call.h"

#define HTTP_CONNECTIONS 64 /* a thread each: a request stuck in the database leaves the others served */
#define HTTP_PER_IP_LIMIT                                                                                              \
	32                          /* connections from one address (slow clients cannot take all; a proxy's           \
	                               16 live pages leave it 16 more) */
#define HTTP_REQUEST_DEADLINE 10000 /* ms from the first byte of a body to its last */
#define HEALTH_PROBE_EVERY    2000  /* ms a database probe is good for */
#define HEALTH_PROBE_TIMEOUT  2000  /* ms the database has to answer it */

struct http_server {
	struct MHD_Daemon *daemon;
	const struct consumer_settings *s;
	const struct consumer_metrics *m;
	pthread_mutex_t db_lock; /* db is one connection: one request uses it at a time */
	struct db db;
	pthread_mutex_t health_lock;
	int64_t health_at_ms;
	int health_db_ok;
	struct console console;
	struct live_feed *feed;
	struct dial_requests *dials; /* click-to-call's requests; NULL: off */
	struct bridge_fleet *fleet;  /* every site's bridge, for /metrics */
	struct live_match *match;    /* live calls' customers (the screen pop) */
	struct http_guard guard;     /* slow clients: the header deadline, waiting connections per address */
	int guard_started;
};

struct request {
	char body[HTTP_BODY_MAX + 1];
	size_t len;
	int too_big;
	int64_t started_ms;
};

/* The database lock, bounded: a request never queues behind a stuck one
 * for longer than the database is given. */
static int lock_db(struct http_server *h)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += DB_REQUEST_TIMEOUT_MS / 1000;
	return pthread_mutex_timedlock(&h->db_lock, &until) == 0 ? 0 : -1;
}

static int console_query(void *ctx, const char *sql, int n, const char *const *params, char **out, char *err,
                         size_t errsz, int *err_is_client)
{
	struct http_server *h = ctx;
	if (lock_db(h) < 0) {
		*err_is_client = 0;
		snprintf(err, errsz, "database busy");
		return -1;
	}
	int rc = db_query_text(&h->db, sql, n, params, out, err, errsz, err_is_client);
	pthread_mutex_unlock(&h->db_lock);
	return rc;
}

static enum MHD_Result manual_log(struct http_server *h, struct MHD_Connection *conn, struct request *rq)
{
	char err[512], out[64];
	int client;

	/* the token was checked before the body was read (refused_early) */
	if (rq->too_big)
		return http_reply_error(conn, 413, "body over 16 KiB");
	struct manual_call m;
	const char *bad = manual_call_parse(rq->body, rq->len, &m);
	if (bad != NULL)
		return http_reply_error(conn, MHD_HTTP_BAD_REQUEST, bad);
	if (lock_db(h) < 0) {
		manual_call_free(&m);
		return http_reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "database busy");
	}
	long long id =
	    db_manual_call(&h->db, m.customer_id, m.direction, m.duration, m.notes, m.when, err, sizeof(err), &client);
	pthread_mutex_unlock(&h->db_lock);
	manual_call_free(&m);
	if (id < 0) {
		if (!client)
			log_warnx("http: manual call log: %s", err);
		return http_reply_error(conn, client ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_SERVICE_UNAVAILABLE,
		                        client ? err : "database unavailable");
	}
	snprintf(out, sizeof(out), "{\"id\":%lld}", id);
	return http_reply(conn, MHD_HTTP_CREATED, "application/json", out);
}

/* Does the database answer now?  A probe at most every HEALTH_PROBE_EVERY
 * on the HTTP side's own connection; if a request holds that connection
 * for over a second, the database is slow: not answering either. */
static int db_answering(struct http_server *h)
{
	int64_t now = clock_mono_ms();
	int ok;

	pthread_mutex_lock(&h->health_lock);
	if (h->health_at_ms == 0 || now - h->health_at_ms >= HEALTH_PROBE_EVERY) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (pthread_mutex_timedlock(&h->db_lock, &until) == 0) {
			h->health_db_ok = db_ping(&h->db, HEALTH_PROBE_TIMEOUT) == 0;
			pthread_mutex_unlock(&h->db_lock);
		} else {
			h->health_db_ok = 0;
		}
		h->health_at_ms = clock_mono_ms();
	}
	ok = h->health_db_ok;
	pthread_mutex_unlock(&h->health_lock);
	return ok;
}

static enum MHD_Result healthz(struct http_server *h, struct MHD_Connection *conn)
{
	char out[128];
	int mq = atomic_load(&h->m->mqtt_up), db = atomic_load(&h->m->sinks[0].up); /* the database */
	int64_t since = atomic_load(&h->m->db_wait_since_ms);
	/* the consumer's own work waits on the database (a table locked, say):
	 * said as the database's, whatever MQTT looks like meanwhile */
	int stalled = since > 0 && clock_mono_ms() - since > DB_REQUEST_TIMEOUT_MS;
	int answering = db && !stalled && db_answering(h);
	const char *dbs = !db ? "disconnected" : stalled ? "stalled" : answering ? "connected" : "unresponsive";

	snprintf(out, sizeof(out), "{\"status\":\"%s\",\"mqtt\":\"%s\",\"db\":\"%s\"}",
	         mq && answering ? "ok" : "degraded", mq ? "connected" : "disconnected", dbs);
	return http_reply(conn, mq && answering ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", out);
}

/* The gauge of the sink named so, 0 when there is none. */
static int sink_up(const struct consumer_metrics *m, const char *name)
{
	for (size_t i = 0; i < m->nsinks; i++)
		if (strcmp(m->sinks[i].name, name) == 0)
			return atomic_load(&m->sinks[i].up);
	return 0;
}

/* Every sink's gauges, labelled by its name. */
static void sink_rows(const struct consumer_metrics *m, struct fleet_text *t)
{
	static const struct {
		const char *name, *type, *help;
	} kind[] = {{"sink_up", "gauge", "1 while the sink takes records"},
	            {"sink_reconnects_total", "counter", "the sink's reconnections (a file: its reopenings)"}};

	for (size_t k = 0; k < sizeof(kind) / sizeof(kind[0]); k++) {
		fleet_text_printf(t, "# HELP pbxbus_consumer_%s %s\n# TYPE pbxbus_consumer_%s %s\n", kind[k].name,
		                  kind[k].help, kind[k].name, kind[k].type);
		for (size_t i = 0; i < m->nsinks; i++) {
			double v = k == 0 ? (double)atomic_load(&m->sinks[i].up)
			                  : (double)atomic_load(&m->sinks[i].reconnects);
			fleet_text_printf(t, "pbxbus_consumer_%s{sink=\"%s\"} %g\n", kind[k].name, m->sinks[i].name, v);
		}
	}
}

/* "NO ANSWER" as a label value: "no_answer" (no space for the scripts
 * that split a line of the text format on blanks). */
static const char *label_word(const char *word, char *out, size_t size)
{
	size_t i = 0;

	for (; word[i] && i + 1 < size; i++)
		out[i] = word[i] == ' ' ? '_' : (char)(word[i] >= 'A' && word[i] <= 'Z' ? word[i] + 32 : word[i]);
	out[i] = '\0';
	return out;
}

/* The consumer's labelled families: calls by direction and disposition,
 * the lag histogram, dead letters by reason. */
/* The screen pop's customer lookups (live_match.h), by how they ended. */
static void live_match_rows(struct live_match *lm, struct fleet_text *t)
{
	struct live_match_counts c;

	live_match_counts(lm, &c);
	fleet_text_printf(t, "# HELP pbxbus_consumer_live_matches_total live calls' callers looked up for the screen "
	                     "pop, by result\n# TYPE pbxbus_consumer_live_matches_total counter\n");
	const struct {
		const char *result;
		uint64_t n;
	} rows[] = {{"matched", c.matched}, {"unmatched", c.unmatched}, {"failed", c.failed}, {"dropped", c.dropped}};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		fleet_text_printf(t, "pbxbus_consumer_live_matches_total{result=\"%s\"} %llu\n", rows[i].result,
		                  (unsigned long long)rows[i].n);
}

static void labelled_rows(const struct consumer_metrics *m, struct fleet_text *t)
{
	static const double bounds[LAG_BUCKETS] = LAG_BOUNDS_S;
	static const char *const reasons[DEAD_REASONS] = DEAD_REASON_NAMES;
	char disposition[16];

	fleet_text_printf(t,
	                  "# HELP pbxbus_consumer_calls_total rows inserted, by the call's direction and disposition\n"
	                  "# TYPE pbxbus_consumer_calls_total counter\n");
	for (int d = 0; d < CALL_DIRECTIONS; d++)
		for (int p = 0; p < CALL_DISPOSITIONS; p++)
			fleet_text_printf(t, "pbxbus_consumer_calls_total{direction=\"%s\",disposition=\"%s\"} %llu\n",
			                  call_record_directions[d],
			                  label_word(call_record_dispositions[p], disposition, sizeof(disposition)),
			                  (unsigned long long)atomic_load(&m->calls[d][p]));
	fleet_text_printf(t, "# HELP pbxbus_consumer_record_lag_seconds commit time minus the call's end, each row\n"
	                     "# TYPE pbxbus_consumer_record_lag_seconds histogram\n");
	for (int i = 0; i < LAG_BUCKETS; i++)
		fleet_text_printf(t, "pbxbus_consumer_record_lag_seconds_bucket{le=\"%g\"} %llu\n", bounds[i],
		                  (unsigned long long)atomic_load(&m->lag_le[i]));
	fleet_text_printf(
	    t,
	    "pbxbus_consumer_record_lag_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "pbxbus_consumer_record_lag_seconds_sum %.3f\npbxbus_consumer_record_lag_seconds_count %llu\n",
	    (unsigned long long)atomic_load(&m->lag_count), (double)atomic_load(&m->lag_sum_ms) / 1000.0,
	    (unsigned long long)atomic_load(&m->lag_count));
	fleet_text_printf(t,
	                  "# HELP pbxbus_consumer_dead_letters_by_reason_total dead letters kept, by what was wrong\n"
	                  "# TYPE pbxbus_consumer_dead_letters_by_reason_total counter\n");
	for (int r = 0; r < DEAD_REASONS; r++)
		fleet_text_printf(t, "pbxbus_consumer_dead_letters_by_reason_total{reason=\"%s\"} %llu\n", reasons[r],
		                  (unsigned long long)atomic_load(&m->dead_by_reason[r]));
}

static enum MHD_Result metrics(struct http_server *h, struct MHD_Connection *conn)
{
	const struct consumer_metrics *m = h->m;
	struct fleet_text t = {0};
	struct {
		const char *name, *type, *help;
		double v;
	} rows[] = {
	    {"messages_received_total", "counter", "call records received from MQTT", (double)m->received},
	    {"rows_inserted_total", "counter", "call log rows inserted", (double)m->inserted},
	    {"duplicates_skipped_total", "counter", "records already in the table", (double)m->duplicates},
	    {"dead_letters_total", "counter", "records kept in pbxbus_dead_letters", (double)m->dead_letters},
	    {"dead_letters_dropped_total", "counter", "dead letters past the rate: counted, not stored",
	     (double)m->dead_letters_dropped},
	    {"id_collisions_total", "counter", "ids already used by another call (never acknowledged)",
	     (double)m->collisions},
	    {"foreign_records_total", "counter", "records claiming another site's calls (never acknowledged)",
	     (double)m->foreign},
	    {"bad_times_total", "counter", "dead letters whose only fault is times that contradict each other",
	     (double)m->bad_times},
	    {"retained_ignored_total", "counter", "retained messages on call record topics, skipped",
	     (double)m->retained_ignored},
	    {"db_reconnects_total", "counter", "database reconnections", (double)m->sinks[0].reconnects},
	    {"acks_published_total", "counter", "end-to-end ack messages published", (double)m->acks_published},
	    {"dead_letters_trimmed_total", "counter", "oldest dead letters deleted past dead_letters_max_mb",
	     (double)m->dead_letters_trimmed},
	    {"records_deferred_total", "counter", "records past their site's rate, left to their bridge to send again",
	     (double)m->deferred},
	    {"spool_depth", "gauge", "records received and not yet committed", (double)m->pending},
	    {"last_record_lag_seconds", "gauge", "commit time minus the call's end, last record",
	     (double)m->last_lag_ms / 1000.0},
	    {"mqtt_connected", "gauge", "1 when connected to the broker", (double)m->mqtt_up},
	    {"db_connected", "gauge", "1 when connected to PostgreSQL", (double)m->sinks[0].up},
	    {"archive_ok", "gauge", "1 when the archive file takes records (0 when archive_file is not set)",
	     (double)sink_up(m, "archive")},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		fleet_text_printf(&t,
		                  "# HELP pbxbus_consumer_%s %s\n# TYPE pbxbus_consumer_%s %s\npbxbus_consumer_%s %g\n",
		                  rows[i].name, rows[i].help, rows[i].name, rows[i].type, rows[i].name, rows[i].v);
	sink_rows(m, &t);
	labelled_rows(m, &t);
	live_match_rows(h->match, &t);
	bridge_fleet_metrics(h->fleet, &t, clock_mono_ms(), clock_wall_ms());
	enum MHD_Result rc = t.failed || t.s == NULL
	                         ? http_reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory")
	                         : http_reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", t.s);
	free(t.s);
	return rc;
}

/* The first call of a POST, headers only: who asks and the declared
 * length are checked before a byte of the body is read. */
static int refused_early(struct http_server *h, struct MHD_Connection *conn, const char *url, enum MHD_Result *rc)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (strcmp(url, "/api/crm/calls/log") == 0) {
		if (h->s->http_token[0] == '\0') {
			*rc = http_reply_error(conn, MHD_HTTP_NOT_FOUND,
			                       "the manual call log is off (no http_token is set)");
			return 1;
		}
		if (!console_authorized(&h->console, conn, 1)) {
			*rc = http_reply_error(conn, MHD_HTTP_UNAUTHORIZED, "missing or wrong bearer token");
			return 1;
		}
	} else if (strcmp(url, "/api/calls/dial") == 0) {
		if (!console_authorized(&h->console, conn, 1)) {
			*rc = http_reply_error(conn, MHD_HTTP_UNAUTHORIZED, "log in, or send the bearer token");
			return 1;
		}
	} else if (strcmp(url, "/api/login") != 0 && strcmp(url, "/api/logout") != 0) {
		*rc = http_reply_error(conn, MHD_HTTP_NOT_FOUND, "not found");
		return 1;
	}
	if (cl != NULL && (strlen(cl) > 9 || strtoul(cl, NULL, 10) > HTTP_BODY_MAX)) {
		*rc = http_reply_error(conn, 413, "body over 16 KiB");
		return 1;
	}
	return 0;
}

/* A POST's body, a piece at a time; 1 while more is to come. */
static int take_body(struct request *rq, const char *upload, size_t *upload_size)
{
	if (*upload_size == 0)
		return 0;
	if (rq->len + *upload_size > HTTP_BODY_MAX)
		rq->too_big = 1;
	else
		memcpy(rq->body + rq->len, upload, *upload_size);
	if (!rq->too_big)
		rq->len += *upload_size;
	*upload_size = 0;
	return 1;
}

static enum MHD_Result post(struct http_server *h, struct MHD_Connection *conn, const char *url, struct request *rq)
{
	int handled;

	if (strcmp(url, "/api/crm/calls/log") == 0)
		return manual_log(h, conn, rq);
	if (rq->too_big)
		return http_reply_error(conn, 413, "body over 16 KiB");
	rq->body[rq->len] = '\0';
	enum MHD_Result rc = console_post(&h->console, conn, url, rq->body, rq->len, &handled);
	explicit_bzero(rq->body, rq->len); /* a login's token */
	return handled ? rc : http_reply_error(conn, MHD_HTTP_NOT_FOUND, "not found");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct http_server *h = cls;
	int handled;
	(void)version;

	http_guard_request_begins(&h->guard, conn);
	if (strcmp(method, "POST") == 0) {
		struct request *rq = *state;
		if (rq == NULL) {
			enum MHD_Result early;
			if (refused_early(h, conn, url, &early))
				return early;
			if ((rq = calloc(1, sizeof(*rq))) == NULL)
				return MHD_NO;
			rq->started_ms = clock_mono_ms();
			*state = rq;
			return MHD_YES;
		}
		if (*upload_size > 0 && clock_mono_ms() - rq->started_ms > HTTP_REQUEST_DEADLINE)
			return MHD_NO; /* a body dribbled in: the connection is closed */
		if (take_body(rq, upload, upload_size))
			return MHD_YES;
		return post(h, conn, url, rq);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return http_reply_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET or POST");
	if (strcmp(url, "/healthz") == 0)
		return healthz(h, conn);
	if (strcmp(url, "/metrics") == 0)
		return metrics(h, conn);
	enum MHD_Result rc = console_get(&h->console, conn, url, &handled);
	return handled ? rc : http_reply_error(conn, MHD_HTTP_NOT_FOUND, "not found");
}

static void completed(void *cls, struct MHD_Connection *conn, void **state, enum MHD_RequestTerminationCode code)
{
	struct http_server *h = cls;

	(void)code;
	http_guard_request_ends(&h->guard, conn);
	if (*state != NULL)
		explicit_bzero(*state, sizeof(struct request));
	free(*state);
	*state = NULL;
}

struct http_server *http_start(const struct consumer_settings *s, const struct consumer_metrics *m, char *err,
                               size_t errsz)
{
	struct sockaddr_in addr = {0};
	const char *host = s->http_host;

	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)s->http_port);
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
		snprintf(err, errsz, "http_listen: '%s' is not an IPv4 address", s->http_host);
		return NULL;
	}
	struct http_server *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->s = s;
	h->m = m;
	db_init(&h->db, s->db_conninfo, s->db_password[0] ? s->db_password : NULL, s->suffix_digits);
	h->db.statement_timeout_ms = DB_REQUEST_TIMEOUT_MS;
	pthread_mutex_init(&h->db_lock, NULL);
	pthread_mutex_init(&h->health_lock, NULL);
	console_init(&h->console);
	h->console.token = s->http_token;
	h->console.trusted_proxy = s->http_trusted_proxy;
	h->console.query = console_query;
	h->console.query_ctx = h;
	h->console.dial.sites = (struct dial_sites){s->subs, s->nsubs, &s->plan};
	h->console.dial.trusted_proxy = s->http_trusted_proxy;
	if (s->dial_enabled && (h->dials = h->console.dial.dials = dial_requests_new()) == NULL) {
		snprintf(err, errsz, "http: out of memory");
		http_stop(h);
		return NULL;
	}
	if ((h->fleet = bridge_fleet_new()) == NULL || (h->match = live_match_new(s)) == NULL ||
	    (h->console.store = live_store_new(live_match_ask, h->match)) == NULL) {
		snprintf(err, errsz, "http: out of memory");
		http_stop(h);
		return NULL;
	}
	if (live_match_start(h->match, h->console.store, err, errsz) < 0 ||
	    (h->feed = live_feed_start(s, h->console.store, h->dials, h->fleet, &m->inserted, err, errsz)) == NULL) {
		http_stop(h);
		return NULL;
	}
	if (http_guard_start(&h->guard, s->http_trusted_proxy) < 0) {
		snprintf(err, errsz, "http: cannot start the listener's guard thread");
		http_stop(h);
		return NULL;
	}
	h->guard_started = 1;
	h->daemon = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, http_guard_accept, &h->guard, handle, h,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, completed, h,
	    MHD_OPTION_NOTIFY_CONNECTION, http_guard_notify, &h->guard, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)HTTP_PER_IP_LIMIT, MHD_OPTION_END);
	if (h->daemon == NULL) {
		snprintf(err, errsz, "http_listen: cannot listen on %s:%d", s->http_host, s->http_port);
		http_stop(h);
		return NULL;
	}
	log_info("http: listening on %s:%d", s->http_host, s->http_port);
	return h;
}

void http_stop(struct http_server *h)
{
	if (h == NULL)
		return;
	if (h->console.store)
		live_store_close(h->console.store); /* live streams end, their threads return */
	if (h->daemon)
		MHD_stop_daemon(h->daemon);
	if (h->guard_started)
		http_guard_stop(&h->guard);
	live_feed_stop(h->feed);
	live_match_stop(h->match); /* after the feed: it asks, the store is told */
	dial_requests_free(h->dials);
	bridge_fleet_free(h->fleet);
	live_store_free(h->console.store);
	console_free(&h->console);
	db_close(&h->db);
	pthread_mutex_destroy(&h->db_lock);
	pthread_mutex_destroy(&h->health_lock);
	free(h);
}
