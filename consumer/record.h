/*
 * A call record from MQTT (calls/hangup, docs/topics.md) checked and turned
 * into a crm_comms_log row.  Anything that fails the checks is a dead
 * letter with the reason: the parser never logs and never trusts a field.
 */
#ifndef PBXBUS_RECORD_H
#define PBXBUS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "call_record_schema.h"
#include "phone.h"

/* Room for the text of every field that feeds a column (a unit test holds
 * the schema's bounds to it). */
#define CALL_ROW_COLUMNS_BYTES 1024

struct call_row {
	/* What the consumer reasons with. */
	char pbx[128];
	char call_id[200];
	char direction[16];
	char external_number[64];
	char external_e164[PHONE_E164_MAX];
	char disposition[16];
	char body[64];
	long long duration, billsec;
	int64_t started_ms, ended_ms;
	/* What the row's columns receive: the text of each field the schema
	 * maps to a column, at column_at[field] in columns (-1: NULL). */
	int16_t column_at[RF_COUNT];
	char columns[CALL_ROW_COLUMNS_BYTES];
};

/* The text a field's column receives (call_record_schema.h), as PostgreSQL
 * reads it; NULL for a field absent, null or "", or one with no column. */
const char *call_row_column(const struct call_row *r, enum record_field f);

/* 0 and a row, or -1 with why in err; RECORD_BAD_TIMES (with err) when the
 * record is whole and well-formed but its times contradict each other. */
#define RECORD_BAD_TIMES (-2)
int record_parse(const char *payload, size_t len, const struct phone_plan *plan, struct call_row *row, char *err,
                 size_t errsz);

/* A call_id of the documented "<pbx>:<Linkedid>" form: printable, with a
 * colon.  A record that names one is acknowledged even when it is a dead
 * letter, so the bridge retires it instead of sending it for ever. */
int record_call_id_ok(const char *id);

/* "pbx/site1/calls/hangup" → "pbx/site1" (where its acks go); -1 if the
 * topic does not end in /calls/hangup. */

/* The crm_comms_log body: "Call duration: 65s", "Missed call", "Busy"... */
void record_body(const char *direction, const char *disposition, long long seconds, char *out, size_t size);

#endif
