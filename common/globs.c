#include "globs.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

int glob_list_parse(struct glob_list *g, const char *spec)
{
	const char *p = spec ? spec : "";

	memset(g, 0, sizeof(*g));
	while (*p) {
		p += strspn(p, " ,\t");
		size_t len = strcspn(p, " ,\t");
		if (len == 0)
			break;
		if (g->n >= GLOB_LIST_MAX || (g->globs[g->n] = strndup(p, len)) == NULL) {
			glob_list_free(g);
			return -1;
		}
		g->n++;
		p += len;
	}
	return 0;
}

void glob_list_free(struct glob_list *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->globs[i]);
	g->n = 0;
}

int glob_list_match(const struct glob_list *g, const char *s)
{
	for (size_t i = 0; i < g->n; i++)
		if (fnmatch(g->globs[i], s, 0) == 0)
			return 1;
	return 0;
}
