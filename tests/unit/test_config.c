#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "unit.h"

static const struct cfg_key keys[] = {
    {"ami_host", CFG_STRING, "127.0.0.1", 0, 0, 0, "host"},
    {"ami_port", CFG_INT, "5038", 1, 65535, 0, "port"},
    {"ami_secret", CFG_STRING, NULL, 0, 0, CFG_SECRET, "secret"},
    {"ami_filter", CFG_MULTI, NULL, 0, 0, 0, "filters"},
    {"debug_on", CFG_BOOL, "no", 0, 0, 0, "bool"},
};

static char *write_temp(const char *content, mode_t mode)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/pbxbus-unit-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	if (write(fd, content, strlen(content)) < 0) {
		close(fd);
		return NULL;
	}
	fchmod(fd, mode);
	close(fd);
	return path;
}

void test_config_file_env_flags(void)
{
	struct config cfg;
	char err[512];
	char *path =
	    write_temp("# comment\n\nami_host 10.0.0.1\nami_filter Event: Hangup\nami_filter !Channel: Local/.*\n"
	               "debug_on yes\n",
	               0644);
	CHECK(path != NULL);
	CHECK(config_init(&cfg, keys, 5) == 0);
	CHECK_EQ_INT(config_int(&cfg, "ami_port"), 5038);
	CHECK(config_load_file(&cfg, path, err, sizeof(err)) == 0);
	CHECK_EQ_STR(config_str(&cfg, "ami_host"), "10.0.0.1");
	size_t n;
	char *const *l = config_list(&cfg, "ami_filter", &n);
	CHECK_EQ_INT(n, 2);
	CHECK(n == 2 && strcmp(l[0], "Event: Hangup") == 0 && strcmp(l[1], "!Channel: Local/.*") == 0);
	CHECK(config_bool(&cfg, "debug_on"));

	setenv("PBXBUS_AMI_PORT", "6000", 1);
	setenv("PBXBUS_AMI_FILTER", "Event: Cdr\nEvent: Hangup", 1);
	CHECK(config_load_env(&cfg, err, sizeof(err)) == 0);
	CHECK_EQ_INT(config_int(&cfg, "ami_port"), 6000);
	l = config_list(&cfg, "ami_filter", &n);
	CHECK(n == 2 && strcmp(l[0], "Event: Cdr") == 0);
	setenv("PBXBUS_AMI_PORT", "70000", 1);
	CHECK(config_load_env(&cfg, err, sizeof(err)) < 0);
	CHECK(strstr(err, "PBXBUS_AMI_PORT") != NULL);
	unsetenv("PBXBUS_AMI_PORT");
	unsetenv("PBXBUS_AMI_FILTER");

	CHECK(config_set(&cfg, "ami-host", "h", CFG_SRC_FLAG, err, sizeof(err)) == 0);
	CHECK_EQ_STR(config_str(&cfg, "ami_host"), "h");
	CHECK(config_set(&cfg, "ami_secret", "s3cret", CFG_SRC_FLAG, err, sizeof(err)) < 0);
	CHECK(strstr(err, "s3cret") == NULL);
	CHECK(config_set(&cfg, "nope", "x", CFG_SRC_FLAG, err, sizeof(err)) < 0);
	unlink(path);
	config_free(&cfg);
}

void test_config_errors_name_file_and_line(void)
{
	struct config cfg;
	char err[512], expect[600];
	char *path = write_temp("ami_host x\n\nami_port 5o38\n", 0644);
	CHECK(config_init(&cfg, keys, 5) == 0);
	CHECK(config_load_file(&cfg, path, err, sizeof(err)) < 0);
	snprintf(expect, sizeof(expect), "%s:3: ami_port: '5o38' is not a whole number from 1 to 65535", path);
	CHECK_EQ_STR(err, expect);
	unlink(path);

	path = write_temp("bogus_key 1\n", 0600);
	CHECK(config_load_file(&cfg, path, err, sizeof(err)) < 0);
	CHECK(strstr(err, ":1: unknown key 'bogus_key'") != NULL);
	unlink(path);

	/* a secret in a world-readable file is refused */
	path = write_temp("ami_secret hunter2\n", 0644);
	CHECK(config_load_file(&cfg, path, err, sizeof(err)) < 0);
	CHECK(strstr(err, "chmod 600") != NULL && strstr(err, "hunter2") == NULL);
	chmod(path, 0600);
	CHECK(config_load_file(&cfg, path, err, sizeof(err)) == 0);
	CHECK_EQ_STR(config_str(&cfg, "ami_secret"), "hunter2");
	unlink(path);
	config_free(&cfg);
}

void test_config_secret_file_mode(void)
{
	char out[64], err[256];
	char *path = write_temp("pa ss\n", 0640);
	CHECK(config_read_secret_file(path, out, sizeof(out), err, sizeof(err)) < 0);
	CHECK(strstr(err, "readable by group or others") != NULL);
	chmod(path, 0600);
	CHECK(config_read_secret_file(path, out, sizeof(out), err, sizeof(err)) == 0);
	CHECK_EQ_STR(out, "pa ss");
	unlink(path);
}

void test_parse_numbers_strictly(void)
{
	long long v;
	CHECK(parse_ll("42", 0, 100, &v) == 0 && v == 42);
	CHECK(parse_ll("", 0, 100, &v) < 0);
	CHECK(parse_ll(" 4", 0, 100, &v) < 0);
	CHECK(parse_ll("4x", 0, 100, &v) < 0);
	CHECK(parse_ll("101", 0, 100, &v) < 0);
	CHECK(parse_ll("99999999999999999999", 0, 100, &v) < 0);
	int b;
	CHECK(parse_bool("Yes", &b) == 0 && b == 1);
	CHECK(parse_bool("off", &b) == 0 && b == 0);
	CHECK(parse_bool("maybe", &b) < 0);
}

void test_cli_precedence(void)
{
	struct config cfg;
	struct cli_mode modes[] = {{"--check", "check", 0, 0, NULL}};
	struct cli cli = {.progname = "t", .default_config = "/nonexistent", .modes = modes, .nmodes = 1};
	char err[512];
	char *path = write_temp("ami_host fromfile\nami_port 1\n", 0600);
	char *argv[] = {"t", "-c", path, "--ami-port", "3", "--check", NULL};
	setenv("PBXBUS_AMI_PORT", "2", 1);
	setenv("PBXBUS_AMI_HOST", "fromenv", 1);
	CHECK(config_init(&cfg, keys, 5) == 0);
	CHECK(cli_load(&cli, &cfg, 6, argv, err, sizeof(err)) == 0);
	CHECK_EQ_INT(config_int(&cfg, "ami_port"), 3);
	CHECK_EQ_STR(config_str(&cfg, "ami_host"), "fromenv");
	CHECK(modes[0].set);
	unsetenv("PBXBUS_AMI_PORT");
	unsetenv("PBXBUS_AMI_HOST");
	config_free(&cfg);
	unlink(path);
}

/* Audit L3: a CR/LF in a value that goes into an AMI header would inject
 * an action past the read-only allow-list; no value takes a control
 * character, from any source (a repeatable key's env entries are split on
 * newlines first). */
void test_config_refuses_control_characters(void)
{
	struct config cfg;
	char err[512];
	size_t n = 0;

	CHECK(config_init(&cfg, keys, 5) == 0);
	CHECK(config_set(&cfg, "ami_host", "on\r\n\r\nAction: Originate", CFG_SRC_FLAG, err, sizeof(err)) < 0);
	CHECK(strstr(err, "ami_host: control character (0x0d)") != NULL);
	CHECK(config_set(&cfg, "ami_filter", "Event: Foo\tBar", CFG_SRC_FLAG, err, sizeof(err)) < 0);
	CHECK(config_set(&cfg, "ami_host", "bad\x7f", CFG_SRC_FLAG, err, sizeof(err)) < 0);
	setenv("PBXBUS_AMI_FILTER", "Event: Hangup\nEvent: Newchannel", 1);
	CHECK(config_load_env(&cfg, err, sizeof(err)) == 0);
	CHECK_EQ_INT(config_list(&cfg, "ami_filter", &n)[1] != NULL, 1);
	CHECK_EQ_INT(n, 2);
	setenv("PBXBUS_AMI_FILTER", "Event: Hangup\nEvent: Bad\x1bThing", 1);
	CHECK(config_load_env(&cfg, err, sizeof(err)) < 0);
	CHECK(strstr(err, "PBXBUS_AMI_FILTER: ami_filter: control character (0x1b)") != NULL);
	unsetenv("PBXBUS_AMI_FILTER");
	char *path = write_temp("ami_host a\x01"
	                        "b\n",
	                        0644);
	CHECK(config_load_file(&cfg, path, err, sizeof(err)) < 0);
	CHECK(strstr(err, ":1: ami_host: control character (0x01)") != NULL);
	unlink(path);
	config_free(&cfg);
}

/* Audit L2: a secret read from the environment leaves it. */
void test_config_secret_leaves_the_environment(void)
{
	struct config cfg;
	char err[256];

	CHECK(config_init(&cfg, keys, 5) == 0);
	setenv("PBXBUS_AMI_SECRET", "hunter2-from-env", 1);
	setenv("PBXBUS_AMI_HOST", "10.0.0.9", 1);
	CHECK(config_load_env(&cfg, err, sizeof(err)) == 0);
	CHECK_EQ_STR(config_str(&cfg, "ami_secret"), "hunter2-from-env");
	CHECK(getenv("PBXBUS_AMI_SECRET") == NULL);
	CHECK_EQ_STR(getenv("PBXBUS_AMI_HOST"), "10.0.0.9"); /* not a secret: left as it is */
	unsetenv("PBXBUS_AMI_HOST");
	config_free(&cfg);
}
