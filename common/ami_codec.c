#include "ami_codec.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounds.h"

/* Line scanner states, carried across feeds so a "\r\n\r\n" split over two
 * TCP chunks is still seen as the end of a message. */
enum { SCAN_MID_LINE, SCAN_LINE_START, SCAN_LINE_START_CR };

enum parse_result { PARSE_DONE, PARSE_NEED_MORE };

static const char end_command[] = "--END COMMAND--";

int ami_codec_init(struct ami_codec *c, const struct ami_codec_handlers *h)
{
	memset(c, 0, sizeof(*c));
	c->h = *h;
	c->pend = malloc(AMI_MAX_MESSAGE);
	c->fields = calloc(AMI_MAX_FIELDS, sizeof(*c->fields));
	if (c->pend == NULL || c->fields == NULL) {
		ami_codec_free(c);
		return -1;
	}
	ami_codec_reset(c, 1);
	return 0;
}

void ami_codec_free(struct ami_codec *c)
{
	free(c->pend);
	free(c->fields);
	c->pend = NULL;
	c->fields = NULL;
}

void ami_codec_reset(struct ami_codec *c, int expect_banner)
{
	c->pend_len = 0;
	c->scan_state = SCAN_LINE_START;
	c->want_banner = expect_banner;
	c->skipping = 0;
}

const char *ami_err_str(enum ami_err err)
{
	switch (err) {
	case AMI_ERR_NONE:
		return "no error";
	case AMI_ERR_LINE_TOO_LONG:
		return "line too long";
	case AMI_ERR_MESSAGE_TOO_BIG:
		return "message too big";
	case AMI_ERR_TOO_MANY_FIELDS:
		return "too many fields";
	case AMI_ERR_MALFORMED_LINE:
		return "malformed line (no key)";
	case AMI_ERR_NO_BANNER:
		return "no AMI banner";
	}
	return "unknown error";
}

static void report(struct ami_codec *c, enum ami_err err)
{
	c->errors++;
	if (c->h.on_error)
		c->h.on_error(c->h.ctx, err);
}

/*
 * Finds the end of a message: the byte after the first blank line.  Returns
 * NULL when [p, end) holds no blank line; the state remembers where the
 * last line stood.  memchr does the heavy lifting over long lines.
 */
static const char *scan_for_end(struct ami_codec *c, const char *p, const char *end)
{
	int st = c->scan_state;

	while (p < end) {
		if (st == SCAN_MID_LINE) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			if (nl == NULL) {
				p = end;
				break;
			}
			p = nl + 1;
			st = SCAN_LINE_START;
			continue;
		}
		char ch = *p++;
		if (ch == '\n') {
			c->scan_state = SCAN_LINE_START;
			return p;
		}
		st = (ch == '\r' && st == SCAN_LINE_START) ? SCAN_LINE_START_CR : SCAN_MID_LINE;
	}
	c->scan_state = st;
	return NULL;
}

static int has_suffix(const char *s, size_t len, const char *suffix, size_t slen)
{
	return len >= slen && memcmp(s + len - slen, suffix, slen) == 0;
}

static int add_field(struct ami_codec *c, size_t *n, const char *k, size_t klen, const char *v, size_t vlen)
{
	if (*n >= AMI_MAX_FIELDS)
		return -1;
	c->fields[*n] = (struct ami_field){k, v, (uint32_t)klen, (uint32_t)vlen};
	(*n)++;
	return 0;
}

static int is_follows(const struct ami_field *f)
{
	return f->key_len == 8 && strncasecmp(f->key, "Response", 8) == 0 && f->val_len == 7 &&
	       strncasecmp(f->val, "Follows", 7) == 0;
}

/*
 * Splits one complete message into fields.  The pre-Asterisk-14 command
 * response ("Response: Follows", raw output, "--END COMMAND--") may hold
 * blank lines of its own, so until its end marker is seen the caller is
 * asked for more.  Raw output lines become "Output" fields, as in the
 * modern form.
 */
static enum parse_result parse_message(struct ami_codec *c, const char *p, size_t len)
{
	const char *end = p + len;
	size_t n = 0;
	int follows = 0, follows_done = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		size_t llen = (size_t)(line_end - p);
		const char *next = nl ? nl + 1 : end;

		if (llen > 0 && p[llen - 1] == '\r')
			llen--;
		if (llen > AMI_MAX_LINE) {
			report(c, AMI_ERR_LINE_TOO_LONG);
			return PARSE_DONE;
		}
		if (follows && !follows_done) {
			int last = has_suffix(p, llen, end_command, sizeof(end_command) - 1);
			size_t olen = last ? llen - (sizeof(end_command) - 1) : llen;
			const char *colon = memchr(p, ':', olen);
			int header = !last && colon && n < 3 && colon - p > 0 &&
			             ((colon - p == 8 && strncasecmp(p, "ActionID", 8) == 0) ||
			              (colon - p == 9 && strncasecmp(p, "Privilege", 9) == 0));
			if (header) {
				const char *v = colon + 1;
				if (v < p + llen && *v == ' ')
					v++;
				if (add_field(c, &n, p, (size_t)(colon - p), v, (size_t)(p + llen - v)) < 0)
					goto too_many;
			} else if ((!last || olen > 0) && add_field(c, &n, "Output", 6, p, olen) < 0) {
				goto too_many;
			}
			follows_done = last;
			p = next;
			continue;
		}
		if (llen == 0) {
			p = next;
			continue;
		}
		const char *colon = memchr(p, ':', llen);
		if (colon == NULL || colon == p) {
			report(c, AMI_ERR_MALFORMED_LINE);
			return PARSE_DONE;
		}
		const char *v = colon + 1;
		if (v < p + llen && *v == ' ')
			v++;
		if (add_field(c, &n, p, (size_t)(colon - p), v, (size_t)(p + llen - v)) < 0)
			goto too_many;
		if (n == 1 && is_follows(&c->fields[0]))
			follows = 1;
		p = next;
	}
	if (follows && !follows_done)
		return PARSE_NEED_MORE;
	if (n > 0) {
		struct ami_msg m = {c->fields, n};
		c->messages++;
		c->h.on_message(c->h.ctx, &m);
	}
	return PARSE_DONE;
too_many:
	report(c, AMI_ERR_TOO_MANY_FIELDS);
	return PARSE_DONE;
}

static int pend_append(struct ami_codec *c, const char *p, size_t len)
{
	if (len > AMI_MAX_MESSAGE - c->pend_len)
		return -1;
	memcpy(c->pend + c->pend_len, p, len);
	c->pend_len += len;
	return 0;
}

/* Over the limit: drop what we hold and discard input to the next blank line. */
static void start_skipping(struct ami_codec *c, enum ami_err err)
{
	report(c, err);
	c->pend_len = 0;
	c->skipping = 1;
}

/* Over the limit at a message boundary: nothing left to skip. */
static void drop_pending(struct ami_codec *c, enum ami_err err)
{
	report(c, err);
	c->pend_len = 0;
}

/* Consumes the banner line; returns how many bytes of p it used. */
static size_t take_banner(struct ami_codec *c, const char *p, size_t len)
{
	const char *nl = memchr(p, '\n', len);
	size_t used = nl ? (size_t)(nl - p) + 1 : len;

	if (c->pend_len + used > AMI_MAX_BANNER) {
		/* Not a banner: whatever it is, let the message path judge it. */
		c->want_banner = 0;
		c->scan_state = c->pend_len > 0 ? SCAN_MID_LINE : SCAN_LINE_START;
		report(c, AMI_ERR_NO_BANNER);
		return 0;
	}
	memcpy(c->pend + c->pend_len, p, used);
	c->pend_len += used;
	if (nl == NULL)
		return used;

	size_t llen = c->pend_len - 1;
	if (llen > 0 && c->pend[llen - 1] == '\r')
		llen--;
	c->want_banner = 0;
	if (memchr(c->pend, ':', llen) != NULL) {
		/* No banner; the line starts the first message, keep it pending. */
		report(c, AMI_ERR_NO_BANNER);
		c->scan_state = SCAN_LINE_START;
		return used;
	}
	if (c->h.on_banner)
		c->h.on_banner(c->h.ctx, c->pend, llen);
	c->pend_len = 0;
	c->scan_state = SCAN_LINE_START;
	return used;
}

static size_t feed_pending(struct ami_codec *c, const char *p, const char *end)
{
	const char *q = scan_for_end(c, p, end);
	size_t take = (size_t)((q ? q : end) - p);

	if (pend_append(c, p, take) < 0) {
		if (q == NULL)
			start_skipping(c, AMI_ERR_MESSAGE_TOO_BIG);
		else
			drop_pending(c, AMI_ERR_MESSAGE_TOO_BIG);
		return take;
	}
	if (q != NULL && parse_message(c, c->pend, c->pend_len) == PARSE_DONE)
		c->pend_len = 0;
	return take;
}

static size_t feed_skipping(struct ami_codec *c, const char *p, const char *end)
{
	const char *q = scan_for_end(c, p, end);

	if (q == NULL)
		return (size_t)(end - p);
	c->skipping = 0;
	return (size_t)(q - p);
}

/* Whole messages straight from the caller's buffer, no copy. */
static size_t feed_direct(struct ami_codec *c, const char *p, const char *end)
{
	c->scan_state = SCAN_LINE_START;
	const char *q = scan_for_end(c, p, end);

	if (q == NULL) {
		if (pend_append(c, p, (size_t)(end - p)) < 0)
			start_skipping(c, AMI_ERR_MESSAGE_TOO_BIG);
		return (size_t)(end - p);
	}
	if (parse_message(c, p, (size_t)(q - p)) == PARSE_NEED_MORE && pend_append(c, p, (size_t)(q - p)) < 0)
		drop_pending(c, AMI_ERR_MESSAGE_TOO_BIG);
	return (size_t)(q - p);
}

void ami_codec_feed(struct ami_codec *c, const char *data, size_t len)
{
	const char *p = data, *end = data + len;

	while (p < end) {
		if (c->want_banner)
			p += take_banner(c, p, (size_t)(end - p));
		else if (c->skipping)
			p += feed_skipping(c, p, end);
		else if (c->pend_len > 0)
			p += feed_pending(c, p, end);
		else
			p += feed_direct(c, p, end);
	}
}

const struct ami_field *ami_msg_find(const struct ami_msg *m, const char *key)
{
	size_t klen = strlen(key);

	for (size_t i = 0; i < m->nfields; i++) {
		const struct ami_field *f = &m->fields[i];
		if (f->key_len == klen && strncasecmp(f->key, key, klen) == 0)
			return f;
	}
	return NULL;
}

int ami_field_is(const struct ami_field *f, const char *s)
{
	size_t len = strlen(s);
	return f != NULL && f->val_len == len && strncasecmp(f->val, s, len) == 0;
}

const char *ami_field_copy(const struct ami_field *f, char *buf, size_t size)
{
	size_t n = 0;

	if (size == 0)
		return buf;
	if (f != NULL) {
		n = f->val_len < size - 1 ? f->val_len : size - 1;
		memcpy(buf, f->val, n);
	}
	buf[n] = '\0';
	return buf;
}

const char *ami_msg_get(const struct ami_msg *m, const char *key, char *buf, size_t size)
{
	return ami_field_copy(ami_msg_find(m, key), buf, size);
}
