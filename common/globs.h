/* A list of shell globs ("VarSet RTCP*", space- or comma-separated), matched with fnmatch. */
#ifndef PBXBUS_GLOBS_H
#define PBXBUS_GLOBS_H

#include <stddef.h>

#define GLOB_LIST_MAX 64

struct glob_list {
	char *globs[GLOB_LIST_MAX];
	size_t n;
};

/* 0, or -1 when there are more than GLOB_LIST_MAX globs or no memory. */
int glob_list_parse(struct glob_list *g, const char *spec);
void glob_list_free(struct glob_list *g);
int glob_list_match(const struct glob_list *g, const char *s);

#endif
