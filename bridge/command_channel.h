/*
 * The command channel (docs/commands.md): requests on the bus,
 * <prefix>/commands/<kind>, each answered once on
 * <prefix>/commands/result/<id> (or an MQTT 5 response topic under it,
 * with the request's correlation data).  Every request is checked at once
 * (well formed, this site, not expired, not a duplicate, allowed, within
 * commands_per_minute, nothing of its kind running) and answered with the
 * reason when refused; what passes runs on the PBX one at a time per
 * kind, its id kept on disk first, and is logged once.  Off unless
 * commands_enabled.  Kinds: cli (read-only Asterisk CLI commands), dial
 * (click-to-call, command_dial.c; off unless dial_enabled).
 */
#ifndef PBXBUS_COMMAND_CHANNEL_H
#define PBXBUS_COMMAND_CHANNEL_H

#include <stdint.h>

#include "ami_client.h"
#include "bridge_config.h"
#include "cli_command.h"
#include "command_ids.h"
#include "dial.h"
#include "endpoint_kinds.h"
#include "json_writer.h"
#include "log.h"
#include "mqtt_link.h"

#define COMMAND_CORRELATION_MAX 256 /* bytes of MQTT 5 correlation data kept */
#define DIAL_SLOTS              32  /* dials in flight at once */
#define DIAL_RECENT             256 /* dials remembered for the per-extension rate */

/* Where and how a request is answered. */
struct command_reply {
	char id[COMMAND_ID_MAX + 1];
	char topic[TOPIC_MAX];
	unsigned char correlation[COMMAND_CORRELATION_MAX];
	size_t correlation_len;
	int has_correlation;
};

/* A dial in flight: asked, until the OriginateResponse. */
struct dial_slot {
	int used;
	struct command_channel *ch;
	struct command_reply reply;
	char extension[DIAL_EXTENSION_MAX + 1];
	char what[192]; /* "dial 100 -> +1xxxxxx6543 by console 192.0.2.7", for the log */
};

struct dial_recent {
	char extension[DIAL_EXTENSION_MAX + 1];
	int64_t at_ms;
};

struct command_channel {
	const struct bridge_settings *s;
	struct mqtt_link *mqtt;
	struct ami_client *ami;
	struct command_ids ids;
	char subscription[TOPIC_MAX];  /* <prefix>/commands/+ */
	char result_prefix[TOPIC_MAX]; /* <prefix>/commands/result/ */
	struct jw json;
	struct log_ratelimit bad_log;
	struct {
		int running; /* one at a time */
		struct command_reply reply;
		char command[CLI_COMMAND_MAX + 1];
	} cli;
	const struct endpoint_kinds *kinds;     /* which endpoints are phones, as the PBX says */
	struct dial_slot dials[DIAL_SLOTS];     /* in flight: one per extension */
	struct dial_recent recent[DIAL_RECENT]; /* the last dials, for dial_per_minute */
	size_t recent_next;
	uint64_t requests, ran, refused;
};

/* Off (nothing opened) unless s->commands_enabled.  0, or -1 with err. */
int command_channel_open(struct command_channel *ch, const struct bridge_settings *s, struct mqtt_link *mqtt,
                         struct ami_client *ami, const struct endpoint_kinds *kinds, char *err, size_t errsz);
void command_channel_close(struct command_channel *ch);
/* A new broker session: subscribe to this site's requests. */
void command_channel_connected(struct command_channel *ch);
/* 1 if msg was a request (handled), 0 if it is not on the channel. */
int command_channel_message(struct command_channel *ch, const struct mqtt_message *msg, int64_t now_wall_ms);

#endif
