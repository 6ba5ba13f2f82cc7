/* libFuzzer: the outbox log reader (bridge/outbox.c) on arbitrary bytes:
 * whatever a crash, a torn write or a bad disk left in outbox.log, opening
 * it never crashes, never reads past an entry, and what it keeps can be
 * sent, retired and written back.  The log sits in /dev/shm when there is
 * one: a file per input, in memory. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_scratch.h"
#include "outbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sent(void *ctx, const char *id, const char *payload, size_t len)
{
	size_t *n = ctx;
	if (strlen(id) == 0 || memchr(payload, '\0', len) != NULL || payload[len] != '\0')
		__builtin_trap(); /* an id, and a payload whole and terminated */
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outbox o;
	char err[256];
	size_t n = 0;

	int fd = fuzz_scratch_file("outbox", "outbox.log");
	if (fd < 0)
		return 0;
	ssize_t w = size ? write(fd, data, size) : 0;
	close(fd);
	if (w != (ssize_t)size)
		return 0;
	if (outbox_open(&o, fuzz_dir, 1 << 30, 1 << 24, 1000, err, sizeof(err)) < 0)
		return 0;
	outbox_pump(&o, 1, 100000, sent, &n);
	if (n > o.pending)
		__builtin_trap(); /* sent more than it holds */
	/* retire one, add one, and write it all back */
	if (outbox_append(&o, "fuzz:1.1", "{}", 2) == 0 && outbox_sync(&o) == 0)
		outbox_retire(&o, "fuzz:1.1");
	outbox_close(&o);
	return 0;
}
