#include "call_tracker_internal.h"

#include <stddef.h>

#include "call_record_schema.h"

/* What a record says of a call, derived from its channels as known now:
 * its direction, trunk, extension, outside number and disposition. */

static const struct ct_channel *trunk_channel(const struct call *c)
{
	for (int i = 0; i < c->nch; i++)
		if (c->ch[i].is_trunk)
			return &c->ch[i];
	return NULL;
}

enum call_direction call_direction(const struct call *c)
{
	if (c->nch == 0)
		return CALL_DIR_UNKNOWN;
	if (c->ch[0].is_trunk)
		return CALL_DIR_INBOUND;
	return trunk_channel(c) ? CALL_DIR_OUTBOUND : CALL_DIR_INTERNAL;
}

const char *call_direction_name(enum call_direction d)
{
	switch (d) {
	case CALL_DIR_INBOUND:
		return call_record_directions[RD_INBOUND];
	case CALL_DIR_OUTBOUND:
		return call_record_directions[RD_OUTBOUND];
	case CALL_DIR_INTERNAL:
		return call_record_directions[RD_INTERNAL];
	case CALL_DIR_UNKNOWN:
		break;
	}
	return NULL;
}

const char *call_trunk(const struct call *c)
{
	const struct ct_channel *tr = trunk_channel(c);
	return tr ? tr->endpoint : NULL;
}

/* The caller leg's extension; an originated call starts on a Local channel. */
static const char *placing_extension(const struct call *c)
{
	for (int i = 0; i < c->nch; i++)
		if (!c->ch[i].is_trunk && !c->ch[i].is_local)
			return c->ch[i].endpoint;
	return NULL;
}

const char *call_extension(const struct call *c)
{
	if (call_direction(c) != CALL_DIR_INBOUND)
		return placing_extension(c);
	if (c->answered_by[0])
		return c->answered_by;
	return c->nrung > 0 ? c->rung[0] : NULL;
}

const char *call_external_number(const struct call *c)
{
	if (c->start_held)
		return NULL; /* not yet known not to be withheld: not shown (state/calls) */
	switch (call_direction(c)) {
	case CALL_DIR_INBOUND:
		return c->external_number[0] ? c->external_number : NULL;
	case CALL_DIR_OUTBOUND:
		return c->dialled[0] ? c->dialled : NULL;
	default:
		return NULL;
	}
}

const char *call_disposition(const struct call *c)
{
	int cause = c->nch > 0 ? c->ch[0].cause : 0;

	const char *const *words = call_record_dispositions;

	if (c->answered)
		return words[RP_ANSWERED];
	if (c->dial_busy || cause == 17)
		return words[RP_BUSY];
	if (c->dial_congestion || cause == 34 || cause == 38 || cause == 42)
		return words[RP_CONGESTION];
	if (c->dial_unavail)
		return words[RP_FAILED];
	return words[RP_NO_ANSWER];
}
