/*
 * The Asterisk versions pbxbus makes call records for: 13 and later (the
 * test traffic covers 13 and 22).  Older ones (11) send channel events
 * without a Linkedid, so no call can be told from another: the bridge says
 * so out loud (CRITICAL once, bridge/status, --check) and publishes the
 * events all the same.  The AMI banner's version is the manager protocol's
 * (11.0.0 on Asterisk 22), not Asterisk's: CoreSettings tells the real one.
 */
#ifndef PBXBUS_ASTERISK_VERSION_H
#define PBXBUS_ASTERISK_VERSION_H

#define ASTERISK_MIN_MAJOR 13

/* CoreSettings' AsteriskVersion ("22.10.1", "11.25.3", "certified/18.9-cert4",
 * "GIT-master-abc"): 1 supported, 0 too old, -1 cannot tell. */
int asterisk_version_supported(const char *version);

/* Why call records are off for such a PBX, for logs, --check and status. */
#define ASTERISK_TOO_OLD                                                                                               \
	"call records need Asterisk 13 or later: this PBX's channel events carry no Linkedid (Asterisk 11 or older); " \
	"events are still published"

#endif
