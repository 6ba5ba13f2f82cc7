/*
 * The bridge's status document, <prefix>/bridge/status (retained; the
 * README's example gives its keys in order, and a test holds them to it),
 * and a digest of what it says, to notice that it changed.
 */
#ifndef PBXBUS_BRIDGE_STATUS_H
#define PBXBUS_BRIDGE_STATUS_H

#include <stdint.h>

#include "bridge.h"

/* state: "online"; the document lives in b->json until the next call. */
const char *bridge_status_json(struct bridge *b, const char *state);
uint64_t bridge_status_digest(const struct bridge *b);

#endif
