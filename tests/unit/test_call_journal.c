#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ami_codec.h"
#include "call_journal.h"
#include "call_record.h"
#include "call_tracker.h"
#include "unit.h"

/* Calls in flight across a bridge restart: the journal on its own, then a
 * whole call cut by a "SIGKILL" mid-call and carried on by a new tracker. */

static char *temp_dir(char *dir)
{
	snprintf(dir, 64, "/tmp/pbxbus-journal-XXXXXX");
	return mkdtemp(dir);
}

static void remove_dir(const char *dir)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/calls.journal", dir);
	unlink(path);
	rmdir(dir);
}

struct seen {
	int n;
	char ids[8][JOURNAL_ID_MAX];
	char states[8][64];
};

static void collect(void *ctx, const char *id, const void *state, size_t len)
{
	struct seen *s = ctx;
	if (s->n < 8) {
		snprintf(s->ids[s->n], JOURNAL_ID_MAX, "%s", id);
		snprintf(s->states[s->n], 64, "%.*s", (int)len, (const char *)state);
		s->n++;
	}
}

void test_journal_keeps_calls_in_flight_and_emitted_ids(void)
{
	char dir[64], err[256], path[128];
	struct call_journal j;
	struct seen s = {0};

	CHECK(temp_dir(dir) != NULL);
	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	CHECK(call_journal_put(&j, "1.1", "one", 3) == 0);
	CHECK(call_journal_put(&j, "2.1", "two", 3) == 0);
	CHECK(call_journal_put(&j, "1.1", "one, answered", 13) == 0);
	call_journal_seen(&j, 5000, -7 * 86400000LL);
	call_journal_end(&j, "2.1");
	call_journal_close(&j); /* the outbox never said it was durable: no 'E' */
	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	call_journal_each(&j, collect, &s);
	CHECK_EQ_INT(s.n, 2);
	CHECK_EQ_INT(j.seen_ms, 5000);
	CHECK_EQ_INT(j.clock_offset_ms, -7 * 86400000LL);
	CHECK(!call_journal_was_emitted(&j, "2.1"));
	call_journal_end(&j, "2.1");
	call_journal_emitted_durable(&j);
	CHECK(call_journal_was_emitted(&j, "2.1"));
	call_journal_close(&j);

	memset(&s, 0, sizeof(s));
	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	call_journal_each(&j, collect, &s);
	CHECK_EQ_INT(s.n, 1);
	CHECK_EQ_STR(s.ids[0], "1.1");
	CHECK_EQ_STR(s.states[0], "one, answered");
	CHECK(call_journal_was_emitted(&j, "2.1"));
	call_journal_close(&j);

	/* a torn last entry (the write a crash cut short) is cut off, the rest kept */
	snprintf(path, sizeof(path), "%s/calls.journal", dir);
	int fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, "C\0\0\0\x30garbage", 12) == 12);
	close(fd);
	memset(&s, 0, sizeof(s));
	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	call_journal_each(&j, collect, &s);
	CHECK_EQ_INT(s.n, 1);
	CHECK_EQ_INT(j.cut_bytes, 12);
	CHECK(call_journal_put(&j, "3.1", "three", 5) == 0); /* appended where the damage was */
	call_journal_close(&j);
	memset(&s, 0, sizeof(s));
	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	call_journal_each(&j, collect, &s);
	CHECK_EQ_INT(s.n, 2);
	CHECK_EQ_INT(j.cut_bytes, 0);
	call_journal_close(&j);
	remove_dir(dir);
}

void test_journal_stays_bounded_by_what_it_holds(void)
{
	char dir[64], err[256], id[32], path[128];
	char state[2048];
	struct call_journal j;
	struct stat st;

	memset(state, 'x', sizeof(state));
	CHECK(temp_dir(dir) != NULL);
	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "%d.1", i);
		CHECK(call_journal_put(&j, id, state, sizeof(state)) == 0);
		CHECK(call_journal_put(&j, id, state, sizeof(state)) == 0);
		call_journal_end(&j, id);
		call_journal_emitted_durable(&j);
	}
	snprintf(path, sizeof(path), "%s/calls.journal", dir);
	CHECK(stat(path, &st) == 0);
	CHECK(st.st_size < 4 << 20); /* 20 MB written, compacted as it went */
	CHECK_EQ_INT(j.nlive, 0);
	CHECK(call_journal_was_emitted(&j, "4999.1"));
	call_journal_close(&j);
	remove_dir(dir);
}

/* ---- a call across a restart, from capture 10 ---- */

struct run {
	struct call_tracker t;
	struct jw w;
	char last[4096];
	int stop_after; /* messages; 0: all */
	int index;
};

static void on_rec(void *ctx, enum call_phase kind, const struct call *c, int64_t now_ms)
{
	struct run *r = ctx;
	(void)now_ms;
	if (kind == CALL_HANGUP) {
		const char *doc = call_record_json(&r->w, c, kind, "lab", NULL);
		snprintf(r->last, sizeof(r->last), "%s", doc ? doc : "");
	}
}

/* Each message at 1 s + 100 ms per message: a fixed clock for both runs. */
static void on_msg(void *ctx, const struct ami_msg *m)
{
	struct run *r = ctx;
	int i = r->index++;

	if (i < r->stop_after || r->stop_after == 0)
		return;
	call_tracker_event(&r->t, m, 1000 + 100LL * i);
}

static void on_msg_before(void *ctx, const struct ami_msg *m)
{
	struct run *r = ctx;
	int i = r->index++;

	if (r->stop_after == 0 || i < r->stop_after)
		call_tracker_event(&r->t, m, 1000 + 100LL * i);
}

static void feed_capture(struct run *r, void (*fn)(void *, const struct ami_msg *))
{
	char path[512];
	size_t len;
	struct ami_codec c;
	struct ami_codec_handlers h = {NULL, fn, NULL, r};

	snprintf(path, sizeof(path), "%s/10-in-answered-caller-hangup.server.txt", unit_fixtures);
	char *data = unit_read_file(path, &len);
	CHECK(data != NULL);
	r->index = 0;
	ami_codec_init(&c, &h);
	if (data)
		ami_codec_feed(&c, data, len);
	ami_codec_free(&c);
	free(data);
}

static struct glob_list contexts, none;

static void start(struct run *r, struct call_journal *j)
{
	struct call_tracker_opts o = {.trunk_contexts = &contexts,
	                              .trunk_endpoints = &none,
	                              .idle_timeout_ms = 3600 * 1000,
	                              .max_calls = 100,
	                              .journal = j};
	jw_init(&r->w, 1 << 16);
	CHECK(call_tracker_init(&r->t, &o, on_rec, r) == 0);
}

/* The PBX's channel list after the restart: every channel still up. */
static void sync_alive(struct call_tracker *t, int64_t now)
{
	char buf[512];
	struct ami_msg m;
	struct ami_field f[4];

	call_tracker_sync_begin(t);
	for (size_t b = 0; b < t->nbuckets; b++) {
		for (struct call *c = t->buckets[b]; c; c = c->next) {
			for (int i = 0; i < c->nch; i++) {
				if (c->ch[i].gone)
					continue;
				const char *kv[4][2] = {{"Uniqueid", c->ch[i].uniqueid},
				                        {"Linkedid", c->linkedid},
				                        {"Channel", c->ch[i].name},
				                        {"BridgeId", c->ch[i].bridge}};
				for (int k = 0; k < 4; k++)
					f[k] = (struct ami_field){kv[k][0], kv[k][1], (uint32_t)strlen(kv[k][0]),
					                          (uint32_t)strlen(kv[k][1])};
				m = (struct ami_msg){.fields = f, .nfields = 4};
				(void)buf;
				call_tracker_sync_channel(t, &m, now);
			}
		}
	}
	call_tracker_sync_end(t, now);
}

void test_journal_a_call_across_a_restart_is_the_same_record(void)
{
	char dir[64], err[256];
	struct call_journal j;
	struct run whole = {0}, before = {0}, after = {0};

	glob_list_parse(&contexts, "from-pstn");
	/* uninterrupted */
	CHECK(temp_dir(dir) != NULL);
	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	start(&whole, &j);
	feed_capture(&whole, on_msg_before);
	call_tracker_free(&whole.t);
	call_journal_close(&j);
	remove_dir(dir);
	CHECK(strstr(whole.last, "\"disposition\":\"ANSWERED\"") != NULL);

	/* killed after the answer (message 60 of 121), restarted, carried on */
	CHECK(temp_dir(dir) != NULL);
	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	start(&before, &j);
	before.stop_after = 60;
	feed_capture(&before, on_msg_before);
	CHECK_EQ_INT(before.t.ncalls, 1);
	call_tracker_journal_flush(&before.t); /* what the bridge's round does */
	call_tracker_free(&before.t);          /* the "SIGKILL": no record, nothing more written */
	call_journal_close(&j);

	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	start(&after, &j);
	CHECK_EQ_INT(call_tracker_restore(&after.t), 1);
	sync_alive(&after.t, 1000 + 100LL * 60);
	after.stop_after = 60;
	feed_capture(&after, on_msg);
	CHECK(after.last[0] != '\0');
	CHECK_EQ_STR(after.last, whole.last); /* field by field, partial included: nothing was missed */
	CHECK_EQ_INT(after.t.ncalls, 0);
	call_tracker_free(&after.t);
	call_journal_close(&j);
	remove_dir(dir);
	jw_free(&whole.w);
	jw_free(&before.w);
	jw_free(&after.w);
	glob_list_free(&contexts);
}

/* ---- audit-3 N10: damaged and crafted journals ---- */

struct raw_state {
	char id[JOURNAL_ID_MAX];
	unsigned char *bytes;
	size_t len;
};

static void take_raw(void *ctx, const char *id, const void *state, size_t len)
{
	struct raw_state *r = ctx;
	snprintf(r->id, sizeof(r->id), "%s", id);
	free(r->bytes);
	r->bytes = malloc(len);
	if (r->bytes)
		memcpy(r->bytes, state, len);
	r->len = len;
}

/* The image of capture 10's call, cut after its answer. */
static void real_image(struct raw_state *raw)
{
	char dir[64], err[256];
	struct call_journal j;
	struct run before = {0};

	glob_list_parse(&contexts, "from-pstn");
	CHECK(temp_dir(dir) != NULL);
	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	start(&before, &j);
	before.stop_after = 60;
	feed_capture(&before, on_msg_before);
	call_tracker_journal_flush(&before.t);
	call_tracker_free(&before.t);
	call_journal_each(&j, take_raw, raw);
	call_journal_close(&j);
	remove_dir(dir);
	jw_free(&before.w);
	glob_list_free(&contexts);
}

/* A journal holding one image; how many calls a new tracker restores. */
static int restore_image(const char *id, const unsigned char *bytes, size_t len, uint64_t *unrestored)
{
	char dir[64], err[256];
	struct call_journal j;
	struct run after = {0};

	CHECK(temp_dir(dir) != NULL);
	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	CHECK(call_journal_put(&j, id, bytes, len) == 0);
	call_journal_close(&j);
	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	start(&after, &j);
	int n = (int)call_tracker_restore(&after.t);
	*unrestored = after.t.calls_unrestored;
	call_tracker_free(&after.t);
	call_journal_close(&j);
	remove_dir(dir);
	jw_free(&after.w);
	return n;
}

void test_journal_a_crafted_image_is_not_restored(void)
{
	struct raw_state raw = {0};
	uint64_t bad = 0;
	const size_t head = 16; /* struct call_image */

	real_image(&raw);
	CHECK(raw.bytes != NULL && raw.len > head + sizeof(struct call));
	if (raw.bytes == NULL)
		return;
	CHECK_EQ_INT(restore_image(raw.id, raw.bytes, raw.len, &bad), 1); /* as written: restored */
	unsigned char *b = malloc(raw.len);
	struct {
		size_t at, size; /* size 0: a number of the width of value's field */
		int64_t value;
		int wide;
	} harm[] = {
	    {offsetof(struct call, nrung), 0, 100000, 0}, /* the audit's */
	    {offsetof(struct call, nrung), 0, -1, 0},
	    {offsetof(struct call, legs), 0, -5, 0},
	    {offsetof(struct call, started_ms), 0, -1000, 1},
	    /* strings with no NUL inside their arrays */
	    {offsetof(struct call, external_name), CT_LABEL_MAX, 0, 0},
	    {offsetof(struct call, rung) + CT_ENDPOINT_MAX * 7, CT_ENDPOINT_MAX, 0, 0},
	    {sizeof(struct call) + offsetof(struct ct_channel, name), CT_NAME_MAX, 0, 0},
	};
	for (size_t i = 0; b && i < sizeof(harm) / sizeof(harm[0]); i++) {
		memcpy(b, raw.bytes, raw.len);
		unsigned char *f = b + head + harm[i].at;
		int narrow = (int)harm[i].value;
		if (harm[i].size > 0)
			memset(f, 'A', harm[i].size);
		else if (harm[i].wide)
			memcpy(f, &harm[i].value, sizeof(harm[i].value));
		else
			memcpy(f, &narrow, sizeof(narrow));
		bad = 0;
		int n = restore_image(raw.id, b, raw.len, &bad);
		if (n != 0 || bad != 1) {
			fprintf(stderr, "  harm %zu: restored %d, unrestored %llu\n", i, n, (unsigned long long)bad);
			unit_failures++;
		}
	}
	free(b);
	free(raw.bytes);
}

void test_journal_damage_inside_is_skipped_not_cut(void)
{
	char dir[64], err[256], path[128];
	struct call_journal j;
	struct seen s = {0};

	CHECK(temp_dir(dir) != NULL);
	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	CHECK(call_journal_put(&j, "1.1", "one", 3) == 0);
	CHECK(call_journal_put(&j, "2.1", "two", 3) == 0);
	call_journal_end(&j, "2.1");
	call_journal_emitted_durable(&j);
	CHECK(call_journal_put(&j, "3.1", "three", 5) == 0);
	call_journal_close(&j);
	/* a byte of the first entry's body flipped: its CRC fails */
	snprintf(path, sizeof(path), "%s/calls.journal", dir);
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0 && pwrite(fd, "X", 1, 10) == 1);
	close(fd);
	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	call_journal_each(&j, collect, &s);
	CHECK_EQ_INT(s.n, 1); /* 3.1; 1.1 was in the damaged entry */
	CHECK_EQ_STR(s.ids[0], "3.1");
	CHECK(call_journal_was_emitted(&j, "2.1")); /* the 'E' after the damage is kept */
	CHECK(j.cut_bytes > 0);
	call_journal_close(&j);
	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	CHECK_EQ_INT(j.cut_bytes, 0); /* written again clean */
	CHECK(call_journal_was_emitted(&j, "2.1"));
	call_journal_close(&j);
	remove_dir(dir);
}

void test_journal_keeps_no_more_calls_than_tracked(void)
{
	char dir[64], err[256], id[32];
	struct call_journal j;

	CHECK(temp_dir(dir) != NULL);
	CHECK(call_journal_open(&j, dir, 20000, err, sizeof(err)) == 0);
	for (int i = 0; i < 50; i++) {
		snprintf(id, sizeof(id), "%d.1", i);
		CHECK(call_journal_put(&j, id, "", 0) == 0);
	}
	call_journal_close(&j);
	CHECK(call_journal_open(&j, dir, 10, err, sizeof(err)) == 0);
	CHECK_EQ_INT(j.nlive, 10);
	CHECK_EQ_INT(j.over_cap, 40);
	call_journal_close(&j);
	remove_dir(dir);
}
