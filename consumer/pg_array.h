/*
 * PostgreSQL text-format array literals ({"a","b",NULL}), so a whole batch
 * of rows travels as one parameter per column and is inserted by one
 * statement over unnest().
 */
#ifndef PBXBUS_PG_ARRAY_H
#define PBXBUS_PG_ARRAY_H

#include <stddef.h>

struct pg_array {
	char *buf;
	size_t len, cap;
	size_t count;
	int failed; /* out of memory: finish returns NULL */
};

void pg_array_init(struct pg_array *a);
/* Appends one element; NULL is SQL NULL, "" the empty string. */
void pg_array_add(struct pg_array *a, const char *s);
/* The literal, NUL-terminated, valid until the next add or free; NULL if
 * memory ran out on the way. */
const char *pg_array_finish(struct pg_array *a);
void pg_array_free(struct pg_array *a);

#endif
