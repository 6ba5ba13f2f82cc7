/* Topic building: nothing from the PBX reaches a topic unsanitised. */
#ifndef PBXBUS_TOPIC_H
#define PBXBUS_TOPIC_H

#include <stddef.h>

/*
 * Copies in[0..len) into out as one safe topic segment: only letters,
 * digits and "-_.@" survive, anything else (+ # / NUL, spaces, control and
 * non-ASCII bytes) becomes '_'; truncated to TOPIC_SEGMENT_MAX; an empty
 * input gives "_".  Returns out.
 */
char *topic_segment(char *out, size_t outsz, const char *in, size_t len);

/* 0 if prefix is usable as a topic prefix, else -1 with a reason. */
int topic_prefix_valid(const char *prefix, const char **why);

/* A call's id, "<pbx_id>:<Linkedid>" (call records, state, acks); -1 if
 * it did not fit. */
int call_id_format(char *out, size_t outsz, const char *pbx_id, const char *linkedid);

/* "<prefix>/<a>" or "<prefix>/<a>/<segment>" into out; -1 if too long. */
int topic_join(char *out, size_t outsz, const char *prefix, const char *a, const char *segment);

#endif
