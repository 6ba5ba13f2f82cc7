#include "bridge_check.h"

#include <stdio.h>
#include <string.h>

#include "asterisk_version.h"
#include "clock.h"
#include "mqtt_link.h"

#define STEP_TIMEOUT_MS 10000

struct check_ctx {
	struct ami_client *ami;
	int answered;
	int ok;
	char detail[256];
};

static void step(int ok, const char *what, const char *detail)
{
	printf("%s %s%s%s\n", ok ? "\u2713" : "\u2717", what, detail && *detail ? ": " : "", detail ? detail : "");
	fflush(stdout);
}

static int ami_attempt_over(void *arg)
{
	struct check_ctx *x = arg;
	return x->ami->state >= AMI_BANNER || (x->ami->state == AMI_DISCONNECTED && x->ami->connects > 0);
}

/* The TLS step, when ami_tls_ca is set: connected (a handshake began),
 * then the server's certificate and name accepted. */
static int check_ami_tls(struct bridge_settings *s, struct ami_client *ami, const char *connect_line)
{
	char line[384];

	if (ami->tls_handshakes == 0) {
		step(0, connect_line, ami->last_error[0] ? ami->last_error : "timed out");
		return -1;
	}
	step(1, connect_line, NULL);
	snprintf(line, sizeof(line), "AMI TLS (the certificate of %s, from %s)",
	         s->ami.tls_server_name ? s->ami.tls_server_name : s->ami.host, s->ami.tls_ca);
	if (ami->state < AMI_BANNER) {
		step(0, line, ami->last_error[0] ? ami->last_error : "timed out");
		return -1;
	}
	step(1, line, NULL);
	return 0;
}

static int answered(void *arg)
{
	struct check_ctx *x = arg;
	return x->answered || x->ami->state != AMI_UP;
}

static void on_reply(void *arg, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	struct check_ctx *x = arg;
	char ver[64], amiver[32], msg[128];
	(void)c;

	x->answered = 1;
	if (kind != AMI_REPLY_RESPONSE) {
		snprintf(x->detail, sizeof(x->detail), "no answer");
		return;
	}
	x->ok = ami_field_is(ami_msg_find(m, "Response"), "Success");
	if (ami_msg_find(m, "AsteriskVersion")) {
		ami_msg_get(m, "AsteriskVersion", ver, sizeof(ver));
		int supported = asterisk_version_supported(ver);
		snprintf(x->detail, sizeof(x->detail), "Asterisk %s, AMI %s%s%s", ver,
		         ami_msg_get(m, "AMIversion", amiver, sizeof(amiver)), supported == 0 ? ": " : "",
		         supported == 0 ? ASTERISK_TOO_OLD : "");
		if (supported == 0)
			x->ok = 0;
	} else
		snprintf(x->detail, sizeof(x->detail), "%s", ami_msg_get(m, "Message", msg, sizeof(msg)));
}

static int ami_ask(struct check_ctx *x, const char *action, const char *label)
{
	x->answered = x->ok = 0;
	x->detail[0] = '\0';
	if (ami_client_action(x->ami, action, NULL, on_reply, x) < 0 ||
	    ami_client_run_until(x->ami, answered, x, STEP_TIMEOUT_MS) < 0 || !x->answered) {
		step(0, label, "no answer");
		return -1;
	}
	step(x->ok, label, x->ok ? x->detail : (x->detail[0] ? x->detail : "refused"));
	return x->ok ? 0 : -1;
}

static int check_ami(struct bridge_settings *s)
{
	struct ami_client ami;
	struct ami_callbacks cb = {0};
	struct check_ctx x = {.ami = &ami};
	char line[384];
	int rc = -1;

	s->ami.reconnect_max_ms = s->ami.auth_retry_ms = 3600 * 1000; /* one attempt */
	snprintf(line, sizeof(line), "AMI connect to %s:%d%s", s->ami.host, s->ami.port, s->ami.tls_ca ? " (TLS)" : "");
	if (ami_client_init(&ami, &s->ami, &cb) < 0) {
		step(0, line, ami.last_error);
		goto out;
	}
	ami_client_run_until(&ami, ami_attempt_over, &x, s->ami.connect_timeout_ms + 1000);
	if (s->ami.tls_ca) {
		if (check_ami_tls(s, &ami, line) < 0)
			goto out;
	} else if (ami.state < AMI_BANNER) {
		step(0, line, ami.last_error[0] ? ami.last_error : "timed out");
		goto out;
	} else {
		step(1, line, NULL);
	}
	snprintf(line, sizeof(line), "AMI login as %s (%s)", s->ami.username, s->ami.auth_md5 ? "md5" : "plain");
	ami_client_run_until(&ami, ami_client_login_settled, &ami, s->ami.connect_timeout_ms + 1000);
	if (ami.state != AMI_UP) {
		step(0, line, ami.last_error[0] ? ami.last_error : "timed out");
		goto out;
	}
	step(1, line, ami.version);
	if (ami_ask(&x, "Ping", "AMI Ping") < 0 || ami_ask(&x, "CoreSettings", "AMI CoreSettings") < 0)
		goto out;
	rc = 0;
out:
	ami_client_free(&ami);
	return rc;
}

static void on_mqtt_connect(void *ctx)
{
	(void)ctx;
}

static int check_mqtt(struct bridge_settings *s)
{
	struct mqtt_link l;
	struct mqtt_callbacks cb = {.on_connect = on_mqtt_connect};
	char line[384];

	snprintf(line, sizeof(line), "MQTT connect to %s:%d%s as %s, MQTT %s", s->mqtt.host, s->mqtt.port,
	         s->mqtt.tls_ca ? " (TLS)" : "", s->mqtt.client_id, s->mqtt.mqtt311 ? "3.1.1" : "5");
	/* A distinct client id: do not kick the running bridge off the broker. */
	char cid[224];
	snprintf(cid, sizeof(cid), "%.190s-check", s->mqtt.client_id);
	struct mqtt_opts o = s->mqtt;
	o.client_id = cid;
	o.will_topic = NULL;
	if (mqtt_link_init(&l, &o, &cb) < 0) {
		step(0, line, l.last_error);
		mqtt_link_free(&l);
		return -1;
	}
	int ok = mqtt_link_wait_connected(&l, STEP_TIMEOUT_MS) == 0;
	step(ok, line, ok ? NULL : (l.last_error[0] ? l.last_error : "timed out"));
	mqtt_link_disconnect(&l);
	mqtt_link_free(&l);
	return ok ? 0 : -1;
}

/* The CDR store, when one is set: reachable, and the table has the columns read. */
static int check_cdr(struct bridge_settings *s)
{
	struct cdr_store st;
	char line[640];

	if (!cdr_store_configured(&s->cdr)) {
		step(1, "CDR store", "not set (cdr_db_user): calls made while the bridge is away are not recovered");
		return 0;
	}
	snprintf(line, sizeof(line), "CDR store %s.%s at %s as %s", s->cdr.database, s->cdr.table,
	         s->cdr.socket && s->cdr.socket[0] ? s->cdr.socket : s->cdr.host, s->cdr.user);
	cdr_store_init(&st, &s->cdr);
	int ok = cdr_store_check(&st) == 0;
	step(ok, line, ok ? NULL : st.last_error);
	cdr_store_close(&st);
	return ok ? 0 : -1;
}

int bridge_check(struct bridge_settings *s)
{
	step(1, "configuration", "OK");
	if (check_ami(s) < 0)
		return 1;
	if (check_mqtt(s) < 0)
		return 1;
	if (check_cdr(s) < 0)
		return 1;
	printf("all checks passed\n");
	return 0;
}
