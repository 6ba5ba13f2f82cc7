/*
 * Who may see the console: a person logs in with the http_token and gets a
 * session cookie (random 256 bits, HttpOnly, SameSite=Strict, 12 hours);
 * a program sends the token as a bearer.  Sessions live in memory (a
 * restart logs everyone out), at most CONSOLE_SESSIONS of them (the
 * oldest goes).  Failed logins are limited to CONSOLE_LOGIN_BURST, then one
 * every CONSOLE_LOGIN_EVERY_MS, for the whole process: guessing a 16+
 * character token at that rate is hopeless.
 */
#ifndef PBXBUS_CONSOLE_SESSION_H
#define PBXBUS_CONSOLE_SESSION_H

#include <pthread.h>
#include <stdint.h>

#define CONSOLE_SESSIONS       64
#define CONSOLE_SESSION_MS     (12LL * 3600 * 1000)
#define CONSOLE_LOGIN_BURST    5
#define CONSOLE_LOGIN_EVERY_MS 2000
#define CONSOLE_COOKIE         "pbxbus_session"
#define CONSOLE_SESSION_HEX    64

struct console_session {
	char id[CONSOLE_SESSION_HEX + 1];
	int64_t expires_ms;
};

struct console_sessions {
	pthread_mutex_t lock;
	struct console_session s[CONSOLE_SESSIONS];
	double login_tokens;
	int64_t login_refill_ms;
};

enum login_result { LOGIN_OK, LOGIN_WRONG, LOGIN_LIMITED, LOGIN_FAILED };

void console_sessions_init(struct console_sessions *cs);
void console_sessions_free(struct console_sessions *cs);

/* Constant time: the token must not leak through timing. */
int console_token_equal(const char *given, const char *token);

/* A login with the given token: on LOGIN_OK, id holds the new session. */
enum login_result console_login(struct console_sessions *cs, const char *given, const char *token, int64_t now_ms,
                                char id[CONSOLE_SESSION_HEX + 1]);
/* Is the Cookie header's session a live one? */
int console_session_valid(struct console_sessions *cs, const char *cookie_header, int64_t now_ms);
void console_logout(struct console_sessions *cs, const char *cookie_header);

#endif
