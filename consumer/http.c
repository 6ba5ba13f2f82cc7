#include "http.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "manual_call.h"

#define HTTP_THREADS          4     /* a request stuck in the database leaves the others served */
#define HTTP_PER_IP_LIMIT     8     /* connections from one address (slow clients cannot take all) */
#define HTTP_REQUEST_DEADLINE 10000 /* ms from the first byte of a body to its last */
#define HEALTH_PROBE_EVERY    2000  /* ms a database probe is good for */
#define HEALTH_PROBE_TIMEOUT  2000  /* ms the database has to answer it */

struct http_server {
	struct MHD_Daemon *daemon;
	struct consumer *c;
	pthread_mutex_t db_lock; /* db is one connection: one request uses it at a time */
	struct db db;
	pthread_mutex_t health_lock;
	int64_t health_at_ms;
	int health_db_ok;
};

struct request {
	char body[HTTP_BODY_MAX + 1];
	size_t len;
	int too_big;
	int64_t started_ms;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned status, const char *key, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, key, msg);
	char *text = cJSON_PrintUnformatted(o);
	enum MHD_Result rc = reply(conn, status, "application/json", text ? text : "{}");
	cJSON_free(text);
	cJSON_Delete(o);
	return rc;
}

/* Constant time: the token must not leak through timing. */
static int token_ok(const char *header, const char *token)
{
	static const char bearer[] = "Bearer ";
	size_t tl = strlen(token);
	unsigned char diff = 0;

	if (header == NULL || strncmp(header, bearer, sizeof(bearer) - 1) != 0)
		return 0;
	header += sizeof(bearer) - 1;
	if (strlen(header) != tl)
		return 0;
	for (size_t i = 0; i < tl; i++)
		diff |= (unsigned char)(header[i] ^ token[i]);
	return diff == 0;
}

static enum MHD_Result manual_log(struct http_server *h, struct MHD_Connection *conn, struct request *rq)
{
	char err[512], out[64];
	int client;

	/* the token was checked before the body was read (refused_early) */
	if (rq->too_big)
		return reply_json(conn, 413, "error", "body over 16 KiB");
	struct manual_call m;
	const char *bad = manual_call_parse(rq->body, rq->len, &m);
	if (bad != NULL)
		return reply_json(conn, MHD_HTTP_BAD_REQUEST, "error", bad);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += DB_REQUEST_TIMEOUT_MS / 1000;
	if (pthread_mutex_timedlock(&h->db_lock, &until) != 0) {
		manual_call_free(&m);
		return reply_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "error", "database busy");
	}
	long long id =
	    db_manual_call(&h->db, m.customer_id, m.direction, m.duration, m.notes, m.when, err, sizeof(err), &client);
	pthread_mutex_unlock(&h->db_lock);
	manual_call_free(&m);
	if (id < 0) {
		if (!client)
			log_warnx("http: manual call log: %s", err);
		return reply_json(conn, client ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_SERVICE_UNAVAILABLE, "error",
		                  client ? err : "database unavailable");
	}
	snprintf(out, sizeof(out), "{\"id\":%lld}", id);
	return reply(conn, MHD_HTTP_CREATED, "application/json", out);
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
	int mq = atomic_load(&h->c->m.mqtt_up), db = atomic_load(&h->c->m.db_up);
	int answering = db && db_answering(h);
	const char *dbs = !db ? "disconnected" : answering ? "connected" : "unresponsive";

	snprintf(out, sizeof(out), "{\"status\":\"%s\",\"mqtt\":\"%s\",\"db\":\"%s\"}",
	         mq && answering ? "ok" : "degraded", mq ? "connected" : "disconnected", dbs);
	return reply(conn, mq && answering ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", out);
}

static enum MHD_Result metrics(struct http_server *h, struct MHD_Connection *conn)
{
	const struct consumer_metrics *m = &h->c->m;
	char out[8192];
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
	    {"db_reconnects_total", "counter", "database reconnections", (double)m->db_reconnects},
	    {"acks_published_total", "counter", "end-to-end ack messages published", (double)m->acks_published},
	    {"spool_depth", "gauge", "records received and not yet committed", (double)m->pending},
	    {"last_record_lag_seconds", "gauge", "commit time minus the call's end, last record",
	     (double)m->last_lag_ms / 1000.0},
	    {"mqtt_connected", "gauge", "1 when connected to the broker", (double)m->mqtt_up},
	    {"db_connected", "gauge", "1 when connected to PostgreSQL", (double)m->db_up},
	};
	size_t n = 0;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]) && n < sizeof(out); i++)
		n += (size_t)snprintf(
		    out + n, sizeof(out) - n,
		    "# HELP pbxbus_consumer_%s %s\n# TYPE pbxbus_consumer_%s %s\npbxbus_consumer_%s %g\n", rows[i].name,
		    rows[i].help, rows[i].name, rows[i].type, rows[i].name, rows[i].v);
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", out);
}

/* The first call of a POST, headers only: the token and the declared
 * length are checked before a byte of the body is read. */
static int refused_early(struct http_server *h, struct MHD_Connection *conn, enum MHD_Result *rc)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (h->c->s->http_token[0] == '\0') {
		*rc =
		    reply_json(conn, MHD_HTTP_NOT_FOUND, "error", "the manual call log is off (no http_token is set)");
		return 1;
	}
	if (!token_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"), h->c->s->http_token)) {
		*rc = reply_json(conn, MHD_HTTP_UNAUTHORIZED, "error", "missing or wrong bearer token");
		return 1;
	}
	if (cl != NULL && (strlen(cl) > 9 || strtoul(cl, NULL, 10) > HTTP_BODY_MAX)) {
		*rc = reply_json(conn, 413, "error", "body over 16 KiB");
		return 1;
	}
	return 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct http_server *h = cls;
	(void)version;

	if (strcmp(method, "POST") == 0 && strcmp(url, "/api/crm/calls/log") == 0) {
		struct request *rq = *state;
		if (rq == NULL) {
			/* Before any of the body is read: who asks, and how much. */
			enum MHD_Result early;
			if (refused_early(h, conn, &early))
				return early;
			if ((rq = calloc(1, sizeof(*rq))) == NULL)
				return MHD_NO;
			rq->started_ms = clock_mono_ms();
			*state = rq;
			return MHD_YES;
		}
		if (*upload_size > 0 && clock_mono_ms() - rq->started_ms > HTTP_REQUEST_DEADLINE)
			return MHD_NO; /* a body dribbled in: the connection is closed */
		if (*upload_size > 0) {
			if (rq->len + *upload_size > HTTP_BODY_MAX)
				rq->too_big = 1;
			else
				memcpy(rq->body + rq->len, upload, *upload_size);
			if (!rq->too_big)
				rq->len += *upload_size;
			*upload_size = 0;
			return MHD_YES;
		}
		return manual_log(h, conn, rq);
	}
	if (strcmp(method, "GET") == 0 && strcmp(url, "/healthz") == 0)
		return healthz(h, conn);
	if (strcmp(method, "GET") == 0 && strcmp(url, "/metrics") == 0)
		return metrics(h, conn);
	return reply_json(conn, MHD_HTTP_NOT_FOUND, "error", "not found");
}

static void completed(void *cls, struct MHD_Connection *conn, void **state, enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)conn;
	(void)code;
	free(*state);
	*state = NULL;
}

struct http_server *http_start(struct consumer *c, char *err, size_t errsz)
{
	struct sockaddr_in addr = {0};
	const char *host = c->s->http_host;

	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)c->s->http_port);
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
		snprintf(err, errsz, "http_listen: '%s' is not an IPv4 address", c->s->http_host);
		return NULL;
	}
	struct http_server *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->c = c;
	db_init(&h->db, c->s->db_conninfo, c->s->db_password[0] ? c->s->db_password : NULL, c->s->suffix_digits);
	h->db.statement_timeout_ms = DB_REQUEST_TIMEOUT_MS;
	pthread_mutex_init(&h->db_lock, NULL);
	pthread_mutex_init(&h->health_lock, NULL);
	h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR,
	                             (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_CONNECTION_LIMIT,
	                             (unsigned)64, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_PER_IP_LIMIT,
	                             MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS, MHD_OPTION_END);
	if (h->daemon == NULL) {
		snprintf(err, errsz, "http_listen: cannot listen on %s:%d", c->s->http_host, c->s->http_port);
		pthread_mutex_destroy(&h->db_lock);
		pthread_mutex_destroy(&h->health_lock);
		free(h);
		return NULL;
	}
	log_info("http: listening on %s:%d", c->s->http_host, c->s->http_port);
	return h;
}

void http_stop(struct http_server *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->daemon);
	db_close(&h->db);
	pthread_mutex_destroy(&h->db_lock);
	pthread_mutex_destroy(&h->health_lock);
	free(h);
}
