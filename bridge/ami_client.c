#include "ami_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli_command.h"
#include "clock.h"
#include "command_ids.h"
#include "dial.h"
#include "log.h"
#include "md5hex.h"

#define READ_CHUNK      65536
#define READS_PER_ROUND 16 /* then let the other socket have a turn */

static const char action_prefix[] = "pbxbus-";

static void read_input(struct ami_client *c);

static void set_state(struct ami_client *c, enum ami_state st)
{
	if (c->state == st)
		return;
	c->state = st;
	if (c->cb.on_state)
		c->cb.on_state(c->cb.ctx, st);
}

static void fail_pending(struct ami_client *c)
{
	for (size_t i = 0; i < AMI_PENDING_ACTIONS; i++) {
		struct ami_pending p = c->pending[i];
		if (!p.used)
			continue;
		memset(&c->pending[i], 0, sizeof(c->pending[i]));
		if (p.cb)
			p.cb(p.arg, c, NULL, AMI_REPLY_LOST);
	}
}

static void close_session(struct ami_client *c, int64_t retry_in_ms)
{
	if (c->conn != NULL) {
		tls_close_notify(c->conn);
		tls_conn_free(c->conn);
		c->conn = NULL;
	}
	c->tls_want_write = 0;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->out_len = 0;
	ami_codec_reset(&c->codec, 1);
	if (c->state == AMI_UP)
		c->disconnects++;
	c->next_attempt_ms = c->now_ms + retry_in_ms;
	c->drop_requested = 0;
	fail_pending(c);
	set_state(c, AMI_DISCONNECTED);
}

void ami_client_drop(struct ami_client *c, const char *why)
{
	if (why && *why) {
		snprintf(c->last_error, sizeof(c->last_error), "%s", why);
		if (c->state == AMI_UP)
			log_warnx("ami: %s:%d: %s; reconnecting", c->o.host, c->o.port, why);
		else
			log_debug("ami: %s:%d: %s", c->o.host, c->o.port, why);
	}
	/* Inside the codec's callback the session cannot be torn down yet. */
	if (c->in_feed) {
		c->drop_requested = 1;
		return;
	}
	close_session(c, c->drop_retry_ms > 0 ? c->drop_retry_ms : backoff_next(&c->backoff));
	c->drop_retry_ms = 0;
}

static int flush_out(struct ami_client *c)
{
	while (c->out_len > 0 && c->conn != NULL) {
		char why[256];
		long n = tls_write(c->conn, c->out, c->out_len, why, sizeof(why));
		c->tls_want_write = n == TLS_WANT_WRITE;
		if (n == TLS_WANT_READ || n == TLS_WANT_WRITE)
			return 0;
		if (n < 0) {
			ami_client_drop(c, n == TLS_EOF ? "connection closed by the server" : why);
			return -1;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	while (c->out_len > 0) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			char why[128];
			snprintf(why, sizeof(why), "write: %s", strerror(errno));
			ami_client_drop(c, why);
			return -1;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	return 0;
}

static struct ami_pending *new_pending(struct ami_client *c)
{
	for (size_t i = 0; i < AMI_PENDING_ACTIONS; i++)
		if (!c->pending[i].used)
			return &c->pending[i];
	return NULL;
}

/* The pending action sent as number seq ("pbxbus-<seq>"). */
static struct ami_pending *find_pending_id(struct ami_client *c, uint64_t seq)
{
	char id[24];

	snprintf(id, sizeof(id), "%s%llu", action_prefix, (unsigned long long)seq);
	for (size_t i = 0; i < AMI_PENDING_ACTIONS; i++)
		if (c->pending[i].used && strcmp(c->pending[i].id, id) == 0)
			return &c->pending[i];
	return NULL;
}

/* Queues an action in any connected state (login needs it before UP). */
static int send_action_timeout(struct ami_client *c, const char *action, const char *headers, ami_action_cb cb,
                               void *arg, int64_t timeout_ms)
{
	struct ami_pending *p = new_pending(c);
	char id[24];

	if (c->fd < 0 || p == NULL)
		return -1;
	snprintf(id, sizeof(id), "%s%llu", action_prefix, (unsigned long long)++c->action_seq);
	int n = snprintf(c->out + c->out_len, sizeof(c->out) - c->out_len, "Action: %s\r\nActionID: %s\r\n%s\r\n",
	                 action, id, headers ? headers : "");
	if (n < 0 || (size_t)n >= sizeof(c->out) - c->out_len)
		return -1;
	c->out_len += (size_t)n;
	memset(p, 0, sizeof(*p));
	memcpy(p->id, id, sizeof(id));
	p->cb = cb;
	p->arg = arg;
	p->used = 1;
	p->deadline_ms = c->now_ms + timeout_ms;
	return flush_out(c);
}

static int send_action(struct ami_client *c, const char *action, const char *headers, ami_action_cb cb, void *arg)
{
	return send_action_timeout(c, action, headers, cb, arg, c->o.action_timeout_ms);
}

/* Read-only by design: the only actions the bridge may send once logged in. */
static const char *const allowed_actions[] = {
    "Ping",
    "Filter",
    "CoreSettings",
    "CoreStatus",
    "CoreShowChannels",
    "PJSIPShowEndpoints",
    "SIPpeers",
    "PJSIPShowRegistrationsOutbound",
    "SIPshowregistry",
    "ExtensionStateList",
    "DeviceStateList",
    "QueueStatus",
    "ParkedCalls",
    "Getvar", /* CALLERID(num-pres) of a new call's caller leg */
};

static int action_allowed(const char *action)
{
	for (size_t i = 0; i < sizeof(allowed_actions) / sizeof(allowed_actions[0]); i++)
		if (strcmp(action, allowed_actions[i]) == 0)
			return 1;
	return 0;
}

int ami_client_action(struct ami_client *c, const char *action, const char *headers, ami_action_cb cb, void *arg)
{
	if (!action_allowed(action)) {
		log_crit("ami: refusing to send action %s: not on the read-only allow-list", action);
		return -1;
	}
	if (c->state != AMI_UP)
		return -1;
	return send_action(c, action, headers, cb, arg);
}

int ami_client_command(struct ami_client *c, const char *command, int64_t timeout_ms, ami_action_cb cb, void *arg)
{
	char norm[CLI_COMMAND_MAX + 1], hdr[CLI_COMMAND_MAX + 16];
	enum cli_verdict v = cli_command_check(c->o.commands, command, norm, sizeof(norm));

	if (v != CLI_OK) {
		log_crit("ami: refusing to send a CLI command: %s", cli_verdict_str(v));
		return -1;
	}
	if (c->state != AMI_UP)
		return -1;
	snprintf(hdr, sizeof(hdr), "Command: %s\r\n", norm);
	return send_action_timeout(c, "Command", hdr, cb, arg, timeout_ms);
}

int ami_client_originate(struct ami_client *c, const struct ami_originate *o, ami_action_cb cb, void *arg)
{
	const struct dial_rules *r = c->o.dial;
	char exten[40], hdr[1024];

	if (r == NULL || !dial_number_allowed(r, o->e164) || !dial_extension_valid(o->extension) ||
	    !command_id_valid(o->request_id) || !dial_by_valid(o->by) || !dial_context_valid(r->ring_context) ||
	    !dial_context_valid(r->context) ||
	    phone_dial_string(o->e164, &r->plan, r->format, exten, sizeof(exten)) < 0) {
		log_crit("ami: refusing to send an Originate: dialling is off, or the number, extension or request is "
		         "not allowed");
		return -1;
	}
	if (c->state != AMI_UP)
		return -1;
	/* The phone shows the customer's number as the caller's name while it
	 * rings; the caller's number is the extension's own, so the PBX's
	 * outbound route presents the extension's outbound caller ID to the
	 * customer, never the customer's own number. */
	int n = snprintf(hdr, sizeof(hdr),
	                 "Channel: Local/%s@%s\r\nContext: %s\r\nExten: %s\r\nPriority: 1\r\nAsync: true\r\n"
	                 "Timeout: %lld\r\nCallerID: \"%s\" <%s>\r\nVariable: PBXBUS_DIAL=%s\r\n"
	                 "Variable: PBXBUS_DIAL_BY=%s\r\n",
	                 o->extension, r->ring_context, r->context, exten, (long long)r->ring_timeout_ms, o->e164,
	                 o->extension, o->request_id, o->by);
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return -1;
	if (send_action_timeout(c, "Originate", hdr, cb, arg, c->o.action_timeout_ms) < 0)
		return -1;
	struct ami_pending *p = find_pending_id(c, c->action_seq);
	if (p != NULL)
		p->awaits_event = 1;
	return 0;
}

static void on_filter_reply(void *arg, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	char msg[128];
	(void)arg;
	(void)c;
	if (kind == AMI_REPLY_RESPONSE && !ami_field_is(ami_msg_find(m, "Response"), "Success"))
		log_warnx("ami: Filter refused: %s", ami_msg_get(m, "Message", msg, sizeof(msg)));
}

static void logged_in(struct ami_client *c)
{
	char hdr[CONFIG_VALUE_MAX + 64];

	c->logins++;
	c->auth_fail_logged = 0;
	c->last_error[0] = '\0';
	backoff_reset(&c->backoff);
	c->next_ping_ms = c->now_ms + c->o.ping_interval_ms;
	log_info("ami: logged in to %s:%d as %s (%s)", c->o.host, c->o.port, c->o.username, c->version);
	set_state(c, AMI_UP);
	for (size_t i = 0; i < c->o.nfilters; i++) {
		snprintf(hdr, sizeof(hdr), "Operation: Add\r\nFilter: %s\r\n", c->o.filters[i]);
		if (send_action(c, "Filter", hdr, on_filter_reply, NULL) < 0)
			log_warnx("ami: could not send Filter %zu", i + 1);
	}
	if (c->cb.on_login)
		c->cb.on_login(c->cb.ctx);
}

static void login_refused(struct ami_client *c, const struct ami_msg *m)
{
	char msg[200];

	ami_msg_get(m, "Message", msg, sizeof(msg));
	snprintf(c->last_error, sizeof(c->last_error), "login refused: %s", msg);
	if (!c->auth_fail_logged) {
		log_crit("ami: login as '%s' to %s:%d refused: %s; check ami_username/ami_secret and manager.conf "
		         "(permit/deny); retrying every %llds",
		         c->o.username, c->o.host, c->o.port, msg, (long long)(c->o.auth_retry_ms / 1000));
		c->auth_fail_logged = 1;
	}
	c->drop_retry_ms = c->o.auth_retry_ms;
	ami_client_drop(c, NULL);
}

static void on_login_reply(void *arg, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	(void)arg;
	if (kind != AMI_REPLY_RESPONSE)
		return;
	if (ami_field_is(ami_msg_find(m, "Response"), "Success"))
		logged_in(c);
	else
		login_refused(c, m);
}

static void on_challenge_reply(void *arg, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	char challenge[128], key[33], hdr[512];
	(void)arg;

	if (kind != AMI_REPLY_RESPONSE)
		return;
	ami_msg_get(m, "Challenge", challenge, sizeof(challenge));
	if (!ami_field_is(ami_msg_find(m, "Response"), "Success") || challenge[0] == '\0') {
		login_refused(c, m);
		return;
	}
	if (md5_hex(challenge, strlen(challenge), c->o.secret, strlen(c->o.secret), key) < 0) {
		ami_client_drop(c, "MD5 failed");
		return;
	}
	snprintf(hdr, sizeof(hdr), "AuthType: MD5\r\nUsername: %s\r\nKey: %s\r\nEvents: %s\r\n", c->o.username, key,
	         c->o.event_mask);
	if (send_action(c, "Login", hdr, on_login_reply, NULL) < 0)
		ami_client_drop(c, "cannot send Login");
}

static void start_login(struct ami_client *c)
{
	char hdr[SECRET_MAX + 256];
	int rc;

	set_state(c, AMI_LOGIN);
	c->deadline_ms = c->now_ms + c->o.connect_timeout_ms;
	if (c->o.auth_md5) {
		rc = send_action(c, "Challenge", "AuthType: MD5\r\n", on_challenge_reply, NULL);
	} else {
		snprintf(hdr, sizeof(hdr), "Username: %s\r\nSecret: %s\r\nEvents: %s\r\n", c->o.username, c->o.secret,
		         c->o.event_mask);
		rc = send_action(c, "Login", hdr, on_login_reply, NULL);
		explicit_bzero(hdr, sizeof(hdr));
	}
	if (rc < 0)
		ami_client_drop(c, "cannot send login");
}

static void on_banner(void *ctx, const char *line, size_t len)
{
	struct ami_client *c = ctx;
	size_t n = len < sizeof(c->version) - 1 ? len : sizeof(c->version) - 1;

	memcpy(c->version, line, n);
	c->version[n] = '\0';
	if (c->state == AMI_BANNER)
		start_login(c);
}

static void on_codec_error(void *ctx, enum ami_err err)
{
	struct ami_client *c = ctx;
	uint64_t held_back;

	c->codec_errors++;
	if (log_ratelimit_ok(&c->bad_input_log, clock_mono_ms(), &held_back))
		log_warnx("ami: skipped bad input from %s:%d: %s (%llu more since the last line; ami_bad_input in "
		          "bridge/status counts all)",
		          c->o.host, c->o.port, ami_err_str(err), (unsigned long long)held_back);
	if (err == AMI_ERR_NO_BANNER && c->state == AMI_BANNER)
		start_login(c);
}

static struct ami_pending *find_pending(struct ami_client *c, const struct ami_field *aid)
{
	if (aid == NULL || aid->val_len >= sizeof(c->pending[0].id) ||
	    strncmp(aid->val, action_prefix, sizeof(action_prefix) - 1) != 0)
		return NULL;
	for (size_t i = 0; i < AMI_PENDING_ACTIONS; i++) {
		struct ami_pending *p = &c->pending[i];
		if (p->used && strlen(p->id) == aid->val_len && memcmp(p->id, aid->val, aid->val_len) == 0)
			return p;
	}
	return NULL;
}

static void finish_pending(struct ami_pending *p, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	struct ami_pending copy = *p;
	memset(p, 0, sizeof(*p));
	if (copy.cb)
		copy.cb(copy.arg, c, m, kind);
}

/* Returns 1 when the message answered one of our actions. */
static int route_reply(struct ami_client *c, const struct ami_msg *m, const struct ami_field *ev)
{
	struct ami_pending *p = find_pending(c, ami_msg_find(m, "ActionID"));
	const struct ami_field *list = ami_msg_find(m, "EventList");

	if (p == NULL)
		return 0;
	if (p->awaits_event) { /* an Originate: its Response, then its OriginateResponse */
		if (ev == NULL && ami_field_is(ami_msg_find(m, "Response"), "Success")) {
			p->deadline_ms =
			    c->now_ms + c->o.action_timeout_ms + (c->o.dial ? c->o.dial->ring_timeout_ms : 0);
			if (p->cb)
				p->cb(p->arg, c, m, AMI_REPLY_RESPONSE);
		} else {
			finish_pending(p, c, m, ev == NULL ? AMI_REPLY_RESPONSE : AMI_REPLY_EVENT);
		}
		return 1;
	}
	if (ev == NULL) {
		if (ami_field_is(list, "start")) {
			p->in_list = 1;
			p->deadline_ms = c->now_ms + c->o.action_timeout_ms;
			if (p->cb)
				p->cb(p->arg, c, m, AMI_REPLY_RESPONSE);
		} else {
			finish_pending(p, c, m, AMI_REPLY_RESPONSE);
		}
		return 1;
	}
	if (!p->in_list)
		return 0; /* e.g. OriginateResponse: an ordinary event */
	if (ami_field_is(list, "Complete")) {
		finish_pending(p, c, m, AMI_REPLY_LIST_DONE);
	} else {
		p->deadline_ms = c->now_ms + c->o.action_timeout_ms;
		if (p->cb)
			p->cb(p->arg, c, m, AMI_REPLY_LIST_ITEM);
	}
	return 1;
}

static void on_message(void *ctx, const struct ami_msg *m)
{
	struct ami_client *c = ctx;
	const struct ami_field *ev = ami_msg_find(m, "Event");

	if (c->drop_requested)
		return;
	if (route_reply(c, m, ev))
		return;
	if (ev == NULL) {
		log_debug("ami: response to an action we did not send, ignored");
		return;
	}
	c->events++;
	if (c->cb.on_event)
		c->cb.on_event(c->cb.ctx, m, c->now_ms);
	if (ami_field_is(ev, "FullyBooted") && c->cb.on_fully_booted)
		c->cb.on_fully_booted(c->cb.ctx);
	if (ami_field_is(ev, "Shutdown")) {
		char how[32], restart[16];
		log_warnx("ami: Asterisk is shutting down (%s, restart %s)",
		          ami_msg_get(m, "Shutdown", how, sizeof(how)),
		          ami_msg_get(m, "Restart", restart, sizeof(restart)));
		if (c->cb.on_shutdown)
			c->cb.on_shutdown(c->cb.ctx, m);
	}
}

int ami_client_init(struct ami_client *c, const struct ami_opts *o, const struct ami_callbacks *cb)
{
	struct ami_codec_handlers h = {on_banner, on_message, on_codec_error, c};

	memset(c, 0, sizeof(*c));
	c->o = *o;
	c->cb = *cb;
	c->fd = -1;
	c->bad_input_log.interval_ms = 10000;
	c->state = AMI_DISCONNECTED;
	backoff_init(&c->backoff, 500, o->reconnect_max_ms, (uint32_t)getpid() * 2654435761u);
	if (ami_codec_init(&c->codec, &h) < 0) {
		snprintf(c->last_error, sizeof(c->last_error), "out of memory");
		return -1;
	}
	if (o->tls_ca != NULL &&
	    (c->tls = tls_client_new(o->tls_ca, o->tls_cert, o->tls_key, c->last_error, sizeof(c->last_error))) == NULL)
		return -1;
	return 0;
}

void ami_client_free(struct ami_client *c)
{
	if (c->conn != NULL)
		tls_close_notify(c->conn);
	tls_conn_free(c->conn);
	c->conn = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	ami_codec_free(&c->codec);
	tls_ctx_free(c->tls);
	c->tls = NULL;
}

/* One step of the TLS handshake; once done, the banner is awaited as on
 * a plain connection. */
static void tls_step(struct ami_client *c)
{
	char why[256];
	int rc = tls_handshake(c->conn, why, sizeof(why));

	c->tls_want_write = rc == TLS_WANT_WRITE;
	if (rc == 0) {
		c->tls_fail_logged = 0;
		log_debug("ami: TLS with %s:%d established", c->o.host, c->o.port);
		c->deadline_ms = c->now_ms + c->o.connect_timeout_ms;
		set_state(c, AMI_BANNER);
		if (tls_has_pending(c->conn))
			read_input(c); /* the banner may have come with the handshake's last record */
	} else if (rc == TLS_FAILED) {
		if (!c->tls_fail_logged)
			log_warnx("ami: %s:%d: %s; retrying with back-off", c->o.host, c->o.port, why);
		c->tls_fail_logged = 1;
		ami_client_drop(c, why);
	}
}

static int open_socket(struct ami_client *c)
{
	struct addrinfo hints = {0}, *res = NULL;
	char port[16];
	int fd = -1, rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", c->o.port);
	rc = getaddrinfo(c->o.host, port, &hints, &res);
	if (rc != 0) {
		snprintf(c->last_error, sizeof(c->last_error), "cannot resolve %s: %s", c->o.host, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)
			break;
		snprintf(c->last_error, sizeof(c->last_error), "connect to %s:%d: %s", c->o.host, c->o.port,
		         strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	}
	return fd;
}

static void start_connect(struct ami_client *c)
{
	c->fd = open_socket(c);
	c->connects++;
	if (c->fd < 0) {
		log_debug("ami: %s", c->last_error);
		c->next_attempt_ms = c->now_ms + backoff_next(&c->backoff);
		return;
	}
	c->deadline_ms = c->now_ms + c->o.connect_timeout_ms;
	ami_codec_reset(&c->codec, 1);
	set_state(c, AMI_CONNECTING);
}

static void connect_finished(struct ami_client *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0) {
		char why[160];
		snprintf(why, sizeof(why), "connect to %s:%d: %s", c->o.host, c->o.port, strerror(err));
		ami_client_drop(c, why);
		return;
	}
	c->deadline_ms = c->now_ms + c->o.connect_timeout_ms;
	if (c->tls == NULL) {
		set_state(c, AMI_BANNER);
		return;
	}
	const char *name = c->o.tls_server_name ? c->o.tls_server_name : c->o.host;
	if ((c->conn = tls_conn_new(c->tls, c->fd, name)) == NULL) {
		ami_client_drop(c, "TLS: out of memory, or a server name that cannot be checked");
		return;
	}
	c->tls_handshakes++;
	set_state(c, AMI_TLS);
	tls_step(c);
}

void ami_client_pollfd(struct ami_client *c, struct pollfd *pfd)
{
	pfd->fd = c->fd;
	pfd->revents = 0;
	if (c->fd < 0)
		pfd->events = 0;
	else if (c->state == AMI_CONNECTING)
		pfd->events = POLLOUT;
	else if (c->state == AMI_TLS)
		pfd->events = c->tls_want_write ? POLLOUT : POLLIN;
	else
		pfd->events = (short)(POLLIN | (c->out_len > 0 || c->tls_want_write ? POLLOUT : 0));
}

/* Bytes from the server, through TLS when it is on: > 0, 0 when there
 * is nothing now, -1 when the session was dropped. */
static ssize_t receive(struct ami_client *c, char *buf, size_t size)
{
	char why[256];

	if (c->conn == NULL) {
		ssize_t n = read(c->fd, buf, size);
		if (n > 0)
			return n;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		ami_client_drop(c, n == 0 ? "connection closed by the server" : strerror(errno));
		return -1;
	}
	long n = tls_read(c->conn, buf, size, why, sizeof(why));
	if (n > 0)
		return n;
	if (n == TLS_WANT_READ || n == TLS_WANT_WRITE) {
		c->tls_want_write = n == TLS_WANT_WRITE;
		return 0;
	}
	ami_client_drop(c, n == TLS_EOF ? "connection closed by the server" : why);
	return -1;
}

static void read_input(struct ami_client *c)
{
	char buf[READ_CHUNK];

	for (int i = 0; i < READS_PER_ROUND && c->fd >= 0; i++) {
		ssize_t n = receive(c, buf, sizeof(buf));
		if (n > 0) {
			c->in_feed = 1;
			ami_codec_feed(&c->codec, buf, (size_t)n);
			c->in_feed = 0;
			if (c->drop_requested) {
				ami_client_drop(c, NULL);
				return;
			}
			/* a TLS record is at most 16 KiB: a short read says nothing */
			if ((size_t)n < sizeof(buf) && c->conn == NULL)
				return;
			continue;
		}
		return;
	}
}

void ami_client_handle(struct ami_client *c, short revents, int64_t now_ms)
{
	c->now_ms = now_ms;
	if (c->fd < 0)
		return;
	if (c->state == AMI_CONNECTING) {
		if (revents & (POLLOUT | POLLERR | POLLHUP))
			connect_finished(c);
		return;
	}
	if (c->state == AMI_TLS) {
		if (revents)
			tls_step(c);
		return;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR))
		read_input(c);
	if (c->fd >= 0 && (revents & POLLOUT))
		flush_out(c);
	if (c->conn != NULL && c->fd >= 0 && (revents & POLLOUT) && c->out_len == 0 && c->tls_want_write)
		read_input(c); /* a read that waited for the socket to be writable */
}

static void on_ping_reply(void *arg, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	(void)arg;
	(void)m;
	if (kind == AMI_REPLY_LOST && c->fd >= 0 && c->state == AMI_UP)
		ami_client_drop(c, "no answer to Ping");
}

static void expire_actions(struct ami_client *c)
{
	for (size_t i = 0; i < AMI_PENDING_ACTIONS; i++) {
		struct ami_pending *p = &c->pending[i];
		if (p->used && c->now_ms >= p->deadline_ms)
			finish_pending(p, c, NULL, AMI_REPLY_LOST);
		if (c->fd < 0)
			return;
	}
}

static int64_t earliest(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

int64_t ami_client_tick(struct ami_client *c, int64_t now_ms)
{
	int64_t next = now_ms + 1000;

	c->now_ms = now_ms;
	switch (c->state) {
	case AMI_DISCONNECTED:
		if (now_ms >= c->next_attempt_ms)
			start_connect(c);
		if (c->state == AMI_DISCONNECTED)
			next = earliest(next, c->next_attempt_ms);
		break;
	case AMI_CONNECTING:
	case AMI_TLS:
	case AMI_BANNER:
	case AMI_LOGIN:
		if (now_ms >= c->deadline_ms) {
			char why[96];
			snprintf(why, sizeof(why), "no %s within %lld ms%s",
			         c->state == AMI_CONNECTING ? "connection"
			         : c->state == AMI_TLS      ? "TLS handshake"
			         : c->state == AMI_BANNER   ? "banner"
			                                    : "login answer",
			         (long long)c->o.connect_timeout_ms,
			         c->state == AMI_BANNER && c->tls == NULL ? " (a TLS port? then set ami_tls_ca)" : "");
			ami_client_drop(c, why);
		}
		next = earliest(next, c->deadline_ms);
		break;
	case AMI_UP:
		expire_actions(c);
		if (c->state == AMI_UP && now_ms >= c->next_ping_ms) {
			c->next_ping_ms = now_ms + c->o.ping_interval_ms;
			if (send_action_timeout(c, "Ping", NULL, on_ping_reply, NULL, c->o.ping_timeout_ms) < 0 &&
			    c->fd >= 0)
				ami_client_drop(c, "cannot send Ping");
		}
		next = earliest(next, c->next_ping_ms);
		break;
	}
	for (size_t i = 0; i < AMI_PENDING_ACTIONS; i++)
		if (c->pending[i].used)
			next = earliest(next, c->pending[i].deadline_ms);
	/* bytes TLS already took off the socket: poll() would not wake for them */
	if (c->conn != NULL && c->state >= AMI_BANNER && tls_has_pending(c->conn)) {
		read_input(c);
		if (c->conn != NULL && tls_has_pending(c->conn))
			next = now_ms;
	}
	return next > now_ms ? next - now_ms : 0;
}

int ami_client_login_settled(void *client)
{
	const struct ami_client *c = client;
	return c->state == AMI_UP || (c->state == AMI_DISCONNECTED && c->connects > 0);
}

int ami_client_run_until(struct ami_client *c, int (*pred)(void *arg), void *arg, int64_t timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;

	for (;;) {
		int64_t now = clock_mono_ms();
		if (pred(arg))
			return 0;
		if (now >= end)
			return -1;
		int64_t wait = ami_client_tick(c, now);
		if (pred(arg))
			return 0;
		struct pollfd pfd;
		ami_client_pollfd(c, &pfd);
		if (wait > end - now)
			wait = end - now;
		if (wait > 100)
			wait = 100;
		if (poll(&pfd, pfd.fd >= 0 ? 1 : 0, (int)wait) > 0)
			ami_client_handle(c, pfd.revents, clock_mono_ms());
	}
}
