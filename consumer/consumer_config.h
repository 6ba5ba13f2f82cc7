/* The consumer's configuration keys and their conversion to settings. */
#ifndef PBXBUS_CONSUMER_CONFIG_H
#define PBXBUS_CONSUMER_CONFIG_H

#include "bounds.h"
#include "config.h"
#include "globs.h"
#include "mqtt_link.h"
#include "phone.h"

extern const struct cfg_key consumer_keys[];
extern const size_t consumer_nkeys;

#define CONSUMER_MAX_SUBS 16

struct consumer_settings {
	char consumer_id[128];
	char client_id[192];
	char mqtt_password[SECRET_MAX];
	char db_password[SECRET_MAX];
	char http_token[SECRET_MAX];
	char subs[CONSUMER_MAX_SUBS][TOPIC_MAX];
	size_t nsubs;
	char single_pbx_id[TOPIC_SEGMENT_MAX +
	                   1]; /* records on a topic without a site level must carry it ("": not checked) */
	struct mqtt_opts mqtt;
	struct phone_plan plan;
	const char *db_conninfo;
	int suffix_digits;
	int batch_max;
	int migrate_at_start;
	int retention_days;
	long long dead_letters_max_bytes;
	int site_record_rate, site_record_burst; /* per site: a second, at once (rate 0: off) */
	const char *user;
	const char *http_listen;        /* "127.0.0.1:8080", NULL: off */
	const char *http_trusted_proxy; /* its X-Forwarded-For names the client; NULL: none */
	int dial_enabled;               /* click-to-call: dial requests go out (dial_requests.h) */
	const char *archive_file;       /* NULL: off */
	const char *webhook_url;        /* NULL: off */
	char webhook_token[SECRET_MAX]; /* "": none sent */
	int webhook_timeout_ms;
	char http_host[64];
	int http_port;
};

int consumer_settings_load(struct consumer_settings *s, const struct config *cfg, char *err, size_t errsz);
void consumer_settings_wipe(struct consumer_settings *s);

#endif
