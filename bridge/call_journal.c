#include "call_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32.h"
#include "log.h"

#define HDR                  9 /* type, body length, CRC-32 of the body */
#define COMPACT_MIN          (1u << 20)
#define SEEN_EVERY           1000
#define JOURNAL_RESYNC_BYTES (64u << 20) /* CRC work spent finding entries after damage, at most */

/* ---- the calls in memory ---- */

static size_t hash_id(const struct call_journal *j, const char *s)
{
	size_t h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % j->nbuckets;
}

static struct journal_call **slot_of(const struct call_journal *j, const char *id)
{
	struct journal_call **p = &j->buckets[hash_id(j, id)];
	while (*p && strcmp((*p)->id, id) != 0)
		p = &(*p)->next;
	return p;
}

static int keep_state(struct call_journal *j, const char *id, const void *state, size_t len)
{
	struct journal_call **p = slot_of(j, id), *c = *p;
	unsigned char *copy = malloc(len ? len : 1);

	if (copy == NULL)
		return -1;
	if (c == NULL && j->loading && j->nlive >= j->max_live) {
		free(copy); /* more calls than the tracker follows: not kept (a crafted file's million) */
		j->over_cap++;
		return 0;
	}
	memcpy(copy, state, len);
	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			free(copy);
			return -1;
		}
		memcpy(c->id, id, strlen(id) + 1);
		*p = c;
		j->nlive++;
	} else {
		j->live_bytes -= c->len;
		free(c->state);
	}
	c->state = copy;
	c->len = (uint32_t)len;
	j->live_bytes += len;
	return 0;
}

static void forget(struct call_journal *j, const char *id)
{
	struct journal_call **p = slot_of(j, id), *c = *p;

	if (c == NULL)
		return;
	*p = c->next;
	j->live_bytes -= c->len;
	j->nlive--;
	free(c->state);
	free(c);
}

static void note_emitted(struct call_journal *j, const char *id)
{
	memcpy(j->emitted[j->emitted_next], id, strlen(id) + 1);
	j->emitted_next = (j->emitted_next + 1) % JOURNAL_EMITTED_KEEP;
	if (j->emitted_n < JOURNAL_EMITTED_KEEP)
		j->emitted_n++;
}

static void compact(struct call_journal *j);

/* ---- entries ---- */

/* Writes one entry at the end of fd; 0, or -1 with the file cut back to
 * where it was, so the log never holds half an entry. */
static int write_entry(int fd, uint64_t *size, char type, const char *id, const void *body, size_t len)
{
	size_t idl = strlen(id) + 1, n = HDR + idl + len;
	unsigned char *p = malloc(n);

	if (p == NULL)
		return -1;
	p[0] = (unsigned char)type;
	put_be32(p + 1, (uint32_t)(idl + len));
	memcpy(p + HDR, id, idl);
	if (len)
		memcpy(p + HDR + idl, body, len);
	put_be32(p + 5, crc32_update(0, p + HDR, idl + len));
	ssize_t w = pwrite(fd, p, n, (off_t)*size);
	free(p);
	if (w == (ssize_t)n) {
		*size += n;
		return 0;
	}
	if (w > 0 && ftruncate(fd, (off_t)*size) < 0)
		log_warn("call journal: cutting back a short write");
	if (w >= 0)
		errno = ENOSPC;
	return -1;
}

static int append(struct call_journal *j, char type, const char *id, const void *body, size_t len)
{
	if (j->fd < 0)
		return -1;
	if (write_entry(j->fd, &j->size, type, id, body, len) < 0) {
		j->write_failures++;
		snprintf(j->last_error, sizeof(j->last_error), "write %s: %s", j->path, strerror(errno));
		return -1;
	}
	j->dirty = 1;
	return 0;
}

/* One entry of the loaded file; 0 when whole and understood. */
static int apply(struct call_journal *j, const unsigned char *e, size_t body_len)
{
	const char *id = (const char *)e + HDR;
	size_t idl = strnlen(id, body_len);
	const unsigned char *rest = e + HDR + idl + 1;
	size_t rest_len = idl < body_len ? body_len - idl - 1 : 0;
	int64_t ms = 0;

	if (idl == body_len || idl == 0 || idl >= JOURNAL_ID_MAX)
		return -1;
	switch (e[0]) {
	case 'C':
		return rest_len <= JOURNAL_STATE_MAX ? keep_state(j, id, rest, rest_len) : -1;
	case 'E':
		forget(j, id);
		note_emitted(j, id);
		return 0;
	case 'T':
		if (rest_len != sizeof(ms) && rest_len != 2 * sizeof(ms))
			return -1;
		memcpy(&ms, rest, sizeof(ms));
		j->seen_ms = ms;
		j->clock_offset_ms = 0;
		if (rest_len == 2 * sizeof(ms))
			memcpy(&j->clock_offset_ms, rest + sizeof(ms), sizeof(ms));
		return 0;
	default:
		return -1;
	}
}

/* Is there a whole entry at buf[at], its CRC right?  Its body length, or
 * -1.  Each CRC computed takes its length from *budget (NULL: none kept):
 * looking for the next entry after damage is bounded however the bytes
 * were made. */
static long long entry_at(const unsigned char *buf, size_t n, size_t at, size_t *budget)
{
	if (at + HDR > n || (buf[at] != 'C' && buf[at] != 'E' && buf[at] != 'T'))
		return -1;
	uint32_t len = get_be32(buf + at + 1);
	if (len > JOURNAL_STATE_MAX + JOURNAL_ID_MAX || at + HDR + len > n || (budget && *budget < len))
		return -1;
	if (budget)
		*budget -= len;
	if (crc32_update(0, buf + at + HDR, len) != get_be32(buf + at + 5))
		return -1;
	return len;
}

/*
 * Every whole entry, in order.  A damaged one is skipped to the next whole
 * entry found after it (audit-3 N10: cutting the file at the first damage
 * dropped the 'E's after it, and calls already sent came again as
 * partial); what was skipped is counted, and a file that needed it is
 * written again clean.  A torn tail is cut off.
 */
static int load(struct call_journal *j, const unsigned char *buf, size_t n)
{
	size_t at = 0, kept = 0, budget = JOURNAL_RESYNC_BYTES;
	long long len;

	j->loading = 1;
	while (at < n) {
		if ((len = entry_at(buf, n, at, NULL)) >= 0 && apply(j, buf + at, (size_t)len) == 0) {
			at += HDR + (size_t)len;
			kept = at;
			continue;
		}
		size_t next = at + 1;
		while (next < n && entry_at(buf, n, next, &budget) < 0)
			next++;
		j->cut_bytes += next - at;
		at = next;
	}
	j->loading = 0;
	j->size = n;
	if (j->cut_bytes > 0 && kept == n - j->cut_bytes) {
		/* only a torn tail: cut it off */
		log_warnx("call journal %s: %llu torn bytes at the end cut off (%zu bytes kept)", j->path,
		          (unsigned long long)j->cut_bytes, kept);
		if (ftruncate(j->fd, (off_t)kept) < 0)
			return -1;
		j->size = kept;
	} else if (j->cut_bytes > 0) {
		log_warnx("call journal %s: %llu damaged bytes skipped; the entries around them kept, the file "
		          "written again",
		          j->path, (unsigned long long)j->cut_bytes);
		j->rewrite = 1;
	}
	if (j->over_cap > 0)
		log_warnx("call journal %s: %llu call(s) past max_calls not restored", j->path,
		          (unsigned long long)j->over_cap);
	return 0;
}

static unsigned char *read_all(int fd, size_t *n)
{
	struct stat st;
	unsigned char *buf;
	size_t got = 0;

	if (fstat(fd, &st) < 0 || st.st_size < 0)
		return NULL;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		return NULL;
	while (got < (size_t)st.st_size) {
		ssize_t r = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	*n = got;
	return buf;
}

int call_journal_open(struct call_journal *j, const char *dir, size_t max_live, char *err, size_t errsz)
{
	size_t n = 0;

	memset(j, 0, sizeof(*j));
	j->fd = -1;
	j->max_live = max_live;
	j->nbuckets = max_live / 4 + 1; /* chains of four at most, on average */
	snprintf(j->path, sizeof(j->path), "%s/calls.journal", dir);
	j->buckets = calloc(j->nbuckets, sizeof(*j->buckets));
	j->emitted = calloc(JOURNAL_EMITTED_KEEP, sizeof(*j->emitted));
	if (j->buckets == NULL || j->emitted == NULL) {
		snprintf(err, errsz, "call journal: out of memory");
		return -1;
	}
	if ((j->fd = open(j->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, errsz, "call journal %s: %s", j->path, strerror(errno));
		return -1;
	}
	unsigned char *buf = read_all(j->fd, &n);
	if (buf == NULL || load(j, buf, n) < 0) {
		snprintf(err, errsz, "call journal %s: cannot read it: %s", j->path, strerror(errno ? errno : EIO));
		free(buf);
		return -1;
	}
	free(buf);
	j->seen_written_ms = j->seen_ms;
	if (j->rewrite)
		compact(j);
	return 0;
}

void call_journal_close(struct call_journal *j)
{
	if (j->fd >= 0) {
		call_journal_sync(j);
		close(j->fd);
	}
	j->fd = -1;
	for (size_t i = 0; j->buckets && i < j->nbuckets; i++) {
		for (struct journal_call *c = j->buckets[i], *next; c; c = next) {
			next = c->next;
			free(c->state);
			free(c);
		}
	}
	free(j->buckets);
	free(j->emitted);
	j->buckets = NULL;
	j->emitted = NULL;
}

/* ---- compaction ---- */

static int write_live(struct call_journal *j, int fd, uint64_t *size)
{
	for (size_t i = 0; i < j->nbuckets; i++)
		for (const struct journal_call *c = j->buckets[i]; c; c = c->next)
			if (write_entry(fd, size, 'C', c->id, c->state, c->len) < 0)
				return -1;
	for (size_t k = 0; k < j->emitted_n; k++) {
		size_t at = (j->emitted_next + JOURNAL_EMITTED_KEEP - j->emitted_n + k) % JOURNAL_EMITTED_KEEP;
		if (write_entry(fd, size, 'E', j->emitted[at], NULL, 0) < 0)
			return -1;
	}
	int64_t t[2] = {j->seen_ms, j->clock_offset_ms};
	return j->seen_ms ? write_entry(fd, size, 'T', "t", t, sizeof(t)) : 0;
}

/* The log rewritten with only what it holds: a temporary file, synced,
 * renamed over the old one.  On failure the old log stays as it was. */
static void compact(struct call_journal *j)
{
	char tmp[JOURNAL_PATH_MAX + 8];
	uint64_t size = 0;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.new", j->path);
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return;
	if (write_live(j, fd, &size) < 0 || fdatasync(fd) < 0 || rename(tmp, j->path) < 0) {
		log_warn("call journal: could not compact %s; it goes on growing", j->path);
		close(fd);
		unlink(tmp);
		return;
	}
	close(j->fd);
	j->fd = fd;
	j->size = size;
	j->dirty = 0;
}

static void maybe_compact(struct call_journal *j)
{
	uint64_t held = j->live_bytes + j->emitted_n * (HDR + JOURNAL_ID_MAX) + j->nlive * (HDR + JOURNAL_ID_MAX);

	if (j->size > COMPACT_MIN && j->size > 4 * held)
		compact(j);
}

/* ---- writing ---- */

int call_journal_put(struct call_journal *j, const char *id, const void *state, size_t len)
{
	if (strlen(id) >= JOURNAL_ID_MAX || len > JOURNAL_STATE_MAX || keep_state(j, id, state, len) < 0)
		return -1;
	maybe_compact(j);
	return append(j, 'C', id, state, len);
}

void call_journal_end(struct call_journal *j, const char *id)
{
	struct journal_call *c = *slot_of(j, id);

	if (c == NULL && strlen(id) < JOURNAL_ID_MAX && keep_state(j, id, "", 0) == 0)
		c = *slot_of(j, id); /* never journalled: its 'E' still goes out */
	if (c != NULL)
		c->ended = 1;
}

void call_journal_emitted_durable(struct call_journal *j)
{
	for (size_t i = 0; i < j->nbuckets; i++) {
		for (struct journal_call *c = j->buckets[i], *next; c; c = next) {
			next = c->next;
			if (!c->ended || append(j, 'E', c->id, NULL, 0) < 0)
				continue;
			note_emitted(j, c->id);
			forget(j, c->id);
		}
	}
}

void call_journal_seen(struct call_journal *j, int64_t ms, int64_t offset_ms)
{
	int64_t t[2] = {ms, offset_ms};
	int moved = offset_ms != j->clock_offset_ms;

	j->seen_ms = ms;
	j->clock_offset_ms = offset_ms;
	if (ms - j->seen_written_ms < SEEN_EVERY && !moved)
		return;
	if (append(j, 'T', "t", t, sizeof(t)) == 0)
		j->seen_written_ms = ms;
}

void call_journal_sync(struct call_journal *j)
{
	if (!j->dirty || j->fd < 0)
		return;
	if (fdatasync(j->fd) < 0) {
		j->write_failures++;
		snprintf(j->last_error, sizeof(j->last_error), "fdatasync %s: %s", j->path, strerror(errno));
		return;
	}
	j->dirty = 0;
}

/* ---- reading ---- */

void call_journal_each(const struct call_journal *j,
                       void (*fn)(void *ctx, const char *id, const void *state, size_t len), void *ctx)
{
	for (size_t i = 0; i < j->nbuckets; i++)
		for (const struct journal_call *c = j->buckets[i]; c; c = c->next)
			if (!c->ended && c->len > 0)
				fn(ctx, c->id, c->state, c->len);
}

int call_journal_was_emitted(const struct call_journal *j, const char *id)
{
	for (size_t k = 0; k < j->emitted_n; k++)
		if (strcmp(j->emitted[k], id) == 0)
			return 1;
	return 0;
}
