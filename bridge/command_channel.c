#include "command_channel.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "command_internal.h"
#include "topic.h"

#define DEFAULT_LIFE_MS (10 * 1000)  /* a request without expires_at */
#define LONGEST_LIFE_MS (60 * 1000)  /* an expires_at further ahead is refused */
#define OUTPUT_MAX      (256 * 1024) /* bytes of output answered; past it "truncated" */
#define ANSWER_MAX      (OUTPUT_MAX * 7 + 8192)

int command_channel_open(struct command_channel *ch, const struct bridge_settings *s, struct mqtt_link *mqtt,
                         struct ami_client *ami, const struct endpoint_kinds *kinds, char *err, size_t errsz)
{
	memset(ch, 0, sizeof(*ch));
	ch->s = s;
	ch->mqtt = mqtt;
	ch->ami = ami;
	ch->kinds = kinds;
	ch->ids.fd = -1;
	ch->bad_log.interval_ms = 10000;
	if (!s->commands_enabled)
		return 0;
	int n = snprintf(ch->result_prefix, sizeof(ch->result_prefix), "%s/" TOPIC_COMMAND_RESULTS "/", s->prefix);
	if (topic_join(ch->subscription, sizeof(ch->subscription), s->prefix, TOPIC_COMMANDS, "+") < 0 || n < 0 ||
	    (size_t)n + COMMAND_ID_MAX >= sizeof(ch->result_prefix)) {
		snprintf(err, errsz, "topic_prefix: too long for the command channel");
		return -1;
	}
	jw_init(&ch->json, ANSWER_MAX);
	return command_ids_open(&ch->ids, s->outbox_dir, clock_wall_ms(), err, errsz);
}

void command_channel_close(struct command_channel *ch)
{
	command_ids_close(&ch->ids);
	jw_free(&ch->json);
}

void command_channel_connected(struct command_channel *ch)
{
	if (!ch->s->commands_enabled)
		return;
	enum mqtt_rc rc = mqtt_link_subscribe(ch->mqtt, ch->subscription, 1);
	if (rc != MQTT_OK)
		log_warnx("mqtt: cannot subscribe to %s: %s", ch->subscription, mqtt_rc_str(rc));
	else
		log_info("command channel: listening on %s (%zu CLI command glob(s) allowed)", ch->subscription,
		         ch->s->command_rules.nallow);
}

const char *const command_error_codes[] = {
    [CE_NONE] = NULL,
    [CE_BAD_REQUEST] = "bad_request",
    [CE_WRONG_SITE] = "wrong_site",
    [CE_EXPIRED] = "expired",
    [CE_DUPLICATE] = "duplicate",
    [CE_DISABLED] = "disabled",
    [CE_NOT_ALLOWED] = "not_allowed",
    [CE_RATE_LIMITED] = "rate_limited",
    [CE_BUSY] = "busy",
    [CE_NOT_RECORDED] = "not_recorded",
    [CE_AMI_UNAVAILABLE] = "ami_unavailable",
    [CE_AMI_REFUSED] = "ami_refused",
    [CE_TIMEOUT] = "timeout",
    [CE_COMMAND_FAILED] = "command_failed",
    [CE_PHONE_BUSY] = "phone_busy",
    [CE_PHONE_NO_ANSWER] = "phone_no_answer",
    [CE_PHONE_FAILED] = "phone_failed",
};

/* ---- answers ---- */

struct lines {
	struct jw *w;
	size_t bytes;
	int truncated;
};

static int add_line(void *arg, const char *line, size_t len)
{
	struct lines *l = arg;
	if (l->bytes + len > OUTPUT_MAX) {
		l->truncated = 1;
		return -1;
	}
	l->bytes += len;
	jw_str(l->w, line, len);
	return 0;
}

void command_answer(struct command_channel *ch, const struct command_reply *r, const char *kind, const char *what,
                    enum command_error e, const char *message, int final, command_fields_fn fields, const void *arg)
{
	struct jw *w = &ch->json;
	size_t len;

	jw_reset(w);
	jw_obj_begin(w);
	jw_keyz(w, "id");
	jw_strz(w, r->id);
	jw_keyz(w, "kind");
	jw_strz(w, kind);
	jw_keyz(w, "final");
	jw_bool(w, final);
	jw_keyz(w, "ok");
	if (final)
		jw_bool(w, e == CE_NONE);
	else
		jw_null(w);
	jw_keyz(w, "error");
	jw_strz(w, command_error_codes[e]);
	jw_keyz(w, "message");
	jw_strz(w, message);
	if (fields)
		fields(w, arg);
	jw_obj_end(w);
	const char *doc = jw_finish(w, &len);
	if (final) {
		if (e == CE_NONE)
			ch->ran++;
		else
			ch->refused++;
		log_info("command %s (%s): %s%s%s", r->id, what, e == CE_NONE ? "ran" : command_error_codes[e],
		         message && e != CE_NONE ? ": " : "", message && e != CE_NONE ? message : "");
	}
	if (doc == NULL)
		return;
	enum mqtt_rc rc = mqtt_link_publish_answer(ch->mqtt, r->topic, doc, (int)len,
	                                           r->has_correlation ? r->correlation : NULL, r->correlation_len);
	if (rc != MQTT_OK && rc != MQTT_QUEUED)
		log_warnx("command %s: its answer was not sent: %s", r->id, mqtt_rc_str(rc));
}

int command_over_rate(const struct command_channel *ch, int64_t now)
{
	return command_ids_since(&ch->ids, now - 60 * 1000) >= ch->s->commands_per_minute;
}

/* ---- the cli kind ---- */

/* The output lines of a reply (NULL: none). */
static void cli_fields(struct jw *w, const void *arg)
{
	const struct ami_msg *output = arg;
	struct lines lines = {w, 0, 0};

	jw_keyz(w, "output");
	if (output) {
		jw_arr_begin(w);
		cli_reply_lines(output, add_line, &lines);
		jw_arr_end(w);
	} else {
		jw_null(w);
	}
	jw_keyz(w, "truncated");
	jw_bool(w, lines.truncated);
}

static void cli_answer(struct command_channel *ch, const struct command_reply *r, const char *command,
                       enum command_error e, const char *message, const struct ami_msg *output)
{
	char what[CLI_COMMAND_MAX + 16];

	snprintf(what, sizeof(what), command && command[0] ? "cli '%s'" : "cli", command ? command : "");
	command_answer(ch, r, "cli", what, e, message, 1, cli_fields, output);
}

static void on_cli_reply(void *arg, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	struct command_channel *ch = arg;
	char message[256];

	if (kind != AMI_REPLY_RESPONSE && kind != AMI_REPLY_LOST)
		return;
	ch->cli.running = 0;
	switch (cli_reply_outcome(m, message, sizeof(message))) {
	case CLI_RAN:
		cli_answer(ch, &ch->cli.reply, ch->cli.command, CE_NONE, NULL, m);
		break;
	case CLI_FAILED:
		cli_answer(ch, &ch->cli.reply, ch->cli.command, CE_COMMAND_FAILED, "the PBX's CLI did not run it", m);
		break;
	case CLI_REFUSED:
		cli_answer(ch, &ch->cli.reply, ch->cli.command, CE_AMI_REFUSED,
		           message[0] ? message : "the PBX refused the action", NULL);
		break;
	case CLI_LOST:
		if (c->state == AMI_UP)
			cli_answer(ch, &ch->cli.reply, ch->cli.command, CE_TIMEOUT, "the PBX did not answer in time",
			           NULL);
		else
			cli_answer(ch, &ch->cli.reply, ch->cli.command, CE_AMI_UNAVAILABLE,
			           "the connection to the PBX ended before it answered", NULL);
		break;
	}
}

/* norm: the command as folded, for the log (CLI_COMMAND_MAX + 1 bytes) */
static enum command_error run_cli(struct command_channel *ch, const struct command_reply *r, const cJSON *req,
                                  int64_t now, char *norm, const char **why)
{
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "command");

	if (!cJSON_IsString(cmd)) {
		*why = "no command";
		return CE_BAD_REQUEST;
	}
	enum cli_verdict v = cli_command_check(&ch->s->command_rules, cmd->valuestring, norm, CLI_COMMAND_MAX + 1);
	if (v != CLI_OK) {
		*why = cli_verdict_str(v);
		return v == CLI_MALFORMED ? CE_BAD_REQUEST : CE_NOT_ALLOWED;
	}
	if (command_over_rate(ch, now)) {
		*why = "over commands_per_minute";
		return CE_RATE_LIMITED;
	}
	if (ch->cli.running) {
		*why = "another CLI command is running";
		return CE_BUSY;
	}
	if (ch->ami->state != AMI_UP) {
		*why = "the bridge is not logged in to the PBX";
		return CE_AMI_UNAVAILABLE;
	}
	if (command_ids_add(&ch->ids, r->id, now) < 0) {
		*why = "its id could not be kept on disk, so it was not run";
		return CE_NOT_RECORDED;
	}
	ch->cli.reply = *r;
	memcpy(ch->cli.command, norm, CLI_COMMAND_MAX + 1);
	if (ami_client_command(ch->ami, norm, ch->s->commands_timeout_ms, on_cli_reply, ch) < 0) {
		*why = "the PBX connection could not take it";
		return CE_AMI_UNAVAILABLE;
	}
	ch->cli.running = 1;
	return CE_NONE;
}

/* ---- requests ---- */

/* Where to answer: <prefix>/commands/result/<id>, or an MQTT 5 response
 * topic one level under it (any other would be dropped by the ACL). */
static int reply_to(struct command_channel *ch, const struct mqtt_message *msg, struct command_reply *r)
{
	size_t rl = strlen(ch->result_prefix);

	/* fits: open kept room for an id after the prefix */
	memcpy(r->topic, ch->result_prefix, rl);
	memcpy(r->topic + rl, r->id, strlen(r->id) + 1);
	if (msg->correlation && msg->correlation_len <= sizeof(r->correlation)) {
		memcpy(r->correlation, msg->correlation, msg->correlation_len);
		r->correlation_len = msg->correlation_len;
		r->has_correlation = 1;
	}
	if (msg->response_topic == NULL)
		return 0;
	const char *leaf = msg->response_topic + rl;
	if (strncmp(msg->response_topic, ch->result_prefix, rl) != 0 || *leaf == '\0' || strpbrk(leaf, "/+#") ||
	    strlen(msg->response_topic) >= sizeof(r->topic))
		return -1;
	memcpy(r->topic, msg->response_topic, strlen(msg->response_topic) + 1);
	return 0;
}

/* expires_at, the MQTT 5 expiry, or ten seconds from now: -1 when the
 * request says something unusable, else its deadline. */
static int64_t deadline_of(const cJSON *req, const struct mqtt_message *msg, int64_t now, const char **why)
{
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(req, "expires_at");
	int64_t deadline = now + DEFAULT_LIFE_MS;

	if (at != NULL && !cJSON_IsNull(at)) {
		deadline = cJSON_IsString(at) ? iso8601_parse_ms(at->valuestring) : -1;
		if (deadline < 0) {
			*why = "expires_at is not an ISO 8601 UTC time";
			return -1;
		}
		if (deadline > now + LONGEST_LIFE_MS) {
			*why = "expires_at is more than 60 s ahead";
			return -1;
		}
	}
	if (msg->expiry_s >= 0 && now + msg->expiry_s * 1000 < deadline)
		deadline = now + msg->expiry_s * 1000;
	return deadline;
}

static enum command_error check(struct command_channel *ch, const cJSON *req, const struct mqtt_message *msg,
                                const struct command_reply *r, int64_t now, const char **why)
{
	const cJSON *site = cJSON_GetObjectItemCaseSensitive(req, "site");

	if (site != NULL && !cJSON_IsNull(site) &&
	    !(cJSON_IsString(site) && strcmp(site->valuestring, ch->s->prefix) == 0)) {
		*why = "the request names another site";
		return CE_WRONG_SITE;
	}
	int64_t deadline = deadline_of(req, msg, now, why);
	if (deadline < 0)
		return CE_BAD_REQUEST;
	if (deadline <= now) {
		*why = "it expired before it was run";
		return CE_EXPIRED;
	}
	if (command_ids_seen(&ch->ids, r->id, now)) {
		*why = "a request with this id ran in the last 10 minutes";
		return CE_DUPLICATE;
	}
	return CE_NONE;
}

static void bad_input(struct command_channel *ch, const char *topic, const char *why, int64_t now)
{
	uint64_t held_back;
	ch->refused++;
	if (log_ratelimit_ok(&ch->bad_log, now, &held_back))
		log_warnx("command channel: a request on %s %s: not answered (%llu more since the last line)", topic,
		          why, (unsigned long long)held_back);
}

int command_channel_message(struct command_channel *ch, const struct mqtt_message *msg, int64_t now)
{
	char kind[TOPIC_SEGMENT_MAX + 1], norm[CLI_COMMAND_MAX + 1] = "", what[256] = "";
	struct command_reply r = {0};
	const char *why = NULL;

	if (!ch->s->commands_enabled || topic_command_kind(ch->s->prefix, msg->topic, kind, sizeof(kind)) < 0)
		return 0;
	ch->requests++;
	cJSON *req = msg->len <= COMMAND_REQUEST_MAX ? cJSON_ParseWithLength(msg->payload, msg->len) : NULL;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
	if (!cJSON_IsString(id) || !command_id_valid(id->valuestring)) {
		bad_input(ch, msg->topic,
		          req ? "has no id of 1 to 64 letters, digits, '.', '-', '_'"
		              : "is not JSON (or over 4096 bytes)",
		          now);
		cJSON_Delete(req);
		return 1;
	}
	memcpy(r.id, id->valuestring, strlen(id->valuestring) + 1);
	enum command_error e = CE_NONE;
	if (reply_to(ch, msg, &r) < 0) {
		e = CE_BAD_REQUEST;
		why = "its response topic is not under <prefix>/commands/result/";
	}
	int is_cli = strcmp(kind, "cli") == 0, is_dial = strcmp(kind, "dial") == 0;
	if (is_dial)
		command_dial_what(ch, req, what, sizeof(what));
	if (e == CE_NONE)
		e = check(ch, req, msg, &r, now, &why);
	if (e == CE_NONE && is_cli) {
		e = run_cli(ch, &r, req, now, norm, &why);
	} else if (e == CE_NONE && is_dial) {
		e = command_dial(ch, &r, req, now, what, &why);
	} else if (e == CE_NONE) {
		e = CE_BAD_REQUEST;
		why = "no such kind (cli, dial)";
	}
	if (e == CE_NONE) { /* answered when the PBX answers */
		cJSON_Delete(req);
		return 1;
	}
	if (is_cli)
		cli_answer(ch, &r, norm, e, why, NULL);
	else if (is_dial)
		command_dial_refused(ch, &r, req, what, e, why);
	else
		command_answer(ch, &r, kind, kind, e, why, 1, NULL, NULL);
	cJSON_Delete(req);
	return 1;
}
