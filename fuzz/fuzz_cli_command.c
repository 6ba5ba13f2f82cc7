/* libFuzzer: which CLI commands may run (bridge/cli_command.c), and the
 * ids and kinds of the command channel's requests.  Whatever comes in, a
 * command that passes is a folded "show" that matches no secret glob, and
 * what is sent or logged holds no control character and no capital. */
#include <fnmatch.h>
#include <stdint.h>
#include <string.h>

#include "cli_command.h"
#include "command_ids.h"
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
	return 0;
}
