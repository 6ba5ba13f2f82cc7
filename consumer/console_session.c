#include "console_session.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

void console_sessions_init(struct console_sessions *cs)
{
	memset(cs, 0, sizeof(*cs));
	pthread_mutex_init(&cs->lock, NULL);
	cs->all.tokens = CONSOLE_LOGIN_ALL_BURST;
}

void console_sessions_free(struct console_sessions *cs)
{
	explicit_bzero(cs->s, sizeof(cs->s));
	pthread_mutex_destroy(&cs->lock);
}

int console_token_equal(const char *given, const char *token)
{
	size_t gl = strlen(given), tl = strlen(token);
	unsigned char diff = gl != tl;

	for (size_t i = 0; i < tl; i++)
		diff |= (unsigned char)(token[i] ^ (i < gl ? given[i] : 0));
	return tl > 0 && diff == 0;
}

/* The session id in a Cookie header ("a=b; pbxbus_session=<hex>"), or "". */
static void cookie_session(const char *header, char id[CONSOLE_SESSION_HEX + 1])
{
	static const char name[] = CONSOLE_COOKIE "=";

	id[0] = '\0';
	for (const char *p = header; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, name, sizeof(name) - 1) == 0) {
			const char *v = p + sizeof(name) - 1;
			size_t n = strcspn(v, "; ");
			if (n == CONSOLE_SESSION_HEX) {
				memcpy(id, v, n);
				id[n] = '\0';
			}
			return;
		}
		p = strchr(p, ';');
	}
}

static struct console_session *find(struct console_sessions *cs, const char *id, int64_t now_ms)
{
	for (int i = 0; i < CONSOLE_SESSIONS; i++)
		if (cs->s[i].expires_ms > now_ms && console_token_equal(id, cs->s[i].id))
			return &cs->s[i];
	return NULL;
}

static int bucket_allows(struct login_bucket *b, int64_t now_ms, int burst, int every_ms)
{
	if (b->refill_ms == 0)
		b->refill_ms = now_ms;
	b->tokens += (double)(now_ms - b->refill_ms) / every_ms;
	if (b->tokens > burst)
		b->tokens = burst;
	b->refill_ms = now_ms;
	return b->tokens >= 1.0;
}

/* The client's bucket: its own, else a new one in the place of the one
 * idle longest (full again by then, or nearly). */
static struct login_bucket *client_bucket(struct console_sessions *cs, const char *client)
{
	struct login_bucket *oldest = &cs->clients[0];

	for (int i = 0; i < CONSOLE_LOGIN_CLIENTS; i++) {
		struct login_bucket *b = &cs->clients[i];
		if (b->refill_ms != 0 && strcmp(b->client, client) == 0)
			return b;
		if (b->refill_ms < oldest->refill_ms)
			oldest = b;
	}
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->client, sizeof(oldest->client), "%s", client);
	oldest->tokens = CONSOLE_LOGIN_BURST;
	return oldest;
}

enum login_result console_login(struct console_sessions *cs, const char *client, const char *given, const char *token,
                                int64_t now_ms, char id[CONSOLE_SESSION_HEX + 1])
{
	unsigned char raw[CONSOLE_SESSION_HEX / 2];
	enum login_result rc;

	pthread_mutex_lock(&cs->lock);
	struct login_bucket *mine = client_bucket(cs, client);
	/* both are refilled before either is judged */
	int mine_ok = bucket_allows(mine, now_ms, CONSOLE_LOGIN_BURST, CONSOLE_LOGIN_EVERY_MS);
	int all_ok = bucket_allows(&cs->all, now_ms, CONSOLE_LOGIN_ALL_BURST, CONSOLE_LOGIN_ALL_EVERY_MS);
	if (!mine_ok || !all_ok) {
		rc = LOGIN_LIMITED;
	} else if (!console_token_equal(given, token)) {
		mine->tokens -= 1.0; /* only failures spend: people who know it are never held up */
		cs->all.tokens -= 1.0;
		rc = LOGIN_WRONG;
	} else if (RAND_bytes(raw, sizeof(raw)) != 1) {
		rc = LOGIN_FAILED;
	} else {
		int slot = 0;
		for (int i = 1; i < CONSOLE_SESSIONS; i++)
			if (cs->s[i].expires_ms < cs->s[slot].expires_ms)
				slot = i; /* a free one (0), an expired one, else the oldest */
		for (size_t i = 0; i < sizeof(raw); i++)
			snprintf(cs->s[slot].id + 2 * i, 3, "%02x", raw[i]);
		cs->s[slot].expires_ms = now_ms + CONSOLE_SESSION_MS;
		memcpy(id, cs->s[slot].id, CONSOLE_SESSION_HEX + 1);
		rc = LOGIN_OK;
	}
	pthread_mutex_unlock(&cs->lock);
	explicit_bzero(raw, sizeof(raw));
	return rc;
}

int console_session_valid(struct console_sessions *cs, const char *cookie_header, int64_t now_ms)
{
	char id[CONSOLE_SESSION_HEX + 1];

	cookie_session(cookie_header, id);
	if (id[0] == '\0')
		return 0;
	pthread_mutex_lock(&cs->lock);
	int ok = find(cs, id, now_ms) != NULL;
	pthread_mutex_unlock(&cs->lock);
	return ok;
}

void console_logout(struct console_sessions *cs, const char *cookie_header)
{
	char id[CONSOLE_SESSION_HEX + 1];

	cookie_session(cookie_header, id);
	if (id[0] == '\0')
		return;
	pthread_mutex_lock(&cs->lock);
	struct console_session *s = find(cs, id, 0);
	if (s != NULL)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&cs->lock);
}
