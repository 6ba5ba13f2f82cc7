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
