/*
 * pbxbus-bridge: Asterisk Manager Interface → MQTT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"
#include "bridge_check.h"
#include "bridge_config.h"
#include "cli.h"
#include "cli_command.h"
#include "log.h"
#include "mqtt_link.h"
#include "privdrop.h"
#include "signals.h"
#include "state_service.h"
#include "version.h"

static volatile sig_atomic_t stop_requested;

/* The CDR store's calldate is the PBX's local time: the process reads and
 * writes it in cdr_timezone when one is set (a process-wide setting, so it
 * is made here, once, not by a module). */
static void use_pbx_timezone(const struct bridge_settings *s)
{
	if (s->cdr_timezone[0]) {
		setenv("TZ", s->cdr_timezone, 1);
		tzset();
	}
}

int main(int argc, char **argv)
{
	struct cli_mode modes[] = {
	    {"--check", "check config, AMI login, Ping, CoreSettings and the broker; then exit", 0, 0, NULL},
	    {"--collect", "log in, read the PBX's state, print it as JSON; then exit", 0, 0, NULL},
	    {"--snapshot", "FILE: keep the whole state as JSON in FILE (as snapshot_file)", 1, 0, NULL},
	    {"--command",
	     "CMD: log in, run this CLI command (it must be on commands_allow), print its output; then "
	     "exit",
	     1, 0, NULL},
	};
	struct cli cli = {.progname = "pbxbus-bridge",
	                  .default_config = "/etc/pbxbus/bridge.conf",
	                  .modes = modes,
	                  .nmodes = sizeof(modes) / sizeof(modes[0])};
	struct config cfg;
	struct bridge_settings s;
	struct bridge b;
	char err[1024];
	enum log_level level = LOG_LVL_INFO;
	int rc = 0;

	log_init("pbxbus-bridge", LOG_LVL_INFO);
	if (config_init(&cfg, bridge_keys, bridge_nkeys) < 0)
		fatalx("out of memory");
	if (cli_load(&cli, &cfg, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "pbxbus-bridge: %s\n", err);
		if (modes[0].set)
			printf("\u2717 configuration: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	if (cli_answered(&cli, &cfg, "pbxbus-bridge")) {
		config_free(&cfg);
		return 0;
	}
	if (modes[2].set && config_set(&cfg, "snapshot_file", modes[2].arg, CFG_SRC_FLAG, err, sizeof(err)) < 0) {
		fprintf(stderr, "pbxbus-bridge: --snapshot: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	if (log_level_parse(config_str(&cfg, "log_level") ? config_str(&cfg, "log_level") : "info", &level) < 0) {
		fprintf(stderr, "pbxbus-bridge: log_level: must be error, warn, info or debug\n");
		config_free(&cfg);
		return 2;
	}
	log_set_level(cli.debug ? LOG_LVL_DEBUG : level);
	if (bridge_settings_load(&s, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "pbxbus-bridge: %s\n", err);
		if (modes[0].set)
			printf("\u2717 configuration: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	mqtt_lib_init();
	use_pbx_timezone(&s);
	const char *own[] = {s.outbox_dir, NULL};
	if (modes[0].set) {
		rc = bridge_check(&s);
	} else if (modes[1].set) {
		rc = bridge_collect(&s);
	} else if (modes[3].set) {
		rc = cli_command_once(&s, modes[3].arg);
	} else if (privdrop(config_str(&cfg, "user"), own, err, sizeof(err)) < 0) {
		log_crit("%s", err);
		rc = 1;
	} else if (bridge_init(&b, &s, err, sizeof(err)) < 0) {
		log_crit("%s", err);
		rc = 1;
	} else {
		signals_install(&stop_requested);
		log_info("starting %s: AMI %s:%d, MQTT %s:%d, prefix %s, pbx %s", PBXBUS_VERSION, s.ami.host,
		         s.ami.port, s.mqtt.host, s.mqtt.port, s.prefix, s.pbx_id);
		bridge_run(&b, &stop_requested);
		bridge_free(&b);
	}
	bridge_settings_wipe(&s);
	config_free(&cfg);
	mqtt_lib_cleanup();
	return rc;
}
