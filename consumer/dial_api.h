/*
 * Click-to-call's HTTP face (docs/dial.md), under the console's login or
 * the bearer token:
 *   GET  /api/calls/dial        {"enabled":true,"sites":["pbx"]}
 *   POST /api/calls/dial        {"site","extension","number"} -> 202 {"id":...}
 *   GET  /api/calls/dial/<id>   the request's state (dial_requests.h)
 */
#ifndef PBXBUS_DIAL_API_H
#define PBXBUS_DIAL_API_H

#include <microhttpd.h>

#include "dial_requests.h"

struct dial_api {
	struct dial_requests *dials; /* NULL: click-to-call is off */
	struct dial_sites sites;
	const char *trusted_proxy; /* http_trusted_proxy, or NULL */
};

/* The request was authorized (checked by the caller). */
enum MHD_Result dial_api_post(const struct dial_api *a, struct MHD_Connection *conn, const char *body, size_t len);
/* rest: what follows /api/calls/dial ("" or "/<id>"). */
enum MHD_Result dial_api_get(const struct dial_api *a, struct MHD_Connection *conn, const char *rest);

#endif
