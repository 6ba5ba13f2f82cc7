#include "ami_json.h"

#include <string.h>

#include "limits.h"

static int same_key(const struct ami_field *a, const struct ami_field *b)
{
	return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

static int key_repeats(const struct ami_msg *m, size_t i)
{
	for (size_t j = i + 1; j < m->nfields; j++)
		if (same_key(&m->fields[i], &m->fields[j]))
			return 1;
	return 0;
}

const char *ami_msg_to_json(struct jw *w, const struct ami_msg *m, const char *ts, uint64_t seq, size_t *len)
{
	unsigned char done[AMI_MAX_FIELDS];
	size_t n = m->nfields < AMI_MAX_FIELDS ? m->nfields : AMI_MAX_FIELDS;

	memset(done, 0, n);
	jw_reset(w);
	jw_obj_begin(w);
	for (size_t i = 0; i < n; i++) {
		const struct ami_field *f = &m->fields[i];
		if (done[i])
			continue;
		jw_key(w, f->key, f->key_len);
		if (!key_repeats(m, i)) {
			jw_str(w, f->val, f->val_len);
			continue;
		}
		jw_arr_begin(w);
		for (size_t j = i; j < n; j++) {
			if (j == i || (!done[j] && same_key(f, &m->fields[j]))) {
				done[j] = 1;
				jw_str(w, m->fields[j].val, m->fields[j].val_len);
			}
		}
		jw_arr_end(w);
	}
	jw_keyz(w, "ts");
	jw_strz(w, ts);
	jw_keyz(w, "seq");
	jw_uint(w, seq);
	jw_obj_end(w);
	return jw_finish(w, len);
}
