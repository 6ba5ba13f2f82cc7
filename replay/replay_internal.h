/*
 * The stand-in PBX's own parts, shared by its server (replay_server.c:
 * sessions, playing the captures, the schedule) and its answers
 * (replay_actions.c), and nothing else.
 */
#ifndef PBXBUS_REPLAY_INTERNAL_H
#define PBXBUS_REPLAY_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "ami_codec.h"
#include "capture.h"
#include "replay_server.h"

struct live_channel {
	char channel[128], state[32], cid[64], context[80], exten[80], uid[48], lid[48];
	char bridge[48]; /* the bridge it is in (BridgeEnter), as CoreShowChannel's BridgeId says */
	int64_t born_ms; /* monotonic, when its Newchannel was sent */
};

/* A call of the schedule: what the PBX did, and what a client heard of it. */
struct sched_call {
	char lid[48];
	int64_t start_ms, answer_ms; /* wall clock */
	int live;                    /* channels up */
	unsigned heard, missed;      /* its events sent to a client, or played to nobody */
};
#define SCHED_MAX 4096

struct session {
	int fd;
	struct tls_conn *tls; /* --tls-cert: this connection's TLS */
	int handshaking;      /* ... not yet done: nothing is written before it */
	struct ami_codec codec;
	char challenge[16];
	int logged_in;
	int closing;            /* flush what is queued, then close */
	int64_t half_closed_ms; /* our side shut after the flush: waiting for the client's */
	char *out;
	size_t out_len, out_cap;
};

struct server {
	const struct replay_options *o;
	const struct replay_stream_item *items;
	size_t n, pos;
	unsigned loop;
	int done;          /* every loop queued */
	int done_reported; /* ... and written to the client: DONE said */
	int64_t next_due_ms;
	double due_carry_ms; /* below a millisecond, kept so a --pace under 1 ms adds up */
	int64_t first_sent_ms;
	uint64_t sent, bytes;
	const struct recorded *answers;
	struct live_channel *live;
	size_t nlive, live_cap;
	char *scratch; /* a rewritten event, reused */
	size_t scratch_cap;
	int started;     /* a client logged in once: with run_on the PBX now plays on */
	unsigned logins; /* accepted, for hide_later */
	uint64_t missed; /* events played while nobody was logged in */
	uint64_t played; /* events played, heard or not, over all loops */
	unsigned drops_left;
	uint64_t drop_at;
	unsigned loop_said; /* the last loop "LOOP n" announced */
	int garbage_sent;
	FILE *schedule;
	struct sched_call *sched;
	size_t nsched;
	struct session s;
	unsigned originated; /* Originates that played a call */
};

/* What a test or the demo follows: one line per happening on stdout. */
void replay_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Output for the client, written as its socket takes it. */
void replay_queue(struct session *s, const char *data, size_t len);
void replay_queuef(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One event played: to the client when heard, and to the PBX's own
 * bookkeeping (live channels, the schedule, the CDR store) either way. */
void replay_play(struct server *srv, const char *raw, size_t len, int heard, int64_t now);
/* m with its ids moved on as in loop (a buffer of the server's, valid
 * until the next call); its length in *len.  NULL when out of memory. */
char *replay_rewritten(struct server *srv, const struct cap_msg *m, unsigned loop, size_t *len);
/* An Originate (replay_originate.c). */
void replay_originate(struct server *srv, const struct ami_msg *m, const char *idl);
/* An action from the client (the codec's on_message). */
void replay_on_action(void *ctx, const struct ami_msg *m);

#endif
