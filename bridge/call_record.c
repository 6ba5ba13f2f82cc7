#include "call_record.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

const char *call_record_kind_name(enum call_record_kind kind)
{
	switch (kind) {
	case CALL_START:
		return "start";
	case CALL_ANSWER:
		return "answer";
	case CALL_HANGUP:
		return "hangup";
	}
	return "?";
}

static void key_str(struct jw *w, const char *k, const char *v)
{
	jw_keyz(w, k);
	jw_strz(w, v && *v ? v : NULL);
}

static void key_time(struct jw *w, const char *k, int64_t ms, int known)
{
	char buf[ISO8601_LEN];
	jw_keyz(w, k);
	if (known)
		jw_strz(w, iso8601_ms(ms, buf));
	else
		jw_null(w);
}

static int64_t seconds_between(int64_t from_ms, int64_t to_ms)
{
	int64_t d = to_ms - from_ms;
	return d <= 0 ? 0 : (d + 500) / 1000;
}

const char *call_record_json(struct jw *w, const struct call *c, enum call_record_kind kind, const char *pbx_id,
                             size_t *len)
{
	char call_id[256];
	int ended = kind == CALL_HANGUP;

	snprintf(call_id, sizeof(call_id), "%s:%s", pbx_id, c->linkedid);
	jw_reset(w);
	jw_obj_begin(w);
	jw_keyz(w, "v");
	jw_int(w, CALL_RECORD_VERSION);
	key_str(w, "pbx", pbx_id);
	key_str(w, "call_id", call_id);
	/* Before a trunk is dialled an extension's call looks internal: unknown yet. */
	enum call_direction dir = call_direction(c);
	if (kind == CALL_START && dir == CALL_DIR_INTERNAL)
		dir = CALL_DIR_UNKNOWN;
	key_str(w, "direction", call_direction_name(dir));
	key_str(w, "external_number", call_external_number(c));
	key_str(w, "external_name", call_direction(c) == CALL_DIR_INBOUND ? c->external_name : NULL);
	key_str(w, "did", call_direction(c) == CALL_DIR_INBOUND ? c->did : NULL);
	key_str(w, "extension", call_extension(c));
	jw_keyz(w, "extensions_rung");
	jw_arr_begin(w);
	for (int i = 0; i < c->nrung; i++)
		jw_strz(w, c->rung[i]);
	jw_arr_end(w);
	key_str(w, "trunk", call_trunk(c));
	key_str(w, "queue", c->queue);
	jw_keyz(w, "transferred");
	jw_bool(w, c->transferred);
	jw_keyz(w, "partial");
	jw_bool(w, c->partial);
	key_time(w, "started_at", c->started_ms, 1);
	key_time(w, "answered_at", c->answered_ms, c->answered);
	key_time(w, "ended_at", c->ended_ms, ended);
	jw_keyz(w, "duration_s");
	if (ended)
		jw_int(w, seconds_between(c->started_ms, c->ended_ms));
	else
		jw_null(w);
	jw_keyz(w, "billsec_s");
	if (ended)
		jw_int(w, c->answered ? seconds_between(c->answered_ms, c->ended_ms) : 0);
	else
		jw_null(w);
	key_str(w, "disposition", ended ? call_disposition(c) : (c->answered ? "ANSWERED" : NULL));
	jw_keyz(w, "pbx_answered");
	jw_bool(w, c->pbx_answered);
	jw_keyz(w, "hangup_cause");
	if (ended && c->nch > 0)
		jw_int(w, c->ch[0].cause);
	else
		jw_null(w);
	key_str(w, "hangup_cause_text", ended && c->nch > 0 ? c->ch[0].cause_txt : NULL);
	jw_keyz(w, "legs");
	jw_int(w, c->legs);
	jw_obj_end(w);
	return jw_finish(w, len);
}
