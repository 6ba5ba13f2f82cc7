#include "call_tracker_internal.h"

#include <string.h>

/* The channel variables a call's record takes.  FreePBX names a recorded
 * call's file in two: CALLFILENAME (its name, set first) and
 * MIXMONITOR_FILENAME (the file MixMonitor writes, with its folder and
 * extension), which wins.  A click-to-call's Originate names its request
 * and who asked (PBXBUS_DIAL, PBXBUS_DIAL_BY: bridge/ami_client.c). */
enum call_variable { VAR_NONE, VAR_CALLFILENAME, VAR_MIXMONITOR, VAR_DIAL, VAR_DIAL_BY };

static enum call_variable call_variable(const struct ami_msg *m)
{
	static const struct {
		const char *name;
		enum call_variable var;
	} known[] = {{"MIXMONITOR_FILENAME", VAR_MIXMONITOR},
	             {"CALLFILENAME", VAR_CALLFILENAME},
	             {"PBXBUS_DIAL", VAR_DIAL},
	             {"PBXBUS_DIAL_BY", VAR_DIAL_BY}};
	const struct ami_field *v = ami_msg_find(m, "Variable");

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (ami_field_is(v, known[i].name))
			return known[i].var;
	return VAR_NONE;
}

/* value into dst (size bytes) whole, or nothing: better none than a cut
 * one.  1 when it was kept. */
static int keep_value(char *dst, size_t size, const struct ami_field *v)
{
	if (v == NULL || v->val_len == 0 || v->val_len >= size)
		return 0;
	memcpy(dst, v->val, v->val_len);
	dst[v->val_len] = '\0';
	return 1;
}

void ct_note_variable(struct call *c, const struct ami_msg *m)
{
	enum call_variable var = call_variable(m);
	const struct ami_field *v = ami_msg_find(m, "Value");

	switch (var) {
	case VAR_MIXMONITOR:
	case VAR_CALLFILENAME:
		if (var == VAR_CALLFILENAME && c->recording_mixed)
			return;
		if (keep_value(c->recording, sizeof(c->recording), v))
			c->recording_mixed = var == VAR_MIXMONITOR;
		return;
	case VAR_DIAL:
		keep_value(c->originated_request_id, sizeof(c->originated_request_id), v);
		return;
	case VAR_DIAL_BY:
		keep_value(c->originated_by, sizeof(c->originated_by), v);
		return;
	case VAR_NONE:
		return;
	}
}

int ct_is_call_variable(const struct ami_msg *m)
{
	return call_variable(m) != VAR_NONE;
}
