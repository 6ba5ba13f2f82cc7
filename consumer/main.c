/*
 * pbxbus-consumer: call records from MQTT → PostgreSQL (crm_comms_log).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "archive_sink.h"
#include "cli.h"
#include "clock.h"
#include "consumer.h"
#include "consumer_config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "migrations.h"
#include "privdrop.h"
#include "signals.h"
#include "version.h"
#include "webhook_sink.h"

static volatile sig_atomic_t stop_requested;

static void step(int ok, const char *what, const char *detail)
{
	printf("%s %s%s%s\n", ok ? "\u2713" : "\u2717", what, detail && *detail ? ": " : "", detail ? detail : "");
	fflush(stdout);
}

/* Where records go: the database (which decides), then the archive file
 * when one is set.  The sinks are made here and handed to the consumer. */
struct sinks {
	struct db db;
	struct archive archive;
	struct webhook webhook;
	struct sink table[CONSUMER_MAX_SINKS];
	size_t n;
};

static void sinks_build(struct sinks *k, const struct consumer_settings *s)
{
	db_init(&k->db, s->db_conninfo, s->db_password[0] ? s->db_password : NULL, s->suffix_digits);
	db_sink(&k->db, &k->table[k->n++]);
	archive_init(&k->archive, s->archive_file);
	if (s->archive_file)
		archive_sink(&k->archive, &k->table[k->n++]);
	/* a batch's POSTs take at most half a keepalive, as any wait of the loop */
	webhook_init(&k->webhook, s->webhook_url, s->webhook_token, s->webhook_timeout_ms,
	             s->mqtt.keepalive * 1000 / 2);
	if (s->webhook_url)
		webhook_sink(&k->webhook, &k->table[k->n++]);
}

static void sinks_free(struct sinks *k)
{
	db_close(&k->db);
	archive_close(&k->archive);
	webhook_close(&k->webhook);
}

/* Until the database answers (it may start after us), then the schema. */
static int wait_for_db(struct db *db, volatile sig_atomic_t *stop, int migrate)
{
	struct backoff b;
	int warned = 0;

	backoff_init(&b, 500, 30000, (uint32_t)clock_wall_ms());
	while (!*stop && db_connect(db) < 0) {
		if (!warned++)
			log_warnx("db: %s; retrying", db->last_error);
		struct timespec ts = {0, 0};
		int64_t ms = backoff_next(&b);
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000;
		nanosleep(&ts, NULL);
	}
	if (*stop)
		return -1;
	if (migrate && db_migrate(db) < 0) {
		log_crit("db: migration failed: %s", db->last_error);
		return -1;
	}
	int v = db_schema_version(db);
	if (v != SCHEMA_VERSION) {
		log_crit("db: schema is at version %d, this consumer needs %d: run pbxbus-consumer --migrate", v,
		         SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

static int check(struct consumer_settings *s)
{
	struct db db;
	char line[256];

	step(1, "configuration", "OK");
	db_init(&db, s->db_conninfo, s->db_password[0] ? s->db_password : NULL, s->suffix_digits);
	if (db_connect(&db) < 0) {
		step(0, "database connect", db.last_error);
		return 1;
	}
	step(1, "database connect", NULL);
	int v = db_schema_version(&db);
	snprintf(line, sizeof(line), "schema version %d of %d%s", v, SCHEMA_VERSION,
	         v == SCHEMA_VERSION ? "" : " (run pbxbus-consumer --migrate)");
	step(v == SCHEMA_VERSION, "database schema", line);
	db_close(&db);
	if (v != SCHEMA_VERSION)
		return 1;
	static struct sinks k;
	struct consumer c;
	char err[256];
	s->mqtt.client_id = "pbxbus-consumer-check"; /* never take over the running consumer's session */
	s->mqtt.clean_session = 1;
	sinks_build(&k, s);
	if (consumer_init(&c, s, &k.db, k.table, k.n, err, sizeof(err)) < 0) {
		step(0, "MQTT", err);
		sinks_free(&k);
		return 1;
	}
	int ok = mqtt_link_wait_connected(&c.mqtt, 10000) == 0;
	snprintf(line, sizeof(line), "MQTT connect to %s:%d", s->mqtt.host, s->mqtt.port);
	step(ok, line, ok ? NULL : (c.mqtt.last_error[0] ? c.mqtt.last_error : "timed out"));
	mqtt_link_disconnect(&c.mqtt);
	consumer_free(&c);
	sinks_free(&k);
	if (ok)
		printf("all checks passed\n");
	return ok ? 0 : 1;
}

static int migrate(struct consumer_settings *s)
{
	struct db db;

	db_init(&db, s->db_conninfo, s->db_password[0] ? s->db_password : NULL, s->suffix_digits);
	if (db_connect(&db) < 0 || db_migrate(&db) < 0) {
		fprintf(stderr, "pbxbus-consumer: %s\n", db.last_error);
		db_close(&db);
		return 1;
	}
	printf("schema at version %d\n", db_schema_version(&db));
	db_close(&db);
	return 0;
}

static int run(struct consumer_settings *s)
{
	static struct sinks k; /* beside the consumer for its whole run */
	struct consumer c;
	char err[512];

	sinks_build(&k, s);
	if (privdrop(s->user, NULL, err, sizeof(err)) < 0 ||
	    consumer_init(&c, s, &k.db, k.table, k.n, err, sizeof(err)) < 0) {
		log_crit("%s", err);
		sinks_free(&k);
		return 1;
	}
	signals_install(&stop_requested);
	if (wait_for_db(&k.db, &stop_requested, s->migrate_at_start) < 0) {
		consumer_free(&c);
		sinks_free(&k);
		return stop_requested ? 0 : 1;
	}
	atomic_store(&c.m.sinks[0].up, 1); /* wait_for_db connected it */
	struct http_server *h = NULL;
	if (s->http_listen && (h = http_start(s, &c.m, err, sizeof(err))) == NULL) {
		log_crit("%s", err);
		consumer_free(&c);
		sinks_free(&k);
		return 1;
	}
	log_info("starting %s: MQTT %s:%d as %s, %zu subscription(s)", PBXBUS_VERSION, s->mqtt.host, s->mqtt.port,
	         s->consumer_id, s->nsubs);
	consumer_run(&c, &stop_requested);
	http_stop(h);
	consumer_free(&c);
	sinks_free(&k);
	return 0;
}

int main(int argc, char **argv)
{
	struct cli_mode modes[] = {
	    {"--check", "check config, database, schema and broker; then exit", 0, 0, NULL},
	    {"--migrate", "apply pending database migrations; then exit", 0, 0, NULL},
	};
	struct cli cli = {.progname = "pbxbus-consumer",
	                  .default_config = "/etc/pbxbus/consumer.conf",
	                  .modes = modes,
	                  .nmodes = sizeof(modes) / sizeof(modes[0])};
	struct config cfg;
	struct consumer_settings s;
	char err[1024];
	enum log_level level = LOG_LVL_INFO;
	int rc;

	log_init("pbxbus-consumer", LOG_LVL_INFO);
	if (config_init(&cfg, consumer_keys, consumer_nkeys) < 0)
		fatalx("out of memory");
	if (cli_load(&cli, &cfg, argc, argv, err, sizeof(err)) < 0 ||
	    log_level_parse(config_str(&cfg, "log_level") ? config_str(&cfg, "log_level") : "info", &level) < 0 ||
	    (!cli.help && !cli.version && consumer_settings_load(&s, &cfg, err, sizeof(err)) < 0)) {
		fprintf(stderr, "pbxbus-consumer: %s\n",
		        err[0] ? err : "log_level: must be error, warn, info or debug");
		if (modes[0].set)
			printf("\u2717 configuration: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	if (cli_answered(&cli, &cfg, "pbxbus-consumer")) {
		config_free(&cfg);
		return 0;
	}
	log_set_level(cli.debug ? LOG_LVL_DEBUG : level);
	mqtt_lib_init();
	if (webhook_global_init() < 0) /* before any thread: libcurl's global state */
		fatalx("libcurl: cannot initialise");
	if (modes[0].set)
		rc = check(&s);
	else if (modes[1].set)
		rc = migrate(&s);
	else
		rc = run(&s);
	consumer_settings_wipe(&s);
	config_free(&cfg);
	mqtt_lib_cleanup();
	return rc;
}
