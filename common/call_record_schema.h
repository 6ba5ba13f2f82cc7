/*
 * The call record's contract, in one place: its version, its keys in order
 * with their type and bounds, which ones a hangup record must carry, the
 * crm_comms_log column each feeds, and the words of direction,
 * disposition and origin (checked by the parser for any field with words).  The bridge's writer, the consumer's parser
 * and a unit test holding docs/topics.md against it all loop over this table.
 *
 * Adding a field: a line in CALL_RECORD_FIELDS, its value in the writer's
 * switch (bridge/call_record.c: the compiler names a missing case), the
 * tracker that fills it, and its row in docs/topics.md.  A column named
 * here is filled with no other change (the consumer writes its insert
 * statement from this table); a new column needs its migration.
 */
#ifndef PBXBUS_CALL_RECORD_SCHEMA_H
#define PBXBUS_CALL_RECORD_SCHEMA_H

#include <stddef.h>

#define CALL_RECORD_VERSION 1

enum record_type { RT_INT, RT_STRING, RT_BOOL, RT_TIME, RT_STRINGS };

/* X(id, JSON key, type, in every hangup record (never null there), max
 * (an integer's largest value, a string's bytes, a list's items), SQL
 * column in crm_comms_log or NULL, the words a string may be (a
 * NULL-terminated list, below) or NULL for any) */
#define CALL_RECORD_FIELDS(X)                                                                                          \
	X(RF_V, "v", RT_INT, 1, 1000, NULL, NULL)                                                                      \
	X(RF_PBX, "pbx", RT_STRING, 0, 120, NULL, NULL)                                                                \
	X(RF_CALL_ID, "call_id", RT_STRING, 1, 199, "ext_message_id", NULL)                                            \
	X(RF_DIRECTION, "direction", RT_STRING, 1, 15, "direction", call_record_directions)                            \
	X(RF_EXTERNAL_NUMBER, "external_number", RT_STRING, 0, 63, "external_number", NULL)                            \
	X(RF_EXTERNAL_NAME, "external_name", RT_STRING, 0, 255, NULL, NULL)                                            \
	X(RF_WITHHELD, "withheld", RT_BOOL, 0, 1, NULL, NULL)                                                          \
	X(RF_DID, "did", RT_STRING, 0, 63, "did", NULL)                                                                \
	X(RF_EXTENSION, "extension", RT_STRING, 0, 63, "extension", NULL)                                              \
	X(RF_EXTENSIONS_RUNG, "extensions_rung", RT_STRINGS, 0, 64, NULL, NULL)                                        \
	X(RF_TRUNK, "trunk", RT_STRING, 0, 255, NULL, NULL)                                                            \
	X(RF_QUEUE, "queue", RT_STRING, 0, 255, NULL, NULL)                                                            \
	X(RF_TRANSFERRED, "transferred", RT_BOOL, 0, 1, NULL, NULL)                                                    \
	X(RF_PARTIAL, "partial", RT_BOOL, 0, 1, NULL, NULL)                                                            \
	X(RF_STARTED_AT, "started_at", RT_TIME, 1, 39, "occurred_at", NULL)                                            \
	X(RF_ANSWERED_AT, "answered_at", RT_TIME, 0, 39, NULL, NULL)                                                   \
	X(RF_ENDED_AT, "ended_at", RT_TIME, 1, 39, NULL, NULL)                                                         \
	X(RF_DURATION_S, "duration_s", RT_INT, 1, 10LL * 365 * 86400, "duration_seconds", NULL)                        \
	X(RF_BILLSEC_S, "billsec_s", RT_INT, 1, 10LL * 365 * 86400, "billsec_seconds", NULL)                           \
	X(RF_DISPOSITION, "disposition", RT_STRING, 1, 15, "disposition", call_record_dispositions)                    \
	X(RF_PBX_ANSWERED, "pbx_answered", RT_BOOL, 0, 1, NULL, NULL)                                                  \
	X(RF_HANGUP_CAUSE, "hangup_cause", RT_INT, 0, 1000, NULL, NULL)                                                \
	X(RF_HANGUP_CAUSE_TEXT, "hangup_cause_text", RT_STRING, 0, 255, NULL, NULL)                                    \
	X(RF_LEGS, "legs", RT_INT, 0, 1000000, NULL, NULL)                                                             \
	X(RF_ORIGIN, "origin", RT_STRING, 0, 7, NULL, call_record_origins)                                             \
	X(RF_RECORDING, "recording", RT_STRING, 0, 255, "recording", NULL)                                             \
	X(RF_ORIGINATED_REQUEST_ID, "originated_request_id", RT_STRING, 0, 64, NULL, NULL)                             \
	X(RF_ORIGINATED_BY, "originated_by", RT_STRING, 0, 96, NULL, NULL)

#define RF_ENUM(id, key, type, required, max, column, words) id,
enum record_field { CALL_RECORD_FIELDS(RF_ENUM) RF_COUNT };
#undef RF_ENUM

struct record_field_def {
	const char *key;
	enum record_type type;
	int required; /* in a hangup record, present and not null */
	long long max;
	const char *column;       /* crm_comms_log column it feeds, or NULL */
	const char *const *words; /* the only values it may take, NULL-terminated; NULL: any */
};
extern const struct record_field_def call_record_fields[RF_COUNT];

/* The words of `direction` and `disposition`, NULL-terminated. */
extern const char *const call_record_directions[];
extern const char *const call_record_dispositions[];
extern const char *const call_record_origins[]; /* "ami" (live), "cdr" (the PBX's CDR store) */
enum record_direction { RD_INBOUND, RD_OUTBOUND, RD_INTERNAL };
enum record_disposition { RP_ANSWERED, RP_NO_ANSWER, RP_BUSY, RP_FAILED, RP_CONGESTION };
enum record_origin { RO_AMI, RO_CDR };

/*
 * The ringing record (<prefix>/calls/ringing, docs/topics.md): a phone
 * starts ringing for a call, or stops.  For live displays (a screen pop):
 * never stored.  X(id, JSON key, type, max, words), as above.
 */
#define RING_RECORD_VERSION 1
#define RING_RECORD_FIELDS(X)                                                                                          \
	X(GF_V, "v", RT_INT, 1000, NULL)                                                                               \
	X(GF_PBX, "pbx", RT_STRING, 120, NULL)                                                                         \
	X(GF_CALL_ID, "call_id", RT_STRING, 199, NULL)                                                                 \
	X(GF_STATE, "state", RT_STRING, 15, ring_record_states)                                                        \
	X(GF_EXTENSION, "extension", RT_STRING, 63, NULL)                                                              \
	X(GF_VIA, "via", RT_STRING, 15, ring_record_vias)                                                              \
	X(GF_QUEUE, "queue", RT_STRING, 255, NULL)                                                                     \
	X(GF_DID, "did", RT_STRING, 63, NULL)                                                                          \
	X(GF_DIRECTION, "direction", RT_STRING, 15, call_record_directions)                                            \
	X(GF_CALLER_NUMBER, "caller_number", RT_STRING, 63, NULL)                                                      \
	X(GF_CALLER_NAME, "caller_name", RT_STRING, 255, NULL)                                                         \
	X(GF_WITHHELD, "withheld", RT_BOOL, 1, NULL)                                                                   \
	X(GF_ANSWERED_BY, "answered_by", RT_STRING, 63, NULL)                                                          \
	X(GF_MISSED, "missed", RT_BOOL, 1, NULL)                                                                       \
	X(GF_AT, "at", RT_TIME, 39, NULL)

#define GF_ENUM(id, key, type, max, words) id,
enum ring_field { RING_RECORD_FIELDS(GF_ENUM) GF_COUNT };
#undef GF_ENUM

struct ring_field_def {
	const char *key;
	enum record_type type;
	long long max;
	const char *const *words;
};
extern const struct ring_field_def ring_record_fields[GF_COUNT];
/* "ringing", "stopped"; "direct", "ring_group", "queue", "follow_me",
 * "transfer" (bridge/call_tracker.h's enum ring_via, in its order). */
extern const char *const ring_record_states[];
extern const char *const ring_record_vias[];
enum ring_state { RS_RINGING, RS_STOPPED };

/* Is s one of the NULL-terminated words? */
int call_record_word_ok(const char *s, const char *const *words);

#endif
