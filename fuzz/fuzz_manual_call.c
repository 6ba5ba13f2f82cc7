/* libFuzzer: the body of POST /api/crm/calls/log (consumer/manual_call.c) on
 * arbitrary bytes: a body is refused with a reason or taken, and what is
 * taken is within its bounds. */
#include <stdint.h>
#include <string.h>

#include "manual_call.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manual_call m;

	if (size > 16 * 1024)
		return 0; /* the HTTP side refuses larger bodies (413) before parsing */
	const char *bad = manual_call_parse((const char *)data, size, &m);
	if (bad != NULL) {
		if (bad[0] == '\0')
			__builtin_trap(); /* a refusal says why */
		return 0;
	}
	if (m.customer_id < 1 || m.duration < 0 || m.duration > 7 * 86400 || m.direction == NULL ||
	    (strcmp(m.direction, "inbound") != 0 && strcmp(m.direction, "outbound") != 0) || m.when[0] == '\0')
		__builtin_trap();
	if (m.notes && (strlen(m.notes) > 4000 || !utf8_valid(m.notes, strlen(m.notes))))
		__builtin_trap();
	manual_call_free(&m);
	return 0;
}
