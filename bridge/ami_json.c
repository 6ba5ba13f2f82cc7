#include "ami_json.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bounds.h"

/*
 * Hot path (every event): one reservation of the worst case, then plain
 * pointer writes; repeated keys found with a small hash table rather than
 * comparing every pair.
 */

static int same_key(const struct ami_field *a, const struct ami_field *b)
{
	return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

static uint32_t key_hash(const struct ami_field *f)
{
	uint32_t h = 2166136261u;
	for (uint32_t i = 0; i < f->key_len; i++)
		h = (h ^ (unsigned char)f->key[i]) * 16777619u;
	return h;
}

/* Sets repeated[i] on the first field of a key seen more than once and
 * dup[j] on its later fields. */
static void find_repeats(const struct ami_msg *m, size_t n, unsigned char *repeated, unsigned char *dup)
{
	uint16_t slots[2 * AMI_MAX_FIELDS];
	size_t size = 16;

	while (size < 2 * n)
		size *= 2;
	memset(slots, 0, size * sizeof(slots[0]));
	for (size_t i = 0; i < n; i++) {
		size_t s = key_hash(&m->fields[i]) & (size - 1);
		repeated[i] = dup[i] = 0;
		while (slots[s] != 0 && !same_key(&m->fields[slots[s] - 1], &m->fields[i]))
			s = (s + 1) & (size - 1);
		if (slots[s] == 0) {
			slots[s] = (uint16_t)(i + 1);
		} else {
			repeated[slots[s] - 1] = 1;
			dup[i] = 1;
		}
	}
}

static char *put_string(char *d, const char *s, size_t len)
{
	*d++ = '"';
	d += jw_escape_raw(d, s, len);
	*d++ = '"';
	return d;
}

static char *put_literal(char *d, const char *s)
{
	size_t n = strlen(s);
	memcpy(d, s, n);
	return d + n;
}

const char *ami_msg_to_json(struct jw *w, const struct ami_msg *m, const char *ts, uint64_t seq, size_t *len)
{
	unsigned char repeated[AMI_MAX_FIELDS], dup[AMI_MAX_FIELDS];
	size_t n = m->nfields < AMI_MAX_FIELDS ? m->nfields : AMI_MAX_FIELDS;
	size_t worst = 64 + JW_ESCAPE_MAX(strlen(ts));
	char num[24];

	for (size_t i = 0; i < n; i++)
		worst += JW_ESCAPE_MAX((size_t)m->fields[i].key_len + m->fields[i].val_len) + 8;
	jw_reset(w);
	if (jw_reserve(w, worst) < 0)
		return NULL;
	find_repeats(m, n, repeated, dup);

	char *d = w->buf, *start = d;
	*d++ = '{';
	for (size_t i = 0; i < n; i++) {
		const struct ami_field *f = &m->fields[i];
		if (dup[i])
			continue;
		d = put_string(d, f->key, f->key_len);
		*d++ = ':';
		if (!repeated[i]) {
			d = put_string(d, f->val, f->val_len);
		} else {
			*d++ = '[';
			d = put_string(d, f->val, f->val_len);
			for (size_t j = i + 1; j < n; j++) {
				if (dup[j] && same_key(f, &m->fields[j])) {
					*d++ = ',';
					d = put_string(d, m->fields[j].val, m->fields[j].val_len);
				}
			}
			*d++ = ']';
		}
		*d++ = ',';
	}
	d = put_literal(d, "\"ts\":");
	d = put_string(d, ts, strlen(ts));
	snprintf(num, sizeof(num), ",\"seq\":%llu}", (unsigned long long)seq);
	d = put_literal(d, num);
	*d = '\0';
	w->len = (size_t)(d - start);
	if (len)
		*len = w->len;
	return w->buf;
}
