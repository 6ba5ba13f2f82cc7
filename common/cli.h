/*
 * Command line shared by both daemons: -c FILE, -h, -V, -d, mode flags
 * (--check, ...) and "--key-name VALUE" for every config key.  Precedence:
 * defaults < config file < PBXBUS_* environment < flags.
 */
#ifndef PBXBUS_CLI_H
#define PBXBUS_CLI_H

#include <stdio.h>

#include "config.h"

struct cli_mode {
	const char *flag; /* "--check" */
	const char *help;
	int takes_arg;
	int set;
	const char *arg;
};

struct cli {
	const char *progname;
	const char *default_config; /* used when it exists and -c is not given */
	const char *config_path;    /* what was loaded, or NULL */
	int help, version, debug;
	struct cli_mode *modes;
	size_t nmodes;
};

/* Returns 0, or -1 with the reason in err (print it and exit 2). */
int cli_load(struct cli *cli, struct config *cfg, int argc, char **argv, char *err, size_t errsz);
void cli_usage(const struct cli *cli, const struct config *cfg, FILE *out);
/* --help (the usage) or --version ("<progname> <version>") asked for:
 * printed on stdout, 1; else 0.  The caller then exits 0. */
int cli_answered(const struct cli *cli, const struct config *cfg, const char *progname);

#endif
