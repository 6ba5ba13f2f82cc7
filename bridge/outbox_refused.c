#include "outbox_refused.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define LINE_INTERVAL_MS 1000

void outbox_refused_init(struct outbox_refused *r, const char *outbox_dir)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "%s/refused.ids", outbox_dir);
}

static int append_to_file(const struct outbox_refused *r, const char *id)
{
	char line[320], ts[ISO8601_LEN];
	int fd = open(r->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	int n = snprintf(line, sizeof(line), "%s %s\n", iso8601_ms(clock_wall_ms(), ts), id);
	int ok = n > 0 && (size_t)n < sizeof(line) && write(fd, line, (size_t)n) == n;
	close(fd);
	return ok ? 0 : -1;
}

void outbox_refused_note(struct outbox_refused *r, const char *id)
{
	size_t idl = strlen(id);

	r->total++;
	if (append_to_file(r, id) < 0)
		r->not_listed++;
	if (r->in_line < REFUSED_LINE_IDS && r->ids_len + idl + 2 <= sizeof(r->ids)) {
		if (r->ids_len)
			r->ids[r->ids_len++] = ' ';
		memcpy(r->ids + r->ids_len, id, idl);
		r->ids_len += idl;
		r->ids[r->ids_len] = '\0';
		r->in_line++;
	} else {
		r->beyond_line++;
	}
}

void outbox_refused_flush(struct outbox_refused *r, int64_t now_ms, int force)
{
	if (r->in_line == 0 && r->beyond_line == 0)
		return;
	if (!force && now_ms - r->last_line_ms < LINE_INTERVAL_MS)
		return;
	char more[48] = "";
	if (r->beyond_line)
		snprintf(more, sizeof(more), " and %zu more", r->beyond_line);
	log_crit("outbox: %zu call record(s) NOT kept (outbox full and its memory bound reached; sent once, best "
	         "effort): %s%s; every id is listed in %s%s",
	         r->in_line + r->beyond_line, r->ids, more, r->path,
	         r->not_listed ? " except those the disk refused too" : "");
	r->ids_len = 0;
	r->ids[0] = '\0';
	r->in_line = r->beyond_line = 0;
	r->last_line_ms = now_ms;
}
