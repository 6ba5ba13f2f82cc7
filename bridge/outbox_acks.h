/* A consumer's ack on <prefix>/acks/<consumer>: {"consumer": "...", "ids":
 * ["<pbx>:<Linkedid>", ...]}.  The broker delivers whatever anyone with the
 * ACL's write right published there: the shape is checked, nothing else is
 * trusted (an unknown id retires nothing). */
#ifndef PBXBUS_OUTBOX_ACKS_H
#define PBXBUS_OUTBOX_ACKS_H

#include <stddef.h>

/* Calls fn for each id (a string) of the ack; returns how many, or -1 when
 * the payload is not an ack. */
int outbox_acks_parse(const char *payload, size_t len, void (*fn)(void *ctx, const char *id), void *ctx);

#endif
