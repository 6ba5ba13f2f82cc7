/* libFuzzer: the AMI codec on arbitrary bytes in arbitrary chunks. */
#include <stdint.h>
#include <string.h>

#include "ami_codec.h"
#include "bounds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_banner(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	if (len > AMI_MAX_BANNER)
		__builtin_trap();
	(void)line;
}

static void on_message(void *ctx, const struct ami_msg *m)
{
	size_t *total = ctx;
	if (m->nfields == 0 || m->nfields > AMI_MAX_FIELDS)
		__builtin_trap();
	for (size_t i = 0; i < m->nfields; i++) {
		if (m->fields[i].key_len == 0 || m->fields[i].val_len > AMI_MAX_LINE)
			__builtin_trap();
		/* touch every byte so ASan sees any bad pointer */
		*total += (size_t)m->fields[i].key[m->fields[i].key_len - 1];
		if (m->fields[i].val_len)
			*total += (size_t)m->fields[i].val[m->fields[i].val_len - 1];
	}
	(void)ami_msg_find(m, "Event");
}

static void on_error(void *ctx, enum ami_err err)
{
	(void)ctx;
	(void)ami_err_str(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ami_codec codec;
	static int ready;
	static size_t total;
	struct ami_codec_handlers h = {on_banner, on_message, on_error, &total};

	if (!ready) {
		if (ami_codec_init(&codec, &h) < 0)
			return 0;
		ready = 1;
	}
	ami_codec_reset(&codec, 1);
	/* The first byte picks how the input is split: a byte at a time up to
	 * 64 (every split point inside a line is reached), or in reads of up
	 * to 4 KiB as a socket gives them (fast on captures of real size). */
	size_t chunk = 1;
	if (size)
		chunk = data[0] < 64 ? (size_t)data[0] + 1 : ((size_t)data[0] - 63) * 21;
	if (size > 16384 && chunk < 4096)
		chunk = 4096; /* a long input in tiny reads costs much and finds nothing new */
	for (size_t pos = size ? 1 : 0; pos < size; pos += chunk) {
		size_t n = size - pos < chunk ? size - pos : chunk;
		ami_codec_feed(&codec, (const char *)data + pos, n);
	}
	return 0;
}
