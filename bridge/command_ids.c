#include "command_ids.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Forgets what is older than ten minutes (the oldest are first). */
static void expire(struct command_ids *t, int64_t now_ms)
{
	size_t old = 0;

	while (old < t->n && t->e[old].at_ms < now_ms - COMMAND_IDS_KEEP_MS)
		old++;
	if (old > 0) {
		memmove(t->e, t->e + old, (t->n - old) * sizeof(t->e[0]));
		t->n -= old;
	}
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int line_of(const struct command_id *e, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%" PRId64 " %s\n", e->at_ms, e->id);
	return n > 0 && (size_t)n < size ? n : -1;
}

/* The file as the list is now, written beside and renamed over it. */
static int rewrite(struct command_ids *t)
{
	char tmp[sizeof(t->path) + 8], line[COMMAND_ID_MAX + 32];
	int ok = 1;

	snprintf(tmp, sizeof(tmp), "%s.new", t->path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	for (size_t i = 0; ok && i < t->n; i++) {
		int n = line_of(&t->e[i], line, sizeof(line));
		ok = n > 0 && write_all(fd, line, (size_t)n) == 0;
	}
	ok = ok && fdatasync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, t->path) < 0) {
		unlink(tmp);
		return -1;
	}
	if (t->fd >= 0)
		close(t->fd);
	t->fd = open(t->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	t->lines = t->n;
	return t->fd < 0 ? -1 : 0;
}

static void load(struct command_ids *t, int64_t now_ms)
{
	char line[COMMAND_ID_MAX + 64], id[COMMAND_ID_MAX + 2];
	long long at;
	FILE *f = fopen(t->path, "re");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lld %65s", &at, id) != 2 || !command_id_valid(id) ||
		    at < now_ms - COMMAND_IDS_KEEP_MS || at > now_ms + COMMAND_IDS_KEEP_MS)
			continue; /* torn by a crash, or out of the window */
		if (t->n == COMMAND_IDS_MAX)
			expire(t, INT64_MAX); /* cannot happen with a sane clock: start over rather than grow */
		t->e[t->n].at_ms = at;
		memcpy(t->e[t->n].id, id, strlen(id) + 1);
		t->n++;
	}
	fclose(f);
}

int command_ids_open(struct command_ids *t, const char *dir, int64_t now_ms, char *err, size_t errsz)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (snprintf(t->path, sizeof(t->path), "%s/command-ids", dir) >= (int)sizeof(t->path)) {
		snprintf(err, errsz, "outbox_dir: too long");
		return -1;
	}
	t->e = calloc(COMMAND_IDS_MAX, sizeof(t->e[0]));
	if (t->e == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	load(t, now_ms);
	if (rewrite(t) < 0) {
		snprintf(err, errsz, "%s: %s", t->path, strerror(errno));
		command_ids_close(t);
		return -1;
	}
	return 0;
}

void command_ids_close(struct command_ids *t)
{
	if (t->fd >= 0)
		close(t->fd);
	free(t->e);
	t->e = NULL;
	t->fd = -1;
	t->n = 0;
}

int command_ids_seen(struct command_ids *t, const char *id, int64_t now_ms)
{
	expire(t, now_ms);
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->e[i].id, id) == 0)
			return 1;
	return 0;
}

size_t command_ids_since(const struct command_ids *t, int64_t from_ms)
{
	size_t k = 0;

	for (size_t i = t->n; i-- > 0 && t->e[i].at_ms >= from_ms;)
		k++;
	return k;
}

int command_ids_add(struct command_ids *t, const char *id, int64_t now_ms)
{
	char line[COMMAND_ID_MAX + 32];

	expire(t, now_ms);
	if (t->fd < 0 || t->n == COMMAND_IDS_MAX || !command_id_valid(id))
		return -1;
	struct command_id *e = &t->e[t->n];
	e->at_ms = now_ms;
	memcpy(e->id, id, strlen(id) + 1);
	int n = line_of(e, line, sizeof(line));
	if (n < 0 || write_all(t->fd, line, (size_t)n) < 0 || fdatasync(t->fd) < 0)
		return -1;
	t->n++;
	/* the file holds every line since the last rewrite: kept near the list */
	if (++t->lines > 2 * t->n + 64 && rewrite(t) < 0)
		return 0; /* kept in the appended file still; the next add tries again */
	return 0;
}
