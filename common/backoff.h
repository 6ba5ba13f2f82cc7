/* Exponential back-off with jitter, capped: for every reconnect loop. */
#ifndef PBXBUS_BACKOFF_H
#define PBXBUS_BACKOFF_H

#include <stdint.h>

struct backoff {
	int64_t base_ms, cap_ms;
	unsigned attempt;
	uint32_t rng; /* xorshift state; jitter need not be cryptographic */
};

void backoff_init(struct backoff *b, int64_t base_ms, int64_t cap_ms, uint32_t seed);
/* Delay before the next attempt: a random point in [d/2, d], d doubling. */
int64_t backoff_next(struct backoff *b);
void backoff_reset(struct backoff *b);

#endif
