#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ami_codec.h"
#include "bounds.h"
#include "unit.h"

/* Collects what the codec yields, as text, to compare runs and to count. */
struct collect {
	char *text;
	size_t len, cap;
	int messages, banners, errors;
	enum ami_err last_err;
	int events_named; /* messages with Event == want_event */
	const char *want_event;
};

static void append(struct collect *c, const char *s, size_t n)
{
	if (c->len + n + 1 > c->cap) {
		c->cap = (c->len + n + 1) * 2;
		c->text = realloc(c->text, c->cap);
	}
	memcpy(c->text + c->len, s, n);
	c->len += n;
	c->text[c->len] = '\0';
}

static void on_banner(void *ctx, const char *line, size_t len)
{
	struct collect *c = ctx;
	c->banners++;
	append(c, "B:", 2);
	append(c, line, len);
	append(c, "\n", 1);
}

static void on_message(void *ctx, const struct ami_msg *m)
{
	struct collect *c = ctx;
	c->messages++;
	for (size_t i = 0; i < m->nfields; i++) {
		append(c, m->fields[i].key, m->fields[i].key_len);
		append(c, "=", 1);
		append(c, m->fields[i].val, m->fields[i].val_len);
		append(c, "|", 1);
	}
	append(c, "\n", 1);
	if (c->want_event && ami_field_is(ami_msg_find(m, "Event"), c->want_event))
		c->events_named++;
}

static void on_error(void *ctx, enum ami_err err)
{
	struct collect *c = ctx;
	c->errors++;
	c->last_err = err;
	append(c, "E\n", 2);
}

static void decode(struct collect *out, const char *data, size_t len, uint32_t seed, size_t max_chunk)
{
	struct ami_codec codec;
	struct ami_codec_handlers h = {on_banner, on_message, on_error, out};
	uint32_t rng = seed;

	const char *want = out->want_event;
	memset(out, 0, sizeof(*out));
	out->want_event = want;
	CHECK(ami_codec_init(&codec, &h) == 0);
	for (size_t pos = 0; pos < len;) {
		size_t n = len - pos;
		if (max_chunk) {
			rng = rng * 1103515245u + 12345u;
			size_t pick = 1 + (rng >> 8) % max_chunk;
			n = pick < n ? pick : n;
		}
		ami_codec_feed(&codec, data + pos, n);
		pos += n;
	}
	ami_codec_free(&codec);
}

static void decode_str(struct collect *out, const char *s)
{
	out->want_event = NULL;
	decode(out, s, strlen(s), 1, 0);
}

/* "Size: 368 bytes, 4 messages after the banner" for the capture's section. */
static int index_messages(const char *index, const char *name)
{
	char head[300];
	snprintf(head, sizeof(head), "### %s\n", name);
	const char *p = strstr(index, head);
	if (p == NULL)
		return -1;
	p = strstr(p, "bytes, ");
	return p ? (int)strtol(p + 7, NULL, 10) : -1;
}

void test_codec_every_capture(void)
{
	char path[512];
	size_t ilen, len;
	snprintf(path, sizeof(path), "%s/INDEX.md", unit_fixtures);
	char *index = unit_read_file(path, &ilen);
	DIR *d = opendir(unit_fixtures);
	int files = 0;

	CHECK(index != NULL && d != NULL);
	if (index == NULL || d == NULL)
		return;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t nlen = strlen(e->d_name);
		if (nlen < 12 || strcmp(e->d_name + nlen - 11, ".server.txt") != 0)
			continue;
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(nlen - 11), e->d_name);
		snprintf(path, sizeof(path), "%s/%s", unit_fixtures, e->d_name);
		char *data = unit_read_file(path, &len);
		CHECK(data != NULL);
		if (data == NULL)
			continue;
		struct collect whole = {0}, chunked = {0}, tiny = {0};
		decode(&whole, data, len, 1, 0);
		decode(&chunked, data, len, (uint32_t)nlen * 7919u, 1500);
		decode(&tiny, data, len, 3, 7);
		int expect = index_messages(index, name);
		if (whole.errors != 0 || whole.messages != expect || whole.banners != 1)
			fprintf(stderr, "  %s: %d messages (INDEX %d), %d errors, %d banners\n", name, whole.messages,
			        expect, whole.errors, whole.banners);
		CHECK(expect > 0);
		CHECK_EQ_INT(whole.errors, 0);
		CHECK_EQ_INT(whole.messages, expect);
		CHECK_EQ_INT(whole.banners, 1);
		CHECK(chunked.len == whole.len && memcmp(chunked.text, whole.text, whole.len) == 0);
		CHECK(tiny.len == whole.len && memcmp(tiny.text, whole.text, whole.len) == 0);
		free(whole.text);
		free(chunked.text);
		free(tiny.text);
		free(data);
		files++;
	}
	closedir(d);
	free(index);
	CHECK(files >= 30);
}

/* Every "Event: X" line of the burst capture comes out as one message. */
void test_codec_burst_event_counts(void)
{
	char path[512];
	size_t len;
	snprintf(path, sizeof(path), "%s/19-burst-20-inbound.server.txt", unit_fixtures);
	char *data = unit_read_file(path, &len);
	CHECK(data != NULL);
	if (data == NULL)
		return;
	struct collect c = {.want_event = "Hangup"};
	decode(&c, data, len, 99, 333);
	CHECK_EQ_INT(c.events_named, 40);
	c.want_event = "Newchannel";
	free(c.text);
	decode(&c, data, len, 5, 64);
	CHECK_EQ_INT(c.events_named, 40);
	free(c.text);
	free(data);
}

void test_codec_lenient_forms(void)
{
	struct collect c;
	/* no space after the colon, empty value, bare LF, stray blank lines, colon in value */
	decode_str(&c,
	           "Asterisk Call Manager/11.0.0\r\n\r\n\r\nEvent:Foo\r\nEmpty:\r\nBare: lf\nUrl: sip:a@b:5060\n\n\r\n"
	           "Event: Next\r\n\r\n");
	CHECK_EQ_INT(c.errors, 0);
	CHECK_EQ_INT(c.messages, 2);
	CHECK_EQ_STR(c.text,
	             "B:Asterisk Call Manager/11.0.0\nEvent=Foo|Empty=|Bare=lf|Url=sip:a@b:5060|\nEvent=Next|\n");
	free(c.text);
}

void test_codec_repeated_keys_and_lookup(void)
{
	struct ami_codec codec;
	struct collect c = {0};
	struct ami_codec_handlers h = {on_banner, on_message, on_error, &c};
	const char *s =
	    "Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nOutput: a\r\nOutput: \r\nOutput: c  \r\n\r\n";

	CHECK(ami_codec_init(&codec, &h) == 0);
	ami_codec_feed(&codec, s, strlen(s));
	ami_codec_free(&codec);
	CHECK_EQ_STR(c.text, "B:Asterisk Call Manager/11.0.0\nResponse=Success|Output=a|Output=|Output=c  |\n");
	free(c.text);

	struct ami_field f[2] = {{"UniqueID", "1.2", 8, 3}, {"linkedid", "1.0", 8, 3}};
	struct ami_msg m = {f, 2};
	CHECK(ami_msg_find(&m, "Uniqueid") == &f[0]);
	CHECK(ami_msg_find(&m, "LinkedID") == &f[1]);
	CHECK(ami_msg_find(&m, "Linked") == NULL);
	char buf[4];
	CHECK_EQ_STR(ami_msg_get(&m, "linkedid", buf, sizeof(buf)), "1.0");
	CHECK_EQ_STR(ami_msg_get(&m, "none", buf, sizeof(buf)), "");
}

void test_codec_malformed_resyncs(void)
{
	struct collect c;
	decode_str(&c, "Asterisk Call Manager/11.0.0\r\nEvent: A\r\ngarbage without colon\r\nX: 1\r\n\r\n"
	               ": empty key\r\n\r\nEvent: B\r\n\r\n");
	CHECK_EQ_INT(c.messages, 1);
	CHECK_EQ_INT(c.errors, 2);
	CHECK_EQ_INT(c.last_err, AMI_ERR_MALFORMED_LINE);
	CHECK_EQ_STR(c.text, "B:Asterisk Call Manager/11.0.0\nE\nE\nEvent=B|\n");
	free(c.text);
}

void test_codec_huge_garbage_line_skipped(void)
{
	size_t big = 10 * 1024 * 1024;
	const char *head = "Asterisk Call Manager/11.0.0\r\nEvent: Before\r\n\r\n";
	const char *tail = "\r\n\r\nEvent: After\r\nKey: v\r\n\r\n";
	size_t hl = strlen(head), tl = strlen(tail);
	char *buf = malloc(hl + big + tl);
	memcpy(buf, head, hl);
	memset(buf + hl, 'x', big);
	memcpy(buf + hl + big, tail, tl);
	struct collect c = {0};
	decode(&c, buf, hl + big + tl, 7, 100000);
	CHECK_EQ_INT(c.messages, 2);
	CHECK_EQ_INT(c.errors, 1);
	CHECK_EQ_INT(c.last_err, AMI_ERR_MESSAGE_TOO_BIG);
	CHECK(strstr(c.text, "Event=After|Key=v|") != NULL);
	free(c.text);
	free(buf);
}

void test_codec_long_line_and_many_fields(void)
{
	size_t n = AMI_MAX_LINE + 100;
	char *buf = malloc(n + 64);
	int len = snprintf(buf, 64, "Event: Long\r\nValue: ");
	memset(buf + len, 'y', n);
	memcpy(buf + len + n, "\r\n\r\nEvent: Ok\r\n\r\n", 17);
	struct ami_codec codec;
	struct collect c = {0};
	struct ami_codec_handlers h = {on_banner, on_message, on_error, &c};
	CHECK(ami_codec_init(&codec, &h) == 0);
	ami_codec_reset(&codec, 0);
	ami_codec_feed(&codec, buf, (size_t)len + n + 17);
	CHECK_EQ_INT(c.messages, 1);
	CHECK_EQ_INT(c.last_err, AMI_ERR_LINE_TOO_LONG);
	free(c.text);
	free(buf);

	/* one field too many */
	size_t cap = (AMI_MAX_FIELDS + 2) * 8 + 64;
	char *many = malloc(cap);
	size_t pos = 0;
	for (int i = 0; i <= AMI_MAX_FIELDS; i++)
		pos += (size_t)snprintf(many + pos, cap - pos, "K: %d\r\n", i % 10);
	pos += (size_t)snprintf(many + pos, cap - pos, "\r\nEvent: Ok\r\n\r\n");
	memset(&c, 0, sizeof(c));
	ami_codec_reset(&codec, 0);
	ami_codec_feed(&codec, many, pos);
	CHECK_EQ_INT(c.messages, 1);
	CHECK_EQ_INT(c.last_err, AMI_ERR_TOO_MANY_FIELDS);
	CHECK_EQ_STR(c.text, "E\nEvent=Ok|\n");
	free(c.text);
	free(many);
	ami_codec_free(&codec);
}

void test_codec_legacy_command_output(void)
{
	/* Asterisk < 14: raw output, blank lines inside, ended by --END COMMAND-- */
	const char *s = "Asterisk Call Manager/2.10.0\r\n"
	                "Response: Follows\r\nPrivilege: Command\r\nActionID: 7\r\n"
	                "Channel              Location\nSIP/100-0001: x\n\nlast line--END COMMAND--\r\n\r\n"
	                "Event: After\r\n\r\n";
	struct collect c;
	for (size_t chunk = 0; chunk < 40; chunk += 3) {
		memset(&c, 0, sizeof(c));
		decode(&c, s, strlen(s), (uint32_t)chunk + 1, chunk);
		CHECK_EQ_INT(c.errors, 0);
		CHECK_EQ_INT(c.messages, 2);
		CHECK_EQ_STR(c.text,
		             "B:Asterisk Call Manager/2.10.0\n"
		             "Response=Follows|Privilege=Command|ActionID=7|Output=Channel              Location|"
		             "Output=SIP/100-0001: x|Output=|Output=last line|\nEvent=After|\n");
		free(c.text);
	}
}

void test_codec_no_banner(void)
{
	struct collect c;
	decode_str(&c, "Event: A\r\n\r\n");
	CHECK_EQ_INT(c.messages, 1);
	CHECK_EQ_INT(c.banners, 0);
	CHECK_EQ_INT(c.last_err, AMI_ERR_NO_BANNER);
	CHECK_EQ_STR(c.text, "E\nEvent=A|\n");
	free(c.text);
}
