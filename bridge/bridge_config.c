#include "bridge_config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mqtt_config.h"
#include "topic.h"

const struct cfg_key bridge_keys[] = {
    CFG_S("pbx_id", NULL, "this PBX's id in call ids and status (default: the host name)"),
    CFG_S("topic_prefix", "pbx", "MQTT topic prefix, may hold a site id (pbx/site1)"),
    CFG_S("log_level", "info", "error, warn, info or debug"),
    CFG_S("user", NULL, "when started as root, run as this user (outbox_dir is given to it)"),
    CFG_S("ami_host", "127.0.0.1", "Asterisk Manager Interface host"),
    CFG_I("ami_port", "5038", 1, 65535, "AMI TCP port"),
    CFG_S("ami_username", NULL, "AMI user (manager.conf section); required"),
    CFG_SECRET_S("ami_secret", "AMI secret (prefer ami_secret_file or PBXBUS_AMI_SECRET)"),
    CFG_S("ami_secret_file", NULL, "file holding the AMI secret (mode 600)"),
    CFG_S("ami_auth", "md5", "login method: md5 (challenge) or plain"),
    CFG_S("ami_events", "on", "EventMask sent at login (on, off, or classes: call,cdr,...)"),
    {"ami_filter", CFG_MULTI, NULL, 0, 0, 0, "AMI Filter sent after login; repeat the key for several"},
    CFG_S("ami_tls_ca", NULL,
          "CA file: turns TLS on for AMI (Asterisk's tlsenable, port 5039); the server is verified"),
    CFG_S("ami_tls_cert", NULL, "the bridge's certificate for AMI over TLS, when Asterisk asks for one"),
    CFG_S("ami_tls_key", NULL, "its key"),
    CFG_S("ami_tls_server_name", NULL, "the name (or address) AMI's certificate must carry (default: ami_host)"),
    CFG_I("ami_connect_timeout", "5", 1, 300, "seconds for TCP connect, banner and login"),
    CFG_I("ami_ping_interval", "20", 1, 3600, "seconds between keepalive Pings"),
    CFG_I("ami_ping_timeout", "10", 1, 3600, "seconds to wait for a Ping answer before reconnecting"),
    CFG_I("ami_action_timeout", "30", 1, 3600, "seconds to wait for an action's response or list"),
    CFG_I("ami_auth_retry", "60", 1, 86400, "seconds between login attempts after a refused login"),
    CFG_I("reconnect_max", "30", 1, 3600, "cap of the reconnect back-off in seconds (AMI and MQTT)"),
    MQTT_CONFIG_KEYS("5"),
    CFG_S("mqtt_client_id", NULL, "MQTT client id (default: pbxbus-bridge-<pbx_id>)"),
    CFG_I("mqtt_qos_events", "0", 0, 1, "QoS of events/*"),
    CFG_I("mqtt_qos_state", "1", 0, 1, "QoS of bridge/status and the state/ topics"),
    CFG_I("mqtt_queue_max_messages", "30000", 10, 60000, "most messages held for the broker before events are shed"),
    CFG_I("mqtt_queue_max_bytes", "16777216", 65536, 1073741824,
          "most bytes held for the broker before events are shed"),
    CFG_I("mqtt_qos_calls", "1", 0, 1, "QoS of calls/*"),
    CFG_S("trunk_contexts", "from-trunk from-pstn from-did-direct from-trunk-*",
          "dialplan contexts (globs): a channel created in one is a trunk leg (an override: trunks are "
          "also recognised without it)"),
    CFG_S("trunk_endpoints", "", "endpoint names (globs) that are trunks, whatever else says (an override)"),
    CFG_S("phone_endpoints", "", "endpoint names (globs) that are phones, whatever else says (an override)"),
    CFG_I("call_idle_timeout", "14400", 60, 604800, "seconds without an event before a call is closed as partial"),
    CFG_I("max_calls", "20000", 10, 1000000, "most calls tracked at once; more are not tracked (counted)"),
    CFG_S("outbox_dir", "/var/lib/pbxbus",
          "directory of the durable outbox of call records and of the journal of calls in flight"),
    CFG_I("outbox_max_bytes", "1073741824", 1048576, 1099511627776LL,
          "outbox log size bound; past it records wait in memory (outbox_memory_max)"),
    CFG_I("outbox_memory_max", "16777216", 65536, 1073741824,
          "bytes of records held in memory while the disk refuses them; past it records are refused, by id"),
    CFG_I("outbox_resend_timeout", "60", 1, 86400, "seconds before an unacknowledged record is sent again (doubling)"),
    CFG_I("outbox_window", "256", 1, 10000, "most call records sent and awaiting a consumer's ack"),
    CFG_B("publish_state", "yes", "publish live state as retained messages under <prefix>/state/"),
    CFG_I("state_resync_interval", "300", 10, 86400, "seconds between full resyncs of the live state"),
    CFG_S("snapshot_file", NULL, "write the whole state as JSON here (atomically, at most once a second)"),
    CFG_S("events_allow", "*", "event names published on events/ (globs, space-separated)"),
    CFG_S("events_deny", "VarSet Newexten RTCP*", "event names never published (globs; deny wins)"),
    CFG_I("status_interval", "60", 5, 86400, "seconds between bridge/status refreshes"),
    CFG_S("cdr_db_host", "", "host of the PBX's CDR database (MariaDB/MySQL) for the CDR backfill"),
    CFG_I("cdr_db_port", "3306", 1, 65535, "its TCP port"),
    CFG_S("cdr_db_socket", "", "its Unix socket, instead of host and port (FreePBX: /var/lib/mysql/mysql.sock)"),
    CFG_S("cdr_db_name", "asteriskcdrdb", "the CDR database"),
    CFG_S("cdr_db_table", "cdr", "the CDR table (letters, digits, '_')"),
    CFG_S("cdr_db_user", "", "a user that may SELECT from that table; empty: no CDR backfill"),
    CFG_SECRET_S("cdr_db_password", "its password (prefer cdr_db_password_file or PBXBUS_CDR_DB_PASSWORD)"),
    CFG_S("cdr_db_password_file", NULL, "file holding that password (mode 600)"),
    CFG_S("cdr_timezone", "",
          "the PBX's time zone, in which CDR calldate is written (e.g. Europe/Amsterdam; empty: "
          "this host's)"),
    CFG_I("cdr_backfill_max", "604800", 60, 31536000,
          "longest gap read from the CDR store, in seconds (its last part)"),
    CFG_B("commands_enabled", "no",
          "answer requests on <prefix>/commands/+ (docs/commands.md); off: the bridge does not subscribe"),
    {"commands_allow", CFG_MULTI, NULL, 0, 0, 0,
     "a CLI command that may run (a glob, case and spaces folded); repeat the key; newline-separated in the "
     "environment; empty: none"},
    CFG_I("commands_per_minute", "30", 1, 600, "most requests run on the PBX in any minute; more are refused"),
    CFG_I("commands_timeout", "10", 1, 300, "seconds the PBX has to answer a request before it is answered timeout"),
    CFG_B("dial_enabled", "no", "answer click-to-call requests (kind dial; docs/dial.md); needs commands_enabled"),
    CFG_S("dial_numbers", "",
          "numbers that may be dialled: globs on the E.164 form (+1*), space-separated; empty: none"),
    CFG_S("dial_ring_context", "pbxbus-dial-device",
          "context of the Local channel that rings the person's phone (docs/dial.md: one that rings the device only)"),
    CFG_S("dial_context", "from-internal", "context the number is then dialled in (FreePBX's outbound routes)"),
    CFG_S("dial_format", "national", "how the PBX dials a number: e164, national or international"),
    CFG_S("dial_country_code", "1", "home country code, for dial_format"),
    CFG_S("dial_national_prefix", "1", "home national (trunk) prefix, for dial_format"),
    CFG_S("dial_intl_prefix", "011", "home international prefix, for dial_format"),
    CFG_I("dial_ring_timeout", "30", 5, 120, "seconds the person's phone rings before the dial is given up"),
    CFG_I("dial_per_minute", "3", 1, 60, "most dials from one extension in any minute"),
};
const size_t bridge_nkeys = sizeof(bridge_keys) / sizeof(bridge_keys[0]);

static int load_identity(struct bridge_settings *s, const struct config *cfg, char *err, size_t errsz)
{
	const char *why;
	const char *id = config_str(cfg, "pbx_id");
	const char *prefix = config_str(cfg, "topic_prefix");

	if (id == NULL) {
		if (gethostname(s->pbx_id, sizeof(s->pbx_id)) != 0)
			snprintf(s->pbx_id, sizeof(s->pbx_id), "pbx");
		s->pbx_id[sizeof(s->pbx_id) - 1] = '\0';
	} else if (strlen(id) >= sizeof(s->pbx_id) || strchr(id, ':') != NULL) {
		snprintf(err, errsz, "pbx_id: must be shorter than %zu characters and hold no ':'", sizeof(s->pbx_id));
		return -1;
	} else {
		snprintf(s->pbx_id, sizeof(s->pbx_id), "%s", id);
	}
	if (prefix == NULL || topic_prefix_valid(prefix, &why) < 0) {
		snprintf(err, errsz, "topic_prefix: %s", prefix ? why : "must be set");
		return -1;
	}
	snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
	snprintf(s->will_topic, sizeof(s->will_topic), "%s/" TOPIC_STATUS, s->prefix);
	const char *cid = config_str(cfg, "mqtt_client_id");
	snprintf(s->client_id, sizeof(s->client_id), "%s", cid ? cid : "");
	if (cid == NULL)
		snprintf(s->client_id, sizeof(s->client_id), "pbxbus-bridge-%.100s", s->pbx_id);
	return 0;
}

static int load_ami(struct bridge_settings *s, const struct config *cfg, char *err, size_t errsz)
{
	struct ami_opts *a = &s->ami;
	const char *auth = config_str(cfg, "ami_auth");

	a->host = config_str(cfg, "ami_host");
	a->port = (int)config_int(cfg, "ami_port");
	a->username = config_str(cfg, "ami_username");
	if (a->host == NULL || a->username == NULL) {
		snprintf(err, errsz, "%s is not set", a->host ? "ami_username" : "ami_host");
		return -1;
	}
	if (auth == NULL || (strcasecmp(auth, "md5") != 0 && strcasecmp(auth, "plain") != 0)) {
		snprintf(err, errsz, "ami_auth: must be md5 or plain");
		return -1;
	}
	a->auth_md5 = strcasecmp(auth, "md5") == 0;
	if (config_secret(cfg, "ami_secret", "ami_secret_file", s->ami_secret, sizeof(s->ami_secret), err, errsz) < 0)
		return -1;
	if (s->ami_secret[0] == '\0') {
		snprintf(err, errsz, "no AMI secret: set ami_secret_file or PBXBUS_AMI_SECRET");
		return -1;
	}
	if (strpbrk(s->ami_secret, "\r\n") || strpbrk(a->username, "\r\n")) {
		snprintf(err, errsz, "AMI user name and secret must be one line");
		return -1;
	}
	a->secret = s->ami_secret;
	a->event_mask = config_str(cfg, "ami_events") ? config_str(cfg, "ami_events") : "on";
	a->filters = config_list(cfg, "ami_filter", &a->nfilters);
	a->tls_ca = config_str(cfg, "ami_tls_ca");
	a->tls_cert = config_str(cfg, "ami_tls_cert");
	a->tls_key = config_str(cfg, "ami_tls_key");
	a->tls_server_name = config_str(cfg, "ami_tls_server_name");
	if ((a->tls_cert || a->tls_key || a->tls_server_name) && a->tls_ca == NULL) {
		snprintf(err, errsz,
		         "ami_tls_cert, ami_tls_key and ami_tls_server_name need ami_tls_ca (which turns TLS on)");
		return -1;
	}
	a->connect_timeout_ms = config_int(cfg, "ami_connect_timeout") * 1000;
	a->ping_interval_ms = config_int(cfg, "ami_ping_interval") * 1000;
	a->ping_timeout_ms = config_int(cfg, "ami_ping_timeout") * 1000;
	a->action_timeout_ms = config_int(cfg, "ami_action_timeout") * 1000;
	a->auth_retry_ms = config_int(cfg, "ami_auth_retry") * 1000;
	a->reconnect_max_ms = config_int(cfg, "reconnect_max") * 1000;
	return 0;
}

static int load_mqtt(struct bridge_settings *s, const struct config *cfg, char *err, size_t errsz)
{
	struct mqtt_opts *m = &s->mqtt;

	if (mqtt_config_load(cfg, m, s->mqtt_password, sizeof(s->mqtt_password), err, errsz) < 0)
		return -1;
	m->client_id = s->client_id;
	m->clean_session = 1;
	m->will_topic = s->will_topic;
	m->will_payload = "{\"state\":\"offline\"}";
	s->qos_events = (int)config_int(cfg, "mqtt_qos_events");
	s->qos_state = (int)config_int(cfg, "mqtt_qos_state");
	s->queue_max_messages = config_int(cfg, "mqtt_queue_max_messages");
	s->queue_max_bytes = config_int(cfg, "mqtt_queue_max_bytes");
	return 0;
}

/* A zone name is a file under /usr/share/zoneinfo: tzset() would take a
 * wrong one silently as UTC, and every CDR time would be off. */
static int zone_ok(const char *tz)
{
	char path[512];

	if (tz[0] == '\0')
		return 1;
	if (tz[0] == '/' || strstr(tz, "..") || strlen(tz) > 200)
		return 0;
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
	return access(path, R_OK) == 0;
}

static int load_cdr(struct bridge_settings *s, const struct config *cfg, char *err, size_t errsz)
{
	struct cdr_store_opts *o = &s->cdr;

	o->host = config_str(cfg, "cdr_db_host");
	o->port = (int)config_int(cfg, "cdr_db_port");
	o->socket = config_str(cfg, "cdr_db_socket");
	o->database = config_str(cfg, "cdr_db_name");
	o->table = config_str(cfg, "cdr_db_table");
	o->user = config_str(cfg, "cdr_db_user");
	if (config_secret(cfg, "cdr_db_password", "cdr_db_password_file", s->cdr_password, sizeof(s->cdr_password), err,
	                  errsz) < 0)
		return -1;
	o->password = s->cdr_password;
	s->cdr_timezone = config_str(cfg, "cdr_timezone") ? config_str(cfg, "cdr_timezone") : "";
	s->cdr_backfill_max_ms = config_int(cfg, "cdr_backfill_max") * 1000;
	if (!zone_ok(s->cdr_timezone)) {
		snprintf(err, errsz, "cdr_timezone %s: no such zone in /usr/share/zoneinfo", s->cdr_timezone);
		return -1;
	}
	if (o->user && o->user[0] && !cdr_store_configured(o)) {
		snprintf(err, errsz, "cdr_db_user is set: set cdr_db_host or cdr_db_socket too");
		return -1;
	}
	return 0;
}

/* Click-to-call's keys: checked here whether it is on or not, so that a
 * mistake shows before someone turns it on. */
static int load_dial(struct bridge_settings *s, const struct config *cfg, char *err, size_t errsz)
{
	struct dial_rules *d = &s->dial;

	s->dial_enabled = config_bool(cfg, "dial_enabled");
	if (s->dial_enabled && !s->commands_enabled) {
		snprintf(err, errsz, "dial_enabled needs commands_enabled (the channel its requests come on)");
		return -1;
	}
	d->ring_context = config_str(cfg, "dial_ring_context");
	d->context = config_str(cfg, "dial_context");
	if (d->ring_context == NULL || d->context == NULL || !dial_context_valid(d->ring_context) ||
	    !dial_context_valid(d->context)) {
		snprintf(err, errsz, "dial_ring_context/dial_context: letters, digits, '-' and '_'");
		return -1;
	}
	if (phone_dial_format_parse(config_str(cfg, "dial_format"), &d->format) < 0) {
		snprintf(err, errsz, "dial_format: must be e164, national or international");
		return -1;
	}
	if (phone_plan_init(&d->plan, config_str(cfg, "dial_country_code"), config_str(cfg, "dial_national_prefix"),
	                    config_str(cfg, "dial_intl_prefix")) < 0) {
		snprintf(err, errsz, "dial_country_code/dial_national_prefix/dial_intl_prefix: digits only");
		return -1;
	}
	if (glob_list_parse(&d->numbers, config_str(cfg, "dial_numbers") ? config_str(cfg, "dial_numbers") : "") < 0) {
		snprintf(err, errsz, "dial_numbers: too many globs");
		return -1;
	}
	d->ring_timeout_ms = config_int(cfg, "dial_ring_timeout") * 1000;
	d->per_minute = (size_t)config_int(cfg, "dial_per_minute");
	s->ami.dial = &s->dial;
	return 0;
}

int bridge_settings_load(struct bridge_settings *s, const struct config *cfg, char *err, size_t errsz)
{
	memset(s, 0, sizeof(*s));
	if (load_identity(s, cfg, err, errsz) < 0 || load_ami(s, cfg, err, errsz) < 0 ||
	    load_mqtt(s, cfg, err, errsz) < 0)
		return -1;
	s->qos_calls = (int)config_int(cfg, "mqtt_qos_calls");
	s->publish_state = config_bool(cfg, "publish_state");
	s->state_resync_ms = config_int(cfg, "state_resync_interval") * 1000;
	s->snapshot_file = config_str(cfg, "snapshot_file");
	s->outbox_dir = config_str(cfg, "outbox_dir");
	s->outbox_max_bytes = (uint64_t)config_int(cfg, "outbox_max_bytes");
	s->outbox_memory_max = (uint64_t)config_int(cfg, "outbox_memory_max");
	s->outbox_resend_ms = config_int(cfg, "outbox_resend_timeout") * 1000;
	s->outbox_window = (size_t)config_int(cfg, "outbox_window");
	if (s->outbox_dir == NULL) {
		snprintf(err, errsz, "outbox_dir is not set");
		return -1;
	}
	s->trunk_contexts = config_str(cfg, "trunk_contexts");
	s->trunk_endpoints = config_str(cfg, "trunk_endpoints");
	s->phone_endpoints = config_str(cfg, "phone_endpoints");
	s->call_idle_timeout_ms = config_int(cfg, "call_idle_timeout") * 1000;
	s->max_calls = (size_t)config_int(cfg, "max_calls");
	s->events_allow = config_str(cfg, "events_allow");
	s->events_deny = config_str(cfg, "events_deny");
	s->status_interval_ms = config_int(cfg, "status_interval") * 1000;
	snprintf(s->acks_topic, sizeof(s->acks_topic), "%s/" TOPIC_ACKS "/#", s->prefix);
	s->commands_enabled = config_bool(cfg, "commands_enabled");
	s->command_rules.allow = config_list(cfg, "commands_allow", &s->command_rules.nallow);
	s->commands_per_minute = (size_t)config_int(cfg, "commands_per_minute");
	s->commands_timeout_ms = config_int(cfg, "commands_timeout") * 1000;
	s->ami.commands = &s->command_rules;
	if (load_dial(s, cfg, err, errsz) < 0)
		return -1;
	return load_cdr(s, cfg, err, errsz);
}

void bridge_settings_wipe(struct bridge_settings *s)
{
	glob_list_free(&s->dial.numbers);
	explicit_bzero(s->ami_secret, sizeof(s->ami_secret));
	explicit_bzero(s->mqtt_password, sizeof(s->mqtt_password));
	explicit_bzero(s->cdr_password, sizeof(s->cdr_password));
}
