/* Lowercase hex MD5, for the AMI challenge login (key = md5(challenge + secret)). */
#ifndef PBXBUS_MD5HEX_H
#define PBXBUS_MD5HEX_H

#include <stddef.h>

/* out gets 32 hex digits and a NUL; returns 0, or -1 if libcrypto failed. */
int md5_hex(const void *a, size_t alen, const void *b, size_t blen, char out[33]);

#endif
