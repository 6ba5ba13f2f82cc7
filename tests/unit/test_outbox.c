#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outbox.h"
#include "unit.h"

struct sent_log {
	char ids[64][64];
	int n;
	int refuse_after;
};

static int record_send(void *ctx, const char *id, const char *payload, size_t len)
{
	struct sent_log *s = ctx;
	if (s->refuse_after >= 0 && s->n >= s->refuse_after)
		return -1;
	if (s->n < 64)
		snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", id);
	s->n++;
	/* the payload read back from disk is the one appended */
	if (strncmp(payload, "{\"call\":\"", 9) != 0 || strlen(payload) != len)
		unit_failures++;
	return 0;
}

static char *temp_dir(void)
{
	static char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/pbxbus-outbox-XXXXXX");
	return mkdtemp(dir);
}

static void append_n(struct outbox *o, int from, int to)
{
	char id[32], doc[64];
	for (int i = from; i < to; i++) {
		snprintf(id, sizeof(id), "pbx:%d.0", i);
		snprintf(doc, sizeof(doc), "{\"call\":\"%d\"}", i);
		CHECK(outbox_append(o, id, doc, strlen(doc)) == 0);
	}
}

void test_outbox_order_retire_and_restart(void)
{
	struct outbox o;
	struct sent_log s = {.refuse_after = -1};
	char err[256], *dir = temp_dir();

	CHECK(outbox_open(&o, dir, 1 << 20, 1000, err, sizeof(err)) == 0);
	append_n(&o, 0, 10);
	/* nothing is sent before it is synced */
	CHECK_EQ_INT(outbox_pump(&o, 1000, 100, record_send, &s), 0);
	CHECK(outbox_sync(&o) == 0);
	CHECK_EQ_INT(outbox_pump(&o, 1000, 4, record_send, &s), 4); /* the window */
	CHECK_EQ_STR(s.ids[0], "pbx:0.0");
	CHECK_EQ_STR(s.ids[3], "pbx:3.0");
	CHECK_EQ_INT(outbox_retire(&o, "pbx:1.0"), 1);
	CHECK_EQ_INT(outbox_retire(&o, "pbx:1.0"), 0);
	CHECK_EQ_INT(outbox_retire(&o, "other:1.0"), 0);
	CHECK_EQ_INT(outbox_pump(&o, 1001, 4, record_send, &s), 1);
	CHECK_EQ_STR(s.ids[4], "pbx:4.0");
	CHECK(outbox_sync(&o) == 0);
	outbox_close(&o);

	/* a restart: what is pending comes back, in order, and is sent again */
	s.n = 0;
	CHECK(outbox_open(&o, dir, 1 << 20, 1000, err, sizeof(err)) == 0);
	CHECK_EQ_INT(o.pending, 9);
	CHECK_EQ_INT(outbox_pump(&o, 5000, 100, record_send, &s), 9);
	CHECK_EQ_STR(s.ids[0], "pbx:0.0");
	CHECK_EQ_STR(s.ids[1], "pbx:2.0");
	CHECK_EQ_STR(s.ids[8], "pbx:9.0");
	/* not due again before the resend timeout, then due (1 s, doubling) */
	CHECK_EQ_INT(outbox_pump(&o, 5500, 100, record_send, &s), 0);
	CHECK_EQ_INT(outbox_pump(&o, 6000, 100, record_send, &s), 9);
	CHECK_EQ_INT(outbox_pump(&o, 7500, 100, record_send, &s), 0);
	CHECK_EQ_INT(outbox_pump(&o, 8000, 100, record_send, &s), 9);
	CHECK_EQ_INT(o.resent, 18);
	for (int i = 0; i < 10; i++) {
		char id[32];
		snprintf(id, sizeof(id), "pbx:%d.0", i);
		outbox_retire(&o, id);
	}
	CHECK_EQ_INT(o.pending, 0);
	CHECK(outbox_sync(&o) == 0);
	CHECK_EQ_INT(o.size, 0); /* emptied when nothing is pending */
	outbox_close(&o);
	CHECK(outbox_open(&o, dir, 1 << 20, 1000, err, sizeof(err)) == 0);
	CHECK_EQ_INT(o.pending, 0);
	outbox_close(&o);
}

void test_outbox_torn_tail_and_lock(void)
{
	struct outbox o, other;
	char err[256], path[128], *dir = temp_dir();

	CHECK(outbox_open(&o, dir, 1 << 20, 1000, err, sizeof(err)) == 0);
	CHECK(outbox_open(&other, dir, 1 << 20, 1000, err, sizeof(err)) < 0);
	CHECK(strstr(err, "in use by another") != NULL);
	append_n(&o, 0, 3);
	CHECK(outbox_sync(&o) == 0);
	uint64_t good = o.size;
	outbox_close(&o);
	/* a crash in the middle of an append: half an entry at the end */
	snprintf(path, sizeof(path), "%s/outbox.log", dir);
	int fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, "R\0\0\0\x20garbage", 12) == 12);
	close(fd);
	CHECK(outbox_open(&o, dir, 1 << 20, 1000, err, sizeof(err)) == 0);
	CHECK_EQ_INT(o.pending, 3);
	CHECK_EQ_INT(o.torn_bytes, 12);
	CHECK_EQ_INT(o.size, good);
	append_n(&o, 3, 4); /* appends after the cut are whole */
	CHECK(outbox_sync(&o) == 0);
	outbox_close(&o);
	CHECK(outbox_open(&o, dir, 1 << 20, 1000, err, sizeof(err)) == 0);
	CHECK_EQ_INT(o.pending, 4);
	CHECK_EQ_INT(o.torn_bytes, 0);
	outbox_close(&o);
}

void test_outbox_full_refuses_never_evicts(void)
{
	struct outbox o;
	char err[256], *dir = temp_dir();
	char doc[600];

	memset(doc, 'x', sizeof(doc));
	memcpy(doc, "{\"call\":\"", 9);
	CHECK(outbox_open(&o, dir, 4096, 1000, err, sizeof(err)) == 0);
	int ok = 0;
	for (int i = 0; i < 10; i++) {
		char id[32];
		snprintf(id, sizeof(id), "pbx:%d", i);
		ok += outbox_append(&o, id, doc, sizeof(doc)) == 0;
	}
	CHECK_EQ_INT(ok, 6);
	CHECK_EQ_INT(o.refused, 4);
	CHECK_EQ_INT(o.pending, 6); /* the older ones stay */
	CHECK(outbox_fill_percent(&o) >= 80);
	outbox_close(&o);
}
