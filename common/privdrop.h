/* Dropping root, as OpenBSD daemons do: groups, gid, uid, and a check. */
#ifndef PBXBUS_PRIVDROP_H
#define PBXBUS_PRIVDROP_H

#include <stddef.h>

/*
 * When running as root and user is set: hand each path in own[] (NULL
 * ended; created 0700 if missing) to the user, then become the user.
 * Returns 0, or -1 with the reason in err.  Not root: nothing to do.
 */
int privdrop(const char *user, const char *const *own, char *err, size_t errsz);

#endif
