#include "dial.h"

#include <stdio.h>
#include <string.h>

int dial_context_valid(const char *s)
{
	return command_word_valid(s, 79, "-_");
}

int dial_number_allowed(const struct dial_rules *r, const char *e164)
{
	return r != NULL && r->numbers.n > 0 && glob_list_match(&r->numbers, e164);
}
