#include "sink.h"

/* A sink that writes at once has no socket to wait on... */
int sink_none_socket(void *ctx)
{
	(void)ctx;
	return -1;
}

/* ... and never has a batch out to give up. */
void sink_none_drop(void *ctx, const char *why)
{
	(void)ctx;
	(void)why;
}

enum sink_rc sink_written(struct sink_batch *b, size_t n, enum sink_rc rc)
{
	*b = (struct sink_batch){.taken = n, .rc = rc};
	return rc == SINK_DOWN ? SINK_DOWN : SINK_OK;
}

enum sink_rc sink_kept_receive(void *ctx, struct batch_item *items, size_t n, struct sink_batch *b)
{
	(void)ctx;
	(void)items;
	(void)n;
	return (enum sink_rc)b->rc;
}
