/* Runs every unit test; the last line is "N passed, N failed". */
#include <stdlib.h>

#include "ami_codec.h"
#include "log.h"
#include "unit.h"

int unit_failures;
const char *unit_fixtures = "tests/fixtures/ami";

struct unit_test {
	const char *name;
	void (*fn)(void);
};

static const struct unit_test tests[] = {
#define T(name) {#name, name},
#include "unit_list.h"
#undef T
};

void unit_feed_message(const char *spec, void (*on_msg)(void *ctx, const struct ami_msg *m), void *ctx)
{
	char buf[2048];
	size_t n = 0;
	struct ami_codec c;
	struct ami_codec_handlers h = {NULL, on_msg, NULL, ctx};

	for (const char *p = spec; *p && n + 6 < sizeof(buf); p++) {
		if (*p == '|') {
			buf[n++] = '\r';
			buf[n++] = '\n';
		} else {
			buf[n++] = *p;
		}
	}
	memcpy(buf + n, "\r\n\r\n", 4);
	ami_codec_init(&c, &h);
	ami_codec_reset(&c, 0);
	ami_codec_feed(&c, buf, n + 4);
	ami_codec_free(&c);
}

char *unit_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)size + 1)) != NULL) {
		*len = fread(buf, 1, (size_t)size, f);
		buf[*len] = '\0';
	}
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	const char *only = argc > 2 ? argv[2] : NULL;

	if (argc > 1)
		unit_fixtures = argv[1];
	log_init("unit", LOG_LVL_ERROR);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (only && strcmp(only, tests[i].name) != 0)
			continue;
		int before = unit_failures;
		tests[i].fn();
		if (unit_failures == before) {
			passed++;
			printf("ok   %s\n", tests[i].name);
		} else {
			failed++;
			printf("FAIL %s\n", tests[i].name);
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
