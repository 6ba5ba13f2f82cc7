/*
 * Which Asterisk CLI commands the bridge may run (docs/commands.md): a
 * command is folded to lower case with its whitespace collapsed, then it
 * must be a "show", must not be one that can print a secret (whatever the
 * allow-list says), and must match one of the operator's commands_allow
 * globs.  The channel checks before it asks, and the AMI client checks
 * again before it sends: the one gated way Command leaves the bridge.
 */
#ifndef PBXBUS_CLI_COMMAND_H
#define PBXBUS_CLI_COMMAND_H

#include <stddef.h>

#include "ami_codec.h"

#define CLI_COMMAND_MAX 256 /* bytes of a command asked for */

enum cli_verdict {
	CLI_OK,
	CLI_MALFORMED,  /* empty, over CLI_COMMAND_MAX, control characters */
	CLI_NOT_A_SHOW, /* only "<module> show ..." commands ever run */
	CLI_SECRET,     /* can print a secret: refused whatever the list says */
	CLI_NOT_LISTED, /* not on commands_allow */
};

struct cli_rules {
	char *const *allow; /* globs, as configured (folded when matched) */
	size_t nallow;
};

/*
 * The verdict on command; its folded form (what is sent and logged) goes
 * into norm (at least CLI_COMMAND_MAX + 1 bytes) whatever the verdict.
 */
enum cli_verdict cli_command_check(const struct cli_rules *r, const char *command, char *norm, size_t normsz);
/* What became of a command the PBX was asked to run. */
enum cli_outcome {
	CLI_RAN,     /* Response Success (or the old Follows): output */
	CLI_FAILED,  /* Asterisk ran the CLI and it said no (an unknown command): output */
	CLI_REFUSED, /* the manager refused the action (no write = command): message */
	CLI_LOST,    /* no answer within the timeout, or the session ended */
};
/* The outcome of a Command's reply (NULL: lost); its Message into msg. */
enum cli_outcome cli_reply_outcome(const struct ami_msg *reply, char *msg, size_t msgsz);
/* Each output line of a reply, in order, to fn; stops when fn returns < 0. */
void cli_reply_lines(const struct ami_msg *reply, int (*fn)(void *arg, const char *line, size_t len), void *arg);

/*
 * pbxbus-bridge --command: log in, run command (the same rules, checked
 * twice as always), print its output on stdout.  0 when it ran; 1 with the
 * reason on stderr when the PBX cannot be reached, refuses the login or
 * the action, the command is not allowed, or the CLI says no.
 */
struct bridge_settings;
int cli_command_once(const struct bridge_settings *s, const char *command);

/* The verdict in words for a person ("not on commands_allow"). */
const char *cli_verdict_str(enum cli_verdict v);
/* The globs refused whatever commands_allow says, for the docs' test. */
extern const char *const cli_secret_commands[];
extern const size_t cli_nsecret_commands;

#endif
