#include "outbox_acks.h"

#include <cjson/cJSON.h>

int outbox_acks_parse(const char *payload, size_t len, void (*fn)(void *ctx, const char *id), void *ctx)
{
	cJSON *o = payload ? cJSON_ParseWithLength(payload, len) : NULL;
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(o, "ids");
	const cJSON *id;
	int n = 0;

	if (!cJSON_IsArray(ids)) {
		cJSON_Delete(o);
		return -1;
	}
	cJSON_ArrayForEach(id, ids)
	{
		if (cJSON_IsString(id) && id->valuestring != NULL) {
			fn(ctx, id->valuestring);
			n++;
		}
	}
	cJSON_Delete(o);
	return n;
}
