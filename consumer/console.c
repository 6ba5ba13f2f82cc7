#include "console.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call_log.h"
#include "client_address.h"
#include "clock.h"
#include "console_assets.h"
#include "customer_search.h"
#include "http_reply.h"
#include "log.h"

#define STREAM_KEEPALIVE_MS 5000 /* a comment line this often keeps proxies and the listener's timeout away */

static const char *header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

int console_authorized(struct console *co, struct MHD_Connection *conn, int is_post)
{
	static const char bearer[] = "Bearer ";
	const char *auth = header(conn, "Authorization");

	if (co->token == NULL || co->token[0] == '\0')
		return 0;
	if (auth != NULL && strncmp(auth, bearer, sizeof(bearer) - 1) == 0)
		return console_token_equal(auth + sizeof(bearer) - 1, co->token);
	if (!console_session_valid(&co->sessions, header(conn, "Cookie"), clock_mono_ms()))
		return 0;
	/* A cookie goes with any request to us; a JSON body needs a script
	 * of our own origin (another site's form cannot send one). */
	const char *type = header(conn, "Content-Type");
	return !is_post || (type != NULL && strncmp(type, "application/json", 16) == 0);
}

static enum MHD_Result redirect_to_login(struct MHD_Connection *conn)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (r != NULL)
		MHD_add_response_header(r, "Location", "/login");
	return http_queue(conn, MHD_HTTP_SEE_OTHER, r);
}

static enum MHD_Result asset(struct console *co, struct MHD_Connection *conn, const struct console_asset *a)
{
	if (a->page && strcmp(a->url, "/login") != 0 && !console_authorized(co, conn, 0))
		return redirect_to_login(conn);
	struct MHD_Response *r = MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
	if (r != NULL)
		MHD_add_response_header(r, "Content-Type", a->type);
	return http_queue(conn, MHD_HTTP_OK, r);
}

static const char *arg(struct MHD_Connection *conn, const char *name)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
	return v && *v ? v : NULL; /* an empty form field filters nothing */
}

static enum MHD_Result query_reply(struct console *co, struct MHD_Connection *conn, const char *sql, int n,
                                   const char *const *p, const char *none)
{
	char err[512], *out = NULL;
	int client = 0;

	if (co->query(co->query_ctx, sql, n, p, &out, err, sizeof(err), &client) < 0) {
		if (!client)
			log_warnx("http: console query: %s", err);
		return http_reply_error(conn, client ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_SERVICE_UNAVAILABLE,
		                        client ? err : "database unavailable");
	}
	if (out == NULL)
		return http_reply_error(conn, MHD_HTTP_NOT_FOUND, none);
	return http_reply_owned_json(conn, MHD_HTTP_OK, out);
}

/* A page read with parameters the caller checked: bad (what is wrong)
 * is a 400, else the query's answer. */
static enum MHD_Result page_reply(struct console *co, struct MHD_Connection *conn, const char *bad, const char *sql,
                                  int n, const char *const *p)
{
	if (bad != NULL)
		return http_reply_error(conn, MHD_HTTP_BAD_REQUEST, bad);
	return query_reply(co, conn, sql, n, p, "no page");
}

static enum MHD_Result calls_page(struct console *co, struct MHD_Connection *conn)
{
	struct call_log_filter f = {arg(conn, "direction"), arg(conn, "answered"), arg(conn, "customer"),
	                            arg(conn, "extension"), arg(conn, "from"),     arg(conn, "to"),
	                            arg(conn, "number"),    arg(conn, "before"),   arg(conn, "limit")};
	const char *p[CALL_LOG_PARAMS];
	struct call_log_bufs b;
	const char *bad = call_log_params(&f, p, &b);

	return page_reply(co, conn, bad, call_log_page_sql, CALL_LOG_PARAMS, p);
}

static enum MHD_Result missed_calls(struct console *co, struct MHD_Connection *conn)
{
	const char *p[MISSED_PARAMS];
	struct missed_bufs b;
	const char *bad = call_log_missed_params(arg(conn, "days"), arg(conn, "limit"), p, &b);

	return page_reply(co, conn, bad, call_log_missed_sql, MISSED_PARAMS, p);
}

static enum MHD_Result customer_search(struct console *co, struct MHD_Connection *conn)
{
	const char *p[CUSTOMER_SEARCH_PARAMS];
	struct customer_search_bufs b;
	const char *bad = customer_search_params(arg(conn, "q"), arg(conn, "after"), p, &b);

	return page_reply(co, conn, bad, customer_search_sql, CUSTOMER_SEARCH_PARAMS, p);
}

static enum MHD_Result customer(struct console *co, struct MHD_Connection *conn, const char *id)
{
	if (call_log_customer_id_ok(id) < 0)
		return http_reply_error(conn, MHD_HTTP_NOT_FOUND, "no such customer");
	const char *p[1] = {id};
	return query_reply(co, conn, call_log_customer_sql, 1, p, "no such customer");
}

void console_init(struct console *co)
{
	memset(co, 0, sizeof(*co));
	console_sessions_init(&co->sessions);
	pthread_mutex_init(&co->live_lock, NULL);
}

void console_free(struct console *co)
{
	console_sessions_free(&co->sessions);
	pthread_mutex_destroy(&co->live_lock);
}

/*
 * A place among the readers of the live picture (streams and /api/live):
 * CONSOLE_STREAMS_MAX in all, CONSOLE_STREAMS_PER_CLIENT for one client,
 * so that one client (or everybody behind one proxy, without
 * http_trusted_proxy) cannot take them all (audit-3 N7, N8).  0 taken,
 * -1 none free; given back with live_leave.
 */
static int live_enter(struct console *co, const char *client)
{
	struct live_reader *mine = NULL, *free_slot = NULL;
	int rc = -1;

	pthread_mutex_lock(&co->live_lock);
	for (int i = 0; i < CONSOLE_STREAMS_MAX; i++) {
		struct live_reader *r = &co->live_readers[i];
		if (r->n > 0 && strcmp(r->client, client) == 0)
			mine = r;
		else if (r->n == 0 && free_slot == NULL)
			free_slot = r;
	}
	if (co->live_total < CONSOLE_STREAMS_MAX && (mine ? mine->n < CONSOLE_STREAMS_PER_CLIENT : free_slot != NULL)) {
		if (mine == NULL) {
			mine = free_slot;
			snprintf(mine->client, sizeof(mine->client), "%s", client);
		}
		mine->n++;
		co->live_total++;
		rc = 0;
	}
	pthread_mutex_unlock(&co->live_lock);
	return rc;
}

static void live_leave(struct console *co, const char *client)
{
	pthread_mutex_lock(&co->live_lock);
	for (int i = 0; i < CONSOLE_STREAMS_MAX; i++) {
		struct live_reader *r = &co->live_readers[i];
		if (r->n > 0 && strcmp(r->client, client) == 0) {
			r->n--;
			co->live_total--;
			break;
		}
	}
	pthread_mutex_unlock(&co->live_lock);
}

/* One reader of the live picture: the text it is sending (shared with the
 * other readers when it is the whole picture), as an SSE event or a plain
 * JSON answer, and how far it got. */
struct reader {
	struct console *co;
	char client[CLIENT_ADDRESS_MAX];
	uint64_t version;
	int sse;                /* a stream: "data: <text>\n\n" events, and keepalives */
	struct live_text *text; /* NULL: a keepalive comment */
	size_t off;             /* into the event as sent */
};

static const char sse_head[] = "data: ", sse_tail[] = "\n\n", keepalive[] = ": keepalive\n\n";

/* The event's bytes from off, in its three parts (none copied whole). */
static size_t event_bytes(const struct reader *r, size_t off, char *buf, size_t max)
{
	const char *part[3];
	size_t len[3], n = 0;

	if (r->text == NULL) {
		part[0] = keepalive, len[0] = sizeof(keepalive) - 1;
		len[1] = len[2] = 0;
		part[1] = part[2] = "";
	} else {
		part[0] = r->sse ? sse_head : "", len[0] = r->sse ? sizeof(sse_head) - 1 : 0;
		part[1] = r->text->s, len[1] = r->text->len;
		part[2] = r->sse ? sse_tail : "", len[2] = r->sse ? sizeof(sse_tail) - 1 : 0;
	}
	for (int i = 0; i < 3 && n < max; i++) {
		if (off >= len[i]) {
			off -= len[i];
			continue;
		}
		size_t k = len[i] - off < max - n ? len[i] - off : max - n;
		memcpy(buf + n, part[i] + off, k);
		n += k;
		off = 0;
	}
	return n;
}

static int next_event(struct reader *r)
{
	live_text_put(r->text);
	r->text = live_store_changes(r->co->store, &r->version, STREAM_KEEPALIVE_MS);
	r->off = 0;
	return live_store_closed(r->co->store) ? -1 : 0;
}

static ssize_t reader_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct reader *r = cls;
	(void)pos;

	size_t n = event_bytes(r, r->off, buf, max);
	if (n == 0 && !r->sse)
		return MHD_CONTENT_READER_END_OF_STREAM; /* the one answer is sent */
	if (n == 0) {
		if (next_event(r) < 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		n = event_bytes(r, 0, buf, max);
	}
	r->off += n;
	return (ssize_t)n;
}

static void reader_free(void *cls)
{
	struct reader *r = cls;
	live_leave(r->co, r->client);
	live_text_put(r->text);
	free(r);
}

/* /api/live (the picture, one JSON answer) or /api/live/stream (SSE). */
static enum MHD_Result live_reply(struct console *co, struct MHD_Connection *conn, int sse)
{
	char client[CLIENT_ADDRESS_MAX];

	client_address(conn, co->trusted_proxy, client);
	if (live_enter(co, client) < 0)
		return http_reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "too many live pages open");
	struct reader *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		live_leave(co, client);
		return MHD_NO;
	}
	r->co = co;
	r->sse = sse;
	memcpy(r->client, client, sizeof(client));
	/* the picture first, for both: a stream's first event is it */
	if ((r->text = live_store_changes(co->store, &r->version, 0)) == NULL) {
		reader_free(r);
		return http_reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the live picture is closing");
	}
	struct MHD_Response *resp = MHD_create_response_from_callback(sse ? MHD_SIZE_UNKNOWN : r->text->len, 16384,
	                                                              reader_read, r, reader_free);
	if (resp == NULL) {
		reader_free(r);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", sse ? "text/event-stream" : "application/json");
	if (sse)
		MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* nginx: pass events on at once */
	return http_queue(conn, MHD_HTTP_OK, resp);
}

enum MHD_Result console_get(struct console *co, struct MHD_Connection *conn, const char *url, int *handled)
{
	*handled = 1;
	for (unsigned i = 0; i < console_nassets; i++)
		if (strcmp(url, console_assets[i].url) == 0)
			return asset(co, conn, &console_assets[i]);
	if (strncmp(url, "/api/", 5) != 0 || strcmp(url, "/api/crm/calls/log") == 0) {
		*handled = 0;
		return MHD_NO;
	}
	if (!console_authorized(co, conn, 0))
		return http_reply_error(conn, MHD_HTTP_UNAUTHORIZED, "log in, or send the bearer token");
	if (strcmp(url, "/api/calls") == 0)
		return calls_page(co, conn);
	if (strcmp(url, "/api/calls/missed") == 0)
		return missed_calls(co, conn);
	if (strcmp(url, "/api/customers") == 0)
		return customer_search(co, conn);
	if (strncmp(url, "/api/calls/dial", 15) == 0 && (url[15] == '\0' || url[15] == '/'))
		return dial_api_get(&co->dial, conn, url + 15);
	if (strncmp(url, "/api/customers/", 15) == 0)
		return customer(co, conn, url + 15);
	if (strcmp(url, "/api/live") == 0)
		return live_reply(co, conn, 0);
	if (strcmp(url, "/api/live/stream") == 0)
		return live_reply(co, conn, 1);
	return http_reply_error(conn, MHD_HTTP_NOT_FOUND, "not found");
}

/* The token from a login body {"token": "..."}; NULL if there is none. */
static cJSON *login_body(const char *body, size_t len, const char **token)
{
	cJSON *o = cJSON_ParseWithLength(body, len);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "token");
	*token = cJSON_IsString(t) ? t->valuestring : NULL;
	return o;
}

static enum MHD_Result login(struct console *co, struct MHD_Connection *conn, const char *body, size_t len)
{
	char id[CONSOLE_SESSION_HEX + 1], cookie[160];
	const char *given;

	if (co->token == NULL || co->token[0] == '\0')
		return http_reply_error(conn, MHD_HTTP_NOT_FOUND, "the console is off (no http_token is set)");
	char client[CLIENT_ADDRESS_MAX];
	client_address(conn, co->trusted_proxy, client);
	cJSON *o = login_body(body, len, &given);
	enum login_result rc =
	    given ? console_login(&co->sessions, client, given, co->token, clock_mono_ms(), id) : LOGIN_WRONG;
	cJSON_Delete(o);
	if (rc == LOGIN_LIMITED)
		return http_reply_error(conn, MHD_HTTP_TOO_MANY_REQUESTS, "too many failed logins; wait a few seconds");
	if (rc == LOGIN_FAILED)
		return http_reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no randomness for a session");
	if (rc == LOGIN_WRONG) {
		log_warnx("http: a console login with a wrong token");
		return http_reply_error(conn, MHD_HTTP_UNAUTHORIZED, "wrong token");
	}
	const char *proto = header(conn, "X-Forwarded-Proto");
	snprintf(cookie, sizeof(cookie), CONSOLE_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", id,
	         CONSOLE_SESSION_MS / 1000, proto && strcmp(proto, "https") == 0 ? "; Secure" : "");
	explicit_bzero(id, sizeof(id));
	struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
	if (r != NULL) {
		MHD_add_response_header(r, "Content-Type", "application/json");
		MHD_add_response_header(r, "Set-Cookie", cookie);
	}
	explicit_bzero(cookie, sizeof(cookie));
	return http_queue(conn, MHD_HTTP_OK, r);
}

enum MHD_Result console_post(struct console *co, struct MHD_Connection *conn, const char *url, const char *body,
                             size_t len, int *handled)
{
	*handled = 1;
	if (strcmp(url, "/api/login") == 0)
		return login(co, conn, body, len);
	if (strcmp(url, "/api/calls/dial") == 0) {
		if (!console_authorized(co, conn, 1)) /* again, where it runs */
			return http_reply_error(conn, MHD_HTTP_UNAUTHORIZED, "log in, or send the bearer token");
		return dial_api_post(&co->dial, conn, body, len);
	}
	if (strcmp(url, "/api/logout") == 0) {
		console_logout(&co->sessions, header(conn, "Cookie"));
		struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
		if (r != NULL) {
			MHD_add_response_header(r, "Content-Type", "application/json");
			MHD_add_response_header(r, "Set-Cookie",
			                        CONSOLE_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
		}
		return http_queue(conn, MHD_HTTP_OK, r);
	}
	*handled = 0;
	return MHD_NO;
}
