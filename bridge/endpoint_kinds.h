/*
 * What each endpoint is, a phone or a trunk, and why.  Learnt with no
 * configuration from what the PBX says (hints, endpoint lists) and from the
 * calls themselves (how an endpoint is dialled, what its callers present);
 * trunk_endpoints and phone_endpoints are overrides and win.  Stronger
 * evidence replaces weaker; equal evidence keeps what was learnt first, so
 * an endpoint does not flip from call to call.  Where nothing tells, the
 * guess is said once per endpoint, with the key that fixes it.
 *
 * Bounded: at most EP_MAX endpoints are remembered; past that, endpoints are
 * judged from the overrides and each call's own evidence only (counted).
 */
#ifndef PBXBUS_ENDPOINT_KINDS_H
#define PBXBUS_ENDPOINT_KINDS_H

#include <stddef.h>
#include <stdint.h>

#include "ami_codec.h"
#include "globs.h"
#include "json_writer.h"

#define EP_NAME_MAX 40 /* "100", "trunk-provider", "voipgrid-siproute-docker" */
#define EP_MAX      8192

enum ep_kind { EP_UNKNOWN, EP_PHONE, EP_TRUNK };

/* Weakest first: evidence replaces what a weaker kind of evidence said. */
enum ep_why {
	EPW_NONE,
	EPW_GUESS,         /* nothing tells: a name with letters is taken for a trunk, else a phone */
	EPW_CALLER_NUMBER, /* its calls present its own name (phone) or an outside number (trunk) */
	EPW_DIALLED,       /* dialled bare (phone) or with a number at it (trunk) */
	EPW_LISTED,        /* the endpoint list: outbound auth, no auth (matched by address), dynamic host */
	EPW_HINT,          /* behind a hint: a phone */
	EPW_CONFIGURED     /* trunk_endpoints / phone_endpoints */
};

struct ep_entry {
	char name[EP_NAME_MAX];
	unsigned char kind, why;
	unsigned char guess_said;
};

struct endpoint_kinds {
	const struct glob_list *trunk_endpoints, *phone_endpoints;
	struct ep_entry *slots;
	size_t cap, n;
	uint64_t guessed; /* endpoints whose kind is a guess, said in the log */
	uint64_t full;    /* evidence not kept: EP_MAX endpoints known */
};

int endpoint_kinds_init(struct endpoint_kinds *k, const struct glob_list *trunk_endpoints,
                        const struct glob_list *phone_endpoints);
void endpoint_kinds_free(struct endpoint_kinds *k);

/* The kind and why; EP_UNKNOWN with EPW_NONE when nothing is known. */
enum ep_kind endpoint_kind(const struct endpoint_kinds *k, const char *endpoint, enum ep_why *why);
/* Keeps evidence unless something at least as strong is known already. */
void endpoint_kinds_learn(struct endpoint_kinds *k, const char *endpoint, enum ep_kind kind, enum ep_why why);

/* What the PBX says: ExtensionStatus (hints), EndpointList (PJSIP),
 * PeerEntry (chan_sip).  Other messages are ignored. */
void endpoint_kinds_event(struct endpoint_kinds *k, const struct ami_msg *m);
/* A DialBegin's DialString to a channel of endpoint: "100" and
 * "100/sip:100@..." dial a phone; "15551234567@trunk" and "trunk/0201234"
 * dial a number at a trunk. */
void endpoint_kinds_dialled(struct endpoint_kinds *k, const char *endpoint, const char *dialstring);
/* The first channel of a call, from endpoint, presenting caller_number.
 * Where that does not tell, guesses and says so once per endpoint. */
void endpoint_kinds_caller(struct endpoint_kinds *k, const char *endpoint, const char *context,
                           const char *caller_number);

/* {"100":{"kind":"phone","why":"behind a hint"},...} for --collect */
void endpoint_kinds_render(struct jw *w, const struct endpoint_kinds *k);

#endif
