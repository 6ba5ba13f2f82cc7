#include "http_reply.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                          "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

enum MHD_Result http_queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r)
{
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Security-Policy", csp);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

enum MHD_Result http_reply(struct MHD_Connection *conn, unsigned status, const char *type, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (r != NULL)
		MHD_add_response_header(r, "Content-Type", type);
	return http_queue(conn, status, r);
}

enum MHD_Result http_reply_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", msg);
	char *text = cJSON_PrintUnformatted(o);
	enum MHD_Result rc = http_reply(conn, status, "application/json", text ? text : "{}");
	cJSON_free(text);
	cJSON_Delete(o);
	return rc;
}

enum MHD_Result http_reply_owned_json(struct MHD_Connection *conn, unsigned status, char *text)
{
	if (text == NULL)
		return http_reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	return http_queue(conn, status, r);
}
