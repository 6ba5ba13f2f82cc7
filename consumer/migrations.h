/*
 * The consumer's schema, as versioned migrations.  Each runs in its own
 * transaction and is idempotent; pbxbus_schema records which ran.  They
 * never drop or rewrite data: an existing crm_comms_log is checked for the
 * columns pbxbus needs and only gains the optional ones.
 */
#ifndef PBXBUS_MIGRATIONS_H
#define PBXBUS_MIGRATIONS_H

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const int migrations_count;
#define SCHEMA_VERSION 5

#endif
