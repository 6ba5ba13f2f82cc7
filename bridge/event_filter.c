#include "event_filter.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

static int split_globs(const char *spec, char **out, size_t *n)
{
	const char *p = spec ? spec : "";

	*n = 0;
	while (*p) {
		size_t skip = strspn(p, " ,\t");
		p += skip;
		size_t len = strcspn(p, " ,\t");
		if (len == 0)
			break;
		if (*n >= EVENT_FILTER_GLOBS)
			return -1;
		out[*n] = strndup(p, len);
		if (out[*n] == NULL)
			return -1;
		(*n)++;
		p += len;
	}
	return 0;
}

int event_filter_init(struct event_filter *f, const char *allow, const char *deny)
{
	memset(f, 0, sizeof(*f));
	if (split_globs(allow, f->allow, &f->nallow) < 0 || split_globs(deny, f->deny, &f->ndeny) < 0) {
		event_filter_free(f);
		return -1;
	}
	return 0;
}

void event_filter_free(struct event_filter *f)
{
	for (size_t i = 0; i < f->nallow; i++)
		free(f->allow[i]);
	for (size_t i = 0; i < f->ndeny; i++)
		free(f->deny[i]);
	f->nallow = f->ndeny = 0;
}

static int matches_any(char *const *globs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(globs[i], name, 0) == 0)
			return 1;
	return 0;
}

static size_t name_hash(const char *s, size_t len)
{
	size_t h = 5381;
	for (size_t i = 0; i < len; i++)
		h = h * 33 + (unsigned char)s[i];
	return h % EVENT_FILTER_CACHE;
}

int event_filter_allows(struct event_filter *f, const char *name, size_t len)
{
	char buf[sizeof(f->cache[0].name)];
	size_t h = name_hash(name, len);

	if (len < sizeof(buf) && f->cache[h].used && f->cache[h].len == len && memcmp(f->cache[h].name, name, len) == 0)
		return f->cache[h].allowed;
	if (len >= sizeof(buf))
		return 0; /* no real event name is this long */
	memcpy(buf, name, len);
	buf[len] = '\0';
	int allowed = matches_any(f->allow, f->nallow, buf) && !matches_any(f->deny, f->ndeny, buf);
	memcpy(f->cache[h].name, buf, len + 1);
	f->cache[h].len = (unsigned char)len;
	f->cache[h].allowed = (unsigned char)allowed;
	f->cache[h].used = 1;
	return allowed;
}
