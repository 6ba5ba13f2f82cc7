/*
 * make bench, in-process part: AMI codec throughput and CPU per event for
 * parse + JSON over the 20-call burst capture.  Figures, not assertions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ami_codec.h"
#include "ami_json.h"
#include "limits.h"

struct sink {
	struct jw w;
	int json;
	size_t messages, bytes;
};

static void on_message(void *ctx, const struct ami_msg *m)
{
	struct sink *s = ctx;
	size_t len = 0;
	s->messages++;
	if (s->json && ami_msg_to_json(&s->w, m, "2026-11-22T10:03:53.000Z", s->messages, &len) != NULL)
		s->bytes += len;
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)size);
	*len = buf ? fread(buf, 1, (size_t)size, f) : 0;
	fclose(f);
	return buf;
}

static double run(const char *data, size_t len, int json, int rounds, size_t chunk, size_t *messages)
{
	struct sink s = {.json = json};
	struct ami_codec c;
	struct ami_codec_handlers h = {NULL, on_message, NULL, &s};

	jw_init(&s.w, JSON_EVENT_MAX);
	if (ami_codec_init(&c, &h) < 0)
		exit(1);
	double t0 = cpu_seconds();
	for (int r = 0; r < rounds; r++) {
		ami_codec_reset(&c, 1);
		for (size_t pos = 0; pos < len; pos += chunk)
			ami_codec_feed(&c, data + pos, len - pos < chunk ? len - pos : chunk);
	}
	double t = cpu_seconds() - t0;
	*messages = s.messages;
	ami_codec_free(&c);
	jw_free(&s.w);
	return t;
}

int main(int argc, char **argv)
{
	size_t len, n;
	const char *path = argc > 1 ? argv[1] : "tests/fixtures/ami/19-burst-20-inbound.server.txt";
	char *data = read_file(path, &len);
	int rounds = 300;

	if (data == NULL) {
		fprintf(stderr, "cannot read %s\n", path);
		return 1;
	}
	double t = run(data, len, 0, rounds, 65536, &n);
	printf("codec (64 KiB reads):        %8.0f messages/s  %6.0f MB/s\n", (double)n / t,
	       (double)len * rounds / t / 1e6);
	t = run(data, len, 0, rounds, 1448, &n);
	printf("codec (1448 B reads):        %8.0f messages/s\n", (double)n / t);
	t = run(data, len, 1, rounds, 65536, &n);
	printf("codec + JSON per event:      %8.3f us CPU  (%0.f events/s)\n", t / (double)n * 1e6, (double)n / t);
	free(data);
	return 0;
}
