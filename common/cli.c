#include "cli.h"

#include <string.h>
#include <unistd.h>

#include "version.h"

static struct cli_mode *find_mode(struct cli *cli, const char *arg)
{
	for (size_t i = 0; i < cli->nmodes; i++)
		if (strcmp(cli->modes[i].flag, arg) == 0)
			return &cli->modes[i];
	return NULL;
}

/* First pass: everything but the per-key flags, which are applied last. */
static int scan_fixed(struct cli *cli, int argc, char **argv, char *err, size_t errsz)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		struct cli_mode *m = find_mode(cli, a);
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			cli->help = 1;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			cli->version = 1;
		} else if (strcmp(a, "-d") == 0 || strcmp(a, "--debug") == 0) {
			cli->debug = 1;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (++i >= argc) {
				snprintf(err, errsz, "%s needs a file name", a);
				return -1;
			}
			cli->config_path = argv[i];
		} else if (m != NULL) {
			m->set = 1;
			if (m->takes_arg) {
				if (++i >= argc) {
					snprintf(err, errsz, "%s needs a value", a);
					return -1;
				}
				m->arg = argv[i];
			}
		} else if (strncmp(a, "--", 2) == 0 && a[2] != '\0') {
			i++; /* --key value, applied after the file and environment */
			if (i >= argc) {
				snprintf(err, errsz, "%s needs a value", a);
				return -1;
			}
		} else {
			snprintf(err, errsz, "unexpected argument '%s' (see --help)", a);
			return -1;
		}
	}
	return 0;
}

static int apply_key_flags(struct cli *cli, struct config *cfg, int argc, char **argv, char *err, size_t errsz)
{
	char msg[512];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			i++;
			continue;
		}
		struct cli_mode *m = find_mode(cli, a);
		if (m != NULL) {
			i += m->takes_arg;
			continue;
		}
		if (strncmp(a, "--", 2) != 0 || strcmp(a, "--help") == 0 || strcmp(a, "--version") == 0 ||
		    strcmp(a, "--debug") == 0)
			continue;
		if (config_set(cfg, a + 2, argv[i + 1], CFG_SRC_FLAG, msg, sizeof(msg)) < 0) {
			snprintf(err, errsz, "%s: %s", a, msg);
			return -1;
		}
		i++;
	}
	return 0;
}

int cli_load(struct cli *cli, struct config *cfg, int argc, char **argv, char *err, size_t errsz)
{
	if (scan_fixed(cli, argc, argv, err, errsz) < 0)
		return -1;
	if (cli->help || cli->version)
		return 0;
	if (cli->config_path == NULL && cli->default_config && access(cli->default_config, F_OK) == 0)
		cli->config_path = cli->default_config;
	if (cli->config_path && config_load_file(cfg, cli->config_path, err, errsz) < 0)
		return -1;
	if (config_load_env(cfg, err, errsz) < 0)
		return -1;
	return apply_key_flags(cli, cfg, argc, argv, err, errsz);
}

void cli_usage(const struct cli *cli, const struct config *cfg, FILE *out)
{
	char env[128], flag[128];

	fprintf(out, "usage: %s [-c FILE] [options] [--key-name VALUE ...]\n\n", cli->progname);
	fprintf(out, "  -c, --config FILE   config file (default %s, if it exists)\n", cli->default_config);
	fprintf(out, "  -h, --help          this help\n  -V, --version       version\n");
	fprintf(out, "  -d, --debug         log at debug level\n");
	for (size_t i = 0; i < cli->nmodes; i++)
		fprintf(out, "  %-19s %s\n", cli->modes[i].flag, cli->modes[i].help);
	fprintf(out, "\nConfiguration keys (file key, flag, environment; default):\n");
	for (size_t i = 0; i < cfg->nkeys; i++) {
		const struct cfg_key *k = &cfg->keys[i];
		size_t n = 0;
		for (const char *p = k->name; *p && n + 1 < sizeof(flag); p++)
			flag[n++] = *p == '_' ? '-' : *p;
		flag[n] = '\0';
		config_env_name(k->name, env, sizeof(env));
		fprintf(out, "  %s\n      %s\n      %s%s  %s  default: %s\n", k->name, k->help,
		        (k->flags & CFG_SECRET) ? "(no flag: secret)" : "--", (k->flags & CFG_SECRET) ? "" : flag, env,
		        k->def ? (*k->def ? k->def : "\"\"") : "(unset)");
	}
}

int cli_answered(const struct cli *cli, const struct config *cfg, const char *progname)
{
	if (cli->help)
		cli_usage(cli, cfg, stdout);
	else if (cli->version)
		printf("%s %s\n", progname, PBXBUS_VERSION);
	return cli->help || cli->version;
}
