#include "replay_server.h"
#include "replay_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ami_codec.h"
#include "cdr_writer.h"
#include "clock.h"
#include "log.h"
#include "md5hex.h"
#include "tls.h"

#define OUT_PAUSE (1024 * 1024)      /* no events while this much waits unsent */
#define OUT_LIMIT (32 * 1024 * 1024) /* a client this far behind is dropped */

/* What a test or the demo follows: one line per happening on stdout. */
void replay_say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void replay_queue(struct session *s, const char *data, size_t len)
{
	if (s->fd < 0 || s->closing)
		return;
	if (s->out_len + len > s->out_cap) {
		size_t cap = s->out_cap ? s->out_cap : 65536;
		while (cap < s->out_len + len)
			cap *= 2;
		char *nb = realloc(s->out, cap);
		if (nb == NULL) {
			log_warnx("out of memory queueing output: dropping the client");
			s->closing = 1;
			s->out_len = 0;
			return;
		}
		s->out = nb;
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, data, len);
	s->out_len += len;
}

void replay_queuef(struct session *s, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		replay_queue(s, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void on_codec_error(void *ctx, enum ami_err err)
{
	(void)ctx;
	log_warnx("client sent a bad action (%s); skipped", ami_err_str(err));
}

/* The PBX moved on by one event: keep the channel list CoreShowChannels reports. */
static void track(struct server *srv, const char *raw, size_t len)
{
	char ev[32], uid[48];

	if (!capture_field(raw, len, "Event", ev, sizeof(ev)) || !capture_field(raw, len, "Uniqueid", uid, sizeof(uid)))
		return;
	if (strcmp(ev, "Newchannel") == 0) {
		if (srv->nlive == srv->live_cap) {
			size_t cap = srv->live_cap ? srv->live_cap * 2 : 32;
			struct live_channel *nl = realloc(srv->live, cap * sizeof(*nl));
			if (nl == NULL)
				return;
			srv->live = nl;
			srv->live_cap = cap;
		}
		struct live_channel *c = &srv->live[srv->nlive++];
		c->born_ms = clock_mono_ms();
		capture_field(raw, len, "Channel", c->channel, sizeof(c->channel));
		capture_field(raw, len, "ChannelStateDesc", c->state, sizeof(c->state));
		capture_field(raw, len, "CallerIDNum", c->cid, sizeof(c->cid));
		capture_field(raw, len, "Context", c->context, sizeof(c->context));
		capture_field(raw, len, "Exten", c->exten, sizeof(c->exten));
		capture_field(raw, len, "Linkedid", c->lid, sizeof(c->lid));
		snprintf(c->uid, sizeof(c->uid), "%s", uid);
		c->bridge[0] = '\0';
	} else if (strcmp(ev, "BridgeEnter") == 0 || strcmp(ev, "BridgeLeave") == 0) {
		for (size_t i = 0; i < srv->nlive; i++) {
			struct live_channel *c = &srv->live[i];
			if (strcmp(c->uid, uid) != 0)
				continue;
			int entered = strcmp(ev, "BridgeEnter") == 0 &&
			              capture_field(raw, len, "BridgeUniqueid", c->bridge, sizeof(c->bridge));
			if (!entered)
				c->bridge[0] = '\0';
		}
	} else if (strcmp(ev, "Hangup") == 0) {
		for (size_t i = 0; i < srv->nlive; i++)
			if (strcmp(srv->live[i].uid, uid) == 0) { /* kept in birth order */
				memmove(&srv->live[i], &srv->live[i + 1], (srv->nlive - i - 1) * sizeof(srv->live[0]));
				srv->nlive--;
				break;
			}
	}
}

/* The first loop sends the capture as it is; later ones rewrite the ids
 * into a buffer kept between events. */
char *replay_rewritten(struct server *srv, const struct cap_msg *m, unsigned loop, size_t *len)
{
	size_t need = CAPTURE_REWRITE_SIZE(m->len);
	if (need > srv->scratch_cap) {
		char *nb = realloc(srv->scratch, need);
		if (nb == NULL)
			return NULL;
		srv->scratch = nb;
		srv->scratch_cap = need;
	}
	*len = capture_rewrite_ids(m->raw, m->len, loop, srv->scratch);
	return srv->scratch;
}

static const char *event_for_loop(struct server *srv, const struct cap_msg *m, size_t *len)
{
	if (srv->loop == 0) {
		*len = m->len;
		return m->raw;
	}
	return replay_rewritten(srv, m, srv->loop, len);
}

static double scaled_ms(const struct server *srv, double seconds)
{
	return srv->o->speed > 0 ? seconds * 1000.0 / srv->o->speed : 0;
}

static struct sched_call *sched_find(struct server *srv, const char *lid)
{
	for (size_t i = 0; i < srv->nsched; i++)
		if (strcmp(srv->sched[i].lid, lid) == 0)
			return &srv->sched[i];
	if (srv->nsched == SCHED_MAX)
		return NULL;
	struct sched_call *c = &srv->sched[srv->nsched++];
	memset(c, 0, sizeof(*c));
	snprintf(c->lid, sizeof(c->lid), "%s", lid);
	return c;
}

static void sched_write(struct server *srv, const struct sched_call *c, int64_t end_ms)
{
	char a[ISO8601_LEN], b[ISO8601_LEN], e[ISO8601_LEN], ans[ISO8601_LEN + 2] = "null";

	if (c->answer_ms)
		snprintf(ans, sizeof(ans), "\"%s\"", iso8601_ms(c->answer_ms, b));
	fprintf(srv->schedule, "{\"linkedid\":\"%s\",\"start\":\"%s\",\"answer\":%s,\"end\":\"%s\",\"heard\":\"%s\"}\n",
	        c->lid, iso8601_ms(c->start_ms, a), ans, iso8601_ms(end_ms, e),
	        c->missed == 0  ? "all"
	        : c->heard == 0 ? "none"
	                        : "part");
	fflush(srv->schedule);
}

/* The schedule follows each call: start at its first channel, answer at its
 * first BridgeEnter, end when its last channel hangs up. */
static void sched_event(struct server *srv, const char *raw, size_t len, int heard)
{
	char ev[32], lid[48];

	if (srv->schedule == NULL || !capture_field(raw, len, "Linkedid", lid, sizeof(lid)) ||
	    !capture_field(raw, len, "Event", ev, sizeof(ev)))
		return;
	struct sched_call *c = sched_find(srv, lid);
	if (c == NULL)
		return;
	int64_t now = clock_wall_ms();
	if (c->start_ms == 0)
		c->start_ms = now;
	if (heard)
		c->heard++;
	else
		c->missed++;
	if (strcmp(ev, "Newchannel") == 0)
		c->live++;
	else if (strcmp(ev, "BridgeEnter") == 0 && c->answer_ms == 0)
		c->answer_ms = now;
	else if (strcmp(ev, "Hangup") == 0 && --c->live <= 0) {
		sched_write(srv, c, now);
		*c = srv->sched[--srv->nsched];
	}
}

/* May events flow now?  To a logged-in client that keeps up; and, with
 * run_on, to nobody once a client has logged in (the PBX goes on). */
static int playing(const struct server *srv)
{
	const struct session *s = &srv->s;

	if (s->logged_in)
		return !s->closing && s->out_len < OUT_PAUSE;
	return srv->o->run_on && srv->started;
}

/* The PBX does one event: to the client when heard, else to nobody (gone,
 * as on a real PBX); its channels, schedule and CDR follow either way. */
void replay_play(struct server *srv, const char *raw, size_t len, int heard, int64_t now)
{
	if (heard) {
		if (srv->sent++ == 0)
			srv->first_sent_ms = now;
		replay_queue(&srv->s, raw, len);
		srv->bytes += len;
	} else {
		srv->missed++;
	}
	srv->played++;
	track(srv, raw, len);
	sched_event(srv, raw, len, heard);
	if (srv->o->cdr)
		cdr_writer_event(srv->o->cdr, raw, len);
}

/* On to the next event, due after the recorded pause (scheduled, not
 * actual, so pauses do not add up to drift) or --pace. */
static void advance(struct server *srv)
{
	const struct replay_options *o = srv->o;
	const struct replay_stream_item *it = &srv->items[srv->pos];

	if (++srv->pos == srv->n) {
		srv->pos = 0;
		if (o->loops && ++srv->loop >= o->loops) {
			srv->done = 1;
			return;
		}
		if (o->loops == 0)
			srv->loop++;
	}
	const struct replay_stream_item *next = &srv->items[srv->pos];
	double wait = next->first_of_capture ? o->gap : o->pace >= 0 ? o->pace : next->msg->t - it->msg->t;
	if (wait < 0)
		wait = 0;
	if (next->first_of_capture && wait > 0)
		replay_say("GAP %llu", (unsigned long long)srv->played); /* quiet from now: between calls */
	srv->due_carry_ms += o->pace >= 0 ? wait * 1000.0 : (double)scaled_ms(srv, wait);
	int64_t whole = (int64_t)srv->due_carry_ms;
	srv->next_due_ms += whole;
	srv->due_carry_ms -= (double)whole;
}

/* --drop: the connection ends halfway through this event.  It comes again,
 * whole, to the next client, unless --skip-after-drop has the PBX play it
 * and the next ones to nobody meanwhile. */
static int drop_here(struct server *srv, const char *raw, size_t len, int64_t now)
{
	const struct replay_options *o = srv->o;

	if (srv->drops_left == 0 || srv->played != srv->drop_at)
		return 0;
	srv->drops_left--;
	srv->drop_at += o->drop_every;
	replay_queue(&srv->s, raw, len / 2);
	srv->s.closing = 1;
	replay_say("DROPPED at %llu", (unsigned long long)srv->played);
	for (unsigned i = 0; i < o->skip_after_drop && !srv->done; i++) {
		raw = event_for_loop(srv, srv->items[srv->pos].msg, &len);
		if (raw)
			replay_play(srv, raw, len, 0, now);
		advance(srv);
	}
	return 1;
}

/* --garbage: one line of that many bytes, no colon in it, before the
 * first event (once). */
static void send_garbage(struct server *srv)
{
	char chunk[4096];

	memset(chunk, 'X', sizeof(chunk));
	srv->garbage_sent = 1;
	for (size_t left = srv->o->garbage; left > 0;) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
		replay_queue(&srv->s, chunk, n);
		left -= n;
	}
	replay_queue(&srv->s, "\r\n\r\n", 4);
	replay_say("GARBAGE sent");
}

/* Plays every event that is due. */
static void play_due(struct server *srv, int64_t now)
{
	struct session *s = &srv->s;
	int burst = 0;

	while (!srv->done && playing(srv) && now >= srv->next_due_ms && burst++ < 10000) {
		if (s->logged_in && srv->o->garbage && !srv->garbage_sent) {
			send_garbage(srv);
			continue; /* events wait for the garbage to go out */
		}
		if (srv->pos == 0 && srv->loop > srv->loop_said)
			replay_say("LOOP %u", srv->loop_said = srv->loop);
		size_t len;
		const char *raw = event_for_loop(srv, srv->items[srv->pos].msg, &len);
		if (raw == NULL)
			log_warnx("out of memory: event skipped");
		else if (s->logged_in && drop_here(srv, raw, len, now))
			return;
		else
			replay_play(srv, raw, len, s->logged_in, now);
		advance(srv);
	}
}

/* DONE once the last event is on the wire, not merely queued: benchmarks
 * time the bridge's reading by it. */
static void report_done(struct server *srv)
{
	if (!srv->done || srv->done_reported || srv->s.fd < 0 || srv->s.out_len > 0)
		return;
	srv->done_reported = 1;
	replay_say("DONE %llu events %llu bytes in %.3f s%s", (unsigned long long)srv->sent,
	           (unsigned long long)srv->bytes, (double)(clock_mono_ms() - srv->first_sent_ms) / 1000.0,
	           srv->missed ? " (some played to nobody)" : "");
	if (srv->missed)
		replay_say("MISSED %llu events", (unsigned long long)srv->missed);
}

static void end_session(struct server *srv, const char *why)
{
	struct session *s = &srv->s;

	if (s->fd < 0)
		return;
	replay_say("CLOSED %s", why);
	tls_conn_free(s->tls);
	s->tls = NULL;
	s->handshaking = 0;
	close(s->fd);
	s->fd = -1;
	s->logged_in = 0;
	s->closing = 0;
	s->half_closed_ms = 0;
	s->out_len = 0;
	s->challenge[0] = '\0';
}

static void start_session(struct server *srv, int fd)
{
	struct session *s = &srv->s;

	if (s->fd >= 0)
		end_session(srv, "replaced by a new connection");
	s->fd = fd;
	ami_codec_reset(&s->codec, 0);
	replay_say("CONNECT");
	if (srv->o->tls != NULL) {
		if ((s->tls = tls_conn_new(srv->o->tls, fd, NULL)) == NULL) {
			end_session(srv, "out of memory");
			return;
		}
		s->handshaking = 1;
	}
	replay_queue(s, "Asterisk Call Manager/11.0.0\r\n", 30);
}

/* The TLS handshake's next step; a client that does not speak TLS ends
 * it, said with OpenSSL's reason. */
static void handshake(struct server *srv)
{
	char why[256];
	int rc = tls_handshake(srv->s.tls, why, sizeof(why));

	if (rc == 0) {
		srv->s.handshaking = 0;
		replay_say("TLS ok");
	} else if (rc == TLS_FAILED) {
		replay_say("TLS failed: %s", why);
		end_session(srv, "TLS failed");
	}
}

/* What the client sent: > 0 bytes, 0 for the end, -1 for nothing yet, -2
 * for an error (ended). */
static ssize_t receive(struct server *srv, char *buf, size_t size)
{
	char why[256];

	if (srv->s.tls == NULL) {
		ssize_t n = recv(srv->s.fd, buf, size, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return -1;
		if (n < 0) {
			end_session(srv, strerror(errno));
			return -2;
		}
		return n;
	}
	long n = tls_read(srv->s.tls, buf, size, why, sizeof(why));
	if (n > 0 || n == TLS_EOF)
		return n > 0 ? n : 0;
	if (n == TLS_WANT_READ || n == TLS_WANT_WRITE)
		return -1;
	end_session(srv, why);
	return -2;
}

static void read_client(struct server *srv)
{
	char buf[65536];

	if (srv->s.handshaking) {
		handshake(srv);
		return;
	}
	ssize_t n = receive(srv, buf, sizeof(buf));
	if (n == -2)
		return;

	if (n > 0 && !srv->s.half_closed_ms)
		ami_codec_feed(&srv->s.codec, buf, (size_t)n);
	else if (n == 0 && srv->s.half_closed_ms)
		end_session(srv, "by the server");
	else if (n == 0)
		end_session(srv, "by the client");
}

static ssize_t transmit(struct server *srv, const char *data, size_t len)
{
	char why[256];

	if (srv->s.tls == NULL) {
		ssize_t n = send(srv->s.fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return 0;
		if (n < 0)
			end_session(srv, strerror(errno));
		return n;
	}
	long n = tls_write(srv->s.tls, data, len, why, sizeof(why));
	if (n == TLS_WANT_READ || n == TLS_WANT_WRITE)
		return 0;
	if (n < 0)
		end_session(srv, n == TLS_EOF ? "by the client" : why);
	return n;
}

static void write_client(struct server *srv)
{
	struct session *s = &srv->s;

	if (s->handshaking) {
		handshake(srv);
		return;
	}
	ssize_t n = transmit(srv, s->out, s->out_len);
	if (n < 0)
		return;
	if (n > 0) {
		memmove(s->out, s->out + n, s->out_len - (size_t)n);
		s->out_len -= (size_t)n;
	}
	/* Closed as Asterisk closes: our side first (the client reads all we
	 * sent, then the end), then the socket once the client has closed its
	 * side.  A close() with unread input would reset the connection. */
	if (s->closing && s->out_len == 0 && !s->half_closed_ms) {
		if (s->tls)
			tls_close_notify(s->tls);
		shutdown(s->fd, SHUT_WR);
		s->half_closed_ms = clock_mono_ms();
	}
}

static int listen_on(const struct replay_options *o)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
	socklen_t alen = sizeof(a);
	int one = 1;

	if (inet_pton(AF_INET, o->host, &a.sin_addr) != 1) {
		log_warnx("listen address %s is not an IPv4 address", o->host);
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		log_warn("listen on %s:%d", o->host, o->port);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	replay_say("LISTEN %d", ntohs(a.sin_port));
	return fd;
}

static int poll_timeout(const struct server *srv, int64_t now)
{
	if (srv->done || !playing(srv))
		return 1000;
	int64_t wait = srv->next_due_ms - now;
	return wait <= 0 ? 0 : wait > 1000 ? 1000 : (int)wait;
}

int replay_serve(const struct replay_options *o, const struct replay_stream_item *items, size_t n,
                 const struct recorded *answers, volatile sig_atomic_t *stop)
{
	struct server srv = {.o = o,
	                     .items = items,
	                     .n = n,
	                     .done = n == 0, /* no capture: a quiet PBX that only answers */
	                     .done_reported = n == 0,
	                     .answers = answers,
	                     .drops_left = o->drops,
	                     .drop_at = o->drop_at,
	                     .s = {.fd = -1}};
	struct ami_codec_handlers h = {.on_message = replay_on_action, .on_error = on_codec_error, .ctx = &srv};
	int lfd = listen_on(o);

	if (lfd < 0 || ami_codec_init(&srv.s.codec, &h) < 0)
		return -1;
	if (o->schedule && ((srv.schedule = fopen(o->schedule, "w")) == NULL ||
	                    (srv.sched = calloc(SCHED_MAX, sizeof(*srv.sched))) == NULL)) {
		log_warn("schedule %s", o->schedule);
		if (srv.schedule)
			fclose(srv.schedule);
		ami_codec_free(&srv.s.codec);
		close(lfd);
		return -1;
	}
	while (!*stop) {
		struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = srv.s.fd, .events = POLLIN}};
		if (srv.s.out_len > 0)
			p[1].events |= POLLOUT;
		if (poll(p, srv.s.fd >= 0 ? 2 : 1, poll_timeout(&srv, clock_mono_ms())) < 0 && errno != EINTR) {
			log_warn("poll");
			break;
		}
		if (p[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd >= 0)
				start_session(&srv, fd);
		}
		if (srv.s.fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			read_client(&srv);
		if (o->refuse_logins && *o->refuse_logins && srv.s.fd >= 0 && srv.s.logged_in)
			end_session(&srv, "logins refused from now on");
		play_due(&srv, clock_mono_ms());
		if (srv.s.fd >= 0 && srv.s.out_len > OUT_LIMIT)
			end_session(&srv, "client too slow");
		if (srv.s.fd >= 0 && srv.s.half_closed_ms && clock_mono_ms() - srv.s.half_closed_ms > 2000)
			end_session(&srv, "by the server");
		if (srv.s.fd >= 0 && !srv.s.half_closed_ms && (srv.s.out_len > 0 || srv.s.closing))
			write_client(&srv);
		while (srv.s.fd >= 0 && srv.s.tls && !srv.s.handshaking && tls_has_pending(srv.s.tls))
			read_client(&srv); /* records TLS already took off the socket */
		report_done(&srv);
	}
	end_session(&srv, "shutting down");
	ami_codec_free(&srv.s.codec);
	free(srv.s.out);
	free(srv.live);
	free(srv.scratch);
	free(srv.sched);
	if (srv.schedule)
		fclose(srv.schedule);
	close(lfd);
	return 0;
}
