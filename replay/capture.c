#include "capture.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *slurp(const char *path, size_t *len, char *err, size_t errsz)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			char *nb = realloc(buf, cap);
			if (nb == NULL) {
				snprintf(err, errsz, "%s: out of memory", path);
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, 65536, f);
		n += got;
		if (got == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		snprintf(err, errsz, "%s: read error", path);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Length of the blank line starting at p (\r\n or \n), or 0. */
static size_t blank_at(const char *p, const char *end)
{
	if (p < end && *p == '\n')
		return 1;
	if (p + 1 < end && p[0] == '\r' && p[1] == '\n')
		return 2;
	return 0;
}

static int push(struct capture *c, size_t *cap, char *raw, size_t len)
{
	if (c->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		struct cap_msg *nm = realloc(c->msgs, ncap * sizeof(*nm));
		if (nm == NULL)
			return -1;
		c->msgs = nm;
		*cap = ncap;
	}
	c->msgs[c->n++] = (struct cap_msg){.raw = raw, .len = len, .t = 0};
	return 0;
}

/* Splits after the banner line at every blank line; text holding only
 * blank lines is no message. */
static int split_messages(struct capture *c, size_t total)
{
	char *p = memchr(c->data, '\n', total);
	char *end = c->data + total;
	size_t cap = 0;

	if (p == NULL)
		return 0;
	p++;
	while (p < end) {
		char *start = p;
		int content = 0;
		for (;;) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			char *next = nl ? nl + 1 : end;
			size_t b = blank_at(p, end);
			p = next;
			if (b == 0)
				content = 1;
			else if (content)
				break;
			if (p >= end)
				break;
		}
		if (content && push(c, &cap, start, (size_t)(p - start)) < 0)
			return -1;
	}
	return 0;
}

static void read_timing(struct capture *c, const char *server_path)
{
	char path[4096], err[256];
	size_t len, plen = strlen(server_path), i = 0;
	const char *suffix = ".server.txt";

	if (plen < strlen(suffix) || plen - strlen(suffix) + 12 >= sizeof(path))
		return;
	snprintf(path, sizeof(path), "%.*s.timing.txt", (int)(plen - strlen(suffix)), server_path);
	char *text = slurp(path, &len, err, sizeof(err));
	if (text == NULL)
		return;
	/* Lines like "    2.532   MSG Event: CEL [...]". */
	for (char *line = text; line && *line && i <= c->n;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *rest;
		double t = strtod(line, &rest);
		while (*rest == ' ')
			rest++;
		if (rest != line && strncmp(rest, "MSG ", 4) == 0) {
			if (i < c->n)
				c->msgs[i].t = t;
			i++;
		}
		line = nl ? nl + 1 : NULL;
	}
	free(text);
	c->timed = i == c->n;
	if (!c->timed)
		for (i = 0; i < c->n; i++)
			c->msgs[i].t = 0;
}

int capture_load(struct capture *c, const char *server_path, char *err, size_t errsz)
{
	size_t len;

	memset(c, 0, sizeof(*c));
	if ((c->data = slurp(server_path, &len, err, errsz)) == NULL)
		return -1;
	if (split_messages(c, len) < 0) {
		snprintf(err, errsz, "%s: out of memory", server_path);
		capture_free(c);
		return -1;
	}
	if (c->n == 0) {
		snprintf(err, errsz, "%s: no AMI messages in it", server_path);
		capture_free(c);
		return -1;
	}
	read_timing(c, server_path);
	return 0;
}

void capture_free(struct capture *c)
{
	free(c->data);
	free(c->msgs);
	memset(c, 0, sizeof(*c));
}

int capture_field(const char *raw, size_t len, const char *key, char *out, size_t outsz)
{
	size_t klen = strlen(key);
	const char *end = raw + len;

	for (const char *p = raw; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if (eol > p && eol[-1] == '\r')
			eol--;
		if ((size_t)(eol - p) > klen && p[klen] == ':' && strncasecmp(p, key, klen) == 0) {
			const char *v = p + klen + 1;
			if (v < eol && *v == ' ')
				v++;
			snprintf(out, outsz, "%.*s", (int)(eol - v), v);
			return 1;
		}
		p = nl ? nl + 1 : end;
	}
	if (outsz)
		out[0] = '\0';
	return 0;
}

int capture_is_replayable(const struct cap_msg *m)
{
	char ev[64], id[8];

	return capture_field(m->raw, m->len, "Event", ev, sizeof(ev)) && strcmp(ev, "FullyBooted") != 0 &&
	       !capture_field(m->raw, m->len, "ActionID", id, sizeof(id));
}

static int add_answer(struct recorded *r, size_t *cap, const char *name, const struct cap_msg *m)
{
	struct recorded_answer *a = NULL;
	for (size_t i = 0; i < r->n; i++)
		if (strcasecmp(r->answers[i].name, name) == 0)
			a = &r->answers[i];
	if (a == NULL) {
		if (r->n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 16;
			struct recorded_answer *na = realloc(r->answers, ncap * sizeof(*na));
			if (na == NULL)
				return -1;
			r->answers = na;
			*cap = ncap;
		}
		a = &r->answers[r->n++];
		memset(a, 0, sizeof(*a));
		snprintf(a->name, sizeof(a->name), "%s", name);
	}
	char *nb = realloc(a->blob, a->len + m->len + 1);
	if (nb == NULL)
		return -1;
	memcpy(nb + a->len, m->raw, m->len);
	a->blob = nb;
	a->len += m->len;
	a->blob[a->len] = '\0';
	return 0;
}

/* The client file's actions: ActionID → Action, the name its answers go
 * under; a Command's is "command:<its text>" (recorded_command_key). */
static int action_of(const char *client, size_t clen, const char *action_id, char *name, size_t namesz)
{
	char id[128], text[RECORDED_NAME_MAX];
	const char *end = client + clen;

	for (const char *p = client; p < end;) {
		const char *stop = strstr(p, "\r\n\r\n");
		size_t n = stop ? (size_t)(stop - p) + 4 : (size_t)(end - p);
		if (capture_field(p, n, "ActionID", id, sizeof(id)) && strcmp(id, action_id) == 0) {
			if (!capture_field(p, n, "Action", name, namesz))
				return 0;
			if (strcasecmp(name, "command") == 0 && capture_field(p, n, "Command", text, sizeof(text)))
				recorded_command_key(name, namesz, text);
			return 1;
		}
		p += n;
	}
	return 0;
}

void recorded_command_key(char *out, size_t outsz, const char *command)
{
	size_t n = (size_t)snprintf(out, outsz, "command:");
	int blank = 0;

	for (const char *p = command; *p && n + 2 < outsz; p++) {
		if (*p == ' ' || *p == '\t') {
			blank = 1;
			continue;
		}
		if (blank && out[n - 1] != ':')
			out[n++] = ' ';
		blank = 0;
		out[n++] = (char)tolower((unsigned char)*p);
	}
	out[n] = '\0';
}

int recorded_load(struct recorded *r, const char *base, char *err, size_t errsz)
{
	char path[4096], id[128], name[RECORDED_NAME_MAX];
	size_t clen, cap = 0;

	memset(r, 0, sizeof(*r));
	snprintf(path, sizeof(path), "%s.client.txt", base);
	char *client = slurp(path, &clen, err, errsz);
	if (client == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s.server.txt", base);
	if (capture_load(&r->cap, path, err, errsz) < 0) {
		free(client);
		return -1;
	}
	for (size_t i = 0; i < r->cap.n; i++) {
		const struct cap_msg *m = &r->cap.msgs[i];
		if (!capture_field(m->raw, m->len, "ActionID", id, sizeof(id)) ||
		    !action_of(client, clen, id, name, sizeof(name)))
			continue;
		/* Login and Logoff are the server's own */
		if (strcasecmp(name, "login") == 0 || strcasecmp(name, "logoff") == 0)
			continue;
		if (add_answer(r, &cap, name, m) < 0) {
			snprintf(err, errsz, "%s: out of memory", path);
			free(client);
			recorded_free(r);
			return -1;
		}
	}
	free(client);
	return 0;
}

const struct recorded_answer *recorded_find(const struct recorded *r, const char *action)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcasecmp(r->answers[i].name, action) == 0)
			return &r->answers[i];
	return NULL;
}

void recorded_free(struct recorded *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->answers[i].blob);
	free(r->answers);
	capture_free(&r->cap);
	memset(r, 0, sizeof(*r));
}

/* Does the key of this line end in "uniqueid" or "linkedid" (any case), or
 * is it "Timestamp"?  All three carry "<epoch>.<fraction>"; the timestamp
 * moves with the ids, so each loop is a later day on the PBX's clock too. */
static int id_key(const char *line, size_t keylen)
{
	return (keylen >= 8 && (strncasecmp(line + keylen - 8, "uniqueid", 8) == 0 ||
	                        strncasecmp(line + keylen - 8, "linkedid", 8) == 0)) ||
	       (keylen == 9 && strncasecmp(line, "timestamp", 9) == 0);
}

size_t capture_rewrite_ids(const char *raw, size_t len, unsigned loop, char *out)
{
	/* A rewritten epoch grows by at most 19 digits, on a line of at least
	 * 12 bytes ("Uniqueid: 1."), so twice the input always fits. */
	size_t o = 0;
	const char *end = raw + len;

	for (const char *p = raw; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		const char *colon = memchr(p, ':', (size_t)(next - p));
		char *dot;
		unsigned long long epoch;
		if (loop && colon && id_key(p, (size_t)(colon - p)) && colon + 2 < next && colon[1] == ' ' &&
		    isdigit((unsigned char)colon[2]) && (epoch = strtoull(colon + 2, &dot, 10), *dot == '.')) {
			size_t head = (size_t)(colon + 2 - p);
			memcpy(out + o, p, head);
			o += head;
			o += (size_t)snprintf(out + o, 24, "%llu", epoch + (unsigned long long)loop * 86400ULL);
			memcpy(out + o, dot, (size_t)(next - dot));
			o += (size_t)(next - dot);
		} else {
			memcpy(out + o, p, (size_t)(next - p));
			o += (size_t)(next - p);
		}
		p = next;
	}
	return o;
}
