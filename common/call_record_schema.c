#include "call_record_schema.h"

#include <string.h>

const char *const call_record_directions[] = {
    [RD_INBOUND] = "inbound", [RD_OUTBOUND] = "outbound", [RD_INTERNAL] = "internal", NULL};
const char *const call_record_dispositions[] = {
    [RP_ANSWERED] = "ANSWERED", [RP_NO_ANSWER] = "NO ANSWER",   [RP_BUSY] = "BUSY",
    [RP_FAILED] = "FAILED",     [RP_CONGESTION] = "CONGESTION", NULL};

const char *const call_record_origins[] = {[RO_AMI] = "ami", [RO_CDR] = "cdr", NULL};

const char *const ring_record_states[] = {[RS_RINGING] = "ringing", [RS_STOPPED] = "stopped", NULL};
const char *const ring_record_vias[] = {"direct", "ring_group", "queue", "follow_me", "transfer", NULL};

int call_record_word_ok(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return 1;
	return 0;
}

#define RF_DEF(id, key, type, required, max, column, words) [id] = {key, type, required, max, column, words},
const struct record_field_def call_record_fields[RF_COUNT] = {CALL_RECORD_FIELDS(RF_DEF)};
#undef RF_DEF

#define GF_DEF(id, key, type, max, words) [id] = {key, type, max, words},
const struct ring_field_def ring_record_fields[GF_COUNT] = {RING_RECORD_FIELDS(GF_DEF)};
#undef GF_DEF
