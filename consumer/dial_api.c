#include "dial_api.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_address.h"
#include "clock.h"
#include "http_reply.h"
#include "log.h"
#include "topic.h"

/* Who asked, as far as we can tell: the bearer token is the API's, a
 * session the console's; and from where.  Never the cookie or the token. */
static void who_asked(const struct dial_api *a, struct MHD_Connection *conn, char by[DIAL_BY_MAX + 1])
{
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	char client[CLIENT_ADDRESS_MAX];

	client_address(conn, a->trusted_proxy, client);
	snprintf(by, DIAL_BY_MAX + 1, "%s %s", auth && strncmp(auth, "Bearer ", 7) == 0 ? "api" : "console", client);
	if (!dial_by_valid(by))
		snprintf(by, DIAL_BY_MAX + 1, "%s", auth ? "api" : "console");
}

enum MHD_Result dial_api_post(const struct dial_api *a, struct MHD_Connection *conn, const char *body, size_t len)
{
	struct dial_ask ask;
	char id[COMMAND_ID_MAX + 1], masked[PHONE_E164_MAX], out[128];

	if (a->dials == NULL)
		return http_reply_error(conn, MHD_HTTP_NOT_FOUND, "click-to-call is off (dial_enabled no)");
	const char *bad = dial_ask_parse(body, len, &a->sites, &ask);
	if (bad != NULL)
		return http_reply_error(conn, MHD_HTTP_BAD_REQUEST, bad);
	who_asked(a, conn, ask.by);
	int added = dial_requests_add(a->dials, &ask, clock_mono_ms(), clock_wall_ms(), id);
	if (added < 0) {
		explicit_bzero(&ask, sizeof(ask));
		return http_reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
		                        "too many dials in flight; try again shortly");
	}
	phone_mask(ask.e164, masked, sizeof(masked));
	log_info("http: dial %s (%s -> %s by %s): %s %s", id, ask.extension, masked, ask.by,
	         added ? "asked again (the same request: not sent again) of" : "asked of", ask.site);
	explicit_bzero(&ask, sizeof(ask));
	snprintf(out, sizeof(out), "{\"id\":\"%s\"}", id);
	return http_reply(conn, MHD_HTTP_ACCEPTED, "application/json", out);
}

/* {"enabled":..,"sites":[..]}: what the console needs to show its buttons. */
static enum MHD_Result dial_settings(const struct dial_api *a, struct MHD_Connection *conn)
{
	cJSON *o = cJSON_CreateObject(), *sites = cJSON_AddArrayToObject(o, "sites");
	char site[TOPIC_MAX];

	cJSON_AddBoolToObject(o, "enabled", a->dials != NULL);
	for (size_t i = 0; a->dials != NULL && i < a->sites.nsubs; i++)
		if (topic_record_prefix(topic_strip_share(a->sites.subs[i]), site, sizeof(site)) == 0)
			cJSON_AddItemToArray(sites, cJSON_CreateString(site)); /* "pbx/+": a site's level to fill in */
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return http_reply_owned_json(conn, MHD_HTTP_OK, s);
}

enum MHD_Result dial_api_get(const struct dial_api *a, struct MHD_Connection *conn, const char *rest)
{
	if (rest[0] == '\0')
		return dial_settings(a, conn);
	if (a->dials == NULL)
		return http_reply_error(conn, MHD_HTTP_NOT_FOUND, "click-to-call is off (dial_enabled no)");
	char *s = rest[0] == '/' && command_id_valid(rest + 1) ? dial_requests_json(a->dials, rest + 1, clock_mono_ms())
	                                                       : NULL;
	if (s == NULL)
		return http_reply_error(conn, MHD_HTTP_NOT_FOUND, "no such dial request (they are kept 10 minutes)");
	return http_reply_owned_json(conn, MHD_HTTP_OK, s);
}
