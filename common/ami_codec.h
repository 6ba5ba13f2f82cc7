/*
 * Incremental decoder for the Asterisk Manager Interface stream.
 *
 * Bytes are fed in whatever chunks TCP delivers; the codec calls back once
 * per whole message.  A message is an ordered list of key/value pairs
 * (repeated keys kept in order).  Pointers in a message are valid only
 * during the callback.  The codec never logs: malformed or over-limit input
 * is reported through on_error, the message is skipped up to the next blank
 * line and decoding goes on.
 */
#ifndef PBXBUS_AMI_CODEC_H
#define PBXBUS_AMI_CODEC_H

#include <stddef.h>
#include <stdint.h>

struct ami_field {
	const char *key;
	const char *val;
	uint32_t key_len;
	uint32_t val_len;
};

struct ami_msg {
	const struct ami_field *fields;
	size_t nfields;
};

enum ami_err {
	AMI_ERR_NONE = 0,
	AMI_ERR_LINE_TOO_LONG,
	AMI_ERR_MESSAGE_TOO_BIG,
	AMI_ERR_TOO_MANY_FIELDS,
	AMI_ERR_MALFORMED_LINE, /* a line with no colon, or an empty key */
	AMI_ERR_NO_BANNER,      /* first line was not "Asterisk Call Manager/..." */
};

struct ami_codec_handlers {
	void (*on_banner)(void *ctx, const char *line, size_t len);
	void (*on_message)(void *ctx, const struct ami_msg *msg);
	void (*on_error)(void *ctx, enum ami_err err);
	void *ctx;
};

struct ami_codec {
	struct ami_codec_handlers h;
	char *pend; /* bytes of an incomplete message, at most AMI_MAX_MESSAGE */
	size_t pend_len;
	int scan_state;
	int want_banner;
	int skipping;             /* discarding input up to the next blank line */
	struct ami_field *fields; /* AMI_MAX_FIELDS entries */
	uint64_t messages;        /* counters for status and tests */
	uint64_t errors;
};

/* Returns 0, or -1 when out of memory.  ami_codec_free releases it all. */
int ami_codec_init(struct ami_codec *c, const struct ami_codec_handlers *h);
void ami_codec_free(struct ami_codec *c);

/* Forget any partial input; expect a banner again (a new connection). */
void ami_codec_reset(struct ami_codec *c, int expect_banner);

void ami_codec_feed(struct ami_codec *c, const char *data, size_t len);

const char *ami_err_str(enum ami_err err);

/* Case-insensitive lookup of the first field named key; NULL if absent. */
const struct ami_field *ami_msg_find(const struct ami_msg *m, const char *key);
/* Compares a field value with a NUL-terminated string (case-insensitive). */
int ami_field_is(const struct ami_field *f, const char *s);
/* Copies a field value into buf (NUL-terminated, truncated); "" if f NULL. */
const char *ami_field_copy(const struct ami_field *f, char *buf, size_t size);
/* Value of key copied into buf, or "" when absent. */
const char *ami_msg_get(const struct ami_msg *m, const char *key, char *buf, size_t size);

#endif
