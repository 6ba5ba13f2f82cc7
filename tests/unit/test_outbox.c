#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32.h"
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

	CHECK(outbox_open(&o, dir, 1 << 20, 1 << 20, 1000, err, sizeof(err)) == 0);
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
	CHECK(outbox_open(&o, dir, 1 << 20, 1 << 20, 1000, err, sizeof(err)) == 0);
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
	CHECK(outbox_open(&o, dir, 1 << 20, 1 << 20, 1000, err, sizeof(err)) == 0);
	CHECK_EQ_INT(o.pending, 0);
	outbox_close(&o);
}

void test_outbox_torn_tail_and_lock(void)
{
	struct outbox o, other;
	char err[256], path[128], *dir = temp_dir();

	CHECK(outbox_open(&o, dir, 1 << 20, 1 << 20, 1000, err, sizeof(err)) == 0);
	CHECK(outbox_open(&other, dir, 1 << 20, 1 << 20, 1000, err, sizeof(err)) < 0);
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
	CHECK(outbox_open(&o, dir, 1 << 20, 1 << 20, 1000, err, sizeof(err)) == 0);
	CHECK_EQ_INT(o.pending, 3);
	CHECK_EQ_INT(o.torn_bytes, 12);
	CHECK_EQ_INT(o.size, good);
	append_n(&o, 3, 4); /* appends after the cut are whole */
	CHECK(outbox_sync(&o) == 0);
	outbox_close(&o);
	CHECK(outbox_open(&o, dir, 1 << 20, 1 << 20, 1000, err, sizeof(err)) == 0);
	CHECK_EQ_INT(o.pending, 4);
	CHECK_EQ_INT(o.torn_bytes, 0);
	outbox_close(&o);
}

void test_outbox_full_refuses_never_evicts(void)
{
	struct outbox o;
	struct sent_log s = {.refuse_after = -1};
	char err[256], *dir = temp_dir();
	char doc[600];

	memset(doc, 'x', sizeof(doc));
	memcpy(doc, "{\"call\":\"", 9);
	/* a log bound of 4 KiB holds 6 records; memory holds 2 more */
	CHECK(outbox_open(&o, dir, 4096, 1300, 1000, err, sizeof(err)) == 0);
	int ok = 0;
	for (int i = 0; i < 10; i++) {
		char id[32];
		snprintf(id, sizeof(id), "pbx:%d", i);
		ok += outbox_append(&o, id, doc, sizeof(doc)) == 0;
		CHECK(outbox_sync(&o) == 0);
	}
	CHECK_EQ_INT(ok, 8);
	CHECK_EQ_INT(o.refused, 2);
	CHECK_EQ_INT(o.pending, 8); /* the older ones stay */
	CHECK(o.blocked);
	CHECK(outbox_fill_percent(&o) >= 100);
	/* the two waiting in memory go out too, so a broker restart loses none */
	CHECK_EQ_INT(outbox_pump(&o, 1000, 100, record_send, &s), 8);
	CHECK_EQ_STR(s.ids[7], "pbx:7");
	/* acks free the log: the waiting records are written, nothing is lost */
	for (int i = 0; i < 6; i++) {
		char id[32];
		snprintf(id, sizeof(id), "pbx:%d", i);
		CHECK_EQ_INT(outbox_retire(&o, id), 1);
	}
	CHECK(outbox_sync(&o) == 0);
	CHECK(!o.blocked);
	CHECK_EQ_INT(o.mem_bytes, 0);
	outbox_close(&o);
	CHECK(outbox_open(&o, dir, 4096, 1300, 1000, err, sizeof(err)) == 0);
	CHECK_EQ_INT(o.pending, 2);
	outbox_close(&o);
}

/* Fault injection: pwritev writes part of what it is given `shorts` times,
 * then fails with `err`; fdatasync fails while sync_fails is set; pread
 * while read_fails is. */
static struct {
	int err, shorts, sync_fails, read_fails;
} inj;

static ssize_t faulty_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	if (inj.err == 0)
		return pwritev(fd, iov, n, off);
	if (inj.shorts > 0) {
		/* part of the first buffer reaches the disk, then the disk is full */
		struct iovec part = {iov[0].iov_base, iov[0].iov_len / 2 + 1};
		inj.shorts--;
		return pwritev(fd, &part, 1, off);
	}
	errno = inj.err;
	return -1;
}

static int faulty_fdatasync(int fd)
{
	if (inj.sync_fails) {
		errno = EIO;
		return -1;
	}
	return fdatasync(fd);
}

static ssize_t faulty_pread(int fd, void *buf, size_t len, off_t off)
{
	if (inj.read_fails) {
		errno = EIO;
		return -1;
	}
	return pread(fd, buf, len, off);
}

static void faults_off(void)
{
	memset(&inj, 0, sizeof(inj));
}

static off_t file_size_of(const char *dir)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "%s/outbox.log", dir);
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Every record appended is there after the fault clears and a restart, in
 * order, payload intact; the log holds nothing but whole entries. */
static void check_all_kept(const char *dir, int n, int retired)
{
	struct outbox o;
	struct sent_log s = {.refuse_after = -1};
	char err[256], want[32];
	int before = unit_failures;

	CHECK(outbox_open(&o, dir, 1 << 20, 1 << 20, 1000, err, sizeof(err)) == 0);
	CHECK_EQ_INT(o.pending, n);
	CHECK_EQ_INT(o.torn_bytes, 0);
	CHECK_EQ_INT(o.skipped_bytes, 0);
	CHECK_EQ_INT(o.size, file_size_of(dir));
	CHECK_EQ_INT(outbox_pump(&o, 1000, 100, record_send, &s), n);
	for (int i = 0, k = 0; k < n && k < 64; i++) {
		if (i == retired)
			continue;
		snprintf(want, sizeof(want), "pbx:%d.0", i);
		CHECK_EQ_STR(s.ids[k], want);
		k++;
	}
	outbox_close(&o);
	if (unit_failures != before)
		fprintf(stderr, "  (in %s)\n", dir);
}

static void one_write_fault(int fail_errno, int shorts, int in_sync)
{
	struct outbox o;
	struct sent_log s = {.refuse_after = -1};
	char err[256], *dir = temp_dir();

	CHECK(outbox_open(&o, dir, 1 << 20, 1 << 20, 1000, err, sizeof(err)) == 0);
	append_n(&o, 0, 3);
	CHECK(outbox_sync(&o) == 0);
	off_t good = file_size_of(dir);
	CHECK_EQ_INT(outbox_pump(&o, 1000, 100, record_send, &s), 3);
	/* a retirement rides along with the next write */
	CHECK_EQ_INT(outbox_retire(&o, "pbx:1.0"), 1);
	append_n(&o, 3, 8);
	faults_off();
	if (in_sync) {
		inj.sync_fails = 1;
	} else {
		inj.err = fail_errno;
		inj.shorts = shorts;
	}
	CHECK(outbox_sync(&o) < 0);
	CHECK(o.disk_failing);
	CHECK(o.last_error[0] != '\0');
	/* the log is as it was: no torn bytes left behind */
	CHECK_EQ_INT(file_size_of(dir), good);
	CHECK_EQ_INT(o.size, good);
	/* while the disk refuses, the waiting records go out from memory */
	CHECK_EQ_INT(outbox_pump(&o, 1500, 100, record_send, &s), 5);
	CHECK_EQ_STR(s.ids[3], "pbx:3.0");
	append_n(&o, 8, 10); /* more arrive while the disk is failing */
	CHECK(outbox_sync(&o) < 0);
	faults_off();
	CHECK(outbox_sync(&o) == 0);
	CHECK(!o.disk_failing);
	CHECK_EQ_INT(o.mem_bytes, 0);
	outbox_close(&o);
	/* 10 appended; pbx:1.0's retirement went with the failed write (a
	 * retirement is a saving, never in a record's way): it comes back, to
	 * be sent again and absorbed by the consumer. */
	check_all_kept(dir, 10, -1);
}

void test_outbox_write_faults_lose_nothing(void)
{
	struct outbox_io saved = outbox_io;
	outbox_io.pwritev = faulty_pwritev;
	outbox_io.fdatasync = faulty_fdatasync;
	/* at the first write, after one short write, after two */
	for (int shorts = 0; shorts <= 2; shorts++) {
		one_write_fault(ENOSPC, shorts, 0);
		one_write_fault(EIO, shorts, 0);
	}
	one_write_fault(0, 0, 1); /* fdatasync fails: written, not trusted */
	outbox_io = saved;
	faults_off();
}

void test_outbox_load_read_error_keeps_the_log(void)
{
	struct outbox o;
	struct outbox_io saved = outbox_io;
	char err[256], *dir = temp_dir();

	CHECK(outbox_open(&o, dir, 1 << 20, 1 << 20, 1000, err, sizeof(err)) == 0);
	append_n(&o, 0, 4);
	CHECK(outbox_sync(&o) == 0);
	outbox_close(&o);
	off_t good = file_size_of(dir);
	outbox_io.pread = faulty_pread;
	inj.read_fails = 1;
	CHECK(outbox_open(&o, dir, 1 << 20, 1 << 20, 1000, err, sizeof(err)) < 0);
	CHECK(strstr(err, "Input/output error") != NULL);
	CHECK_EQ_INT(file_size_of(dir), good); /* nothing cut */
	outbox_io = saved;
	faults_off();
	check_all_kept(dir, 4, -1);
}

static void copy_log(const char *from, int to_fd)
{
	char path[128], buf[4096];
	snprintf(path, sizeof(path), "%s/outbox.log", from);
	int fd = open(path, O_RDONLY);
	ssize_t n;
	CHECK(fd >= 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		CHECK(write(to_fd, buf, (size_t)n) == n);
	close(fd);
}

void test_outbox_damage_in_the_middle_is_skipped(void)
{
	struct outbox o;
	char err[256], path[128], *a = strdup(temp_dir()), *b = strdup(temp_dir()), *dir = temp_dir();
	const char garbage[] = "R\0\0\0\x20torn-record-then-more";

	CHECK(outbox_open(&o, a, 1 << 20, 1 << 20, 1000, err, sizeof(err)) == 0);
	append_n(&o, 0, 3);
	CHECK(outbox_sync(&o) == 0);
	outbox_close(&o);
	CHECK(outbox_open(&o, b, 1 << 20, 1 << 20, 1000, err, sizeof(err)) == 0);
	append_n(&o, 3, 6);
	CHECK(outbox_sync(&o) == 0);
	outbox_close(&o);
	/* whole entries, a torn one, whole entries: the ones after it stay */
	snprintf(path, sizeof(path), "%s/outbox.log", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	copy_log(a, fd);
	CHECK(write(fd, garbage, sizeof(garbage) - 1) == (ssize_t)sizeof(garbage) - 1);
	copy_log(b, fd);
	close(fd);
	CHECK(outbox_open(&o, dir, 1 << 20, 1 << 20, 1000, err, sizeof(err)) == 0);
	CHECK_EQ_INT(o.pending, 6);
	CHECK_EQ_INT(o.skipped_bytes, sizeof(garbage) - 1);
	CHECK_EQ_INT(o.torn_bytes, 0);
	outbox_close(&o);
	free(a);
	free(b);
}

void test_outbox_rewind_makes_everything_due(void)
{
	struct outbox o;
	struct sent_log s = {.refuse_after = -1};
	char err[256], *dir = temp_dir();

	CHECK(outbox_open(&o, dir, 1 << 20, 1 << 20, 1000, err, sizeof(err)) == 0);
	append_n(&o, 0, 3);
	CHECK(outbox_sync(&o) == 0);
	CHECK_EQ_INT(outbox_pump(&o, 1000, 100, record_send, &s), 3);
	CHECK_EQ_INT(outbox_pump(&o, 2000, 100, record_send, &s), 3);
	CHECK_EQ_INT(outbox_pump(&o, 3500, 100, record_send, &s), 0); /* doubled: due at 4000 */
	outbox_rewind(&o);                                            /* the broker is back */
	CHECK_EQ_INT(outbox_pump(&o, 3500, 100, record_send, &s), 3);
	outbox_close(&o);
}

/* A record entry with a NUL inside its payload and a right CRC (a bad
 * disk or another writer; never ours): damage, skipped, the rest kept. */
void test_outbox_nul_in_a_payload_is_damage(void)
{
	struct outbox o;
	char err[256], path[128], *a = strdup(temp_dir()), *dir = temp_dir();
	const char body[] = "pbx:9.0\0{\"call\":\0\"9\"}";
	unsigned char entry[9 + sizeof(body) - 1];

	entry[0] = 'R';
	put_be32(entry + 1, sizeof(body) - 1);
	put_be32(entry + 5, crc32_update(0, body, sizeof(body) - 1));
	memcpy(entry + 9, body, sizeof(body) - 1);
	CHECK(outbox_open(&o, a, 1 << 20, 1 << 20, 1000, err, sizeof(err)) == 0);
	CHECK(outbox_append(&o, "pbx:8.0", "{\0}", 3) < 0); /* never written either */
	append_n(&o, 0, 2);
	CHECK(outbox_sync(&o) == 0);
	outbox_close(&o);
	snprintf(path, sizeof(path), "%s/outbox.log", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(write(fd, entry, sizeof(entry)) == (ssize_t)sizeof(entry));
	copy_log(a, fd);
	close(fd);
	CHECK(outbox_open(&o, dir, 1 << 20, 1 << 20, 1000, err, sizeof(err)) == 0);
	CHECK_EQ_INT(o.pending, 2);
	CHECK_EQ_INT(o.skipped_bytes, sizeof(entry));
	outbox_close(&o);
	free(a);
}
