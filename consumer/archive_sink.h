/*
 * A copy of every committed call record, one JSON line each, appended to a
 * file (archive_file): for tools that read files (jq, a log shipper) and an
 * audit trail beside the CRM.  A copy sink: it writes after the database,
 * takes the items the database settled (duplicates too: the database may
 * hold them from before a crash the file did not see) and leaves their
 * outcomes alone.  A record is acknowledged only once its line is on disk
 * (fdatasync), so the file holds every record at least once; one delivered
 * again is appended again (readers dedupe on call_id).  A line cut short by
 * a crash or a full disk is ended with a newline at the next open, so each
 * line is one record or one cut piece (readers skip lines that are not
 * JSON).
 */
#ifndef PBXBUS_ARCHIVE_SINK_H
#define PBXBUS_ARCHIVE_SINK_H

#include <stdint.h>

#include "sink.h"

struct archive {
	const char *path;
	int fd; /* -1 until opened, and again after a failed write */
	uint64_t opens, reopens;
	char last_error[320];
};

void archive_init(struct archive *a, const char *path);
void archive_close(struct archive *a);
/* The archive as a copy sink (opening the file in open). */
void archive_sink(struct archive *a, struct sink *out);

#endif
