/*
 * The AMI captures in tests/fixtures/ami, as pbxbus-replay serves them:
 * NAME.server.txt holds the bytes Asterisk sent (banner, then messages
 * ended by a blank line), NAME.timing.txt when each arrived (one "MSG"
 * line per message, in order), NAME.client.txt the actions the capturing
 * client sent.
 */
#ifndef PBXBUS_CAPTURE_H
#define PBXBUS_CAPTURE_H

#include <stddef.h>

struct cap_msg {
	char *raw; /* the message with its closing blank line (not NUL-terminated) */
	size_t len;
	double t; /* seconds since the capture began */
};

struct capture {
	char *data; /* the server file; every raw points into it */
	struct cap_msg *msgs;
	size_t n;
	int timed; /* the timing file was there and matched */
};

/* Loads NAME.server.txt (path given) and its timing file; 0, or -1 with err. */
int capture_load(struct capture *c, const char *server_path, char *err, size_t errsz);
void capture_free(struct capture *c);

/* Value of the first field named key (any case) of a raw message, copied
 * into out; 1 when found. */
int capture_field(const char *raw, size_t len, const char *key, char *out, size_t outsz);

/* A spontaneous event of the PBX: an Event with no ActionID (answers to the
 * capturing client are left out) that is not FullyBooted (sent at login). */
int capture_is_replayable(const struct cap_msg *m);

/* The answers Asterisk gave to each read-only action, from the info-actions
 * capture: a blob of messages per action name, ActionID lines to be
 * replaced by the asker's. */
#define RECORDED_NAME_MAX 300 /* "command:" and a CLI command */

struct recorded_answer {
	char name[RECORDED_NAME_MAX];
	char *blob;
	size_t len;
};

struct recorded {
	struct capture cap;
	struct recorded_answer *answers;
	size_t n;
};

/* base is the capture's path without .server.txt / .client.txt. */
int recorded_load(struct recorded *r, const char *base, char *err, size_t errsz);
const struct recorded_answer *recorded_find(const struct recorded *r, const char *action);
void recorded_free(struct recorded *r);
/* The name a Command's answer goes under: "command:" and the command in
 * lower case, its blanks collapsed. */
void recorded_command_key(char *out, size_t outsz, const char *command);

/* Every loop of a replay is new calls: raw with the epoch part of each
 * *Uniqueid / *Linkedid value and of Timestamp moved on by loop days (later
 * calls on a later day of the PBX's clock), written to out, which
 * must hold CAPTURE_REWRITE_SIZE(len) bytes.  Returns the length written. */
#define CAPTURE_REWRITE_SIZE(len) (2 * (len) + 64)
size_t capture_rewrite_ids(const char *raw, size_t len, unsigned loop, char *out);

#endif
