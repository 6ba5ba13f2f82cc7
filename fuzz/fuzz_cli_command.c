/* libFuzzer: which CLI commands may run (bridge/cli_command.c), the ids
 * and kinds of the command channel's requests, and a dial's words
 * (bridge/dial.c, common/phone.c).  Whatever comes in, a command that
 * passes is a folded "show" that matches no secret glob, what is sent or
 * logged holds no control character and no capital, and what a dial puts
 * in an Originate's header is only what its check allows. */
#include <fnmatch.h>
#include <stdint.h>
#include <string.h>

#include "cli_command.h"
#include "command_ids.h"
#include "dial.h"
#include "phone.h"
#include "topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_be_folded(const char *norm)
{
	for (const char *p = norm; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || (*p >= 'A' && *p <= 'Z') || (p[0] == ' ' && p[1] == ' '))
			__builtin_trap();
	if (norm[0] == ' ' || (norm[0] && norm[strlen(norm) - 1] == ' '))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const allow[] = {"*", "core show *"};
	struct cli_rules rules = {allow, 2};
	char in[1024], norm[CLI_COMMAND_MAX + 1], kind[65];

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	enum cli_verdict v = cli_command_check(&rules, in, norm, sizeof(norm));
	must_be_folded(norm);
	if (v == CLI_OK) {
		const char *sp = strchr(norm, ' ');
		if (sp == NULL || strncmp(sp + 1, "show", 4) != 0)
			__builtin_trap();
		for (size_t i = 0; i < cli_nsecret_commands; i++)
			if (fnmatch(cli_secret_commands[i], norm, 0) == 0)
				__builtin_trap();
	}
	if (command_id_valid(in) && (strlen(in) > COMMAND_ID_MAX || strpbrk(in, "/+# ") != NULL))
		__builtin_trap();
	if (topic_command_kind("pbx", in, kind, sizeof(kind)) == 0 && strchr(kind, '/') != NULL)
		__builtin_trap();
	/* what goes into an Originate's header line: nothing that could end it
	 * or split a Variable */
	static const char word[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
	if ((dial_extension_valid(in) || dial_context_valid(in)) && strspn(in, word) != strlen(in))
		__builtin_trap();
	if (dial_by_valid(in) && strpbrk(in, "\r\n,;=<>\"/|"))
		__builtin_trap();
	static struct phone_plan plan;
	char e164[PHONE_E164_MAX], dialled[40], masked[24];
	if (plan.country_code[0] == '\0')
		phone_plan_init(&plan, "44", "0", "00");
	if (phone_to_e164(in, &plan, e164) == 0) {
		for (int f = PHONE_DIAL_E164; f <= PHONE_DIAL_INTERNATIONAL; f++)
			if (phone_dial_string(e164, &plan, (enum phone_dial_format)f, dialled, sizeof(dialled)) < 0 ||
			    strspn(dialled, "+0123456789") != strlen(dialled))
				__builtin_trap();
		phone_mask(e164, masked, sizeof(masked));
		if (strlen(masked) != strlen(e164) || strcmp(masked + strlen(masked) - 4, e164 + strlen(e164) - 4) != 0)
			__builtin_trap();
	}
	return 0;
}
