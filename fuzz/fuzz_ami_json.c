/* libFuzzer: AMI message → JSON must always be valid JSON (checked by cJSON). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#include "ami_codec.h"
#include "ami_json.h"
#include "bounds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jw writer;

static void on_message(void *ctx, const struct ami_msg *m)
{
	size_t len;
	(void)ctx;
	const char *doc = ami_msg_to_json(&writer, m, "2026-01-01T00:00:00.000Z", 1, &len);
	if (doc == NULL)
		return;
	cJSON *j = cJSON_ParseWithLength(doc, len);
	if (j == NULL || !cJSON_IsObject(j))
		__builtin_trap();
	cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ami_codec codec;
	static int ready;
	struct ami_codec_handlers h = {NULL, on_message, NULL, NULL};

	if (!ready) {
		if (ami_codec_init(&codec, &h) < 0)
			return 0;
		jw_init(&writer, JSON_EVENT_MAX);
		ready = 1;
	}
	ami_codec_reset(&codec, 0);
	ami_codec_feed(&codec, (const char *)data, size);
	ami_codec_feed(&codec, "\r\n\r\n", 4);
	return 0;
}
