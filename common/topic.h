/*
 * The topic tree (docs/topics.md), named once for both daemons, and topic
 * building: nothing from the PBX reaches a topic unsanitised.  Under a
 * bridge's prefix ("pbx", or "pbx/<site>"):
 *   events/<Event>                      TOPIC_EVENTS
 *   calls/start|answer|hangup           TOPIC_CALLS, topic_call_phases
 *   calls/ringing                       TOPIC_RINGING (a phone rings: screen pops)
 *   bridge/status                       TOPIC_STATUS
 *   state/<folder>[/<name>]             TOPIC_STATE (state_topics.h)
 *   acks/<consumer>                     TOPIC_ACKS
 *   commands/<kind>                     TOPIC_COMMANDS (requests to the bridge)
 *   commands/result/<id>                TOPIC_COMMAND_RESULTS (its answers)
 */
#ifndef PBXBUS_TOPIC_H
#define PBXBUS_TOPIC_H

#include <stddef.h>

#define TOPIC_EVENTS          "events"
#define TOPIC_CALLS           "calls"
#define TOPIC_STATUS          "bridge/status"
#define TOPIC_STATE           "state"
#define TOPIC_ACKS            "acks"
#define TOPIC_COMMANDS        "commands"
#define TOPIC_COMMAND_RESULTS TOPIC_COMMANDS "/result"
/* The call records the consumer stores: <prefix>/calls/hangup. */
#define TOPIC_CALL_RECORDS TOPIC_CALLS "/hangup"

/* A phone starts or stops ringing for a call: <prefix>/calls/ringing. */
#define TOPIC_RINGING TOPIC_CALLS "/ringing"

/* A call's phases, each a topic under calls/: "start", "answer", "hangup". */
enum call_phase { CALL_START, CALL_ANSWER, CALL_HANGUP, CALL_PHASES };
extern const char *const topic_call_phases[CALL_PHASES];

/* A subscription's filter without a "$share/<group>/" in front. */
const char *topic_strip_share(const char *filter);

/* The prefix of a call-record topic or filter ("pbx/site1/calls/hangup" →
 * "pbx/site1"); -1 when it does not end in /calls/hangup or out is short. */
int topic_record_prefix(const char *topic, char *out, size_t outsz);

/*
 * in[0..len) as one safe topic segment, reversibly: letters, digits and
 * "-_.@" stay, every other byte (+ # / NUL, spaces, '%', control and
 * non-ASCII bytes) becomes %XX, so two names never share a topic.  Over
 * TOPIC_SEGMENT_MAX it is cut and ends in "~" and 8 hex digits of a hash of
 * the whole name; an empty name is "%".  Returns out.
 */
char *topic_segment(char *out, size_t outsz, const char *in, size_t len);

/* 0 if prefix is usable as a topic prefix, else -1 with a reason. */
int topic_prefix_valid(const char *prefix, const char **why);

/* The kind of a request on "<prefix>/commands/<kind>" ("cli"); -1 when
 * topic is not one (a result, another prefix, a deeper level) or out is short. */
int topic_command_kind(const char *prefix, const char *topic, char *out, size_t outsz);

/* A call's id, "<pbx_id>:<Linkedid>" (call records, state, acks); -1 if
 * it did not fit. */
int call_id_format(char *out, size_t outsz, const char *pbx_id, const char *linkedid);

/*
 * Where a subscription filter has a '+' level, the level of topic that
 * matched it: the site of a multi-PBX layout (filter "pbx/+/calls/hangup",
 * topic "pbx/site1/calls/hangup" → "site1").  1 with the site in out; 0 if
 * the filter matches with no '+' (no site: a single PBX); -1 if the filter
 * does not match topic or the level does not fit out.
 */
int topic_site(const char *filter, const char *topic, char *out, size_t outsz);

/* "<prefix>/<a>" or "<prefix>/<a>/<segment>" into out; -1 if too long. */
int topic_join(char *out, size_t outsz, const char *prefix, const char *a, const char *segment);

#endif
