/*
 * Click-to-call (docs/dial.md): the dial kind of the command channel.  A
 * request names a person's extension and a customer's number; the bridge
 * checks it again (the extension a phone the PBX itself says is one, the
 * number on dial_numbers, nothing in flight for that extension, at most
 * dial_per_minute), then asks the PBX to ring the phone and, once it is
 * picked up, to call the number (AMI Originate, through the AMI client's
 * one gated ami_client_originate).  Its answers: "ringing" when the PBX
 * took the Originate, then the outcome.
 */
#ifndef PBXBUS_DIAL_H
#define PBXBUS_DIAL_H

#include <stddef.h>
#include <stdint.h>

#include "command_wire.h"
#include "globs.h"
#include "phone.h"

/* What may be dialled and how: the settings' part that the AMI client
 * checks again before it sends. */
struct dial_rules {
	struct glob_list numbers; /* E.164 globs (dial_numbers); none: nothing is dialled */
	const char *ring_context; /* Local/<ext>@<ring_context>: rings the person's phone */
	const char *context;      /* where the number is then dialled */
	struct phone_plan plan;
	enum phone_dial_format format;
	int64_t ring_timeout_ms;
	size_t per_minute; /* per extension */
};

/* 1 if s is a usable dialplan context (letters, digits, '-', '_'). */
int dial_context_valid(const char *s);
/* 1 if e164 matches one of the rules' globs. */
int dial_number_allowed(const struct dial_rules *r, const char *e164);

#endif
