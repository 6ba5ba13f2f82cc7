#include "topic.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bounds.h"

static int safe_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c == '.' || c == '@';
}

static size_t encoded_len(const char *in, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += safe_char((unsigned char)in[i]) ? 1 : 3;
	return n;
}

static uint32_t fnv1a(const char *in, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)in[i]) * 16777619u;
	return h;
}

char *topic_segment(char *out, size_t outsz, const char *in, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t max = outsz - 1 < TOPIC_SEGMENT_MAX ? outsz - 1 : TOPIC_SEGMENT_MAX;
	/* Too long: a prefix, then "~" and a hash of the whole name, so two
	 * long names that share the prefix still differ. */
	size_t room = encoded_len(in, len) <= max ? max : max - 9;
	size_t n = 0, i = 0;

	for (; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		size_t need = safe_char(c) ? 1 : 3;
		if (n + need > room)
			break;
		if (need == 1) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (i < len)
		n += (size_t)snprintf(out + n, outsz - n, "~%08x", (unsigned)fnv1a(in, len));
	if (len == 0)
		out[n++] = '%'; /* no encoding gives a lone '%': an empty name cannot meet another */
	out[n] = '\0';
	return out;
}

int topic_prefix_valid(const char *prefix, const char **why)
{
	size_t len = strlen(prefix);

	if (len == 0 || len > TOPIC_MAX / 2) {
		*why = "must be 1 to 128 characters";
		return -1;
	}
	if (prefix[0] == '$' || prefix[0] == '/' || prefix[len - 1] == '/') {
		*why = "must not start with '$' or '/' or end with '/'";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)prefix[i];
		if (c == '+' || c == '#' || c < 0x20 || c == 0x7F || c == ' ') {
			*why = "must not contain '+', '#', spaces or control characters";
			return -1;
		}
		if (c == '/' && prefix[i + 1] == '/') {
			*why = "must not contain an empty level ('//')";
			return -1;
		}
	}
	return 0;
}

int topic_join(char *out, size_t outsz, const char *prefix, const char *a, const char *segment)
{
	int n =
	    segment ? snprintf(out, outsz, "%s/%s/%s", prefix, a, segment) : snprintf(out, outsz, "%s/%s", prefix, a);
	return (n < 0 || (size_t)n >= outsz) ? -1 : 0;
}

const char *const topic_call_phases[CALL_PHASES] = {
    [CALL_START] = "start", [CALL_ANSWER] = "answer", [CALL_HANGUP] = "hangup"};

const char *topic_strip_share(const char *filter)
{
	static const char share[] = "$share/";

	if (strncmp(filter, share, sizeof(share) - 1) != 0)
		return filter;
	const char *p = strchr(filter + sizeof(share) - 1, '/');
	return p ? p + 1 : filter;
}

int topic_record_prefix(const char *topic, char *out, size_t outsz)
{
	static const char suffix[] = "/" TOPIC_CALL_RECORDS;
	size_t len = strlen(topic), sl = sizeof(suffix) - 1;

	if (len <= sl || strcmp(topic + len - sl, suffix) != 0 || len - sl >= outsz)
		return -1;
	memcpy(out, topic, len - sl);
	out[len - sl] = '\0';
	return 0;
}

int topic_command_kind(const char *prefix, const char *topic, char *out, size_t outsz)
{
	size_t pl = strlen(prefix), cl = sizeof(TOPIC_COMMANDS) - 1;

	if (strncmp(topic, prefix, pl) != 0 || topic[pl] != '/' || strncmp(topic + pl + 1, TOPIC_COMMANDS, cl) != 0 ||
	    topic[pl + 1 + cl] != '/')
		return -1;
	const char *kind = topic + pl + cl + 2;
	size_t kl = strlen(kind);
	if (kl == 0 || kl >= outsz || strchr(kind, '/') != NULL)
		return -1;
	memcpy(out, kind, kl + 1);
	return 0;
}

int call_id_format(char *out, size_t outsz, const char *pbx_id, const char *linkedid)
{
	int n = snprintf(out, outsz, "%s:%s", pbx_id, linkedid);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

int topic_site(const char *filter, const char *topic, char *out, size_t outsz)
{
	const char *f = filter, *t = topic;
	int found = 0;

	for (;;) {
		size_t fl = strcspn(f, "/"), tl = strcspn(t, "/");
		if (fl == 1 && f[0] == '#')
			return found;
		if (fl == 1 && f[0] == '+') {
			if (!found) {
				if (tl == 0 || tl >= outsz)
					return -1;
				memcpy(out, t, tl);
				out[tl] = '\0';
				found = 1;
			}
		} else if (fl != tl || memcmp(f, t, fl) != 0) {
			return -1;
		}
		if (f[fl] == '\0' || t[tl] == '\0')
			return f[fl] == t[tl] ? found : -1;
		f += fl + 1;
		t += tl + 1;
	}
}
