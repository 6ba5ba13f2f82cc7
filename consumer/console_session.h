/*
 * Who may see the console: a person logs in with the http_token and gets a
 * session cookie (random 256 bits, HttpOnly, SameSite=Strict, 12 hours);
 * a program sends the token as a bearer.  Sessions live in memory (a
 * restart logs everyone out), at most CONSOLE_SESSIONS of them (the
 * oldest goes).  Failed logins are limited per client address
 * (client_address.h) to CONSOLE_LOGIN_BURST, then one every
 * CONSOLE_LOGIN_EVERY_MS, and for the whole process to a larger backstop:
 * guessing a 16+ character token at those rates is hopeless, and one
 * client's wrong logins no longer lock the others out (audit-3 N2: one
 * bucket for everybody let a 20 req/s stream keep the right token out).
 */
#ifndef PBXBUS_CONSOLE_SESSION_H
#define PBXBUS_CONSOLE_SESSION_H

#include <pthread.h>
#include <stdint.h>

#define CONSOLE_SESSIONS           64
#define CONSOLE_SESSION_MS         (12LL * 3600 * 1000)
#define CONSOLE_LOGIN_BURST        5
#define CONSOLE_LOGIN_EVERY_MS     2000
#define CONSOLE_LOGIN_CLIENTS      256 /* addresses remembered; the one idle longest makes room */
#define CONSOLE_LOGIN_ALL_BURST    50  /* the backstop, for every address together */
#define CONSOLE_LOGIN_ALL_EVERY_MS 200
#define CONSOLE_COOKIE             "pbxbus_session"
#define CONSOLE_SESSION_HEX        64

struct console_session {
	char id[CONSOLE_SESSION_HEX + 1];
	int64_t expires_ms;
};

/* Failed logins that may come now, refilled over time. */
struct login_bucket {
	char client[46];
	double tokens;
	int64_t refill_ms;
};

struct console_sessions {
	pthread_mutex_t lock;
	struct console_session s[CONSOLE_SESSIONS];
	struct login_bucket all;
	struct login_bucket clients[CONSOLE_LOGIN_CLIENTS];
};

enum login_result { LOGIN_OK, LOGIN_WRONG, LOGIN_LIMITED, LOGIN_FAILED };

void console_sessions_init(struct console_sessions *cs);
void console_sessions_free(struct console_sessions *cs);

/* Constant time: the token must not leak through timing. */
int console_token_equal(const char *given, const char *token);

/* A login with the given token: on LOGIN_OK, id holds the new session. */
/* client: who asks (client_address.h). */
enum login_result console_login(struct console_sessions *cs, const char *client, const char *given, const char *token,
                                int64_t now_ms, char id[CONSOLE_SESSION_HEX + 1]);
/* Is the Cookie header's session a live one? */
int console_session_valid(struct console_sessions *cs, const char *cookie_header, int64_t now_ms);
void console_logout(struct console_sessions *cs, const char *cookie_header);

#endif
