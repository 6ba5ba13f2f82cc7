#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define HDR           9             /* type, body length, CRC-32 */
#define BODY_MAX      (1024 * 1024) /* a record is a few hundred bytes */
#define COMPACT_MIN   (16u << 20)
#define RESEND_CAP_MS (3600 * 1000)

static uint32_t crc32_of(const void *data, size_t len)
{
	static uint32_t table[256];
	const unsigned char *p = data;
	uint32_t c = 0xffffffffu;

	if (table[1] == 0) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;
			for (int k = 0; k < 8; k++)
				v = (v & 1) ? 0xedb88320u ^ (v >> 1) : v >> 1;
			table[i] = v;
		}
	}
	for (size_t i = 0; i < len; i++)
		c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603u;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211u;
	return h;
}

static const char *id_of(const struct outbox *o, size_t i)
{
	return o->ids + o->e[i].id_off;
}

static void index_entry(struct outbox *o, size_t i)
{
	size_t s = hash_str(id_of(o, i)) & (o->nslots - 1);
	while (o->slots[s] != 0)
		s = (s + 1) & (o->nslots - 1);
	o->slots[s] = (uint32_t)(i + 1);
}

static int rehash(struct outbox *o, size_t want)
{
	size_t n = 1024;
	while (n < want * 2)
		n *= 2;
	uint32_t *slots = calloc(n, sizeof(*slots));
	if (slots == NULL)
		return -1;
	free(o->slots);
	o->slots = slots;
	o->nslots = n;
	for (size_t i = 0; i < o->n; i++)
		if (!o->e[i].retired)
			index_entry(o, i);
	return 0;
}

/* The pending entry with this id, or -1.  An id sent twice (a repeat of
 * the same call) is found once per pending copy, oldest first. */
static long find(const struct outbox *o, const char *id)
{
	if (o->nslots == 0)
		return -1;
	size_t s = hash_str(id) & (o->nslots - 1);
	for (; o->slots[s] != 0; s = (s + 1) & (o->nslots - 1)) {
		size_t i = o->slots[s] - 1;
		if (!o->e[i].retired && strcmp(id_of(o, i), id) == 0)
			return (long)i;
	}
	return -1;
}

static int add_entry(struct outbox *o, const char *id, uint64_t offset, uint32_t len)
{
	size_t idl = strlen(id) + 1;

	if (o->n == o->cap) {
		size_t ncap = o->cap ? o->cap * 2 : 256;
		struct outbox_entry *ne = realloc(o->e, ncap * sizeof(*ne));
		if (ne == NULL)
			return -1;
		o->e = ne;
		o->cap = ncap;
	}
	if (o->ids_len + idl > o->ids_cap) {
		size_t ncap = o->ids_cap ? o->ids_cap * 2 : 16384;
		while (ncap < o->ids_len + idl)
			ncap *= 2;
		char *ni = realloc(o->ids, ncap);
		if (ni == NULL)
			return -1;
		o->ids = ni;
		o->ids_cap = ncap;
	}
	memcpy(o->ids + o->ids_len, id, idl);
	o->e[o->n] = (struct outbox_entry){offset, len, (uint32_t)o->ids_len, 0, 0, 0};
	o->ids_len += idl;
	o->n++;
	o->pending++;
	o->live_bytes += len;
	if (o->n * 2 > o->nslots)
		return rehash(o, o->n); /* indexes the new entry too */
	index_entry(o, o->n - 1);
	return 0;
}

static void mark_retired(struct outbox *o, size_t i)
{
	o->e[i].retired = 1;
	o->pending--;
	o->live_bytes -= o->e[i].len;
	o->retired++;
	while (o->head < o->n && o->e[o->head].retired)
		o->head++;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* type + length + crc, then body parts a and b */
static int append_raw(struct outbox *o, char type, const void *a, size_t alen, const void *b, size_t blen)
{
	unsigned char hdr[HDR];
	uint32_t crc = crc32_of(a, alen);

	if (blen) {
		/* CRC over the concatenation, without copying it */
		unsigned char *tmp = malloc(alen + blen);
		if (tmp == NULL)
			return -1;
		memcpy(tmp, a, alen);
		memcpy(tmp + alen, b, blen);
		crc = crc32_of(tmp, alen + blen);
		free(tmp);
	}
	hdr[0] = (unsigned char)type;
	put32(hdr + 1, (uint32_t)(alen + blen));
	put32(hdr + 5, crc);
	if (write_all(o->fd, hdr, HDR) < 0 || write_all(o->fd, a, alen) < 0 ||
	    (blen && write_all(o->fd, b, blen) < 0)) {
		snprintf(o->last_error, sizeof(o->last_error), "write %s: %s", o->path, strerror(errno));
		return -1;
	}
	o->size += HDR + alen + blen;
	return 0;
}

static void reset_index(struct outbox *o)
{
	o->n = o->head = o->pending = o->synced_upto = 0;
	o->ids_len = 0;
	o->live_bytes = 0;
	if (o->slots)
		memset(o->slots, 0, o->nslots * sizeof(*o->slots));
}

/* Nothing pending: start the log afresh. */
static int empty_log(struct outbox *o)
{
	if (ftruncate(o->fd, 0) != 0 || lseek(o->fd, 0, SEEK_SET) != 0) {
		snprintf(o->last_error, sizeof(o->last_error), "truncate %s: %s", o->path, strerror(errno));
		return -1;
	}
	o->size = 0;
	reset_index(o);
	return 0;
}

static int load(struct outbox *o)
{
	unsigned char hdr[HDR];
	char *body = malloc(BODY_MAX);
	uint64_t off = 0;

	if (body == NULL)
		return -1;
	for (;;) {
		ssize_t n = pread(o->fd, hdr, HDR, (off_t)off);
		if (n == 0)
			break;
		uint32_t len = n == HDR ? get32(hdr + 1) : 0;
		if (n != HDR || (hdr[0] != 'R' && hdr[0] != 'A') || len == 0 || len > BODY_MAX ||
		    pread(o->fd, body, len, (off_t)(off + HDR)) != (ssize_t)len ||
		    crc32_of(body, len) != get32(hdr + 5))
			break; /* a torn or damaged tail: cut below */
		if (hdr[0] == 'R') {
			size_t idl = strnlen(body, len);
			if (idl == 0 || idl >= len)
				break;
			if (add_entry(o, body, off + HDR + idl + 1, (uint32_t)(len - idl - 1)) < 0) {
				free(body);
				return -1;
			}
		} else {
			body[len - 1] = '\0';
			long i = find(o, body);
			if (i >= 0)
				mark_retired(o, (size_t)i);
		}
		off += HDR + len;
	}
	free(body);
	struct stat st;
	if (fstat(o->fd, &st) == 0 && (uint64_t)st.st_size > off) {
		o->torn_bytes = (uint64_t)st.st_size - off;
		log_warnx("outbox: %s: cut %llu bytes of a torn or damaged tail at offset %llu", o->path,
		          (unsigned long long)o->torn_bytes, (unsigned long long)off);
		if (ftruncate(o->fd, (off_t)off) != 0)
			return -1;
	}
	o->size = off;
	o->synced_upto = o->n;
	if (lseek(o->fd, (off_t)off, SEEK_SET) < 0)
		return -1;
	return o->pending == 0 ? empty_log(o) : 0;
}

int outbox_open(struct outbox *o, const char *dir, uint64_t max_bytes, int64_t resend_ms, char *err, size_t errsz)
{
	memset(o, 0, sizeof(*o));
	o->max_bytes = max_bytes;
	o->resend_ms = resend_ms;
	snprintf(o->path, sizeof(o->path), "%s/outbox.log", dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errsz, "outbox_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	o->fd = open(o->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (o->fd >= 0 && flock(o->fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errsz, "outbox %s is in use by another pbxbus-bridge", o->path);
		close(o->fd);
		o->fd = -1;
		return -1;
	}
	if (o->fd < 0 || rehash(o, 0) < 0 || load(o) < 0) {
		snprintf(err, errsz, "outbox %s: %s", o->path, strerror(errno));
		if (o->fd >= 0)
			close(o->fd);
		o->fd = -1;
		return -1;
	}
	if (o->pending)
		log_info("outbox: %zu record(s) pending from before; they are sent again, in order", o->pending);
	return 0;
}

void outbox_close(struct outbox *o)
{
	if (o->fd >= 0) {
		outbox_sync(o);
		close(o->fd);
	}
	free(o->e);
	free(o->ids);
	free(o->slots);
	memset(o, 0, sizeof(*o));
	o->fd = -1;
}

unsigned outbox_fill_percent(const struct outbox *o)
{
	return o->max_bytes ? (unsigned)(o->size * 100 / o->max_bytes) : 0;
}

int outbox_append(struct outbox *o, const char *id, const char *payload, size_t len)
{
	size_t idl = strlen(id) + 1;

	if (o->fd < 0 || o->size + HDR + idl + len > o->max_bytes || len + idl > BODY_MAX) {
		o->refused++;
		return -1;
	}
	uint64_t payload_off = o->size + HDR + idl;
	if (append_raw(o, 'R', id, idl, payload, len) < 0 || add_entry(o, id, payload_off, (uint32_t)len) < 0) {
		o->refused++;
		return -1;
	}
	o->appended++;
	o->unsynced = 1;
	return 0;
}

/* Mostly retired and big: write the pending records to a new log. */
static int compact(struct outbox *o)
{
	char tmp[sizeof(o->path) + 8];
	char *buf = malloc(BODY_MAX);
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.new", o->path);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || buf == NULL) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct outbox fresh = *o;
	fresh.fd = fd;
	fresh.size = 0;
	fresh.e = NULL;
	fresh.ids = NULL;
	fresh.slots = NULL;
	fresh.n = fresh.cap = fresh.head = fresh.pending = fresh.ids_len = fresh.ids_cap = fresh.nslots = 0;
	fresh.live_bytes = 0;
	int rc = rehash(&fresh, o->pending);
	for (size_t i = o->head; rc == 0 && i < o->n; i++) {
		const struct outbox_entry *e = &o->e[i];
		if (e->retired)
			continue;
		if (pread(o->fd, buf, e->len, (off_t)e->offset) != (ssize_t)e->len ||
		    outbox_append(&fresh, id_of(o, i), buf, e->len) < 0) {
			rc = -1;
			break;
		}
		fresh.e[fresh.n - 1].sent_ms = e->sent_ms;
		fresh.e[fresh.n - 1].attempts = e->attempts;
	}
	free(buf);
	if (rc == 0 && fdatasync(fd) == 0 && rename(tmp, o->path) == 0) {
		close(o->fd);
		free(o->e);
		free(o->ids);
		free(o->slots);
		fresh.unsynced = 0;
		fresh.synced_upto = fresh.n;
		*o = fresh;
		return 0;
	}
	close(fd);
	unlink(tmp);
	free(fresh.e);
	free(fresh.ids);
	free(fresh.slots);
	return -1;
}

int outbox_sync(struct outbox *o)
{
	if (o->fd < 0)
		return -1;
	if (o->unsynced) {
		if (fdatasync(o->fd) != 0) {
			snprintf(o->last_error, sizeof(o->last_error), "fdatasync %s: %s", o->path, strerror(errno));
			return -1;
		}
		o->unsynced = 0;
		o->synced_upto = o->n;
	}
	if (o->pending == 0 && o->size > 0)
		return empty_log(o);
	if (o->size > COMPACT_MIN && o->live_bytes * 2 < o->size && compact(o) < 0)
		log_warn("outbox: compaction of %s failed; going on with the old log", o->path);
	return 0;
}

int outbox_retire(struct outbox *o, const char *id)
{
	long i = find(o, id);

	if (i < 0 || (size_t)i >= o->synced_upto)
		return 0;
	/* The retirement need not be synced: if it is lost, the record is
	 * sent again and the consumer's idempotent insert absorbs it. */
	if (append_raw(o, 'A', id, strlen(id) + 1, NULL, 0) < 0)
		log_warnx("outbox: %s", o->last_error);
	mark_retired(o, (size_t)i);
	o->unsynced = 1;
	return 1;
}

static int64_t due_after(const struct outbox *o, const struct outbox_entry *e)
{
	int64_t t = o->resend_ms;
	for (uint32_t k = 1; k < e->attempts && t < RESEND_CAP_MS; k++)
		t *= 2;
	return t < RESEND_CAP_MS ? t : RESEND_CAP_MS;
}

size_t outbox_pump(struct outbox *o, int64_t now_ms, size_t window, outbox_send_fn send, void *ctx)
{
	size_t outstanding = 0, sent = 0;

	for (size_t i = o->head; i < o->synced_upto && outstanding < window; i++) {
		struct outbox_entry *e = &o->e[i];
		if (e->retired)
			continue;
		if (e->sent_ms != 0 && now_ms - e->sent_ms < due_after(o, e)) {
			outstanding++;
			continue;
		}
		char *buf = malloc((size_t)e->len + 1);
		if (buf == NULL)
			break;
		if (pread(o->fd, buf, e->len, (off_t)e->offset) != (ssize_t)e->len) {
			snprintf(o->last_error, sizeof(o->last_error), "read %s: %s", o->path, strerror(errno));
			free(buf);
			break;
		}
		buf[e->len] = '\0';
		int rc = send(ctx, id_of(o, i), buf, e->len);
		free(buf);
		if (rc != 0)
			break;
		if (e->attempts > 0)
			o->resent++;
		e->sent_ms = now_ms;
		e->attempts++;
		outstanding++;
		sent++;
	}
	return sent;
}
