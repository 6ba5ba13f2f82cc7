#include "replay_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "log.h"
#include "md5hex.h"

/* The stand-in PBX's answers to a client's actions: the login exchange
 * (plain or MD5 challenge), the recorded answers of capture 04 by action
 * name, CoreShowChannels from the channels up now, and what Asterisk says
 * to an action it does not know. */

static void id_line(char *buf, size_t size, const char *action_id)
{
	if (action_id[0])
		snprintf(buf, size, "ActionID: %s\r\n", action_id);
	else
		buf[0] = '\0';
}

/* --hide-later: after the first login this extension is gone from the
 * lists (as when a phone is deleted while the bridge is away). */
static int hidden(const struct server *srv, const char *msg, size_t len)
{
	const char *ext = srv->o->hide_later;
	static const char *const keys[] = {"Exten", "ObjectName", "Device"};
	char v[128], pjsip[128];

	if (ext == NULL || srv->logins < 2)
		return 0;
	snprintf(pjsip, sizeof(pjsip), "PJSIP/%s", ext);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (capture_field(msg, len, keys[i], v, sizeof(v)) && (strcmp(v, ext) == 0 || strcmp(v, pjsip) == 0))
			return 1;
	return 0;
}

/* One recorded message under the asker's ActionID line. */
static void send_with_id(struct session *s, const char *msg, size_t len, const char *idl)
{
	const char *end = msg + len;

	for (const char *p = msg; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		if (strncasecmp(p, "ActionID:", 9) == 0)
			replay_queue(s, idl, strlen(idl));
		else
			replay_queue(s, p, (size_t)(next - p));
		p = next;
	}
}

/* A recorded answer, message by message, under the asker's ActionID. */
static void send_recorded(struct server *srv, const struct recorded_answer *a, const char *action_id)
{
	char idl[300];
	const char *end = a->blob + a->len;

	id_line(idl, sizeof(idl), action_id);
	for (const char *p = a->blob; p < end;) {
		const char *blank = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		const char *next = blank ? blank + 4 : end;
		if (!hidden(srv, p, (size_t)(next - p)))
			send_with_id(&srv->s, p, (size_t)(next - p), idl);
		p = next;
	}
}

/* The pre-Asterisk-14 form of a command's answer, made from the recorded
 * one (synthetic: no capture of ours has it): "Response: Follows", the
 * output lines raw, "--END COMMAND--". */
static void send_follows(struct server *srv, const char *blob, size_t len, const char *idl)
{
	struct session *s = &srv->s;
	const char *end = blob + len;

	replay_queuef(s, "Response: Follows\r\nPrivilege: Command\r\n%s", idl);
	for (const char *p = blob; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		size_t n = (size_t)(next - p);
		if (n >= 8 && strncmp(p, "Output: ", 8) == 0)
			replay_queue(s, p + 8, n - 8);
		else if (n >= 7 && strncmp(p, "Output:", 7) == 0)
			replay_queue(s, p + 7, n - 7);
		p = next;
	}
	replay_queuef(s, "--END COMMAND--\r\n\r\n");
}

/* The recorded answer with every "core show nosuchthing" made text: how
 * Asterisk answers any command it does not know (capture 04's). */
static void send_unknown(struct server *srv, const struct recorded_answer *a, const char *text, const char *aid)
{
	static const char asked[] = "core show nosuchthing";
	struct recorded_answer made = {.blob = NULL, .len = 0};
	char buf[8192];
	size_t n = 0;

	for (const char *p = a->blob; *p && n + strlen(text) + 2 < sizeof(buf);) {
		if (strncmp(p, asked, sizeof(asked) - 1) == 0) {
			memcpy(buf + n, text, strlen(text));
			n += strlen(text);
			p += sizeof(asked) - 1;
		} else {
			buf[n++] = *p++;
		}
	}
	buf[n] = '\0';
	made.blob = buf;
	made.len = n;
	send_recorded(srv, &made, aid);
}

/* Command: the recorded answer to its text (capture 04), or Asterisk's
 * answer to an unknown command; --ignore-commands: none, --old-commands:
 * the old form. */
static void command(struct server *srv, const struct ami_msg *m, const char *aid, const char *idl)
{
	char text[300], key[RECORDED_NAME_MAX];
	const struct recorded_answer *a;

	ami_msg_get(m, "Command", text, sizeof(text));
	replay_say("COMMAND %s", text);
	if (srv->o->ignore_commands)
		return;
	recorded_command_key(key, sizeof(key), text);
	if ((a = recorded_find(srv->answers, key)) == NULL) {
		recorded_command_key(key, sizeof(key), "core show nosuchthing");
		if ((a = recorded_find(srv->answers, key)) == NULL) {
			replay_queuef(&srv->s, "Response: Error\r\n%sMessage: Command output follows\r\n\r\n", idl);
			return;
		}
		if (!srv->o->old_commands) {
			send_unknown(srv, a, text, aid);
			return;
		}
	}
	if (srv->o->old_commands)
		send_follows(srv, a->blob, a->len, idl);
	else
		send_recorded(srv, a, aid);
}

static void send_channels(struct server *srv, const char *idl)
{
	struct session *s = &srv->s;

	replay_queuef(s, "Response: Success\r\n%sEventList: start\r\nMessage: Channels will follow\r\n\r\n", idl);
	/* Asterisk lists its channels in no set order; newest first here, so
	 * that a call's callee leg comes before its caller's, the order a
	 * bridge must not take for granted. */
	for (size_t i = srv->nlive; i-- > 0;) {
		const struct live_channel *c = &srv->live[i];
		/* its age on the PBX's clock, which runs --speed times the real one */
		double speed = srv->o->speed > 0 ? srv->o->speed : 1;
		long age = (long)((double)(clock_mono_ms() - c->born_ms) * speed / 1000.0);
		replay_queuef(
		    s,
		    "Event: CoreShowChannel\r\n%sChannel: %s\r\nChannelStateDesc: %s\r\nCallerIDNum: %s\r\n"
		    "Context: %s\r\nExten: %s\r\nUniqueid: %s\r\nLinkedid: %s\r\nDuration: %02ld:%02ld:%02ld\r\n"
		    "BridgeId: %s\r\n\r\n",
		    idl, c->channel, c->state[0] ? c->state : "Up", c->cid, c->context, c->exten, c->uid, c->lid,
		    age / 3600, age / 60 % 60, age % 60, c->bridge);
	}
	replay_queuef(s, "Event: CoreShowChannelsComplete\r\n%sEventList: Complete\r\nListItems: %zu\r\n\r\n", idl,
	              srv->nlive);
}

static void login(struct server *srv, const struct ami_msg *m, const char *idl)
{
	struct session *s = &srv->s;
	char user[128], auth[16], given[128], want[33], events[64];
	int ok;

	ami_msg_get(m, "Username", user, sizeof(user));
	ami_msg_get(m, "AuthType", auth, sizeof(auth));
	if (strcasecmp(auth, "md5") == 0) {
		ami_msg_get(m, "Key", given, sizeof(given));
		ok = s->challenge[0] &&
		     md5_hex(s->challenge, strlen(s->challenge), srv->o->secret, strlen(srv->o->secret), want) == 0 &&
		     strcasecmp(given, want) == 0;
	} else {
		ami_msg_get(m, "Secret", given, sizeof(given));
		ok = strcmp(given, srv->o->secret) == 0;
	}
	ok = ok && strcmp(user, srv->o->user) == 0 && !(srv->o->refuse_logins && *srv->o->refuse_logins);
	if (!ok) {
		replay_say("LOGIN fail");
		replay_queuef(s, "Response: Error\r\n%sMessage: Authentication failed\r\n\r\n", idl);
		s->closing = 1; /* as Asterisk: the connection ends */
		return;
	}
	ami_msg_get(m, "Events", events, sizeof(events));
	replay_say("LOGIN ok %s", events);
	srv->logins++;
	s->logged_in = 1;
	replay_queuef(s, "Response: Success\r\n%sMessage: Authentication accepted\r\n\r\n", idl);
	replay_queuef(s, "Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 12\r\nLastReload: 12\r\n"
	                 "Status: Fully Booted\r\n\r\n");
	/* With run_on the PBX's time goes on; a login only joins it. */
	if (!(srv->o->run_on && srv->started))
		srv->next_due_ms = clock_mono_ms() + (int64_t)(srv->o->delay * 1000);
	srv->started = 1;
}

/* "ACTION coreshowchannels": tests count what the bridge asked. */
static void replay_say_action(const char *name)
{
	char lower[64];
	size_t i = 0;

	for (; name[i] && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	lower[i] = '\0';
	replay_say("ACTION %s", lower);
}

void replay_on_action(void *ctx, const struct ami_msg *m)
{
	struct server *srv = ctx;
	struct session *s = &srv->s;
	char name[64], aid[256], idl[300];

	ami_msg_get(m, "Action", name, sizeof(name));
	ami_msg_get(m, "ActionID", aid, sizeof(aid));
	id_line(idl, sizeof(idl), aid);
	replay_say_action(name);
	if (strcasecmp(name, "Challenge") == 0) {
		snprintf(s->challenge, sizeof(s->challenge), "%09u", (unsigned)(clock_wall_ms() % 1000000000));
		replay_queuef(s, "Response: Success\r\n%sChallenge: %s\r\n\r\n", idl, s->challenge);
	} else if (strcasecmp(name, "Login") == 0) {
		login(srv, m, idl);
	} else if (!s->logged_in ||
	           (srv->o->refuse_actions && strcasecmp(name, "Ping") != 0 && strcasecmp(name, "Logoff") != 0)) {
		replay_queuef(s, "Response: Error\r\n%sMessage: Permission denied\r\n\r\n", idl);
	} else if (strcasecmp(name, "Ping") == 0) {
		if (srv->o->ignore_ping)
			return;
		replay_queuef(s, "Response: Success\r\n%sPing: Pong\r\nTimestamp: %.6f\r\n\r\n", idl,
		              (double)clock_wall_ms() / 1000.0);
	} else if (strcasecmp(name, "CoreShowChannels") == 0) {
		send_channels(srv, idl);
	} else if (strcasecmp(name, "Getvar") == 0) {
		char var[64];
		ami_msg_get(m, "Variable", var, sizeof(var));
		replay_queuef(s, "Response: Success\r\n%sVariable: %s\r\nValue: %s\r\n\r\n", idl, var,
		              strcasecmp(var, "CALLERID(num-pres)") != 0 ? ""
		              : srv->o->withheld                         ? "prohib_passed_screen"
		                                                         : "allowed_not_screened");
	} else if (strcasecmp(name, "Originate") == 0) {
		replay_originate(srv, m, idl);
	} else if (strcasecmp(name, "Command") == 0) {
		command(srv, m, aid, idl);
	} else if (recorded_find(srv->answers, name)) {
		send_recorded(srv, recorded_find(srv->answers, name), aid);
	} else if (strcasecmp(name, "Filter") == 0) {
		replay_queuef(s, "Response: Success\r\n%sMessage: Success\r\n\r\n", idl);
	} else if (strcasecmp(name, "Logoff") == 0) {
		replay_queuef(s, "Response: Goodbye\r\n%sMessage: Thanks for all the fish.\r\n\r\n", idl);
		s->closing = 1;
	} else {
		replay_queuef(
		    s,
		    "Response: Error\r\n%sMessage: Invalid/unknown command: %s. Use Action: ListCommands to show "
		    "available commands.\r\n\r\n",
		    idl, name);
	}
}
