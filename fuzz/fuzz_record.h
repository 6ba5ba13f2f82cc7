/* What the call tracker's fuzz targets share: every record the tracker
 * emits must render (a NULL from the writer traps, so the fuzzer stops
 * there).  Included once per target. */
#ifndef PBXBUS_FUZZ_RECORD_H
#define PBXBUS_FUZZ_RECORD_H

#include "call_record.h"
#include "call_tracker.h"
#include "json_writer.h"

static struct jw fuzz_writer;

static void fuzz_record_renders(void *ctx, enum call_phase kind, const struct call *c, int64_t now_ms)
{
	(void)ctx;
	(void)now_ms;
	if (fuzz_writer.buf == NULL)
		jw_init(&fuzz_writer, 1 << 20);
	if (call_record_json(&fuzz_writer, c, kind, "fuzz", NULL) == NULL)
		__builtin_trap();
}

#endif
