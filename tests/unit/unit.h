/* A tiny test harness: TEST(name) functions registered in unit_main.c. */
#ifndef PBXBUS_UNIT_H
#define PBXBUS_UNIT_H

#include <stdio.h>
#include <string.h>

extern int unit_failures;
extern const char *unit_fixtures;

#define CHECK(cond)                                                                                                    \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                     \
			unit_failures++;                                                                               \
		}                                                                                                      \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                                             \
	do {                                                                                                           \
		long long va_ = (long long)(a), vb_ = (long long)(b);                                                  \
		if (va_ != vb_) {                                                                                      \
			fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, va_, #b, \
			        vb_);                                                                                  \
			unit_failures++;                                                                               \
		}                                                                                                      \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                                                             \
	do {                                                                                                           \
		const char *sa_ = (a), *sb_ = (b);                                                                     \
		if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0) {                                             \
			fprintf(stderr, "  %s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,            \
			        sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                                           \
			unit_failures++;                                                                               \
		}                                                                                                      \
	} while (0)

/* Prototypes of every test, collected by the Makefile. */
#define T(name) void name(void);
#include "unit_list.h"
#undef T

/* Feeds "Key: Value|Key: Value" ('|' a line break) as one AMI message
 * through the codec to on_msg(ctx, message). */
struct ami_msg;
void unit_feed_message(const char *spec, void (*on_msg)(void *ctx, const struct ami_msg *m), void *ctx);

/* Reads a whole file; caller frees.  NULL on error. */
char *unit_read_file(const char *path, size_t *len);

#endif
