/*
 * pbxbus-replay's AMI server: one poll loop over the listening socket and
 * the connected client.  It speaks the login exchange Asterisk speaks
 * (plain and MD5 challenge), answers the read-only actions the bridge sends
 * with what Asterisk answered in the info-actions capture (CoreShowChannels
 * from the channels the replay has up), and plays the captures' events at
 * their recorded pace, loop after loop, each loop with new call ids.  With
 * run_on it plays on while no client is logged in (what a client misses is
 * gone, as with Asterisk), and a schedule file says what happened to each
 * call and how much of it a client heard.
 */
#ifndef PBXBUS_REPLAY_SERVER_H
#define PBXBUS_REPLAY_SERVER_H

#include <signal.h>
#include <stddef.h>

#include "capture.h"

struct cdr_writer;
struct tls_ctx;
struct capture;

/* How the stand-in PBX's Originate turns out (--originate-result). */
enum originate_result { ORIGINATE_SUCCESS, ORIGINATE_BUSY, ORIGINATE_NO_ANSWER, ORIGINATE_FAILURE };

struct replay_options {
	const char *host;
	int port; /* 0: any free port (printed as LISTEN <port>) */
	const char *user;
	const char *secret;
	double speed;       /* 1: as recorded; 10: ten times faster; 0: no pauses */
	double gap;         /* seconds of quiet between captures, before speed */
	double delay;       /* seconds after a login before events flow */
	unsigned loops;     /* 0: for ever */
	int run_on;         /* after the first login the PBX plays on with nobody listening */
	int refuse_actions; /* "Permission denied" to all but Login, Ping, Logoff */
	int withheld;       /* Getvar CALLERID(num-pres): restricted */
	/* set (SIGUSR1): the client is dropped and logins refused, as after the
	 * AMI password changed; cleared (SIGUSR2): accepted again */
	volatile sig_atomic_t *refuse_logins;
	struct cdr_writer *cdr; /* the PBX's CDR store, or NULL */
	const char *schedule;   /* write each call's Linkedid, start, answer, end here */
	/* Pace and faults for the tests.  pace >= 0: events that many seconds
	 * apart whatever was recorded, and gap in plain seconds too. */
	double pace;
	unsigned drops;           /* times the connection ends halfway through an event */
	unsigned long drop_at;    /* ... first at this event (counted from 0 over all loops) */
	unsigned long drop_every; /* ... then every this many events */
	unsigned skip_after_drop; /* events played to nobody at each drop (gone while away) */
	size_t garbage;           /* bytes of one line without a colon before the first event */
	const char *hide_later;   /* an extension left out of the lists after the first login */
	int ignore_ping;          /* Ping goes unanswered */
	int ignore_commands;      /* Command goes unanswered */
	int old_commands;         /* Command answered in the pre-14 "Follows" form (synthetic) */
	const char *tls_cert, *tls_key;
	struct tls_ctx *tls;                  /* set: every connection is TLS */
	const struct capture *originate_call; /* played after a successful Originate, or NULL */
	enum originate_result originate_result;
};

struct replay_stream_item {
	const struct cap_msg *msg;
	int first_of_capture;
};

int replay_serve(const struct replay_options *o, const struct replay_stream_item *items, size_t n,
                 const struct recorded *answers, volatile sig_atomic_t *stop);

#endif
