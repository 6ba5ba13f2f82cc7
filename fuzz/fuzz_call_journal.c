/* libFuzzer: the call journal loader (bridge/call_journal.c) and the call
 * images it holds (bridge/call_image.c) on arbitrary bytes: whatever a
 * crash, a bad disk or a hand that crafted it left in calls.journal,
 * opening it and restoring its calls never crashes, never reads past an
 * entry or an image, and keeps no more calls than the tracker follows
 * (audit-3 N10: a CRC-valid image with nrung 100000 crashed the bridge at
 * every start).  The file sits in /dev/shm when there is one. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call_journal.h"
#include "call_record.h"
#include "call_tracker.h"
#include "crc32.h"
#include "fuzz_record.h"
#include "fuzz_scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CALLS 16

/* The input as entries whose CRCs are right (the loader's first check),
 * when it starts with '!': what a crafted file would be; else as it is. */
static void write_input(int fd, const uint8_t *data, size_t size)
{
	if (size == 0 || data[0] != '!') {
		if (size && write(fd, data, size) != (ssize_t)size)
			return;
		return;
	}
	for (size_t at = 1; at + 3 <= size;) {
		size_t len = (size_t)data[at + 1] << 8 | data[at + 2];
		if (len > size - at - 3)
			len = size - at - 3;
		unsigned char hdr[9] = {data[at]};
		put_be32(hdr + 1, (uint32_t)len);
		put_be32(hdr + 5, crc32_update(0, data + at + 3, len));
		if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
		    write(fd, data + at + 3, len) != (ssize_t)len)
			return;
		at += 3 + len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct glob_list none;
	struct call_journal j;
	struct call_tracker t;
	char err[256];

	int fd = fuzz_scratch_file("journal", "calls.journal");
	if (fd < 0)
		return 0;
	write_input(fd, data, size);
	close(fd);
	if (call_journal_open(&j, fuzz_dir, MAX_CALLS, err, sizeof(err)) < 0) {
		call_journal_close(&j);
		return 0;
	}
	if (j.nlive > MAX_CALLS)
		__builtin_trap();
	struct call_tracker_opts o = {.trunk_contexts = &none,
	                              .trunk_endpoints = &none,
	                              .idle_timeout_ms = 1000,
	                              .max_calls = MAX_CALLS,
	                              .journal = &j};
	if (call_tracker_init(&t, &o, fuzz_record_renders, NULL) == 0) {
		call_tracker_restore(&t);
		call_tracker_sync_begin(&t);
		call_tracker_sync_end(&t, 10000); /* every restored call is gone: its record is written */
		call_tracker_free(&t);
	}
	call_journal_close(&j);
	return 0;
}
