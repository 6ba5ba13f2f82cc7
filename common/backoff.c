#include "backoff.h"

void backoff_init(struct backoff *b, int64_t base_ms, int64_t cap_ms, uint32_t seed)
{
	b->base_ms = base_ms > 0 ? base_ms : 1;
	b->cap_ms = cap_ms > b->base_ms ? cap_ms : b->base_ms;
	b->attempt = 0;
	b->rng = seed ? seed : 0x9e3779b9u;
}

static uint32_t xorshift32(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

int64_t backoff_next(struct backoff *b)
{
	int64_t d = b->base_ms;

	for (unsigned i = 0; i < b->attempt && d < b->cap_ms; i++)
		d *= 2;
	if (d > b->cap_ms)
		d = b->cap_ms;
	if (b->attempt < 64)
		b->attempt++;
	int64_t half = d / 2;
	return half + (int64_t)(xorshift32(&b->rng) % (uint32_t)(d - half + 1));
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}
