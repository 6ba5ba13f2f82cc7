/* A payload's SHA-256, in hex: what identifies a dead letter whose bytes
 * are kept only in part (DEAD_LETTER_KEEP). */
#ifndef PBXBUS_PAYLOAD_DIGEST_H
#define PBXBUS_PAYLOAD_DIGEST_H

#include <stddef.h>

#define SHA256_HEX_LEN 65

/* out is "" if the digest could not be made (out of memory). */
void payload_sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN]);

#endif
