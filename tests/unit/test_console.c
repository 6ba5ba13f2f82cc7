#include <stdlib.h>

#include "call_log.h"
#include "console_session.h"
#include "live_store.h"
#include "unit.h"

/* The store's text as a string of the caller's (free it). */
static char *changes(struct live_store *st, uint64_t *v)
{
	struct live_text *t = live_store_changes(st, v, 0);
	char *s = t ? strdup(t->s) : NULL;
	live_text_put(t);
	return s;
}

void test_live_store_keeps_state_and_calls_and_tells_changes(void)
{
	struct live_store *st = live_store_new();
	uint64_t v = 0;
	const char ext[] = "{\"extension\":\"100\",\"state\":\"ringing\"}";
	const char call[] = "{\"call_id\":\"lab:1.0\",\"direction\":\"inbound\"}";

	CHECK(st != NULL);
	char *all = changes(st, &v); /* a new reader gets the picture at once, even empty */
	CHECK(all != NULL && strstr(all, "\"reset\":true") != NULL && strstr(all, "\"items\":[]") != NULL);
	free(all);
	CHECK_EQ_INT(live_store_message(st, "pbx/site1/state/extensions/100", ext, strlen(ext), 1000), 0);
	CHECK_EQ_INT(live_store_message(st, "pbx/site1/calls/start", call, strlen(call), 1000), 0);
	char *c = changes(st, &v);
	CHECK(c != NULL && strstr(c, "\"reset\":false") != NULL);
	CHECK(c && strstr(c, "{\"site\":\"pbx/site1\",\"kind\":\"extension\",\"name\":\"100\",\"value\":{") != NULL);
	CHECK(c && strstr(c, "\"kind\":\"call\",\"name\":\"lab:1.0\"") != NULL);
	free(c);
	/* the same document again is no change */
	CHECK_EQ_INT(live_store_message(st, "pbx/site1/state/extensions/100", ext, strlen(ext), 1100), 0);
	CHECK(changes(st, &v) == NULL);
	/* the hangup removes the call: readers hear a null */
	CHECK_EQ_INT(live_store_message(st, "pbx/site1/calls/hangup", call, strlen(call), 1200), 0);
	c = changes(st, &v);
	CHECK(c && strstr(c, "\"name\":\"lab:1.0\",\"value\":null") != NULL && strstr(c, "extension") == NULL);
	free(c);
	/* a cleared retained topic removes the extension */
	CHECK_EQ_INT(live_store_message(st, "pbx/site1/state/extensions/100", "", 0, 1300), 0);
	c = changes(st, &v);
	CHECK(c && strstr(c, "\"name\":\"100\",\"value\":null") != NULL);
	free(c);
	/* a reader behind forgotten removals starts again from the picture */
	uint64_t old = 2;
	CHECK_EQ_INT(live_store_message(st, "pbx/site1/state/system", "{\"pbx\":\"x\"}", 11, 1300 + 61000), 0);
	c = changes(st, &old);
	CHECK(c && strstr(c, "\"reset\":true") != NULL && strstr(c, "null") == NULL);
	free(c);
	live_store_close(st);
	live_store_free(st);
}

void test_live_store_refuses_what_is_not_state(void)
{
	struct live_store *st = live_store_new();
	const char doc[] = "{\"a\":1}";

	CHECK_EQ_INT(live_store_message(st, "pbx/events/Hangup", doc, strlen(doc), 1), -1);
	CHECK_EQ_INT(live_store_message(st, "pbx/state/extensions/1", "{\"a\":", 5, 1), -1); /* not JSON */
	CHECK_EQ_INT(live_store_message(st, "pbx/state/calls", doc, strlen(doc), 1), -1);    /* an array there */
	CHECK_EQ_INT(live_store_message(st, "pbx/state/extensions/a/b", doc, strlen(doc), 1), -1);
	CHECK_EQ_INT(live_store_message(st, "pbx/calls/start", doc, strlen(doc), 1), -1); /* no call_id */
	CHECK_EQ_INT(live_store_message(st, "/state/system", doc, strlen(doc), 1), -1);   /* no site */
	/* a pretty-printed document is stored on one line (one SSE event) */
	CHECK_EQ_INT(live_store_message(st, "pbx/state/system", "{\n \"a\": 1\n}", 12, 1), 0);
	uint64_t v = 0;
	char *c = changes(st, &v);
	CHECK(c && strchr(c, '\n') == NULL && strstr(c, "\"value\":{\"a\":1}") != NULL);
	free(c);
	/* bounded: past LIVE_MAX_ENTRIES new topics are refused */
	char topic[64];
	int refused = 0;
	for (int i = 0; i < LIVE_MAX_ENTRIES + 10; i++) {
		/* eight sites, so that no one site's share is the bound */
		snprintf(topic, sizeof(topic), "pbx/s%d/state/queues/q%d", i % 8, i);
		refused += live_store_message(st, topic, doc, strlen(doc), 2) < 0;
	}
	CHECK_EQ_INT(refused, 11); /* the system document holds one place */
	live_store_free(st);
}

void test_live_store_drops_calls_state_calls_no_longer_lists(void)
{
	struct live_store *st = live_store_new();
	const char a[] = "{\"call_id\":\"s:1\"}", b[] = "{\"call_id\":\"s:2\"}";
	const char listed[] = "[{\"call_id\":\"s:2\"}]";
	uint64_t v = 0;

	live_store_message(st, "s/calls/start", a, strlen(a), 0);
	live_store_message(st, "s/calls/start", b, strlen(b), 0);
	free(changes(st, &v));
	/* within the grace a fresh call is kept (calls/start may come first) */
	live_store_message(st, "s/state/calls", listed, strlen(listed), 1000);
	char *c = changes(st, &v);
	CHECK(c && strstr(c, "null") == NULL);
	free(c);
	const char later[] = "[{\"call_id\":\"s:2\"},{}]";
	CHECK_EQ_INT(live_store_message(st, "s/state/calls", later, strlen(later), 6000), 0);
	c = changes(st, &v);
	CHECK(c && strstr(c, "\"name\":\"s:1\",\"value\":null") != NULL && strstr(c, "\"s:2\",\"value\":null") == NULL);
	free(c);
	live_store_free(st);
}

void test_call_log_filter_is_checked(void)
{
	const char *p[CALL_LOG_PARAMS];
	struct call_log_bufs b;
	struct call_log_filter f = {0};

	CHECK(call_log_params(&f, p, &b) == NULL);
	CHECK(p[0] == NULL && p[7] == NULL && strcmp(p[9], "50") == 0);
	f = (struct call_log_filter){.direction = "inbound",
	                             .answered = "no",
	                             .customer = "42",
	                             .extension = "100",
	                             .from = "2026-11-01",
	                             .to = "2026-11-22T10:00:00Z",
	                             .number = "+1555",
	                             .before = "1795341833123456_77",
	                             .limit = "200"};
	CHECK(call_log_params(&f, p, &b) == NULL);
	CHECK_EQ_STR(p[1], "false");
	CHECK_EQ_STR(p[4], "2026-11-01T00:00:00Z");
	CHECK_EQ_STR(p[7], "1795341833123456");
	CHECK_EQ_STR(p[8], "77");
	CHECK_EQ_STR(p[9], "200");
	const struct {
		struct call_log_filter f;
		const char *word;
	} bad[] = {
	    {{.direction = "sideways"}, "direction"},
	    {{.answered = "maybe"}, "answered"},
	    {{.customer = "0"}, "customer"},
	    {{.customer = "1 OR 1=1"}, "customer"},
	    {{.extension = "1'00"}, "extension"},
	    {{.from = "2026-02-31"}, "from"},
	    {{.to = "yesterday"}, "to"},
	    {{.number = "55%"}, "number"},
	    {{.number = "1+2"}, "number"},
	    {{.before = "12"}, "before"},
	    {{.before = "1_x"}, "before"},
	    {{.limit = "0"}, "limit"},
	    {{.limit = "201"}, "limit"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = call_log_params(&bad[i].f, p, &b);
		CHECK(why != NULL && strstr(why, bad[i].word) != NULL);
	}
}

void test_console_login_sessions_and_limits(void)
{
	struct console_sessions cs;
	char id[CONSOLE_SESSION_HEX + 1], cookie[128];
	const char *token = "console-token-0123456789";

	console_sessions_init(&cs);
	CHECK(console_login(&cs, "10.0.0.1", token, token, 1000, id) == LOGIN_OK);
	CHECK_EQ_INT(strlen(id), CONSOLE_SESSION_HEX);
	snprintf(cookie, sizeof(cookie), "theme=dark; " CONSOLE_COOKIE "=%s; other=1", id);
	CHECK(console_session_valid(&cs, cookie, 2000));
	CHECK(!console_session_valid(&cs, cookie, 1000 + CONSOLE_SESSION_MS + 1)); /* expired */
	CHECK(!console_session_valid(&cs, "pbxbus_session=0000", 2000));
	CHECK(!console_session_valid(&cs, NULL, 2000));
	char forged[128];
	snprintf(forged, sizeof(forged), CONSOLE_COOKIE "=%.63s0", id[63] == '0' ? "1" : id);
	CHECK(!console_session_valid(&cs, forged, 2000) || id[63] == '0');
	console_logout(&cs, cookie);
	CHECK(!console_session_valid(&cs, cookie, 2000));
	/* wrong tokens: a burst, then one every CONSOLE_LOGIN_EVERY_MS */
	int wrong = 0, limited = 0;
	for (int i = 0; i < 10; i++) {
		enum login_result r = console_login(&cs, "10.0.0.66", "console-token-0123456780", token, 5000, id);
		wrong += r == LOGIN_WRONG;
		limited += r == LOGIN_LIMITED;
	}
	CHECK_EQ_INT(wrong, CONSOLE_LOGIN_BURST);
	CHECK_EQ_INT(limited, 10 - CONSOLE_LOGIN_BURST);
	/* from that address, even the right one, meanwhile */
	CHECK(console_login(&cs, "10.0.0.66", token, token, 5000, id) == LOGIN_LIMITED);
	CHECK(console_login(&cs, "10.0.0.66", token, token, 5000 + CONSOLE_LOGIN_EVERY_MS, id) == LOGIN_OK);
	/* audit-3 N2: another address is not held up by that one's failures */
	CHECK(console_login(&cs, "10.0.0.1", token, token, 5000 + CONSOLE_LOGIN_EVERY_MS, id) == LOGIN_OK);
	/* the backstop: wrong logins from many addresses at once, then every
	 * address waits (the right token included) */
	char who[32];
	wrong = 0;
	for (int i = 0; i < 200; i++) {
		snprintf(who, sizeof(who), "10.1.%d.%d", i / 250, i % 250);
		wrong += console_login(&cs, who, "x", token, 20000, id) == LOGIN_WRONG;
	}
	CHECK_EQ_INT(wrong, CONSOLE_LOGIN_ALL_BURST);
	CHECK(console_login(&cs, "10.0.0.1", token, token, 20000, id) == LOGIN_LIMITED);
	CHECK(console_login(&cs, "10.0.0.1", token, token, 20000 + CONSOLE_LOGIN_ALL_EVERY_MS, id) == LOGIN_OK);
	CHECK(!console_token_equal("", ""));
	CHECK(!console_token_equal("abc", "abcd"));
	console_sessions_free(&cs);
}

/* Audit-3 N5: one site fills its share of the store, not the store: the
 * other sites' new state is still taken. */
void test_live_store_bounds_each_site(void)
{
	struct live_store *st = live_store_new();
	char topic[128], doc[64];
	int taken = 0;

	for (int i = 0; i < LIVE_SITE_MAX_ENTRIES + 50; i++) {
		snprintf(topic, sizeof(topic), "pbx/east/state/extensions/%d", i);
		snprintf(doc, sizeof(doc), "{\"extension\":\"%d\"}", i);
		taken += live_store_message(st, topic, doc, strlen(doc), 1) == 0;
	}
	CHECK_EQ_INT(taken, LIVE_SITE_MAX_ENTRIES);
	/* a document east already has may still change */
	CHECK_EQ_INT(live_store_message(st, "pbx/east/state/extensions/7", "{\"a\":2}", 7, 2), 0);
	CHECK_EQ_INT(live_store_message(st, "pbx/west/state/extensions/300", "{\"a\":1}", 7, 2), 0);
	/* bytes: 60 KB documents until the site's 4 MiB */
	size_t big = 60000;
	char *pad = malloc(big + 16);
	CHECK(pad != NULL);
	if (pad != NULL) {
		memset(pad, 'x', big + 16);
		memcpy(pad, "{\"a\":\"", 6);
		memcpy(pad + big - 2, "\"}", 2);
		taken = 0;
		for (int i = 0; i < 80; i++) {
			snprintf(topic, sizeof(topic), "pbx/north/state/queues/q%d", i);
			taken += live_store_message(st, topic, pad, big, 3) == 0;
		}
		CHECK(taken > 60 && taken < 80);
		CHECK_EQ_INT(live_store_message(st, "pbx/south/state/queues/q", pad, big, 3), 0);
		free(pad);
	}
	live_store_close(st);
	live_store_free(st);
}

/* Audit-3 N8: readers that need the whole picture share one text. */
void test_live_store_shares_the_whole_picture(void)
{
	struct live_store *st = live_store_new();
	const char ext[] = "{\"extension\":\"100\"}";
	uint64_t a = 0, b = 0, c = 0;

	CHECK_EQ_INT(live_store_message(st, "pbx/site1/state/extensions/100", ext, strlen(ext), 1), 0);
	struct live_text *ta = live_store_changes(st, &a, 0), *tb = live_store_changes(st, &b, 0);
	CHECK(ta != NULL && ta == tb);
	CHECK(ta && strstr(ta->s, "\"reset\":true") != NULL);
	live_text_put(ta);
	CHECK_EQ_INT(live_store_message(st, "pbx/site1/state/extensions/101", ext, strlen(ext), 2), 0);
	struct live_text *tc = live_store_changes(st, &c, 0); /* a new version: a new text */
	CHECK(tc != NULL && tc != tb && strstr(tc->s, "\"101\"") != NULL);
	CHECK(tb && strstr(tb->s, "\"101\"") == NULL); /* the old one is as it was for its reader */
	live_text_put(tb);
	live_text_put(tc);
	live_store_close(st);
	live_store_free(st);
}
