#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "crc32.h"
#include "log.h"

#define HDR           9             /* type, body length, CRC-32 */
#define BODY_MAX      (1024 * 1024) /* a record is a few hundred bytes */
#define COMPACT_MIN   (16u << 20)
#define RESEND_CAP_MS (3600 * 1000)
#define WRITE_IOV_MAX 1024
#define SCAN_WINDOW   (64 * 1024)

struct outbox_io outbox_io = {pwritev, pread, fdatasync, ftruncate};

static void set_error(struct outbox *o, const char *what)
{
	snprintf(o->last_error, sizeof(o->last_error), "%s %s: %s", what, o->path, strerror(errno ? errno : EIO));
}

/* An entry as it goes to disk: header, a (the id with its NUL), b (the
 * payload), and one NUL past the end (not written) so the payload reads
 * as a string. */
static unsigned char *encode(char type, const void *a, size_t alen, const void *b, size_t blen)
{
	unsigned char *p = malloc(HDR + alen + blen + 1);

	if (p == NULL)
		return NULL;
	p[0] = (unsigned char)type;
	put_be32(p + 1, (uint32_t)(alen + blen));
	put_be32(p + 5, crc32_update(crc32_update(0, a, alen), b, blen));
	memcpy(p + HDR, a, alen);
	if (blen)
		memcpy(p + HDR + alen, b, blen);
	p[HDR + alen + blen] = '\0';
	return p;
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

/* Bytes the entry takes in the log: header, id and NUL, payload. */
static uint64_t entry_bytes(const struct outbox *o, size_t i)
{
	return HDR + strlen(id_of(o, i)) + 1 + o->e[i].len;
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

/* mem: the encoded entry while it waits for the disk, else NULL (offset). */
static int add_entry(struct outbox *o, const char *id, uint64_t offset, uint32_t len, char *mem)
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
	o->e[o->n] = (struct outbox_entry){offset, len, (uint32_t)o->ids_len, 0, clock_mono_ms(), 0, 0, mem};
	o->ids_len += idl;
	o->n++;
	o->pending++;
	if (mem)
		o->mem_bytes += entry_bytes(o, o->n - 1);
	else
		o->disk_live += entry_bytes(o, o->n - 1);
	if (o->n * 2 > o->nslots)
		return rehash(o, o->n); /* indexes the new entry too */
	index_entry(o, o->n - 1);
	return 0;
}

static void mark_retired(struct outbox *o, size_t i)
{
	struct outbox_entry *e = &o->e[i];

	e->retired = 1;
	o->pending--;
	if (e->mem) {
		o->mem_bytes -= entry_bytes(o, i);
		free(e->mem);
		e->mem = NULL;
	} else {
		o->disk_live -= entry_bytes(o, i);
	}
	o->retired++;
	while (o->head < o->n && o->e[o->head].retired)
		o->head++;
}

/* Writes iov at off, whole or not at all: after a failure or a short write
 * the log is cut back to off, so a later write lands at the known end. */
static int write_whole(struct outbox *o, struct iovec *iov, int n, uint64_t off)
{
	while (n > 0) {
		errno = 0;
		ssize_t w = outbox_io.pwritev(o->fd, iov, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			set_error(o, "write");
			o->write_failures++;
			return -1;
		}
		off += (uint64_t)w;
		size_t left = (size_t)w;
		while (n > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

static void cut_back(struct outbox *o)
{
	int saved = errno;
	if (outbox_io.ftruncate(o->fd, (off_t)o->size) != 0)
		log_warn("outbox: cutting %s back to %llu bytes", o->path, (unsigned long long)o->size);
	errno = saved;
}

static void free_waiting(struct outbox *o)
{
	for (size_t i = o->on_disk; i < o->n; i++) {
		free(o->e[i].mem);
		o->e[i].mem = NULL;
	}
}

static void reset_index(struct outbox *o)
{
	free_waiting(o);
	o->n = o->head = o->pending = o->on_disk = 0;
	o->ids_len = 0;
	o->disk_live = o->mem_bytes = 0;
	o->retires_len = 0;
	if (o->slots)
		memset(o->slots, 0, o->nslots * sizeof(*o->slots));
}

/* Nothing pending: start the log afresh. */
static int empty_log(struct outbox *o)
{
	if (outbox_io.ftruncate(o->fd, 0) != 0) {
		set_error(o, "truncate");
		return -1;
	}
	o->size = 0;
	reset_index(o);
	return 0;
}

/* Is there a whole entry at off (header sane, body within the file, CRC
 * right)?  Its type, 0 if not, -1 if the disk failed to read (never taken
 * for damage: that would cut good records).  Its body goes to body. */
static int entry_at(struct outbox *o, uint64_t off, uint64_t file_size, char *body, uint32_t *len)
{
	unsigned char hdr[HDR];

	if (off + HDR > file_size)
		return 0;
	if (outbox_io.pread(o->fd, hdr, HDR, (off_t)off) != HDR)
		return -1;
	*len = get_be32(hdr + 1);
	if ((hdr[0] != 'R' && hdr[0] != 'A') || *len == 0 || *len > BODY_MAX || off + HDR + *len > file_size)
		return 0;
	if (outbox_io.pread(o->fd, body, *len, (off_t)(off + HDR)) != (ssize_t)*len)
		return -1;
	if (crc32_update(0, body, *len) != get_be32(hdr + 5))
		return 0;
	/* an id, then (for a record) a payload of text: the writer never puts
	 * a NUL inside one, so a body with one is damage however its CRC reads */
	size_t idl = strnlen(body, *len);
	if (idl == 0 || (hdr[0] == 'R' && (idl >= *len || memchr(body + idl + 1, '\0', *len - idl - 1) != NULL)) ||
	    (hdr[0] == 'A' && idl != *len - 1))
		return 0;
	return hdr[0];
}

/* The first offset after off where a whole entry starts, file_size if
 * none, or 0 if the disk failed to read. */
static uint64_t next_entry(struct outbox *o, uint64_t off, uint64_t file_size, char *body)
{
	unsigned char win[SCAN_WINDOW];
	uint32_t len;

	for (uint64_t base = off + 1; base < file_size; base += SCAN_WINDOW - HDR) {
		size_t want = file_size - base < sizeof(win) ? (size_t)(file_size - base) : sizeof(win);
		if (outbox_io.pread(o->fd, win, want, (off_t)base) != (ssize_t)want)
			return 0;
		for (size_t k = 0; k < want; k++) {
			if (win[k] != 'R' && win[k] != 'A')
				continue;
			int t = entry_at(o, base + k, file_size, body, &len);
			if (t < 0)
				return 0;
			if (t > 0)
				return base + k;
		}
		if (want < sizeof(win))
			break;
	}
	return file_size;
}

static int load_entry(struct outbox *o, int type, char *body, uint32_t len, uint64_t off)
{
	if (type == 'R') {
		size_t idl = strlen(body) + 1;
		return add_entry(o, body, off + HDR + idl, (uint32_t)(len - idl), NULL);
	}
	long i = find(o, body);
	if (i >= 0)
		mark_retired(o, (size_t)i);
	return 0;
}

static int load(struct outbox *o)
{
	char *body = malloc(BODY_MAX + 1);
	uint64_t off = 0, file_size;
	struct stat st;
	uint32_t len;

	if (body == NULL || fstat(o->fd, &st) != 0) {
		free(body);
		return -1;
	}
	file_size = (uint64_t)st.st_size;
	errno = 0;
	while (off < file_size) {
		int type = entry_at(o, off, file_size, body, &len);
		if (type > 0) {
			if (load_entry(o, type, body, len, off) < 0)
				break;
			off += HDR + len;
			continue;
		}
		if (type < 0)
			break;
		uint64_t next = next_entry(o, off, file_size, body);
		if (next == 0)
			break;
		if (next == file_size) {
			o->torn_bytes = file_size - off;
			log_warnx("outbox: %s: cut %llu bytes of a torn tail at offset %llu", o->path,
			          (unsigned long long)o->torn_bytes, (unsigned long long)off);
			if (outbox_io.ftruncate(o->fd, (off_t)off) != 0)
				break;
			file_size = off;
			break;
		}
		/* Damage in the middle: skip it, keep every whole entry after it. */
		o->skipped_bytes += next - off;
		log_warnx("outbox: %s: skipped %llu damaged bytes at offset %llu; the entries after them are kept",
		          o->path, (unsigned long long)(next - off), (unsigned long long)off);
		off = next;
	}
	free(body);
	if (off < file_size) {
		/* a read or truncate failed: refuse to start rather than guess */
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	o->size = file_size;
	o->on_disk = o->n;
	return o->pending == 0 ? empty_log(o) : 0;
}

int outbox_open(struct outbox *o, const char *dir, uint64_t max_bytes, uint64_t mem_max, int64_t resend_ms, char *err,
                size_t errsz)
{
	memset(o, 0, sizeof(*o));
	o->max_bytes = max_bytes;
	o->mem_max = mem_max;
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
		free(o->e);
		free(o->ids);
		free(o->slots);
		memset(o, 0, sizeof(*o));
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
		if (outbox_sync(o) < 0 && o->pending)
			log_warnx(
			    "outbox: closing with %zu record(s) pending, of which %llu bytes never reached the disk "
			    "(%s)",
			    o->pending, (unsigned long long)o->mem_bytes, o->last_error);
		close(o->fd);
	}
	free_waiting(o);
	free(o->e);
	free(o->ids);
	free(o->slots);
	free(o->retires);
	memset(o, 0, sizeof(*o));
	o->fd = -1;
}

int outbox_high_water(struct outbox *o)
{
	unsigned fill = outbox_fill_percent(o);

	if (fill >= 80 && !o->high_warned) {
		o->high_warned = 1;
		return 1;
	}
	if (fill < 70)
		o->high_warned = 0;
	return 0;
}

unsigned outbox_fill_percent(const struct outbox *o)
{
	uint64_t disk = o->max_bytes ? o->size * 100 / o->max_bytes : 0;
	uint64_t mem = o->mem_max ? o->mem_bytes * 100 / o->mem_max : 0;
	if (o->blocked && disk < 100)
		disk = 100;
	return (unsigned)(disk > mem ? disk : mem);
}

int outbox_append(struct outbox *o, const char *id, const char *payload, size_t len)
{
	size_t idl = strlen(id) + 1;
	char *mem;

	if (o->fd < 0 || len + idl > BODY_MAX || memchr(payload, '\0', len) != NULL ||
	    o->mem_bytes + HDR + idl + len > o->mem_max) {
		o->refused++;
		return -1;
	}
	mem = (char *)encode('R', id, idl, payload, len);
	if (mem == NULL || add_entry(o, id, 0, (uint32_t)len, mem) < 0) {
		if (mem != NULL && (o->n == 0 || o->e[o->n - 1].mem != mem))
			free(mem);
		o->refused++;
		return -1;
	}
	o->appended++;
	return 0;
}

/* Copies the pending records on disk into a new log and swaps it in. */
static int compact(struct outbox *o)
{
	char tmp[sizeof(o->path) + 8];
	char *buf = malloc(HDR + BODY_MAX + 1);
	uint64_t *offs = calloc(o->on_disk + 1, sizeof(*offs));
	uint64_t at = 0;
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.new", o->path);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	for (size_t i = o->head; fd >= 0 && buf && offs && rc == 0 && i < o->on_disk; i++) {
		if (o->e[i].retired)
			continue;
		size_t idl = strlen(id_of(o, i)) + 1;
		size_t whole = HDR + idl + o->e[i].len;
		struct iovec iov = {buf, whole};
		if (outbox_io.pread(o->fd, buf, whole, (off_t)(o->e[i].offset - idl - HDR)) != (ssize_t)whole)
			rc = -1;
		else if (outbox_io.pwritev(fd, &iov, 1, (off_t)at) != (ssize_t)whole)
			rc = -1;
		offs[i] = at + HDR + idl;
		at += whole;
	}
	if (fd < 0 || !buf || !offs || rc < 0 || outbox_io.fdatasync(fd) != 0 || rename(tmp, o->path) != 0) {
		set_error(o, "compact");
		free(buf);
		free(offs);
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		return -1;
	}
	free(buf);
	close(o->fd);
	o->fd = fd;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		log_warn("outbox: lock %s", o->path);
	/* the rename must reach the disk too */
	char dir[sizeof(o->path)];
	snprintf(dir, sizeof(dir), "%s", o->path);
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	/* Re-index: the kept records at their new offsets, the waiting after. */
	struct outbox old = *o;
	o->e = NULL;
	o->ids = NULL;
	o->slots = NULL;
	o->n = o->cap = o->head = o->pending = o->on_disk = o->ids_len = o->ids_cap = o->nslots = 0;
	o->disk_live = o->mem_bytes = 0;
	o->retires_len = 0;
	o->size = at;
	rc = rehash(o, old.pending);
	for (size_t i = old.head; rc == 0 && i < old.n; i++) {
		struct outbox_entry *e = &old.e[i];
		if (e->retired)
			continue;
		rc = add_entry(o, old.ids + e->id_off, e->mem ? 0 : offs[i], e->len, e->mem);
		if (rc < 0)
			break;
		o->e[o->n - 1].sent_ms = e->sent_ms;
		o->e[o->n - 1].added_ms = e->added_ms;
		o->e[o->n - 1].attempts = e->attempts;
		e->mem = NULL;
		if (i < old.on_disk)
			o->on_disk = o->n;
	}
	for (size_t i = old.head; i < old.n; i++)
		free(old.e[i].mem); /* only after a failure: records not carried over */
	free(offs);
	free(old.e);
	free(old.ids);
	free(old.slots);
	return rc;
}

static int should_compact(const struct outbox *o)
{
	uint64_t min = o->max_bytes / 2 < COMPACT_MIN ? o->max_bytes / 2 : COMPACT_MIN;
	return o->size > 0 && o->disk_live * 2 < o->size && (o->size >= min || o->blocked);
}

/* An 'A' entry written straight into the buffer of retirements (one
 * allocation per growth, not one per ack). */
static int queue_retire(struct outbox *o, const char *id)
{
	size_t idl = strlen(id) + 1;

	if (o->retires_len + HDR + idl > o->retires_cap) {
		size_t ncap = o->retires_cap ? o->retires_cap * 2 : 4096;
		while (ncap < o->retires_len + HDR + idl)
			ncap *= 2;
		unsigned char *nr = realloc(o->retires, ncap);
		if (nr == NULL)
			return -1;
		o->retires = nr;
		o->retires_cap = ncap;
	}
	unsigned char *p = o->retires + o->retires_len;
	p[0] = 'A';
	put_be32(p + 1, (uint32_t)idl);
	put_be32(p + 5, crc32_update(0, id, idl));
	memcpy(p + HDR, id, idl);
	o->retires_len += HDR + idl;
	return 0;
}

/* After a write and sync of `total` bytes at o->size: the waiting entries
 * [on_disk, upto) are on disk now. */
static void landed(struct outbox *o, size_t upto, uint64_t total)
{
	uint64_t at = o->size + o->retires_len;

	for (size_t i = o->on_disk; i < upto; i++) {
		struct outbox_entry *e = &o->e[i];
		if (e->retired)
			continue;
		uint64_t whole = entry_bytes(o, i);
		e->offset = at + whole - e->len;
		at += whole;
		o->mem_bytes -= whole;
		o->disk_live += whole;
		free(e->mem);
		e->mem = NULL;
	}
	o->size += total;
	o->on_disk = upto;
	o->retires_len = 0;
}

/* One write of the queued retirements and of the waiting records that fit
 * under max_bytes; synced; or the log cut back as it was. */
static int write_waiting(struct outbox *o)
{
	struct iovec iov[WRITE_IOV_MAX];
	int n = 0;
	uint64_t total = 0;
	size_t i = o->on_disk;

	if (o->retires_len) {
		iov[n++] = (struct iovec){o->retires, o->retires_len};
		total += o->retires_len;
	}
	o->blocked = 0;
	for (; i < o->n && n < WRITE_IOV_MAX; i++) {
		if (o->e[i].retired)
			continue;
		uint64_t whole = entry_bytes(o, i);
		if (o->size + total + whole > o->max_bytes) {
			o->blocked = 1;
			break;
		}
		iov[n++] = (struct iovec){o->e[i].mem, whole};
		total += whole;
	}
	if (total == 0) {
		o->on_disk = i;
		return 0;
	}
	if (write_whole(o, iov, n, o->size) < 0) {
		cut_back(o);
		return -1;
	}
	if (outbox_io.fdatasync(o->fd) != 0) {
		/* What the kernel failed to write may be gone from its cache
		 * too: cut back and write it again from memory next time. */
		set_error(o, "fdatasync");
		o->write_failures++;
		cut_back(o);
		return -1;
	}
	landed(o, i, total);
	return 0;
}

int outbox_sync(struct outbox *o)
{
	if (o->fd < 0)
		return -1;
	/* Nothing pending: no retirement needs writing, the log starts afresh
	 * (this also frees a disk the log itself filled). */
	if (o->pending == 0) {
		o->blocked = o->disk_failing = 0;
		return o->size > 0 || o->retires_len ? empty_log(o) : 0;
	}
	if (should_compact(o) && compact(o) < 0)
		log_warnx("outbox: compaction failed (%s); going on with the old log", o->last_error);
	while (o->on_disk < o->n || o->retires_len) {
		size_t before = o->on_disk;
		if (write_waiting(o) < 0) {
			/* Retirements are a saving, not a promise (a lost one means a
			 * record sent again, which the consumer absorbs): drop them
			 * so that they never stand in the way of a record. */
			o->retires_len = 0;
			o->disk_failing = 1;
			return -1;
		}
		if (o->blocked || o->on_disk == before)
			break;
	}
	o->disk_failing = 0;
	if (o->pending == 0 && o->size > 0)
		return empty_log(o);
	if (o->blocked)
		snprintf(o->last_error, sizeof(o->last_error),
		         "%s has reached outbox_max_bytes (%llu); %llu bytes of records wait in memory", o->path,
		         (unsigned long long)o->max_bytes, (unsigned long long)o->mem_bytes);
	return 0;
}

int outbox_retire(struct outbox *o, const char *id)
{
	long i = find(o, id);

	if (i < 0 || ((size_t)i >= o->on_disk && o->e[i].attempts == 0))
		return 0;
	/* The retirement need not be synced: if it is lost, the record is
	 * sent again and the consumer's idempotent insert absorbs it. */
	if (!o->e[i].mem && queue_retire(o, id) < 0)
		log_warnx("outbox: out of memory for a retirement of %s", o->path);
	mark_retired(o, (size_t)i);
	return 1;
}

void outbox_rewind(struct outbox *o)
{
	for (size_t i = o->head; i < o->n; i++) {
		o->e[i].sent_ms = 0;
		o->e[i].attempts = 0;
	}
}

static int64_t due_after(const struct outbox *o, const struct outbox_entry *e)
{
	int64_t t = o->resend_ms;
	for (uint32_t k = 1; k < e->attempts && t < RESEND_CAP_MS; k++)
		t *= 2;
	return t < RESEND_CAP_MS ? t : RESEND_CAP_MS;
}

static int send_entry(struct outbox *o, size_t i, outbox_send_fn send, void *ctx)
{
	struct outbox_entry *e = &o->e[i];

	if (e->mem)
		return send(ctx, id_of(o, i), e->mem + entry_bytes(o, i) - e->len, e->len);
	char *buf = malloc((size_t)e->len + 1);
	if (buf == NULL)
		return -1;
	if (outbox_io.pread(o->fd, buf, e->len, (off_t)e->offset) != (ssize_t)e->len) {
		set_error(o, "read");
		free(buf);
		return -1;
	}
	buf[e->len] = '\0';
	int rc = send(ctx, id_of(o, i), buf, e->len);
	free(buf);
	return rc;
}

size_t outbox_pump(struct outbox *o, int64_t now_ms, size_t window, outbox_send_fn send, void *ctx)
{
	size_t outstanding = 0, sent = 0;
	/* waiting records go out from memory only while the disk refuses them */
	size_t end = o->disk_failing || o->blocked ? o->n : o->on_disk;

	for (size_t i = o->head; i < end && outstanding < window; i++) {
		struct outbox_entry *e = &o->e[i];
		if (e->retired)
			continue;
		if (e->sent_ms != 0 && now_ms - e->sent_ms < due_after(o, e)) {
			outstanding++;
			continue;
		}
		if (send_entry(o, i, send, ctx) != 0)
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

int64_t outbox_oldest_pending_ms(const struct outbox *o)
{
	for (size_t i = o->head; i < o->n; i++)
		if (!o->e[i].retired)
			return o->e[i].added_ms;
	return 0;
}
