#ifndef PBXBUS_VERSION_H
#define PBXBUS_VERSION_H
#define PBXBUS_VERSION "0.1.0"
#endif
