/* --check: validate config and connectivity step by step, say what is wrong. */
#ifndef PBXBUS_BRIDGE_CHECK_H
#define PBXBUS_BRIDGE_CHECK_H

#include "bridge_config.h"

/* Prints each step with ✓/✗; returns the exit status (0 all good). */
int bridge_check(struct bridge_settings *s);

#endif
