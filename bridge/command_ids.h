/*
 * The ids of the bus requests that were run in the last ten minutes,
 * kept on disk beside the call journal (<outbox_dir>/command-ids): a
 * request published twice, or delivered again after a restart, is
 * answered "duplicate" and never runs twice.  An id is on disk before its
 * command goes to the PBX.  The same list counts what ran in the last
 * minute (commands_per_minute).
 */
#ifndef PBXBUS_COMMAND_IDS_H
#define PBXBUS_COMMAND_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "command_wire.h"

#define COMMAND_IDS_KEEP_MS (10 * 60 * 1000)
#define COMMAND_IDS_MAX     8192 /* 10 minutes of the highest commands_per_minute, and room */

struct command_id {
	int64_t at_ms; /* wall clock */
	char id[COMMAND_ID_MAX + 1];
};

struct command_ids {
	char path[4096];
	int fd;               /* appended to */
	struct command_id *e; /* oldest first */
	size_t n, lines;      /* entries held; lines in the file */
};

/* Reads what is left of the last ten minutes and rewrites the file with
 * it.  Returns 0, or -1 with the reason in err. */
int command_ids_open(struct command_ids *t, const char *dir, int64_t now_ms, char *err, size_t errsz);
void command_ids_close(struct command_ids *t);
/* 1 if id ran within the last ten minutes. */
int command_ids_seen(struct command_ids *t, const char *id, int64_t now_ms);
/* How many ran since from_ms. */
size_t command_ids_since(const struct command_ids *t, int64_t from_ms);
/* Keeps id, on disk (synced) before it returns 0; -1 when it could not
 * be kept (the command must then not run) or the list is full. */
int command_ids_add(struct command_ids *t, const char *id, int64_t now_ms);

#endif
