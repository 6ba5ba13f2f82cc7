#include "mqtt_config.h"

#include <stdio.h>
#include <string.h>

int mqtt_config_load(const struct config *cfg, struct mqtt_opts *m, char *password, size_t password_size, char *err,
                     size_t errsz)
{
	m->host = config_str(cfg, "mqtt_host");
	if (m->host == NULL) {
		snprintf(err, errsz, "mqtt_host is not set");
		return -1;
	}
	if (config_secret(cfg, "mqtt_password", "mqtt_password_file", password, password_size, err, errsz) < 0)
		return -1;
	const char *protocol = config_str(cfg, "mqtt_protocol");
	if (protocol == NULL || (strcmp(protocol, "5") != 0 && strcmp(protocol, "3.1.1") != 0)) {
		snprintf(err, errsz, "mqtt_protocol: 5 or 3.1.1");
		return -1;
	}
	m->mqtt311 = strcmp(protocol, "3.1.1") == 0;
	m->port = (int)config_int(cfg, "mqtt_port");
	m->username = config_str(cfg, "mqtt_username");
	m->password = password[0] ? password : NULL;
	m->tls_ca = config_str(cfg, "mqtt_tls_ca");
	m->tls_cert = config_str(cfg, "mqtt_tls_cert");
	m->tls_key = config_str(cfg, "mqtt_tls_key");
	m->keepalive = (int)config_int(cfg, "mqtt_keepalive");
	m->reconnect_max_ms = config_int(cfg, "reconnect_max") * 1000;
	return 0;
}
