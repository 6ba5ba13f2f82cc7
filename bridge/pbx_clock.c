#include "pbx_clock.h"

void pbx_clock_resume(struct pbx_clock *c, int64_t offset_ms)
{
	c->offset_ms = offset_ms;
}

void pbx_clock_new_session(struct pbx_clock *c)
{
	c->seen_in_session = 0;
}

int64_t pbx_clock_saw(struct pbx_clock *c, int64_t pbx_ms, int64_t wall_ms)
{
	int64_t offset = pbx_ms - wall_ms;
	int64_t moved = c->seen_in_session ? 0 : offset - c->offset_ms;

	c->offset_ms = offset;
	c->seen_in_session = 1;
	return moved;
}

int64_t pbx_clock_now(const struct pbx_clock *c, int64_t wall_ms)
{
	return wall_ms + c->offset_ms;
}
