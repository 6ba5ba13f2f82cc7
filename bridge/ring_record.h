/* The JSON of a ringing record (calls/ringing: a phone starts or stops
 * ringing for a call), by the record schema's RING_RECORD_FIELDS. */
#ifndef PBXBUS_RING_RECORD_H
#define PBXBUS_RING_RECORD_H

#include "call_record_schema.h"
#include "call_tracker.h"
#include "json_writer.h"

/* Writes the record into w (reset first); NULL if it did not fit. */
const char *ring_record_json(struct jw *w, const struct call *c, const struct ct_ring *r, const char *pbx_id,
                             int64_t now_ms, size_t *len);

#endif
