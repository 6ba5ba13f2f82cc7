#include "ring_record.h"

#include <string.h>

#include "topic.h"

/* The caller, only once the presentation is known to allow it: null
 * before (withheld null: not known yet) and when withheld (true). */
static int caller_shown(const struct call *c)
{
	return c->presentation_known && !c->withheld;
}

static void put_withheld(struct jw *w, const struct call *c)
{
	if (c->withheld)
		jw_bool(w, 1);
	else if (c->presentation_known)
		jw_bool(w, 0);
	else
		jw_null(w);
}

static void str_or_null(struct jw *w, const char *v)
{
	jw_strz(w, v && *v ? v : NULL);
}

/* The value of one field of RING_RECORD_FIELDS. */
static void put_field(struct jw *w, enum ring_field f, const struct call *c, const struct ct_ring *r,
                      const char *pbx_id, const char *call_id, int64_t now_ms)
{
	enum call_direction dir = call_direction(c);

	switch (f) {
	case GF_V:
		jw_int(w, RING_RECORD_VERSION);
		break;
	case GF_PBX:
		jw_strz(w, pbx_id);
		break;
	case GF_CALL_ID:
		jw_strz(w, call_id);
		break;
	case GF_STATE:
		jw_strz(w, ring_record_states[r->stop_sent ? RS_STOPPED : RS_RINGING]);
		break;
	case GF_EXTENSION:
		jw_strz(w, r->extension);
		break;
	case GF_VIA:
		jw_strz(w, ring_record_vias[r->via]);
		break;
	case GF_QUEUE:
		str_or_null(w, r->via == RING_VIA_QUEUE ? c->queue : NULL);
		break;
	case GF_DID:
		str_or_null(w, dir == CALL_DIR_INBOUND ? c->did : NULL);
		break;
	case GF_DIRECTION:
		jw_strz(w, call_direction_name(dir));
		break;
	case GF_CALLER_NUMBER:
		str_or_null(w, caller_shown(c) ? c->external_number : NULL);
		break;
	case GF_CALLER_NAME:
		str_or_null(w, caller_shown(c) ? c->external_name : NULL);
		break;
	case GF_WITHHELD:
		put_withheld(w, c);
		break;
	case GF_ANSWERED_BY:
		str_or_null(w, call_ring_answered_by(c, r));
		break;
	case GF_MISSED:
		jw_bool(w, r->stop_sent && call_ring_answered_by(c, r)[0] == '\0');
		break;
	case GF_AT:
		jw_time_ms(w, now_ms);
		break;
	case GF_COUNT:
		break;
	}
}

const char *ring_record_json(struct jw *w, const struct call *c, const struct ct_ring *r, const char *pbx_id,
                             int64_t now_ms, size_t *len)
{
	char call_id[256];

	call_id_format(call_id, sizeof(call_id), pbx_id, c->linkedid);
	jw_reset(w);
	jw_obj_begin(w);
	for (int f = 0; f < GF_COUNT; f++) {
		jw_keyz(w, ring_record_fields[f].key);
		put_field(w, (enum ring_field)f, c, r, pbx_id, call_id, now_ms);
	}
	jw_obj_end(w);
	return jw_finish(w, len);
}
