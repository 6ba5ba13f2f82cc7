#include "command_wire.h"

#include <string.h>

int command_word_valid(const char *s, size_t max, const char *extra)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];
		if (n >= max || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		                  strchr(extra, c) != NULL))
			return 0;
	}
	return n > 0;
}

int command_id_valid(const char *id)
{
	return command_word_valid(id, COMMAND_ID_MAX, ".-_");
}

int dial_extension_valid(const char *s)
{
	return command_word_valid(s, DIAL_EXTENSION_MAX, "-_");
}

int dial_by_valid(const char *s)
{
	return command_word_valid(s, DIAL_BY_MAX, "-_.:@ ");
}
