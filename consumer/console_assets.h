/* The console's pages, styles and scripts, built into the daemon
 * (scripts/embed-assets writes the table from consumer/console). */
#ifndef PBXBUS_CONSOLE_ASSETS_H
#define PBXBUS_CONSOLE_ASSETS_H

#include <stddef.h>

struct console_asset {
	const char *url;
	const char *type;
	const unsigned char *data;
	size_t len;
	int page; /* an HTML page: behind the login, except /login itself */
};

extern const struct console_asset console_assets[];
extern const unsigned console_nassets;

#endif
