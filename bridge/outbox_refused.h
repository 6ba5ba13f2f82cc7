/*
 * The call records the outbox could not keep (its memory bound reached
 * while the disk refused them), said by id so that an operator can recover
 * each one from the PBX's own CDRs: a CRITICAL line at most once a second
 * that carries the ids refused since the last line (the first
 * REFUSED_LINE_IDS of them, then a count), and every id appended to
 * <outbox_dir>/refused.ids ("<ISO time> <id>" per line) where the disk
 * takes it.
 */
#ifndef PBXBUS_OUTBOX_REFUSED_H
#define PBXBUS_OUTBOX_REFUSED_H

#include <stddef.h>
#include <stdint.h>

#define REFUSED_LINE_IDS 16

struct outbox_refused {
	char path[512];
	char ids[REFUSED_LINE_IDS * 80]; /* space-separated, for the next line */
	size_t ids_len, in_line, beyond_line;
	int64_t last_line_ms;
	uint64_t total, not_listed; /* refused; of them not written to the file */
};

void outbox_refused_init(struct outbox_refused *r, const char *outbox_dir);
/* One more record that was not kept. */
void outbox_refused_note(struct outbox_refused *r, const char *id);
/* Writes the pending line if a second has passed since the last (or force). */
void outbox_refused_flush(struct outbox_refused *r, int64_t now_ms, int force);

#endif
