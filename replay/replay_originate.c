/*
 * The stand-in PBX's Originate, as Asterisk answers an Async one (lab
 * capture 22): "Originate successfully queued", then an OriginateResponse,
 * Success with Reason 4 when the person's phone answered, else Failure
 * (Reason 0 recorded; 5 busy and 3 no answer are synthetic).  After a
 * Success it plays the call that follows (--originate-call: an outbound
 * capture, its ids rewritten, the Originate's variables set on its first
 * channel once it is made (its Newchannel), whose Uniqueid the
 * OriginateResponse carries).
 */
#include "replay_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "log.h"

/* "ORIGINATE Channel=Local/100@x Exten=... Variable=PBXBUS_DIAL=r1 ...":
 * every header but the ActionID, in order: what a test holds the bridge to. */
static void say_originate(const struct ami_msg *m)
{
	char line[2048];
	size_t n = (size_t)snprintf(line, sizeof(line), "ORIGINATE");

	for (size_t i = 0; i < m->nfields && n + 8 < sizeof(line); i++) {
		const struct ami_field *f = &m->fields[i];
		if ((f->key_len == 6 && strncasecmp(f->key, "Action", 6) == 0) ||
		    (f->key_len == 8 && strncasecmp(f->key, "ActionID", 8) == 0))
			continue;
		int w = snprintf(line + n, sizeof(line) - n, " %.*s=%.*s", (int)f->key_len, f->key, (int)f->val_len,
		                 f->val);
		if (w < 0 || (size_t)w >= sizeof(line) - n)
			break;
		n += (size_t)w;
	}
	replay_say("%s", line);
}

/* Each "Variable: NAME=value" of the Originate as a VarSet on channel. */
static void set_variables(struct server *srv, const struct ami_msg *m, const char *channel, const char *uid,
                          const char *lid, int64_t now)
{
	char ev[1024];

	for (size_t i = 0; i < m->nfields; i++) {
		const struct ami_field *f = &m->fields[i];
		const char *eq = f->val_len ? memchr(f->val, '=', f->val_len) : NULL;
		if (f->key_len != 8 || strncasecmp(f->key, "Variable", 8) != 0 || eq == NULL)
			continue;
		int w = snprintf(ev, sizeof(ev),
		                 "Event: VarSet\r\nPrivilege: dialplan,all\r\nChannel: %s\r\nVariable: %.*s\r\nValue: "
		                 "%.*s\r\nUniqueid: %s\r\nLinkedid: %s\r\n\r\n",
		                 channel, (int)(eq - f->val), f->val, (int)(f->val_len - (size_t)(eq - f->val) - 1),
		                 eq + 1, uid, lid);
		if (w > 0 && (size_t)w < sizeof(ev))
			replay_play(srv, ev, (size_t)w, srv->s.logged_in, now);
	}
}

static void respond(struct server *srv, const struct ami_msg *m, const char *idl, const char *uid)
{
	static const struct {
		const char *response, *reason;
	} results[] = {[ORIGINATE_SUCCESS] = {"Success", "4"},
	               [ORIGINATE_BUSY] = {"Failure", "5"},
	               [ORIGINATE_NO_ANSWER] = {"Failure", "3"},
	               [ORIGINATE_FAILURE] = {"Failure", "0"}};
	char channel[256], cid[128];
	enum originate_result r = srv->o->originate_result;

	ami_msg_get(m, "Channel", channel, sizeof(channel));
	ami_msg_get(m, "CallerID", cid, sizeof(cid));
	replay_queuef(&srv->s,
	              "Event: OriginateResponse\r\nPrivilege: call,all\r\n%sResponse: %s\r\nChannel: %s%s\r\n"
	              "Reason: %s\r\nUniqueid: %s\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\n\r\n",
	              idl, results[r].response, channel, r == ORIGINATE_SUCCESS ? "-00000000;1" : "", results[r].reason,
	              r == ORIGINATE_SUCCESS ? uid : "<unknown>");
	replay_say("ORIGINATE answered %s (reason %s)", results[r].response, results[r].reason);
}

void replay_originate(struct server *srv, const struct ami_msg *m, const char *idl)
{
	const struct capture *call = srv->o->originate_call;
	char channel[256], uid[64] = "", lid[64] = "";
	int64_t now = clock_mono_ms();

	say_originate(m);
	replay_queuef(&srv->s, "Response: Success\r\n%sMessage: Originate successfully queued\r\n\r\n", idl);
	if (srv->o->originate_result != ORIGINATE_SUCCESS || call == NULL || call->n == 0) {
		snprintf(uid, sizeof(uid), "%lld.900", (long long)(clock_wall_ms() / 1000));
		respond(srv, m, idl, uid);
		return;
	}
	/* a new call every time: its ids moved on as a loop of its own */
	unsigned loop = srv->loop + 500 + srv->originated++;
	for (size_t i = 0; i < call->n; i++) {
		size_t len;
		char *raw = replay_rewritten(srv, &call->msgs[i], loop, &len);
		if (raw == NULL || !capture_is_replayable(&call->msgs[i]))
			continue;
		char ev[32];
		if (uid[0] == '\0' && capture_field(raw, len, "Event", ev, sizeof(ev)) &&
		    strcmp(ev, "Newchannel") == 0 && capture_field(raw, len, "Uniqueid", uid, sizeof(uid))) {
			capture_field(raw, len, "Linkedid", lid, sizeof(lid));
			capture_field(raw, len, "Channel", channel, sizeof(channel));
			replay_play(srv, raw, len, srv->s.logged_in, now);
			set_variables(srv, m, channel, uid, lid, now);
			respond(srv, m, idl, uid);
			continue;
		}
		replay_play(srv, raw, len, srv->s.logged_in, now);
	}
}
