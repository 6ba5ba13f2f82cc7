/*
 * The stand-in PBX's CDR store: as each call's legs end (the captures' Cdr
 * events), a row goes into a MariaDB table shaped like FreePBX's
 * asteriskcdrdb.cdr (replay/freepbx-cdr.sql), as cdr_adaptive_odbc would
 * write it.  The captures' Cdr events lack linkedid (taken from the
 * channel events by UniqueID), did, cnum, cnam and sequence (left empty).
 * `calldate` is this process's local wall-clock time at the leg's start
 * (its channel's Newchannel), duration runs from there to the Cdr event,
 * billsec is the recorded one divided by --speed: the rows agree with what
 * the PBX played.
 */
#ifndef PBXBUS_CDR_WRITER_H
#define PBXBUS_CDR_WRITER_H

#include <stddef.h>
#include <stdint.h>

#define CDR_WRITER_IDS 4096

struct cdr_writer {
	void *db; /* MYSQL * */
	double speed;
	struct {
		char uid[48], lid[48];
		int64_t born_ms; /* wall clock: a CDR's calldate is its channel's start */
	} ids[CDR_WRITER_IDS];   /* a ring: UniqueID -> Linkedid of recent channels */
	size_t next;
	uint64_t written, failed;
};

/* Connects over the socket as root to database asteriskcdrdb; -1 with err. */
int cdr_writer_open(struct cdr_writer *w, const char *socket, double speed, char *err, size_t errsz);
void cdr_writer_close(struct cdr_writer *w);
/* Every event played, heard or not: Newchannel and Cdr are used. */
void cdr_writer_event(struct cdr_writer *w, const char *raw, size_t len);

#endif
