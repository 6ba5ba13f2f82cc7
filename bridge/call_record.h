/* The JSON of a call record (calls/start, calls/answer, calls/hangup). */
#ifndef PBXBUS_CALL_RECORD_H
#define PBXBUS_CALL_RECORD_H

#include "call_record_schema.h"
#include "call_tracker.h"
#include "json_writer.h"

/* Writes the record into w (reset first); NULL if it did not fit. */
const char *call_record_json(struct jw *w, const struct call *c, enum call_phase kind, const char *pbx_id, size_t *len);

#endif
