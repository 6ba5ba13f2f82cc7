#include "event_filter.h"

#include <string.h>

int event_filter_init(struct event_filter *f, const char *allow, const char *deny)
{
	memset(f, 0, sizeof(*f));
	if (glob_list_parse(&f->allow, allow) < 0 || glob_list_parse(&f->deny, deny) < 0) {
		event_filter_free(f);
		return -1;
	}
	return 0;
}

void event_filter_free(struct event_filter *f)
{
	glob_list_free(&f->allow);
	glob_list_free(&f->deny);
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

	if (len >= sizeof(buf))
		return 0; /* no real event name is this long */
	if (f->cache[h].used && f->cache[h].len == len && memcmp(f->cache[h].name, name, len) == 0)
		return f->cache[h].allowed;
	memcpy(buf, name, len);
	buf[len] = '\0';
	int allowed = glob_list_match(&f->allow, buf) && !glob_list_match(&f->deny, buf);
	memcpy(f->cache[h].name, buf, len + 1);
	f->cache[h].len = (unsigned char)len;
	f->cache[h].allowed = (unsigned char)allowed;
	f->cache[h].used = 1;
	return allowed;
}
