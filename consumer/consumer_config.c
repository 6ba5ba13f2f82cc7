#include "consumer_config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "mqtt_config.h"
#include "topic.h"

const struct cfg_key consumer_keys[] = {
    CFG_S("consumer_id", NULL,
          "this consumer's id: MQTT client id and acks topic (default pbxbus-consumer-<host name>)"),
    CFG_S("log_level", "info", "error, warn, info or debug"),
    CFG_S("user", NULL, "when started as root, run as this user"),
    CFG_S("subscribe", "pbx/calls/hangup",
          "topics of call records, space-separated (pbx/+/calls/hangup for several PBXs)"),
    CFG_S("shared_group", "", "MQTT shared subscription group: several consumers split the records"),
    CFG_S("pbx_id", NULL,
          "pbx_id of the one PBX whose records come on a topic without a site level (pbx/calls/hangup): its "
          "records must carry it; required beside a pbx/+/calls/hangup subscription"),
    MQTT_CONFIG_KEYS("3.1.1"),
    CFG_I("reconnect_max", "30", 1, 3600, "cap of the reconnect back-off in seconds (MQTT and database)"),
    CFG_S("db_conninfo", "dbname=pbxbus",
          "libpq connection string or URI, without a password (PG* environment variables apply too)"),
    CFG_SECRET_S("db_password", "database password (prefer db_password_file or PBXBUS_DB_PASSWORD)"),
    CFG_S("db_password_file", NULL, "file holding the database password (mode 600)"),
    CFG_B("db_migrate", "no", "apply pending migrations at start (else a schema behind is an error)"),
    CFG_S("phone_country_code", "1", "home country code for numbers written without +"),
    CFG_S("phone_national_prefix", "1", "home national (trunk) prefix, replaced by the country code"),
    CFG_S("phone_intl_prefix", "011", "home international prefix, meaning the number is international"),
    CFG_I("match_suffix_digits", "9", 0, 15, "match on the last N digits when no exact E.164 match (0: off)"),
    CFG_I("batch_max", "500", 1, BATCH_MAX, "most records committed in one transaction"),
    CFG_S("archive_file", NULL,
          "also append each committed call record to this file, one JSON line each, on disk before it is "
          "acknowledged; unset: off"),
    CFG_S("webhook_url", NULL,
          "also POST each committed call record (its JSON) to this http(s) URL of the CRM, before it is "
          "acknowledged; unset: off"),
    CFG_SECRET_S("webhook_token", "bearer token sent to webhook_url (prefer webhook_token_file)"),
    CFG_S("webhook_token_file", NULL, "file holding the webhook's bearer token (mode 600)"),
    CFG_I("webhook_timeout", "5", 1, 60, "seconds one POST to webhook_url may take"),
    CFG_I("retention_days", "90", 1, 36500, "days after which the raw record and dead letters are purged"),
    CFG_I("site_record_rate", "50", 0, 100000,
          "call records a second one site may send after its burst; past it they wait in its bridge's outbox (0: "
          "no limit)"),
    CFG_I("site_record_burst", "10000", 1, 10000000, "call records one site may send at once (an outbox's backlog)"),
    CFG_I("dead_letters_max_mb", "100", 1, 1000000,
          "most MiB pbxbus_dead_letters holds in all; past it the oldest are deleted (counted)"),
    CFG_S("http_listen", "",
          "address:port of the HTTP API and web console (/healthz, /metrics, the console); empty: off"),
    CFG_SECRET_S("http_token", "bearer token of the API and the console's login (prefer http_token_file)"),
    CFG_S("http_token_file", NULL, "file holding the HTTP bearer token (mode 600)"),
    CFG_B("dial_enabled", "no",
          "click-to-call: POST /api/calls/dial and the console's call buttons publish dial requests to the "
          "bridges (which need commands_enabled and dial_enabled too); needs http_listen and http_token"),
    CFG_S("http_trusted_proxy", NULL,
          "IPv4 address of the reverse proxy in front of http_listen: its X-Forwarded-For names the client for "
          "the per-client limits (unset: none is trusted)"),
};
const size_t consumer_nkeys = sizeof(consumer_keys) / sizeof(consumer_keys[0]);

/* Audit-3 N13: a topic without a site level beside a site-level one
 * would let the single PBX's login claim any site's calls there; its
 * records must then carry its configured pbx_id. */
static int load_single_site(struct consumer_settings *s, const struct config *cfg, char *err, size_t errsz)
{
	const char *id = config_str(cfg, "pbx_id");
	int with_site = 0, without = 0;

	for (size_t i = 0; i < s->nsubs; i++) {
		if (strchr(s->subs[i], '+'))
			with_site = 1;
		else
			without = 1;
	}
	s->single_pbx_id[0] = '\0';
	if (id && id[0]) {
		if (strlen(id) >= sizeof(s->single_pbx_id) || strpbrk(id, ":/+# ") != NULL) {
			snprintf(err, errsz, "pbx_id: at most %zu characters, none of ':/+#' or space",
			         sizeof(s->single_pbx_id) - 1);
			return -1;
		}
		snprintf(s->single_pbx_id, sizeof(s->single_pbx_id), "%s", id);
	} else if (with_site && without) {
		snprintf(err, errsz,
		         "pbx_id: required when a topic without a site level is subscribed beside one with (its "
		         "PBX could otherwise claim any site's calls): set the pbx_id of the PBX on the first");
		return -1;
	}
	return 0;
}

static int load_subscriptions(struct consumer_settings *s, const struct config *cfg, char *err, size_t errsz)
{
	struct glob_list subs;
	const char *group = config_str(cfg, "shared_group");

	if (glob_list_parse(&subs, config_str(cfg, "subscribe")) < 0 || subs.n == 0 || subs.n > CONSUMER_MAX_SUBS) {
		glob_list_free(&subs);
		snprintf(err, errsz, "subscribe: 1 to %d topics", CONSUMER_MAX_SUBS);
		return -1;
	}
	for (size_t i = 0; i < subs.n; i++) {
		const char *t = subs.globs[i];
		char prefix[TOPIC_MAX];
		if (topic_record_prefix(t, prefix, sizeof(prefix)) < 0 || strchr(t, '#')) {
			snprintf(err, errsz, "subscribe: '%s' must end in /calls/hangup (use + for a level)", t);
			glob_list_free(&subs);
			return -1;
		}
		int n = group ? snprintf(s->subs[i], TOPIC_MAX, "$share/%s/%s", group, t)
		              : snprintf(s->subs[i], TOPIC_MAX, "%s", t);
		if (n < 0 || n >= TOPIC_MAX) {
			snprintf(err, errsz, "subscribe: topic too long");
			glob_list_free(&subs);
			return -1;
		}
	}
	s->nsubs = subs.n;
	glob_list_free(&subs);
	return load_single_site(s, cfg, err, errsz);
}

static int load_http(struct consumer_settings *s, const struct config *cfg, char *err, size_t errsz)
{
	const char *listen = config_str(cfg, "http_listen");
	long long port;

	s->http_listen = listen;
	if (listen == NULL)
		return 0;
	const char *colon = strrchr(listen, ':');
	if (colon == NULL || colon == listen || (size_t)(colon - listen) >= sizeof(s->http_host) ||
	    parse_ll(colon + 1, 1, 65535, &port) < 0) {
		snprintf(err, errsz, "http_listen: '%s' is not address:port", listen);
		return -1;
	}
	s->http_trusted_proxy = config_str(cfg, "http_trusted_proxy");
	struct in_addr proxy;
	if (s->http_trusted_proxy && inet_pton(AF_INET, s->http_trusted_proxy, &proxy) != 1) {
		snprintf(err, errsz, "http_trusted_proxy: '%s' is not an IPv4 address", s->http_trusted_proxy);
		return -1;
	}
	memcpy(s->http_host, listen, (size_t)(colon - listen));
	s->http_host[colon - listen] = '\0';
	s->http_port = (int)port;
	if (config_secret(cfg, "http_token", "http_token_file", s->http_token, sizeof(s->http_token), err, errsz) < 0)
		return -1;
	/* No token: /healthz and /metrics only, the manual log is off (the
	 * compose stack's healthcheck needs the listener either way). */
	if (s->http_token[0] != '\0' && strlen(s->http_token) < 16) {
		snprintf(err, errsz, "http_token: 16 characters or more (or none: the manual call log is off)");
		return -1;
	}
	return 0;
}

/* The webhook sink: an http or https URL (nothing else libcurl speaks),
 * its token and its time. */
static int load_webhook(struct consumer_settings *s, const struct config *cfg, char *err, size_t errsz)
{
	s->webhook_url = config_str(cfg, "webhook_url");
	if (s->webhook_url && s->webhook_url[0] == '\0')
		s->webhook_url = NULL;
	if (s->webhook_url && strncmp(s->webhook_url, "http://", 7) != 0 &&
	    strncmp(s->webhook_url, "https://", 8) != 0) {
		snprintf(err, errsz, "webhook_url: an http:// or https:// URL");
		return -1;
	}
	s->webhook_timeout_ms = (int)config_int(cfg, "webhook_timeout") * 1000;
	return config_secret(cfg, "webhook_token", "webhook_token_file", s->webhook_token, sizeof(s->webhook_token),
	                     err, errsz);
}

int consumer_settings_load(struct consumer_settings *s, const struct config *cfg, char *err, size_t errsz)
{
	const char *id = config_str(cfg, "consumer_id");
	char host[64] = "host";

	memset(s, 0, sizeof(*s));
	if (id == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "host");
		host[sizeof(host) - 1] = '\0';
		snprintf(s->consumer_id, sizeof(s->consumer_id), "pbxbus-consumer-%.60s", host);
	} else {
		snprintf(s->consumer_id, sizeof(s->consumer_id), "%s", id);
	}
	for (const char *p = s->consumer_id; *p; p++) {
		if (*p == '/' || *p == '+' || *p == '#' || (unsigned char)*p <= ' ') {
			snprintf(err, errsz, "consumer_id: no '/', '+', '#' or spaces");
			return -1;
		}
	}
	snprintf(s->client_id, sizeof(s->client_id), "%s", s->consumer_id);
	if (load_subscriptions(s, cfg, err, errsz) < 0 || load_http(s, cfg, err, errsz) < 0)
		return -1;
	s->dial_enabled = config_bool(cfg, "dial_enabled");
	if (s->dial_enabled && (s->http_listen == NULL || s->http_token[0] == '\0')) {
		snprintf(err, errsz,
		         "dial_enabled: needs http_listen and http_token (a dial is asked through the API or "
		         "the console's login)");
		return -1;
	}
	if (phone_plan_init(&s->plan, config_str(cfg, "phone_country_code"), config_str(cfg, "phone_national_prefix"),
	                    config_str(cfg, "phone_intl_prefix")) < 0) {
		snprintf(err, errsz, "phone_country_code/phone_national_prefix/phone_intl_prefix: digits only");
		return -1;
	}
	struct mqtt_opts *m = &s->mqtt;
	if (mqtt_config_load(cfg, m, s->mqtt_password, sizeof(s->mqtt_password), err, errsz) < 0 ||
	    config_secret(cfg, "db_password", "db_password_file", s->db_password, sizeof(s->db_password), err, errsz) <
	        0)
		return -1;
	m->client_id = s->client_id;
	m->clean_session = 0; /* records published while we are down wait in the broker */
	/* MQTT 5 keeps a session only with a session expiry, which libmosquitto
	 * cannot send on the asynchronous connect the consumer uses: 3.1.1's
	 * persistent session is the one that keeps records across a restart. */
	if (!m->mqtt311) {
		snprintf(err, errsz,
		         "mqtt_protocol: the consumer speaks 3.1.1 (its persistent session, which keeps the "
		         "records published while it is down, needs it)");
		return -1;
	}
	m->external = 1;
	s->db_conninfo = config_str(cfg, "db_conninfo");
	if (s->db_conninfo == NULL) {
		snprintf(err, errsz, "db_conninfo is not set");
		return -1;
	}
	if (db_conninfo_check(s->db_conninfo, err, errsz) < 0)
		return -1;
	s->suffix_digits = (int)config_int(cfg, "match_suffix_digits");
	s->batch_max = (int)config_int(cfg, "batch_max");
	s->migrate_at_start = config_bool(cfg, "db_migrate");
	s->retention_days = (int)config_int(cfg, "retention_days");
	s->dead_letters_max_bytes = config_int(cfg, "dead_letters_max_mb") << 20;
	s->site_record_rate = (int)config_int(cfg, "site_record_rate");
	s->site_record_burst = (int)config_int(cfg, "site_record_burst");
	s->user = config_str(cfg, "user");
	s->archive_file = config_str(cfg, "archive_file");
	if (s->archive_file && s->archive_file[0] == '\0')
		s->archive_file = NULL;
	if (s->archive_file && s->archive_file[0] != '/') {
		snprintf(err, errsz, "archive_file: an absolute path (the daemon may change directory)");
		return -1;
	}
	return load_webhook(s, cfg, err, errsz);
}

void consumer_settings_wipe(struct consumer_settings *s)
{
	explicit_bzero(s->mqtt_password, sizeof(s->mqtt_password));
	explicit_bzero(s->db_password, sizeof(s->db_password));
	explicit_bzero(s->http_token, sizeof(s->http_token));
	explicit_bzero(s->webhook_token, sizeof(s->webhook_token));
}
