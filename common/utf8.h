/* UTF-8 validity (overlongs, surrogates and > U+10FFFF are invalid). */
#ifndef PBXBUS_UTF8_H
#define PBXBUS_UTF8_H

#include <stddef.h>

/* Length of the valid sequence at s (1..4), or 0 when invalid. */
size_t utf8_seq_len(const unsigned char *s, size_t avail);
int utf8_valid(const char *s, size_t len);

#endif
