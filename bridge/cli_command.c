#include "cli_command.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ami_client.h"
#include "bridge_config.h"

/* What can print a secret, or more than a person at the PBX should see
 * from a message bus: passwords (auths, users), the manager's users, the
 * AstDB and the dialplan (both hold secrets and numbers on many systems),
 * and the server's settings (paths, the system name). */
const char *const cli_secret_commands[] = {
    "pjsip show auth*", "sip show user*", "iax2 show user*",     "manager show user*",
    "database show*",   "dialplan show*", "core show settings*", "voicemail show user*",
};
const size_t cli_nsecret_commands = sizeof(cli_secret_commands) / sizeof(cli_secret_commands[0]);

/* Lower case, runs of blanks as one space, none at either end: the form
 * both the command and the globs are compared in.  -1 on a control
 * character or when it does not fit. */
static int fold(const char *in, char *out, size_t outsz)
{
	size_t n = 0;
	int blank = 1; /* drops leading blanks */

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p == ' ' || *p == '\t') {
			blank = 1;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f)
			return -1;
		if (blank && n > 0) {
			if (n + 1 >= outsz)
				return -1;
			out[n++] = ' ';
		}
		blank = 0;
		if (n + 1 >= outsz)
			return -1;
		out[n++] = (char)tolower(*p);
	}
	out[n] = '\0';
	return 0;
}

static int matches(const char *glob, const char *norm)
{
	char g[CLI_COMMAND_MAX + 1];
	return fold(glob, g, sizeof(g)) == 0 && fnmatch(g, norm, 0) == 0;
}

static int is_a_show(const char *norm)
{
	const char *sp = strchr(norm, ' ');
	return sp != NULL && strncmp(sp + 1, "show", 4) == 0 && (sp[5] == ' ' || sp[5] == '\0');
}

enum cli_verdict cli_command_check(const struct cli_rules *r, const char *command, char *norm, size_t normsz)
{
	if (normsz > 0)
		norm[0] = '\0';
	if (strlen(command) > CLI_COMMAND_MAX || normsz < 2 || fold(command, norm, normsz) < 0 || norm[0] == '\0') {
		if (normsz > 0)
			norm[0] = '\0'; /* nothing of it is logged or sent */
		return CLI_MALFORMED;
	}
	if (!is_a_show(norm))
		return CLI_NOT_A_SHOW;
	for (size_t i = 0; i < cli_nsecret_commands; i++)
		if (matches(cli_secret_commands[i], norm))
			return CLI_SECRET;
	for (size_t i = 0; r != NULL && i < r->nallow; i++)
		if (matches(r->allow[i], norm))
			return CLI_OK;
	return CLI_NOT_LISTED;
}

const char *cli_verdict_str(enum cli_verdict v)
{
	switch (v) {
	case CLI_OK:
		return "allowed";
	case CLI_MALFORMED:
		return "empty, over 256 bytes, or holding control characters";
	case CLI_NOT_A_SHOW:
		return "not a show command (only '<module> show ...' commands run)";
	case CLI_SECRET:
		return "can print a secret: never run, whatever commands_allow says";
	case CLI_NOT_LISTED:
		return "not on commands_allow";
	}
	return "?";
}

enum cli_outcome cli_reply_outcome(const struct ami_msg *reply, char *msg, size_t msgsz)
{
	if (msgsz > 0)
		msg[0] = '\0';
	if (reply == NULL)
		return CLI_LOST;
	ami_msg_get(reply, "Message", msg, msgsz);
	const struct ami_field *r = ami_msg_find(reply, "Response");
	if (ami_field_is(r, "Success") || ami_field_is(r, "Follows"))
		return CLI_RAN;
	/* an unknown CLI command: Error, but with the CLI's words as output */
	return ami_msg_find(reply, "Output") ? CLI_FAILED : CLI_REFUSED;
}

void cli_reply_lines(const struct ami_msg *reply, int (*fn)(void *arg, const char *line, size_t len), void *arg)
{
	for (size_t i = 0; reply != NULL && i < reply->nfields; i++) {
		const struct ami_field *f = &reply->fields[i];
		if (f->key_len == 6 && strncasecmp(f->key, "Output", 6) == 0 && fn(arg, f->val, f->val_len) < 0)
			return;
	}
}

struct once {
	struct ami_client ami;
	int answered;
	enum cli_outcome outcome;
	char message[256];
};

static int print_line(void *arg, const char *line, size_t len)
{
	(void)arg;
	return printf("%.*s\n", (int)len, line) < 0 ? -1 : 0;
}

static void on_once_reply(void *arg, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	struct once *o = arg;
	(void)c;
	if (kind != AMI_REPLY_RESPONSE && kind != AMI_REPLY_LOST)
		return;
	o->answered = 1;
	o->outcome = cli_reply_outcome(m, o->message, sizeof(o->message));
	if (o->outcome == CLI_RAN || o->outcome == CLI_FAILED)
		cli_reply_lines(m, print_line, NULL);
}

static int once_answered(void *arg)
{
	return ((struct once *)arg)->answered;
}

int cli_command_once(const struct bridge_settings *s, const char *command)
{
	char norm[CLI_COMMAND_MAX + 1];
	struct ami_opts opts = s->ami;
	struct ami_callbacks cb = {0};
	static struct once o;
	int rc = 1;

	enum cli_verdict v = cli_command_check(&s->command_rules, command, norm, sizeof(norm));
	if (v != CLI_OK) {
		fprintf(stderr, "pbxbus-bridge: --command '%s': %s\n", norm[0] ? norm : "?", cli_verdict_str(v));
		return 1;
	}
	opts.reconnect_max_ms = opts.auth_retry_ms = 3600 * 1000; /* one attempt */
	memset(&o, 0, sizeof(o));
	if (ami_client_init(&o.ami, &opts, &cb) < 0) {
		fprintf(stderr, "pbxbus-bridge: ami: %s\n", o.ami.last_error);
		ami_client_free(&o.ami);
		return 1;
	}
	int64_t login_wait = opts.connect_timeout_ms + opts.action_timeout_ms + 2000;
	if (ami_client_run_until(&o.ami, ami_client_login_settled, &o.ami, login_wait) < 0 || o.ami.state != AMI_UP) {
		fprintf(stderr, "pbxbus-bridge: cannot reach the PBX at %s:%d: %s\n", opts.host, opts.port,
		        o.ami.last_error[0] ? o.ami.last_error : "timed out");
	} else if (ami_client_command(&o.ami, command, s->commands_timeout_ms, on_once_reply, &o) < 0 ||
	           ami_client_run_until(&o.ami, once_answered, &o, s->commands_timeout_ms + 2000) < 0 ||
	           o.outcome == CLI_LOST) {
		fprintf(stderr, "pbxbus-bridge: --command: the PBX did not answer within %lld s\n",
		        (long long)(s->commands_timeout_ms / 1000));
	} else if (o.outcome == CLI_REFUSED) {
		fprintf(
		    stderr,
		    "pbxbus-bridge: --command: the PBX refused the action: %s (the AMI user needs write = command)\n",
		    o.message[0] ? o.message : "no reason given");
	} else if (o.outcome == CLI_FAILED) {
		fprintf(stderr, "pbxbus-bridge: --command: the PBX's CLI did not run it (its words are above)\n");
	} else {
		rc = 0;
	}
	fflush(stdout);
	ami_client_free(&o.ami);
	return rc;
}
