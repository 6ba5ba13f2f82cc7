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
#include "bounds.h"
#include "call_tracker.h"
#include <malloc.h>

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

static uint64_t records;

static void on_record(void *ctx, enum call_phase kind, const struct call *c, int64_t now_ms)
{
	(void)ctx;
	(void)kind;
	(void)c;
	(void)now_ms;
	records++;
}

struct tracked {
	struct call_tracker *t;
	int64_t ms;
	size_t n;
};

static void on_tracked(void *ctx, const struct ami_msg *m)
{
	struct tracked *x = ctx;
	x->n++;
	call_tracker_event(x->t, m, x->ms += 1);
}

/* Tracker throughput: codec + tracker over the burst, minus the codec alone. */
static void bench_tracker(const char *data, size_t len, double codec_s, int rounds)
{
	struct glob_list ctx, eps = {0};
	struct call_tracker t;
	struct tracked x = {&t, 0, 0};
	struct ami_codec c;
	struct ami_codec_handlers h = {NULL, on_tracked, NULL, &x};

	glob_list_parse(&ctx, "from-trunk from-pstn from-did-direct");
	struct call_tracker_opts o = {
	    .trunk_contexts = &ctx, .trunk_endpoints = &eps, .idle_timeout_ms = 4LL * 3600 * 1000, .max_calls = 20000};
	call_tracker_init(&t, &o, on_record, NULL);
	ami_codec_init(&c, &h);
	double t0 = cpu_seconds();
	for (int r = 0; r < rounds; r++) {
		ami_codec_reset(&c, 1);
		ami_codec_feed(&c, data, len);
	}
	double total = cpu_seconds() - t0;
	double tracker = total - codec_s;
	printf("call tracker:                %8.0f events/s (%.3f us/event; %llu records)\n", (double)x.n / tracker,
	       tracker / (double)x.n * 1e6, (unsigned long long)records);
	ami_codec_free(&c);
	call_tracker_free(&t);

	/* 1000 calls in flight, three channels each (trunk, extension, Local). */
	call_tracker_init(&t, &o, on_record, NULL);
	char ev[512];
	struct ami_codec_handlers h2 = {NULL, on_tracked, NULL, &x};
	ami_codec_init(&c, &h2);
	ami_codec_reset(&c, 0);
	struct mallinfo2 before = mallinfo2(); /* the calls alone, not the codec's buffers */
	for (int i = 0; i < 1000; i++) {
		int n = snprintf(
		    ev, sizeof(ev),
		    "Event: Newchannel\r\nChannel: PJSIP/trunk-provider-%08x\r\nContext: from-pstn\r\n"
		    "CallerIDNum: 4420790%05d\r\nExten: 5551000\r\nUniqueid: 17953.%d\r\nLinkedid: 17953.%d\r\n\r\n"
		    "Event: Newchannel\r\nChannel: PJSIP/100-%08x\r\nContext: from-internal\r\nUniqueid: 17954.%d\r\n"
		    "Linkedid: 17953.%d\r\n\r\n"
		    "Event: Newchannel\r\nChannel: Local/100@ext-local-%08x;1\r\nContext: ext-local\r\n"
		    "Uniqueid: 17955.%d\r\nLinkedid: 17953.%d\r\n\r\n",
		    i, i, i, i, i, i, i, i, i, i);
		ami_codec_feed(&c, ev, (size_t)n);
	}
	struct mallinfo2 after = mallinfo2();
	printf("1000 calls in flight:        %8zu calls, %.2f MiB of heap (%.0f bytes/call)\n", t.ncalls,
	       (double)(after.uordblks - before.uordblks) / (1024.0 * 1024.0),
	       (double)(after.uordblks - before.uordblks) / 1000.0);
	ami_codec_free(&c);
	call_tracker_free(&t);
	glob_list_free(&ctx);
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
	double codec_s = run(data, len, 0, rounds, 65536, &n);
	bench_tracker(data, len, codec_s, rounds);
	t = run(data, len, 1, rounds, 65536, &n);
	printf("codec + JSON per event:      %8.3f us CPU  (%0.f events/s)\n", t / (double)n * 1e6, (double)n / t);
	free(data);
	return 0;
}
