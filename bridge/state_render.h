/* The JSON of live state: one document per topic under <prefix>/state/, and
 * the whole of it for --snapshot and --collect (docs/topics.md). */
#ifndef PBXBUS_STATE_RENDER_H
#define PBXBUS_STATE_RENDER_H

#include "call_tracker.h"
#include "json_writer.h"
#include "state_model.h"

struct state_view {
	const struct state_model *st;
	const struct call_tracker *calls;
	const struct endpoint_kinds *kinds; /* phone or trunk and why; NULL: left out */
	const char *pbx_id;
	const char *bridge_version;
	int64_t bridge_started_ms;
};

void render_entity(struct jw *w, const struct state_view *v, const struct st_entity *e);
/* Each kind's fields, inside render_entity's object (state_kinds.c names them). */
void render_extension(struct jw *w, const struct state_view *v, const struct st_entity *e);
void render_trunk(struct jw *w, const struct state_view *v, const struct st_entity *e);
void render_queue(struct jw *w, const struct state_view *v, const struct st_entity *e);
void render_parked(struct jw *w, const struct state_view *v, const struct st_entity *e);
void render_system(struct jw *w, const struct state_view *v);
void render_calls(struct jw *w, const struct state_view *v);
/* Everything: {"system":..., "extensions":{...}, "trunks":{...}, "queues":{...}, "parked":{...},
 * "calls":[...], "endpoints":{...}} */
void render_snapshot(struct jw *w, const struct state_view *v);

#endif
