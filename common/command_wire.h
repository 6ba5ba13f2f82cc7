/*
 * The command channel's words that both sides check (docs/commands.md,
 * docs/dial.md): a request's id, and a dial's extension and "by".  The
 * consumer checks them before it publishes a request, the bridge again
 * before it runs one; one rule, here.
 */
#ifndef PBXBUS_COMMAND_WIRE_H
#define PBXBUS_COMMAND_WIRE_H

#include <stddef.h>

#define COMMAND_ID_MAX      64   /* a request's id: the answer's topic ends in it */
#define COMMAND_REQUEST_MAX 4096 /* bytes of a request */
#define DIAL_EXTENSION_MAX  32
#define DIAL_BY_MAX         96

/* 1 if s is 1 to max letters, digits or bytes of extra. */
int command_word_valid(const char *s, size_t max, const char *extra);
/* 1 if id is letters, digits, '.', '-' or '_', 1 to COMMAND_ID_MAX long. */
int command_id_valid(const char *id);
/* 1 if s is a usable extension (letters, digits, '-', '_'; 1 to
 * DIAL_EXTENSION_MAX). */
int dial_extension_valid(const char *s);
/* 1 if s is a usable "by" ("console 192.0.2.7": letters, digits, spaces
 * and "-_.:@", 1 to DIAL_BY_MAX): words a person reads in the log and the
 * record. */
int dial_by_valid(const char *s);

#endif
