#include "asterisk_version.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int asterisk_version_supported(const char *version)
{
	const char *p = strrchr(version, '/'); /* "certified/18.9-cert4" */
	char *end;

	p = p ? p + 1 : version;
	if (!isdigit((unsigned char)*p))
		return -1;
	long major = strtol(p, &end, 10);
	if (*end != '.' && *end != '\0' && *end != '-')
		return -1;
	return major >= ASTERISK_MIN_MAJOR ? 1 : 0;
}
