/*
 * A small streaming JSON writer into one growable, bounded buffer.  Events
 * are written with it rather than through a cJSON tree because it costs no
 * allocation per field (see make bench).  Every string goes through
 * json_writer's escaper, which also replaces invalid UTF-8 with U+FFFD:
 * bytes from the PBX (caller names) never make invalid JSON.
 */
#ifndef PBXBUS_JSON_WRITER_H
#define PBXBUS_JSON_WRITER_H

#include <stddef.h>
#include <stdint.h>

#define JW_MAX_DEPTH 16

struct jw {
	char *buf;
	size_t len, cap, max;
	int depth;
	int err; /* sticky: out of memory, over max or bad nesting */
	unsigned char first[JW_MAX_DEPTH];
};

/* max bounds the document; the buffer is kept across jw_reset. */
void jw_init(struct jw *w, size_t max);
void jw_free(struct jw *w);
void jw_reset(struct jw *w);

void jw_obj_begin(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w);
void jw_arr_end(struct jw *w);
void jw_key(struct jw *w, const char *k, size_t len);
void jw_keyz(struct jw *w, const char *k);
void jw_str(struct jw *w, const char *s, size_t len);
void jw_strz(struct jw *w, const char *s); /* NULL writes null */
void jw_int(struct jw *w, int64_t v);
void jw_uint(struct jw *w, uint64_t v);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
/* An epoch-ms time as ISO 8601 UTC ("2026-11-22T10:03:58.123Z"); 0 or less (unset) writes null. */
void jw_time_ms(struct jw *w, int64_t epoch_ms);

/* Returns the NUL-terminated document, or NULL if any step failed. */
const char *jw_finish(struct jw *w, size_t *len);

/* Makes room for extra more bytes; 0, or -1 (sticky error) if over max. */
int jw_reserve(struct jw *w, size_t extra);
/* Escapes len bytes of s into dst, which has room for JW_ESCAPE_MAX(len)
 * bytes; returns the bytes written.  For writers that reserve up front. */
#define JW_ESCAPE_MAX(len) ((len)*6)
size_t jw_escape_raw(char *dst, const char *s, size_t len);

/* Appends s as a JSON string body (no quotes) with invalid UTF-8 replaced. */
void jw_escape(struct jw *w, const char *s, size_t len);

#endif
