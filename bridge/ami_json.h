/*
 * An AMI message as one JSON object: keys as the PBX sent them and in its
 * order, a key that repeats (Output, ChanVariable...) as an array of its
 * values, plus "ts" and "seq" added by the bridge.
 */
#ifndef PBXBUS_AMI_JSON_H
#define PBXBUS_AMI_JSON_H

#include <stdint.h>

#include "ami_codec.h"
#include "json_writer.h"

/* Writes into w (reset first); returns the document or NULL if over limit. */
const char *ami_msg_to_json(struct jw *w, const struct ami_msg *m, const char *ts, uint64_t seq, size_t *len);

#endif
