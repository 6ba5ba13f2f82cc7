/* SIGTERM/SIGINT set a flag the daemon's loop checks; SIGPIPE and SIGHUP are ignored. */
#ifndef PBXBUS_SIGNALS_H
#define PBXBUS_SIGNALS_H

#include <signal.h>

void signals_install(volatile sig_atomic_t *stop);

#endif
