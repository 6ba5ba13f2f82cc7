/* CRC-32 (IEEE 802.3) and big-endian 32-bit fields: the framing of the
 * bridge's on-disk logs (the outbox, the call journal). */
#ifndef PBXBUS_CRC32_H
#define PBXBUS_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* crc32_update(0, data, len) is the CRC of data; chain to continue. */
uint32_t crc32_update(uint32_t crc, const void *data, size_t len);
void put_be32(unsigned char *p, uint32_t v);
uint32_t get_be32(const unsigned char *p);

#endif
