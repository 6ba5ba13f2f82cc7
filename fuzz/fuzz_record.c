/* libFuzzer: the consumer's call record parser, and the phone normaliser. */
#include <stdint.h>
#include <string.h>

#include "phone.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct phone_plan plans[3];
	static int ready;
	struct call_row row;
	char err[256], e164[PHONE_E164_MAX], buf[128];

	if (!ready) {
		phone_plan_init(&plans[0], "44", "0", "00");
		phone_plan_init(&plans[1], "1", "1", "011");
		phone_plan_init(&plans[2], "49", "0", "00");
		ready = 1;
	}
	if (record_parse((const char *)data, size, &plans[size % 3], &row, err, sizeof(err)) == 0) {
		if (row.call_id[0] == '\0' || row.body[0] == '\0' || row.billsec > row.duration)
			__builtin_trap();
	}
	size_t n = size < sizeof(buf) - 1 ? size : sizeof(buf) - 1;
	memcpy(buf, data, n);
	buf[n] = '\0';
	for (int i = 0; i < 3; i++) {
		if (phone_to_e164(buf, &plans[i], e164) == 0) {
			size_t len = strlen(e164);
			if (e164[0] != '+' || len < 8 || len > 16 || strspn(e164 + 1, "0123456789") != len - 1)
				__builtin_trap();
		}
	}
	return 0;
}
