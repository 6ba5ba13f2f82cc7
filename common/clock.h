/* Wall and monotonic time in milliseconds, and the ISO 8601 form we publish. */
#ifndef PBXBUS_CLOCK_H
#define PBXBUS_CLOCK_H

#include <stddef.h>
#include <stdint.h>

int64_t clock_wall_ms(void); /* epoch milliseconds: for timestamps */
int64_t clock_mono_ms(void); /* monotonic: for timeouts and deadlines */

#define ISO8601_LEN 32
/* "2026-11-22T11:01:30.123Z"; returns buf. */
const char *iso8601_ms(int64_t epoch_ms, char buf[ISO8601_LEN]);

/* "2026-11-22T11:01:30.123Z" (also without fraction, or with "+00:00")
 * → epoch ms; -1 if it is not such a UTC time. */
int64_t iso8601_parse_ms(const char *s);

/* AMI "Timestamp: 1795345290.123456" → epoch ms; -1 if malformed. */
int64_t ami_timestamp_ms(const char *s, size_t len);

#endif
