#include "console.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call_log.h"
#include "clock.h"
#include "console_assets.h"
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

static enum MHD_Result calls_page(struct console *co, struct MHD_Connection *conn)
{
	struct call_log_filter f = {arg(conn, "direction"), arg(conn, "answered"), arg(conn, "customer"),
	                            arg(conn, "extension"), arg(conn, "from"),     arg(conn, "to"),
	                            arg(conn, "number"),    arg(conn, "before"),   arg(conn, "limit")};
	const char *p[CALL_LOG_PARAMS];
	struct call_log_bufs b;
	const char *bad = call_log_params(&f, p, &b);

	if (bad != NULL)
		return http_reply_error(conn, MHD_HTTP_BAD_REQUEST, bad);
	return query_reply(co, conn, call_log_page_sql, CALL_LOG_PARAMS, p, "no page");
}

static enum MHD_Result customer(struct console *co, struct MHD_Connection *conn, const char *id)
{
	if (call_log_customer_id_ok(id) < 0)
		return http_reply_error(conn, MHD_HTTP_NOT_FOUND, "no such customer");
	const char *p[1] = {id};
	return query_reply(co, conn, call_log_customer_sql, 1, p, "no such customer");
}

/* One live stream: what is left of the last chunk, and the version seen. */
struct stream {
	struct console *co;
	uint64_t version;
	char *out;
	size_t len, off;
};

static int next_chunk(struct stream *s)
{
	char *changes = live_store_changes(s->co->store, &s->version, STREAM_KEEPALIVE_MS);
	free(s->out);
	s->out = NULL;
	s->off = s->len = 0;
	if (live_store_closed(s->co->store)) {
		free(changes);
		return -1;
	}
	if (changes == NULL) {
		s->out = strdup(": keepalive\n\n");
	} else {
		/* one line of JSON (the store writes no newline): one event */
		size_t n = strlen(changes) + 16;
		if ((s->out = malloc(n)) != NULL)
			snprintf(s->out, n, "data: %s\n\n", changes);
		free(changes);
	}
	if (s->out == NULL)
		return -1;
	s->len = strlen(s->out);
	return 0;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	(void)pos;

	if (s->off == s->len && next_chunk(s) < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	size_t n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(buf, s->out + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;
	atomic_fetch_sub(&s->co->streams, 1);
	free(s->out);
	free(s);
}

static enum MHD_Result live_stream(struct console *co, struct MHD_Connection *conn)
{
	if (atomic_fetch_add(&co->streams, 1) >= CONSOLE_STREAMS_MAX) {
		atomic_fetch_sub(&co->streams, 1);
		return http_reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "too many live pages open");
	}
	struct stream *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		atomic_fetch_sub(&co->streams, 1);
		return MHD_NO;
	}
	s->co = co;
	struct MHD_Response *r =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, s, stream_free);
	if (r == NULL) {
		stream_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* nginx: pass events on at once */
	return http_queue(conn, MHD_HTTP_OK, r);
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
	if (strncmp(url, "/api/customers/", 15) == 0)
		return customer(co, conn, url + 15);
	if (strcmp(url, "/api/live") == 0) {
		uint64_t version = 0;
		return http_reply_owned_json(conn, MHD_HTTP_OK, live_store_changes(co->store, &version, 0));
	}
	if (strcmp(url, "/api/live/stream") == 0)
		return live_stream(co, conn);
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
	cJSON *o = login_body(body, len, &given);
	enum login_result rc =
	    given ? console_login(&co->sessions, given, co->token, clock_mono_ms(), id) : LOGIN_WRONG;
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
