#include "archive_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void archive_init(struct archive *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->path = path;
	a->fd = -1;
}

void archive_close(struct archive *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
}

static int failed(struct archive *a, const char *what)
{
	snprintf(a->last_error, sizeof(a->last_error), "%s %s: %s", what, a->path, strerror(errno));
	archive_close(a);
	return -1;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A last line cut short (a crash, a full disk) is ended, so the next
 * record starts a line of its own. */
static int end_cut_line(struct archive *a)
{
	struct stat st;
	char last;

	if (fstat(a->fd, &st) < 0)
		return -1;
	if (st.st_size == 0)
		return 0;
	if (pread(a->fd, &last, 1, st.st_size - 1) != 1)
		return -1;
	return last == '\n' ? 0 : write_all(a->fd, "\n", 1);
}

static int archive_open(void *ctx)
{
	struct archive *a = ctx;

	if (a->fd >= 0)
		return 0;
	a->fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (a->fd < 0)
		return failed(a, "open");
	if (end_cut_line(a) < 0)
		return failed(a, "read the end of");
	if (a->opens++ > 0)
		a->reopens++;
	return 0;
}

/* A settled record, as received, on one line: a valid JSON text has line
 * breaks only as white space between tokens (inside a string they are
 * escaped), so they become spaces. */
static size_t put_line(char *out, const struct batch_item *it)
{
	for (size_t i = 0; i < it->len; i++)
		out[i] = it->payload[i] == '\n' || it->payload[i] == '\r' ? ' ' : it->payload[i];
	out[it->len] = '\n';
	return it->len + 1;
}

static int archived(const struct batch_item *it)
{
	return it->outcome == ITEM_SETTLED && it->parsed;
}

static enum sink_rc archive_write(void *ctx, struct batch_item *items, size_t n)
{
	struct archive *a = ctx;
	size_t bytes = 0, at = 0;

	for (size_t i = 0; i < n; i++)
		bytes += archived(&items[i]) ? items[i].len + 1 : 0;
	if (bytes == 0)
		return SINK_OK;
	char *buf = malloc(bytes);
	if (buf == NULL) {
		snprintf(a->last_error, sizeof(a->last_error), "out of memory for %zu bytes", bytes);
		return SINK_DOWN;
	}
	for (size_t i = 0; i < n; i++)
		if (archived(&items[i]))
			at += put_line(buf + at, &items[i]);
	int ok = a->fd >= 0 && write_all(a->fd, buf, at) == 0 && fdatasync(a->fd) == 0;
	free(buf);
	if (!ok) {
		if (a->fd >= 0)
			failed(a, "write");
		else
			snprintf(a->last_error, sizeof(a->last_error), "%s is not open", a->path);
		return SINK_DOWN;
	}
	return SINK_OK;
}

/* Written at once: send keeps the answer in the batch, receive gives it. */
static enum sink_rc archive_send(void *ctx, struct batch_item *items, size_t n, struct sink_batch *b)
{
	return sink_written(b, n, archive_write(ctx, items, n));
}

static const char *archive_error(void *ctx)
{
	const struct archive *a = ctx;
	return a->last_error;
}

static unsigned long long archive_reopens(void *ctx)
{
	const struct archive *a = ctx;
	return (unsigned long long)a->reopens;
}

void archive_sink(struct archive *a, struct sink *out)
{
	*out = (struct sink){.name = "archive",
	                     .ctx = a,
	                     .open = archive_open,
	                     .write = archive_write,
	                     .send = archive_send,
	                     .receive = sink_kept_receive,
	                     .socket = sink_none_socket,
	                     .drop = sink_none_drop,
	                     .error = archive_error,
	                     .reconnects = archive_reopens};
}
