/* The bridge's configuration keys and their conversion to options. */
#ifndef PBXBUS_BRIDGE_CONFIG_H
#define PBXBUS_BRIDGE_CONFIG_H

#include "ami_client.h"
#include "bounds.h"
#include "cdr_store.h"
#include "cli_command.h"
#include "config.h"
#include "dial.h"
#include "mqtt_link.h"

extern const struct cfg_key bridge_keys[];
extern const size_t bridge_nkeys;

struct bridge_settings {
	char pbx_id[128];
	char prefix[TOPIC_MAX / 2 + 1];
	char client_id[192];
	char ami_secret[SECRET_MAX];
	char mqtt_password[SECRET_MAX];
	char cdr_password[SECRET_MAX];
	struct cdr_store_opts cdr; /* the PBX's CDR store; off unless cdr_db_user is set */
	const char *cdr_timezone;
	int64_t cdr_backfill_max_ms;
	char will_topic[TOPIC_MAX];
	struct ami_opts ami;
	struct mqtt_opts mqtt;
	int qos_events, qos_state, qos_calls;
	const char *trunk_contexts, *trunk_endpoints, *phone_endpoints;
	long long call_idle_timeout_ms;
	const char *outbox_dir;
	int publish_state;
	int64_t state_resync_ms;
	const char *snapshot_file;
	uint64_t outbox_max_bytes, outbox_memory_max;
	int64_t outbox_resend_ms;
	size_t outbox_window;
	char acks_topic[TOPIC_MAX];
	size_t max_calls;
	long long queue_max_messages, queue_max_bytes;
	long long status_interval_ms;
	const char *events_allow, *events_deny;
	int commands_enabled;
	struct cli_rules command_rules; /* commands_allow; the AMI client's opts point at it */
	size_t commands_per_minute;
	int64_t commands_timeout_ms;
	int dial_enabled;
	struct dial_rules dial; /* the AMI client's opts point at it */
};

/* Validates the loaded config and fills s (which points into cfg).  Returns
 * 0, or -1 with what is wrong in err. */
int bridge_settings_load(struct bridge_settings *s, const struct config *cfg, char *err, size_t errsz);
/* Wipes the secrets held in s, and frees what it holds. */
void bridge_settings_wipe(struct bridge_settings *s);

#endif
