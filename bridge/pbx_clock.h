/*
 * The PBX's clock, as the bridge sees it.  Every time in a call record comes
 * from it, so one record never mixes two clocks: an event's own Timestamp:
 * header when the PBX sends one (timestampevents=yes), else "now" on the
 * PBX's clock: the bridge's wall clock plus the offset between the two seen
 * at the last Timestamp: (zero while none was seen).  Idle expiry runs on it
 * too.  A PBX whose clock is days off the bridge host's (NTP broken, a
 * bridge not on the PBX, a replayed capture) then still gives records whose
 * times agree with each other.
 */
#ifndef PBXBUS_PBX_CLOCK_H
#define PBXBUS_PBX_CLOCK_H

#include <stdint.h>

struct pbx_clock {
	int64_t offset_ms;   /* PBX time minus the bridge's wall clock */
	int seen_in_session; /* a Timestamp: seen since the last login */
};

/* A new AMI session: the offset is confirmed again by its first Timestamp:. */
/* The offset a previous run kept (the call journal): carried-over calls
 * were dated on it. */
void pbx_clock_resume(struct pbx_clock *c, int64_t offset_ms);
void pbx_clock_new_session(struct pbx_clock *c);
/* An event stamped pbx_ms arrived at wall_ms.  Returns how far the offset
 * moved when this is the session's first stamp (times taken before it on
 * the old offset move by as much), else 0. */
int64_t pbx_clock_saw(struct pbx_clock *c, int64_t pbx_ms, int64_t wall_ms);
/* Now, on the PBX's clock. */
int64_t pbx_clock_now(const struct pbx_clock *c, int64_t wall_ms);

#endif
