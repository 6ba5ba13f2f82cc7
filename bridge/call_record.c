#include "call_record.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "topic.h"

static void str_or_null(struct jw *w, const char *v)
{
	jw_strz(w, v && *v ? v : NULL);
}

static void time_or_null(struct jw *w, int64_t ms, int known)
{
	jw_time_ms(w, known ? ms : 0);
}

static void int_or_null(struct jw *w, int64_t v, int known)
{
	if (known)
		jw_int(w, v);
	else
		jw_null(w);
}

static int64_t seconds_between(int64_t from_ms, int64_t to_ms)
{
	int64_t d = to_ms - from_ms;
	return d <= 0 ? 0 : (d + 500) / 1000;
}

/* The value of one field of the schema (common/call_record_schema.h). */
static void put_field(struct jw *w, enum record_field f, const struct call *c, enum call_phase kind, const char *pbx_id,
                      const char *call_id)
{
	int ended = kind == CALL_HANGUP;
	enum call_direction dir = call_direction(c);

	switch (f) {
	case RF_V:
		jw_int(w, CALL_RECORD_VERSION);
		break;
	case RF_PBX:
		jw_strz(w, pbx_id);
		break;
	case RF_CALL_ID:
		jw_strz(w, call_id);
		break;
	case RF_DIRECTION:
		/* Before a trunk is dialled an extension's call looks internal: unknown yet. */
		jw_strz(w,
		        call_direction_name(kind == CALL_START && dir == CALL_DIR_INTERNAL ? CALL_DIR_UNKNOWN : dir));
		break;
	case RF_EXTERNAL_NUMBER:
		str_or_null(w, call_external_number(c));
		break;
	case RF_EXTERNAL_NAME:
		str_or_null(w, dir == CALL_DIR_INBOUND && !c->withheld ? c->external_name : NULL);
		break;
	case RF_WITHHELD:
		if (c->from_cdr && !c->withheld)
			jw_null(w); /* a CDR keeps no presentation */
		else
			jw_bool(w, dir == CALL_DIR_INBOUND && c->withheld);
		break;
	case RF_DID:
		str_or_null(w, dir == CALL_DIR_INBOUND ? c->did : NULL);
		break;
	case RF_EXTENSION:
		str_or_null(w, call_extension(c));
		break;
	case RF_EXTENSIONS_RUNG:
		jw_arr_begin(w);
		for (int i = 0; i < c->nrung; i++)
			jw_strz(w, c->rung[i]);
		jw_arr_end(w);
		break;
	case RF_TRUNK:
		str_or_null(w, call_trunk(c));
		break;
	case RF_QUEUE:
		str_or_null(w, c->queue);
		break;
	case RF_TRANSFERRED:
		if (c->from_cdr)
			jw_null(w);
		else
			jw_bool(w, c->transferred);
		break;
	case RF_PARTIAL:
		jw_bool(w, c->partial);
		break;
	case RF_STARTED_AT:
		time_or_null(w, c->started_ms, 1);
		break;
	case RF_ANSWERED_AT:
		time_or_null(w, c->answered_ms, c->answered);
		break;
	case RF_ENDED_AT:
		time_or_null(w, c->ended_ms, ended);
		break;
	case RF_DURATION_S:
		int_or_null(w, seconds_between(c->started_ms, c->ended_ms), ended);
		break;
	case RF_BILLSEC_S:
		int_or_null(w, c->answered ? seconds_between(c->answered_ms, c->ended_ms) : 0, ended);
		break;
	case RF_DISPOSITION:
		str_or_null(w,
		            ended ? call_disposition(c) : (c->answered ? call_record_dispositions[RP_ANSWERED] : NULL));
		break;
	case RF_PBX_ANSWERED:
		if (c->from_cdr)
			jw_null(w);
		else
			jw_bool(w, c->pbx_answered);
		break;
	case RF_HANGUP_CAUSE:
		int_or_null(w, c->nch > 0 ? c->ch[0].cause : 0, ended && c->nch > 0 && !c->from_cdr);
		break;
	case RF_HANGUP_CAUSE_TEXT:
		str_or_null(w, ended && c->nch > 0 && !c->from_cdr ? c->ch[0].cause_txt : NULL);
		break;
	case RF_LEGS:
		jw_int(w, c->legs);
		break;
	case RF_RECORDING:
		/* FreePBX puts the caller's number in the file's name: a withheld
		 * caller's recording is not named (the PBX still has it) */
		str_or_null(w, c->withheld || !c->recording[0] ? NULL : c->recording);
		break;
	case RF_ORIGIN:
		jw_strz(w, call_record_origins[c->from_cdr ? RO_CDR : RO_AMI]);
		break;
	case RF_ORIGINATED_REQUEST_ID:
		str_or_null(w, c->originated_request_id[0] ? c->originated_request_id : NULL);
		break;
	case RF_ORIGINATED_BY:
		str_or_null(w, c->originated_by[0] ? c->originated_by : NULL);
		break;
	case RF_COUNT:
		break;
	}
}

const char *call_record_json(struct jw *w, const struct call *c, enum call_phase kind, const char *pbx_id, size_t *len)
{
	char call_id[256];

	call_id_format(call_id, sizeof(call_id), pbx_id, c->linkedid);
	jw_reset(w);
	jw_obj_begin(w);
	for (int f = 0; f < RF_COUNT; f++) {
		jw_keyz(w, call_record_fields[f].key);
		put_field(w, (enum record_field)f, c, kind, pbx_id, call_id);
	}
	jw_obj_end(w);
	return jw_finish(w, len);
}
