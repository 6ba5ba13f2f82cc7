/*
 * Test tool: feeds one capture through the codec and the call tracker with
 * the arrival times recorded in its .timing.txt, printing each record as
 * "<kind> <json>".  Options: --no-cdr (drop Cdr and CEL events first, so a
 * tracker that copied the CDR could not pass), --chunks SEED (random chunk
 * sizes).  Time base: 2026-01-01T00:00:00Z + the recorded seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ami_codec.h"
#include "call_record.h"
#include "call_tracker.h"

#define BASE_MS 1767225600000LL

struct replay {
	double *times;
	size_t ntimes, index;
	struct call_tracker t;
	struct jw w;
	int no_cdr;
	int64_t last_ms;
};

static void on_record(void *ctx, enum call_phase kind, const struct call *c, int64_t now_ms)
{
	struct replay *r = ctx;
	(void)now_ms;
	const char *doc = call_record_json(&r->w, c, kind, "lab", NULL);
	printf("%s %s\n", topic_call_phases[kind], doc ? doc : "null");
}

static void on_message(void *ctx, const struct ami_msg *m)
{
	struct replay *r = ctx;
	double secs = r->index < r->ntimes ? r->times[r->index] : (r->ntimes ? r->times[r->ntimes - 1] : 0);
	const struct ami_field *ev = ami_msg_find(m, "Event");

	r->index++;
	r->last_ms = BASE_MS + (int64_t)(secs * 1000.0 + 0.5);
	if (r->no_cdr && (ami_field_is(ev, "Cdr") || ami_field_is(ev, "CEL")))
		return;
	if (ev != NULL && ami_msg_find(m, "ActionID") == NULL)
		call_tracker_event(&r->t, m, r->last_ms);
	else if (ev != NULL)
		call_tracker_listed(&r->t, m); /* an answer to a list action */
}

/* The "  MSG " lines of the timing log, one per message after the banner. */
static size_t read_times(const char *path, double **out)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	size_t n = 0, cap = 0;
	double *times = NULL;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *end;
		double t = strtod(line, &end);
		if (end == line || strncmp(end, "   MSG ", 7) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			times = realloc(times, cap * sizeof(*times));
		}
		times[n++] = t;
	}
	fclose(f);
	*out = times;
	return n;
}

int main(int argc, char **argv)
{
	struct replay r = {0};
	unsigned seed = 0;
	const char *server = NULL;
	char timing[1024];
	struct glob_list contexts, endpoints = {0};
	glob_list_parse(&contexts, "from-trunk from-pstn from-did-direct from-trunk-*");
	struct call_tracker_opts o = {.trunk_contexts = &contexts,
	                              .trunk_endpoints = &endpoints,
	                              .idle_timeout_ms = 4LL * 3600 * 1000,
	                              .max_calls = 10000};

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-cdr") == 0)
			r.no_cdr = 1;
		else if (strcmp(argv[i], "--chunks") == 0 && i + 1 < argc)
			seed = (unsigned)strtoul(argv[++i], NULL, 10);
		else
			server = argv[i];
	}
	if (server == NULL || strlen(server) < 11)
		return 2;
	snprintf(timing, sizeof(timing), "%.*s.timing.txt", (int)(strlen(server) - 11), server);
	r.ntimes = read_times(timing, &r.times);
	jw_init(&r.w, 1 << 20);
	call_tracker_init(&r.t, &o, on_record, &r);

	FILE *f = fopen(server, "rb");
	if (f == NULL)
		return 2;
	static char data[4 << 20];
	size_t len = fread(data, 1, sizeof(data), f);
	fclose(f);
	struct ami_codec codec;
	struct ami_codec_handlers h = {NULL, on_message, NULL, &r};
	ami_codec_init(&codec, &h);
	for (size_t pos = 0; pos < len;) {
		size_t n = len - pos;
		if (seed) {
			seed = seed * 1103515245u + 12345u;
			size_t pick = 1 + (seed >> 8) % 3000;
			n = pick < n ? pick : n;
		}
		ami_codec_feed(&codec, data + pos, n);
		pos += n;
	}
	/* calls still open at the end of the capture are reported as such */
	fprintf(stderr, "open calls: %zu, messages %zu, times %zu\n", r.t.ncalls, r.index, r.ntimes);
	ami_codec_free(&codec);
	call_tracker_free(&r.t);
	jw_free(&r.w);
	free(r.times);
	glob_list_free(&contexts);
	return 0;
}
