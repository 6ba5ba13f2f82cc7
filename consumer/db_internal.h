/*
 * What the database's files share (db.c: the connection and migrations;
 * db_sink.c: the records; db_requests.c: the HTTP side's requests;
 * db_housekeeping.c: retention): libpq itself, which no other file of the
 * consumer sees.
 */
#ifndef PBXBUS_DB_INTERNAL_H
#define PBXBUS_DB_INTERNAL_H

#include <libpq-fe.h>
#include <stdint.h>

#include "db.h"

#define CONN(d) ((PGconn *)(d)->conn)

/* The result of what was sent, waiting at most until deadline_ms
 * (monotonic): NULL on a timeout or a lost connection, which is then
 * closed (a server that does not answer, frozen say, is given up on). */
PGresult *db_result_by(struct db *d, int64_t deadline_ms);
/* Connection trouble (SQLSTATE class 08, 57P0x, or none) rather than a
 * problem with the data? */
int db_connection_lost(const PGresult *r, const PGconn *c);

#endif
