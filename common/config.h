/*
 * The one configuration format of pbxbus (pbxbus.conf(5)): "key value"
 * lines like mosquitto.conf, '#' comments.  Every key can be overridden by
 * the environment (PBXBUS_<KEY>, upper-cased, '-' and '.' as '_') and then
 * by a command-line flag (--key-name value).  Values are checked when set,
 * so a bad value is reported as "file:line: what" at load time.
 */
#ifndef PBXBUS_CONFIG_H
#define PBXBUS_CONFIG_H

#include <stddef.h>

enum cfg_type {
	CFG_STRING,
	CFG_INT,
	CFG_BOOL,
	CFG_MULTI, /* repeatable: every line adds one entry */
};

#define CFG_SECRET 0x1 /* never on argv, never logged, file mode checked */

struct cfg_key {
	const char *name;
	enum cfg_type type;
	const char *def; /* NULL: unset */
	long long min, max;
	int flags;
	const char *help;
};

struct cfg_value {
	char *str;   /* CFG_STRING/INT/BOOL, NULL when unset */
	char **list; /* CFG_MULTI */
	size_t nlist;
	int source; /* where the value came from, see cfg_source_name */
};

struct config {
	const struct cfg_key *keys;
	size_t nkeys;
	struct cfg_value *vals;
};

enum { CFG_SRC_DEFAULT, CFG_SRC_FILE, CFG_SRC_ENV, CFG_SRC_FLAG };

/* Shorthands for key tables. */
#define CFG_S(name, def, help)                                                                                         \
	{                                                                                                              \
		name, CFG_STRING, def, 0, 0, 0, help                                                                   \
	}
#define CFG_SECRET_S(name, help)                                                                                       \
	{                                                                                                              \
		name, CFG_STRING, NULL, 0, 0, CFG_SECRET, help                                                         \
	}
#define CFG_I(name, def, lo, hi, help)                                                                                 \
	{                                                                                                              \
		name, CFG_INT, def, lo, hi, 0, help                                                                    \
	}
#define CFG_B(name, def, help)                                                                                         \
	{                                                                                                              \
		name, CFG_BOOL, def, 0, 0, 0, help                                                                     \
	}

int config_init(struct config *cfg, const struct cfg_key *keys, size_t nkeys);
void config_free(struct config *cfg);

/* 0, or -1 with "file:line: what" in err. A missing file is an error. */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errsz);
/* Applies PBXBUS_* variables; -1 with a message in err on a bad value. */
int config_load_env(struct config *cfg, char *err, size_t errsz);
/* Sets key (underscores or dashes) from a given source; -1 with err. */
int config_set(struct config *cfg, const char *key, const char *value, int source, char *err, size_t errsz);

const struct cfg_key *config_key(const struct config *cfg, const char *name);
const char *config_str(const struct config *cfg, const char *name); /* NULL when unset */
long long config_int(const struct config *cfg, const char *name);
int config_bool(const struct config *cfg, const char *name);
char *const *config_list(const struct config *cfg, const char *name, size_t *n);

/* Reads a secret from a file: refuses group/world-readable files; strips
 * one trailing newline.  Returns 0, or -1 with a reason in err. */
int config_read_secret_file(const char *path, char *out, size_t outsz, char *err, size_t errsz);

/* A secret given as key (inline or PBXBUS_<KEY>) or in the file named by
 * file_key (which wins); "" when neither.  0, or -1 with err. */
int config_secret(const struct config *cfg, const char *key, const char *file_key, char *out, size_t outsz, char *err,
                  size_t errsz);

/* Strict number parsing: whole string, in range. */
int parse_ll(const char *s, long long min, long long max, long long *out);
int parse_bool(const char *s, int *out);

/* "ami_host" → "PBXBUS_AMI_HOST" */
void config_env_name(const char *key, char *out, size_t outsz);

#endif
