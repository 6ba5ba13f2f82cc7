#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"

int parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

void config_env_name(const char *key, char *out, size_t outsz)
{
	size_t n = (size_t)snprintf(out, outsz, "PBXBUS_");
	for (const char *p = key; *p && n + 1 < outsz; p++)
		out[n++] = (*p == '-' || *p == '.') ? '_' : (char)toupper((unsigned char)*p);
	out[n] = '\0';
}

static void free_value(struct cfg_value *v)
{
	free(v->str);
	for (size_t i = 0; i < v->nlist; i++)
		free(v->list[i]);
	free(v->list);
	memset(v, 0, sizeof(*v));
}

int config_init(struct config *cfg, const struct cfg_key *keys, size_t nkeys)
{
	char err[64];

	cfg->keys = keys;
	cfg->nkeys = nkeys;
	cfg->vals = calloc(nkeys, sizeof(*cfg->vals));
	if (cfg->vals == NULL)
		return -1;
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i].def != NULL &&
		    config_set(cfg, keys[i].name, keys[i].def, CFG_SRC_DEFAULT, err, sizeof(err)) < 0)
			return -1;
	return 0;
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; cfg->vals && i < cfg->nkeys; i++)
		free_value(&cfg->vals[i]);
	free(cfg->vals);
	cfg->vals = NULL;
}

/* Keys are written with underscores; flags and users may use dashes. */
static int key_equal(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char ca = *a == '-' ? '_' : (char)tolower((unsigned char)*a);
		char cb = *b == '-' ? '_' : (char)tolower((unsigned char)*b);
		if (ca != cb)
			return 0;
	}
	return *a == *b;
}

static ssize_t key_index(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nkeys; i++)
		if (key_equal(cfg->keys[i].name, name))
			return (ssize_t)i;
	return -1;
}

const struct cfg_key *config_key(const struct config *cfg, const char *name)
{
	ssize_t i = key_index(cfg, name);
	return i < 0 ? NULL : &cfg->keys[i];
}

static int check_value(const struct cfg_key *k, const char *value, char *err, size_t errsz)
{
	long long ll;
	int b;

	if (strlen(value) > CONFIG_VALUE_MAX) {
		snprintf(err, errsz, "%s: value longer than %d characters", k->name, CONFIG_VALUE_MAX);
		return -1;
	}
	/* A CR or LF in a value that goes into an AMI header would start an
	 * action of its own (past the read-only allow-list): no control
	 * character in any value (a repeatable key's entries are split on
	 * newlines before they get here). */
	for (const char *p = value; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errsz, "%s: control character (0x%02x) in the value", k->name, (unsigned char)*p);
			return -1;
		}
	}
	if (k->type == CFG_INT && parse_ll(value, k->min, k->max, &ll) < 0) {
		snprintf(err, errsz, "%s: '%s' is not a whole number from %lld to %lld", k->name, value, k->min,
		         k->max);
		return -1;
	}
	if (k->type == CFG_BOOL && parse_bool(value, &b) < 0) {
		snprintf(err, errsz, "%s: '%s' is not yes/no", k->name, value);
		return -1;
	}
	return 0;
}

int config_set(struct config *cfg, const char *key, const char *value, int source, char *err, size_t errsz)
{
	ssize_t i = key_index(cfg, key);
	struct cfg_value *v;

	if (i < 0) {
		snprintf(err, errsz, "unknown key '%s'", key);
		return -1;
	}
	const struct cfg_key *k = &cfg->keys[i];
	if ((k->flags & CFG_SECRET) && source == CFG_SRC_FLAG) {
		snprintf(err, errsz,
		         "%s: secrets are not accepted on the command line (visible in ps); use %s_file or "
		         "the environment",
		         k->name, k->name);
		return -1;
	}
	if (check_value(k, value, err, errsz) < 0)
		return -1;
	v = &cfg->vals[i];
	if (k->type == CFG_MULTI) {
		/* A higher source replaces the lower one's list rather than adding. */
		if (v->source != source && v->nlist > 0)
			free_value(v);
		if (v->nlist >= CONFIG_LIST_MAX) {
			snprintf(err, errsz, "%s: more than %d entries", k->name, CONFIG_LIST_MAX);
			return -1;
		}
		char **nl = realloc(v->list, (v->nlist + 1) * sizeof(*nl));
		if (nl == NULL || (nl[v->nlist] = strdup(value)) == NULL) {
			if (nl)
				v->list = nl;
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		v->list = nl;
		v->nlist++;
	} else {
		char *dup = strdup(value);
		if (dup == NULL) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		free(v->str);
		v->str = dup;
	}
	v->source = source;
	return 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t errsz)
{
	char line[CONFIG_LINE_MAX + 2];
	char msg[256];
	int lineno = 0, rc = 0;
	struct stat st;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	int private_file = fstat(fileno(f), &st) == 0 && (st.st_mode & 077) == 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		size_t len = strlen(line);
		if (len > CONFIG_LINE_MAX) {
			snprintf(err, errsz, "%s:%d: line longer than %d characters", path, lineno, CONFIG_LINE_MAX);
			rc = -1;
			break;
		}
		char *s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		char *val = s;
		while (*val && !isspace((unsigned char)*val))
			val++;
		if (*val)
			*val++ = '\0';
		val = trim(val);
		const struct cfg_key *k = config_key(cfg, s);
		if (k != NULL && (k->flags & CFG_SECRET) && !private_file) {
			snprintf(err, errsz, "%s:%d: %s in a file others can read; chmod 600 %s or use %s_file", path,
			         lineno, k->name, path, k->name);
			rc = -1;
			break;
		}
		if (config_set(cfg, s, val, CFG_SRC_FILE, msg, sizeof(msg)) < 0) {
			snprintf(err, errsz, "%s:%d: %s", path, lineno, msg);
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

static int set_multi_from_env(struct config *cfg, const struct cfg_key *k, const char *val, char *err, size_t errsz)
{
	/* Several entries of a repeatable key come newline-separated. */
	char *copy = strdup(val), *save = NULL;
	int rc = 0;

	if (copy == NULL)
		return -1;
	for (char *p = copy; p != NULL; p = save) {
		save = strchr(p, '\n');
		if (save)
			*save++ = '\0';
		char *t = trim(p);
		if (*t && config_set(cfg, k->name, t, CFG_SRC_ENV, err, errsz) < 0) {
			rc = -1;
			break;
		}
	}
	free(copy);
	return rc;
}

/* A secret read from the environment is taken out of it: its bytes are
 * overwritten where they are (the block /proc/<pid>/environ shows) and
 * the variable removed, so no child and no reader of /proc sees it. */
static void scrub_env(const char *name, const char *val)
{
	explicit_bzero((char *)val, strlen(val));
	unsetenv(name);
}

int config_load_env(struct config *cfg, char *err, size_t errsz)
{
	char name[128], msg[256];

	for (size_t i = 0; i < cfg->nkeys; i++) {
		const struct cfg_key *k = &cfg->keys[i];
		config_env_name(k->name, name, sizeof(name));
		const char *val = getenv(name);
		if (val == NULL)
			continue;
		int rc = k->type == CFG_MULTI ? set_multi_from_env(cfg, k, val, msg, sizeof(msg))
		                              : config_set(cfg, k->name, val, CFG_SRC_ENV, msg, sizeof(msg));
		if (k->flags & CFG_SECRET)
			scrub_env(name, val);
		if (rc < 0) {
			snprintf(err, errsz, "environment %s: %s", name, msg);
			return -1;
		}
	}
	return 0;
}

static const struct cfg_value *value_of(const struct config *cfg, const char *name)
{
	ssize_t i = key_index(cfg, name);
	if (i < 0) {
		fprintf(stderr, "internal error: unknown config key %s\n", name);
		abort();
	}
	return &cfg->vals[i];
}

const char *config_str(const struct config *cfg, const char *name)
{
	const char *s = value_of(cfg, name)->str;
	return (s && *s) ? s : NULL;
}

long long config_int(const struct config *cfg, const char *name)
{
	const struct cfg_key *k = config_key(cfg, name);
	const char *s = value_of(cfg, name)->str;
	long long v = 0;

	if (s == NULL || parse_ll(s, k->min, k->max, &v) < 0)
		return 0;
	return v;
}

int config_bool(const struct config *cfg, const char *name)
{
	const char *s = value_of(cfg, name)->str;
	int b = 0;

	if (s == NULL || parse_bool(s, &b) < 0)
		return 0;
	return b;
}

char *const *config_list(const struct config *cfg, const char *name, size_t *n)
{
	const struct cfg_value *v = value_of(cfg, name);
	*n = v->nlist;
	return v->list;
}

int config_read_secret_file(const char *path, char *out, size_t outsz, char *err, size_t errsz)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errsz, "%s: readable by group or others (mode %03o); chmod 600 it", path,
		         (unsigned)(st.st_mode & 0777));
		close(fd);
		return -1;
	}
	ssize_t n = read(fd, out, outsz - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((size_t)n == outsz - 1) {
		snprintf(err, errsz, "%s: longer than %zu bytes", path, outsz - 2);
		return -1;
	}
	out[n] = '\0';
	if (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	if (n > 0 && out[n - 1] == '\r')
		out[--n] = '\0';
	return 0;
}

int config_secret(const struct config *cfg, const char *key, const char *file_key, char *out, size_t outsz, char *err,
                  size_t errsz)
{
	const char *inline_value = config_str(cfg, key);
	const char *file = config_str(cfg, file_key);

	out[0] = '\0';
	if (file != NULL)
		return config_read_secret_file(file, out, outsz, err, errsz);
	if (inline_value != NULL) {
		if (strlen(inline_value) >= outsz) {
			snprintf(err, errsz, "%s: too long", key);
			return -1;
		}
		memcpy(out, inline_value, strlen(inline_value) + 1);
	}
	return 0;
}
