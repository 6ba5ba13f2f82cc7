/* The command channel's parts shared by its kinds (command_channel.c,
 * command_dial.c): the closed list of error codes and the one way an
 * answer goes out. */
#ifndef PBXBUS_COMMAND_INTERNAL_H
#define PBXBUS_COMMAND_INTERNAL_H

#include <cjson/cJSON.h>

#include "command_channel.h"

/* The answers' closed list of error codes (docs/commands.md). */
enum command_error {
	CE_NONE,
	CE_BAD_REQUEST,
	CE_WRONG_SITE,
	CE_EXPIRED,
	CE_DUPLICATE,
	CE_DISABLED,
	CE_NOT_ALLOWED,
	CE_RATE_LIMITED,
	CE_BUSY,
	CE_NOT_RECORDED,
	CE_AMI_UNAVAILABLE,
	CE_AMI_REFUSED,
	CE_TIMEOUT,
	CE_COMMAND_FAILED,
	CE_PHONE_BUSY,
	CE_PHONE_NO_ANSWER,
	CE_PHONE_FAILED,
	CE_ERRORS
};

extern const char *const command_error_codes[CE_ERRORS];

/* What a kind adds to its answers (cli: output; dial: the extension). */
typedef void (*command_fields_fn)(struct jw *w, const void *arg);

/*
 * Publishes an answer to r.  final: the last one for this request (a dial
 * says "ringing" first); a final answer is counted and logged, once, with
 * what: the request in words ("cli 'core show version'").
 */
void command_answer(struct command_channel *ch, const struct command_reply *r, const char *kind, const char *what,
                    enum command_error e, const char *message, int final, command_fields_fn fields, const void *arg);

/* The dial kind (command_dial.c): its checks, then the Originate; the
 * answers follow from its replies.  what: command_dial_what's words for
 * the request, made once by the caller.  CE_NONE when it went to the PBX. */
enum command_error command_dial(struct command_channel *ch, const struct command_reply *r, const cJSON *req,
                                int64_t now, const char *what, const char **why);
/* A dial refused before the PBX was asked: its answer, with the dial's
 * fields (state "done", the extension asked for, no call). */
void command_dial_refused(struct command_channel *ch, const struct command_reply *r, const cJSON *req, const char *what,
                          enum command_error e, const char *why);
/* The dial request in words for the log (the number masked). */
void command_dial_what(const struct command_channel *ch, const cJSON *req, char *what, size_t whatsz);
/* The channel's rate: how many requests ran since from_ms. */
int command_over_rate(const struct command_channel *ch, int64_t now);

#endif
