/*
 * The command channel (docs/commands.md): requests on the bus,
 * <prefix>/commands/<kind>, each answered once on
 * <prefix>/commands/result/<id> (or an MQTT 5 response topic under it,
 * with the request's correlation data).  Every request is checked at once
 * (well formed, this site, not expired, not a duplicate, allowed, within
 * commands_per_minute, nothing of its kind running) and answered with the
 * reason when refused; what passes runs on the PBX one at a time per
 * kind, its id kept on disk first, and is logged once.  Off unless
 * commands_enabled.  Kinds: cli (read-only Asterisk CLI commands).
 */
#ifndef PBXBUS_COMMAND_CHANNEL_H
#define PBXBUS_COMMAND_CHANNEL_H

#include <stdint.h>

#include "ami_client.h"
#include "bridge_config.h"
#include "cli_command.h"
#include "command_ids.h"
#include "json_writer.h"
#include "log.h"
#include "mqtt_link.h"

#define COMMAND_CORRELATION_MAX 256 /* bytes of MQTT 5 correlation data kept */

/* Where and how a request is answered. */
struct command_reply {
	char id[COMMAND_ID_MAX + 1];
	char topic[TOPIC_MAX];
	unsigned char correlation[COMMAND_CORRELATION_MAX];
	size_t correlation_len;
	int has_correlation;
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
	uint64_t requests, ran, refused;
};

/* Off (nothing opened) unless s->commands_enabled.  0, or -1 with err. */
int command_channel_open(struct command_channel *ch, const struct bridge_settings *s, struct mqtt_link *mqtt,
                         struct ami_client *ami, char *err, size_t errsz);
void command_channel_close(struct command_channel *ch);
/* A new broker session: subscribe to this site's requests. */
void command_channel_connected(struct command_channel *ch);
/* 1 if msg was a request (handled), 0 if it is not on the channel. */
int command_channel_message(struct command_channel *ch, const struct mqtt_message *msg, int64_t now_wall_ms);

#endif
