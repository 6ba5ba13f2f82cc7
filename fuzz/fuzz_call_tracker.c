/* libFuzzer: the call tracker fed arbitrary event sequences (through the codec). */
#include <stdint.h>
#include <stdlib.h>

#include "ami_codec.h"
#include "call_record.h"
#include "call_tracker.h"
#include "fuzz_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t clock_ms;

static void on_message(void *ctx, const struct ami_msg *m)
{
	struct call_tracker *t = ctx;
	clock_ms += 250;
	if (ami_field_is(ami_msg_find(m, "Event"), "CoreShowChannel"))
		call_tracker_sync_channel(t, m, clock_ms);
	else
		call_tracker_event(t, m, clock_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The codec is made once and reset per input: its 1 MiB message
	 * buffer, allocated and poisoned by ASan on every run, cost more than
	 * the tracker's work on a capture. */
	static struct ami_codec codec;
	static struct call_tracker t;
	static struct glob_list contexts, endpoints;
	static int ready;

	if (!ready) {
		struct ami_codec_handlers h = {NULL, on_message, NULL, &t};
		glob_list_parse(&contexts, "from-trunk from-pstn");
		glob_list_parse(&endpoints, "trunk*");
		if (ami_codec_init(&codec, &h) < 0)
			return 0;
		ready = 1;
	}
	struct call_tracker_opts o = {.trunk_contexts = &contexts,
	                              .trunk_endpoints = &endpoints,
	                              .idle_timeout_ms = 3600 * 1000,
	                              .max_calls = 64};
	if (call_tracker_init(&t, &o, fuzz_record_renders, NULL) < 0)
		return 0;
	ami_codec_reset(&codec, 0);
	clock_ms = 0;
	if (size > 0 && data[0] == 'S')
		call_tracker_sync_begin(&t);
	ami_codec_feed(&codec, (const char *)data, size);
	call_tracker_sync_end(&t, clock_ms);
	call_tracker_expire(&t, clock_ms + 2 * 3600 * 1000);
	if (t.ncalls != 0) /* nothing may outlive the idle timeout */
		__builtin_trap();
	call_tracker_free(&t);
	return 0;
}
