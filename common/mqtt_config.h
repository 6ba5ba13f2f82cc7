/*
 * The MQTT connection settings both daemons take: one set of keys (with
 * their help and defaults) and one loader, so the bridge and the consumer
 * cannot drift apart.  Each daemon adds its own keys (QoS, client id) and
 * session options (clean session, will, external acks) after loading.
 */
#ifndef PBXBUS_MQTT_CONFIG_H
#define PBXBUS_MQTT_CONFIG_H

#include <stddef.h>

#include "config.h"
#include "mqtt_link.h"

/* protocol: the daemon's default mqtt_protocol ("5" or "3.1.1"). */
#define MQTT_CONFIG_KEYS(protocol)                                                                                     \
	CFG_S("mqtt_host", "127.0.0.1", "MQTT broker host"), CFG_I("mqtt_port", "1883", 1, 65535, "MQTT broker port"), \
	    CFG_S("mqtt_protocol", protocol,                                                                           \
	          "MQTT version spoken to the broker: 5 or 3.1.1 (a broker without MQTT 5, such as RabbitMQ's MQTT "   \
	          "plugin, needs 3.1.1)"),                                                                             \
	    CFG_S("mqtt_username", NULL, "MQTT user name"),                                                            \
	    CFG_SECRET_S("mqtt_password", "MQTT password (prefer mqtt_password_file or PBXBUS_MQTT_PASSWORD)"),        \
	    CFG_S("mqtt_password_file", NULL, "file holding the MQTT password (mode 600)"),                            \
	    CFG_S("mqtt_tls_ca", NULL, "CA file: turns TLS on"),                                                       \
	    CFG_S("mqtt_tls_cert", NULL, "client certificate for TLS"),                                                \
	    CFG_S("mqtt_tls_key", NULL, "client key for TLS"),                                                         \
	    CFG_I("mqtt_keepalive", "30", 5, 3600, "MQTT keepalive in seconds")

/* Fills the connection part of m (host, port, protocol, user, password,
 * TLS, keepalive, reconnect_max); the password is read into password,
 * which must outlive m.  0, or -1 with err. */
int mqtt_config_load(const struct config *cfg, struct mqtt_opts *m, char *password, size_t password_size, char *err,
                     size_t errsz);

#endif
