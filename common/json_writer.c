#include "json_writer.h"

#include "clock.h"
#include "utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct jw *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
}

void jw_free(struct jw *w)
{
	free(w->buf);
	w->buf = NULL;
	w->cap = w->len = 0;
}

void jw_reset(struct jw *w)
{
	w->len = 0;
	w->depth = 0;
	w->err = 0;
}

int jw_reserve(struct jw *w, size_t extra)
{
	if (w->err)
		return -1;
	if (extra > w->max || w->len + extra + 1 > w->max) {
		w->err = 1;
		return -1;
	}
	if (w->len + extra + 1 <= w->cap)
		return 0;
	size_t ncap = w->cap ? w->cap : 1024;
	while (ncap < w->len + extra + 1)
		ncap *= 2;
	if (ncap > w->max)
		ncap = w->max;
	char *nb = realloc(w->buf, ncap);
	if (nb == NULL) {
		w->err = 1;
		return -1;
	}
	w->buf = nb;
	w->cap = ncap;
	return 0;
}

static void put(struct jw *w, const char *s, size_t n)
{
	if (jw_reserve(w, n) < 0)
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void putc1(struct jw *w, char ch)
{
	if (jw_reserve(w, 1) < 0)
		return;
	w->buf[w->len++] = ch;
}

/* A value or key in an array/object needs a comma unless it is the first. */
static void before_value(struct jw *w)
{
	if (w->depth == 0)
		return;
	if (w->first[w->depth - 1])
		w->first[w->depth - 1] = 0;
	else
		putc1(w, ',');
}

static void open_scope(struct jw *w, char ch)
{
	before_value(w);
	if (w->depth >= JW_MAX_DEPTH) {
		w->err = 1;
		return;
	}
	putc1(w, ch);
	w->first[w->depth++] = 1;
}

static void close_scope(struct jw *w, char ch)
{
	if (w->depth == 0) {
		w->err = 1;
		return;
	}
	w->depth--;
	putc1(w, ch);
}

void jw_obj_begin(struct jw *w)
{
	open_scope(w, '{');
}

void jw_obj_end(struct jw *w)
{
	close_scope(w, '}');
}

void jw_arr_begin(struct jw *w)
{
	open_scope(w, '[');
}

void jw_arr_end(struct jw *w)
{
	close_scope(w, ']');
}

/* 1 for bytes copied as they are: printable ASCII but the quote and backslash. */
static const unsigned char plain[256] = {
    ['\x20'] = 1,
    1,
    0,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1, /* 0x20..0x2f, '"' not */
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1, /* 0x30..0x3f */
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1, /* 0x40..0x4f */
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    0,
    1,
    1,
    1, /* 0x50..0x5f, '\\' not */
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1, /* 0x60..0x6f */
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    0, /* 0x70..0x7f, DEL not */
};

static int is_plain(unsigned char c)
{
	return plain[c];
}

size_t jw_escape_raw(char *dst, const char *str, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	char *d = dst;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		if (plain[c]) {
			*d++ = (char)c;
			i++;
		} else if (c == '"' || c == '\\') {
			*d++ = '\\';
			*d++ = (char)c;
			i++;
		} else if (c < 0x20 || c == 0x7F) {
			memcpy(d, "\\u00", 4);
			d[4] = hex[c >> 4];
			d[5] = hex[c & 15];
			d += 6;
			i++;
		} else {
			size_t n = utf8_seq_len(s + i, len - i);
			if (n == 0) {
				memcpy(d, "\xEF\xBF\xBD", 3);
				d += 3;
				i++;
			} else {
				memcpy(d, s + i, n);
				d += n;
				i += n;
			}
		}
	}
	return (size_t)(d - dst);
}

void jw_escape(struct jw *w, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		size_t run = i;
		while (run < len && is_plain(s[run]))
			run++;
		if (run > i) {
			put(w, str + i, run - i);
			i = run;
			continue;
		}
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			put(w, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7F) {
			char esc[8];
			int n = snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(w, esc, (size_t)n);
			i++;
		} else {
			size_t n = utf8_seq_len(s + i, len - i);
			if (n == 0) {
				put(w, "\xEF\xBF\xBD", 3);
				i++;
			} else {
				put(w, str + i, n);
				i += n;
			}
		}
	}
}

void jw_key(struct jw *w, const char *k, size_t len)
{
	before_value(w);
	putc1(w, '"');
	jw_escape(w, k, len);
	put(w, "\":", 2);
	/* The value that follows belongs to this key: no comma before it. */
	if (w->depth > 0)
		w->first[w->depth - 1] = 1;
}

void jw_keyz(struct jw *w, const char *k)
{
	jw_key(w, k, strlen(k));
}

/* After a key the scope's "first" flag is set again; a value clears it. The
 * next key then sees first == 0 and writes its comma. */
void jw_str(struct jw *w, const char *s, size_t len)
{
	before_value(w);
	putc1(w, '"');
	jw_escape(w, s, len);
	putc1(w, '"');
}

void jw_strz(struct jw *w, const char *s)
{
	if (s == NULL)
		jw_null(w);
	else
		jw_str(w, s, strlen(s));
}

void jw_int(struct jw *w, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, v);
	before_value(w);
	put(w, num, (size_t)n);
}

void jw_uint(struct jw *w, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);
	before_value(w);
	put(w, num, (size_t)n);
}

void jw_bool(struct jw *w, int v)
{
	before_value(w);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void jw_null(struct jw *w)
{
	before_value(w);
	put(w, "null", 4);
}

const char *jw_finish(struct jw *w, size_t *len)
{
	if (w->depth != 0)
		w->err = 1;
	if (jw_reserve(w, 0) < 0 || w->err)
		return NULL;
	w->buf[w->len] = '\0';
	if (len)
		*len = w->len;
	return w->buf;
}

void jw_time_ms(struct jw *w, int64_t epoch_ms)
{
	char buf[ISO8601_LEN];

	if (epoch_ms > 0)
		jw_strz(w, iso8601_ms(epoch_ms, buf));
	else
		jw_null(w);
}
