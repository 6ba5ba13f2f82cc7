/* libFuzzer: a consumer's ack (bridge/outbox_acks.c) on arbitrary bytes, as anyone
 * with the ACL's write right could publish it: refused, or ids that are
 * strings. */
#include <stdint.h>
#include <string.h>

#include "outbox_acks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void each(void *ctx, const char *id)
{
	size_t *total = ctx;
	*total += strlen(id); /* touch every byte */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t total = 0;
	int n = outbox_acks_parse((const char *)data, size, each, &total);
	if (n < -1)
		__builtin_trap();
	return 0;
}
