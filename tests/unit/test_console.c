#include <stdlib.h>

#include "call_log.h"
#include "console_session.h"
#include "customer_search.h"
#include "dial_requests.h"
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
	struct live_store *st = live_store_new(NULL, NULL);
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
	struct live_store *st = live_store_new(NULL, NULL);
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
	struct live_store *st = live_store_new(NULL, NULL);
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

void test_customer_search_query_is_checked(void)
{
	const char *p[CUSTOMER_SEARCH_PARAMS];
	struct customer_search_bufs b;

	/* a name's part: lowered, LIKE's own characters taken literally */
	CHECK(customer_search_params("Sm_i%th\\", NULL, p, &b) == NULL);
	CHECK_EQ_STR(p[0], "%sm\\_i\\%th\\\\%");
	CHECK(p[1] == NULL && p[2] == NULL && strcmp(p[3], "20") == 0);
	CHECK(customer_search_params("Zoë", "17", p, &b) == NULL);
	CHECK_EQ_STR(p[0], "%zoë%");
	CHECK_EQ_STR(p[2], "17");
	/* a number as typed: its digits, anywhere */
	CHECK(customer_search_params("+1 (555) 98-76", NULL, p, &b) == NULL);
	CHECK(p[0] == NULL);
	CHECK_EQ_STR(p[1], "%15559876%");
	/* two digits are not a number; "12a" is a name */
	CHECK(customer_search_params("12a", NULL, p, &b) == NULL && p[0] != NULL && p[1] == NULL);
	const char *bad[] = {NULL,
	                     "",
	                     "ab",
	                     "12",
	                     "  ",
	                     "   ",
	                     "a\tbc",
	                     "\xff\xfe"
	                     "ab",
	                     "ab\x7f"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(customer_search_params(bad[i], NULL, p, &b) != NULL);
	char longest[CUSTOMER_SEARCH_MAX + 2];
	memset(longest, 'x', sizeof(longest) - 1);
	longest[CUSTOMER_SEARCH_MAX] = '\0';
	CHECK(customer_search_params(longest, NULL, p, &b) == NULL);
	longest[CUSTOMER_SEARCH_MAX] = 'x';
	longest[CUSTOMER_SEARCH_MAX + 1] = '\0';
	CHECK(customer_search_params(longest, NULL, p, &b) != NULL);
	CHECK(customer_search_params("smith", "0", p, &b) != NULL);
	CHECK(customer_search_params("smith", "1;", p, &b) != NULL);
}

void test_missed_calls_window_is_checked(void)
{
	const char *p[MISSED_PARAMS];
	struct missed_bufs b;

	CHECK(call_log_missed_params(NULL, NULL, p, &b) == NULL);
	CHECK_EQ_STR(p[0], "7");
	CHECK_EQ_STR(p[1], "50");
	CHECK(call_log_missed_params("90", "200", p, &b) == NULL);
	CHECK_EQ_STR(p[0], "90");
	const char *days[] = {"0", "91", "x", "-1", "1000"};
	for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++)
		CHECK(strstr(call_log_missed_params(days[i], NULL, p, &b), "days") != NULL);
	CHECK(strstr(call_log_missed_params(NULL, "201", p, &b), "limit") != NULL);
}

void test_live_store_tells_the_rows_logged(void)
{
	struct live_store *st = live_store_new(NULL, NULL);
	uint64_t v = 0;

	CHECK(st != NULL);
	CHECK_EQ_INT(live_store_calls_logged(st, 3, 1000), 0);
	char *c = changes(st, &v);
	CHECK(c && strstr(c, "{\"site\":\"\",\"kind\":\"log\",\"name\":\"calls\",\"value\":{\"rows\":3}}") != NULL);
	free(c);
	/* the same count again is no change; a new one is */
	CHECK_EQ_INT(live_store_calls_logged(st, 3, 1100), 0);
	struct live_text *t = live_store_changes(st, &v, 0);
	CHECK(t == NULL || strstr(t->s, "rows") == NULL);
	live_text_put(t);
	CHECK_EQ_INT(live_store_calls_logged(st, 5, 1200), 0);
	c = changes(st, &v);
	CHECK(c && strstr(c, "\"rows\":5") != NULL);
	free(c);
	live_store_free(st);
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
	struct live_store *st = live_store_new(NULL, NULL);
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
	struct live_store *st = live_store_new(NULL, NULL);
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

struct dial_tally {
	int told, left;
};

static void dial_tally(void *ctx, const char *site, const char *id, const char *doc)
{
	struct dial_tally *t = ctx;
	(void)site, (void)id;
	if (doc)
		t->told++;
	else
		t->left++;
}

/* Click-to-call, the consumer's half: a POST body checked against the
 * sites served, a request published once with its id, expiry and asker,
 * answers taken only from the site it went to, and the verdicts our side
 * gives when the broker or the bridge says nothing. */
void test_dial_requests_check_publish_and_follow_their_answers(void)
{
	static const char subs[2][TOPIC_MAX] = {"pbx/calls/hangup", "$share/g/pbx/+/calls/hangup"};
	struct phone_plan plan;
	CHECK(phone_plan_init(&plan, "1", "1", "011") == 0);
	struct dial_sites one = {subs, 1, &plan}, both = {subs, 2, &plan};
	struct dial_ask a;
	const char *ok = "{\"extension\":\"100\",\"number\":\"(555) 123-4567\"}";

	CHECK(dial_ask_parse(ok, strlen(ok), &one, &a) == NULL);
	CHECK_EQ_STR(a.site, "pbx");
	CHECK_EQ_STR(a.e164, "+15551234567");
	CHECK(dial_ask_parse(ok, strlen(ok), &both, &a) != NULL); /* which site, of several? */
	const char *site1 = "{\"site\":\"pbx/site1\",\"extension\":\"100\",\"number\":\"+15551234567\"}";
	CHECK(dial_ask_parse(site1, strlen(site1), &both, &a) == NULL);
	CHECK_EQ_STR(a.site, "pbx/site1");
	CHECK(dial_ask_parse(site1, strlen(site1), &one, &a) != NULL); /* not served */
	static const char *const bad[] = {"{\"site\":\"pbx/+\",\"extension\":\"100\",\"number\":\"+15551234567\"}",
	                                  "{\"site\":\"pbx/a/b\",\"extension\":\"100\",\"number\":\"+15551234567\"}",
	                                  "{\"extension\":\"10 0\",\"number\":\"+15551234567\"}",
	                                  "{\"extension\":\"100\",\"number\":\"anonymous\"}",
	                                  "{\"extension\":\"100\"}",
	                                  "{\"id\":\"a b\",\"extension\":\"100\",\"number\":\"+15551234567\"}",
	                                  "[]",
	                                  "{"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(dial_ask_parse(bad[i], strlen(bad[i]), &both, &a) != NULL);

	struct dial_requests *d = dial_requests_new();
	char id[COMMAND_ID_MAX + 1], id2[COMMAND_ID_MAX + 1], topic[128], payload[512], site[TOPIC_MAX], rid[80];
	char *doc;
	CHECK(dial_ask_parse(ok, strlen(ok), &one, &a) == NULL);
	snprintf(a.by, sizeof(a.by), "console 192.0.2.7");
	CHECK(dial_requests_add(d, &a, 1000, 1800000000000LL, id) == 0);
	CHECK(dial_requests_add(d, &a, 1000, 1800000000000LL, id2) == 0);
	CHECK(strncmp(id, "d-", 2) == 0 && strlen(id) == 20 && strcmp(id, id2) != 0 && command_id_valid(id));
	char *s = dial_requests_json(d, id, 1000);
	CHECK(strstr(s, "\"state\":\"queued\"") != NULL && strstr(s, "\"final\":false") != NULL);
	CHECK(strstr(s, "5551234567") == NULL); /* the number is not handed back */
	free(s);
	/* published once each, as the bridge reads them */
	CHECK(dial_requests_next(d, 1100, topic, sizeof(topic), payload, sizeof(payload)) == 1);
	CHECK_EQ_STR(topic, "pbx/commands/dial");
	char want[256];
	snprintf(want, sizeof(want),
	         "{\"id\":\"%s\",\"expires_at\":\"2027-01-15T08:00:10.000Z\",\"site\":\"pbx\",\"extension\":\"100\","
	         "\"number\":\"+15551234567\",\"by\":\"console 192.0.2.7\"}",
	         id);
	CHECK_EQ_STR(payload, want);
	CHECK(dial_requests_next(d, 1100, topic, sizeof(topic), payload, sizeof(payload)) == 1);
	CHECK(dial_requests_next(d, 1100, topic, sizeof(topic), payload, sizeof(payload)) == 0);
	/* an answer from another site's topic, or about another id, is not taken */
	char ans[256], at[128];
	snprintf(ans, sizeof(ans),
	         "{\"id\":\"%s\",\"kind\":\"dial\",\"final\":false,\"ok\":null,\"error\":null,\"message\":\"ringing "
	         "your phone\",\"state\":\"ringing\"}",
	         id);
	snprintf(at, sizeof(at), "pbx/east/commands/result/%s", id);
	CHECK(dial_requests_answer(d, at, ans, strlen(ans), 1200, &doc, site, rid) == -1);
	snprintf(at, sizeof(at), "pbx/commands/result/%s", id2);
	CHECK(dial_requests_answer(d, at, ans, strlen(ans), 1200, &doc, site, rid) == -1);
	snprintf(at, sizeof(at), "pbx/commands/result/%s", id);
	CHECK(dial_requests_answer(d, at, ans, strlen(ans), 1200, &doc, site, rid) == 0);
	CHECK(strstr(doc, "\"state\":\"ringing\"") != NULL && strstr(doc, "\"message\":\"ringing your phone\""));
	CHECK_EQ_STR(site, "pbx");
	CHECK_EQ_STR(rid, id);
	free(doc);
	snprintf(ans, sizeof(ans),
	         "{\"id\":\"%s\",\"kind\":\"dial\",\"final\":true,\"ok\":true,\"error\":null,\"message\":\"done\","
	         "\"state\":\"done\",\"call_id\":\"lab:1.2\"}",
	         id);
	CHECK(dial_requests_answer(d, at, ans, strlen(ans), 1300, &doc, site, rid) == 0);
	CHECK(strstr(doc, "\"final\":true,\"ok\":true,\"error\":null") && strstr(doc, "\"call_id\":\"lab:1.2\""));
	free(doc);
	CHECK(dial_requests_answer(d, at, ans, strlen(ans), 1400, &doc, site, rid) == -1); /* said once */
	/* the other one's bridge never answers: said by our side, and told to the live picture once */
	s = dial_requests_json(d, id2, 1100 + DIAL_REQUEST_TTL_MS + DIAL_SILENCE_MS + 1);
	CHECK(strstr(s, "\"error\":\"no_answer\"") != NULL && strstr(s, "\"ok\":false") != NULL);
	free(s);
	struct dial_tally tally = {0, 0};
	dial_requests_sweep(d, 20000, dial_tally, &tally);
	dial_requests_sweep(d, 21000, dial_tally, &tally);
	CHECK(tally.told == 1 && tally.left == 0);
	dial_requests_sweep(d, 1300 + DIAL_REQUEST_KEEP_MS + 1, dial_tally, &tally); /* the first leaves */
	CHECK(tally.told == 1 && tally.left == 1);
	CHECK(dial_requests_json(d, id, 1300 + DIAL_REQUEST_KEEP_MS + 2) == NULL);
	s = dial_requests_json(d, id2, 1300 + DIAL_REQUEST_KEEP_MS + 2);
	CHECK(s != NULL);
	free(s);
	/* the asker's own id, asked again: the same request, not added twice */
	snprintf(a.id, sizeof(a.id), "crm-42");
	CHECK(dial_requests_add(d, &a, 40000, 1800000000000LL, id) == 0);
	CHECK_EQ_STR(id, "crm-42");
	CHECK(dial_requests_add(d, &a, 40001, 1800000000000LL, id) == 1);
	CHECK(dial_requests_next(d, 40002, topic, sizeof(topic), payload, sizeof(payload)) == 1);
	CHECK(dial_requests_next(d, 40003, topic, sizeof(topic), payload, sizeof(payload)) == 0);
	a.id[0] = '\0';
	/* a request the broker never took in time */
	CHECK(dial_requests_add(d, &a, 50000, 1800000000000LL, id) == 0);
	CHECK(dial_requests_next(d, 50000 + DIAL_REQUEST_TTL_MS + 1, topic, sizeof(topic), payload, sizeof(payload)) ==
	      0);
	s = dial_requests_json(d, id, 50000 + DIAL_REQUEST_TTL_MS + 2);
	CHECK(strstr(s, "\"error\":\"broker_unavailable\"") != NULL);
	free(s);
	dial_requests_free(d);
}

/* A stand-in for live_match: John's number is customer 7 once "asked"
 * (the second time), a bridge's own customer keys are never believed. */
static int asked_numbers;
static int fake_customer(void *ctx, const char *site, const char *call_id, const char *number, int64_t *customer_id,
                         char *name, size_t namesz)
{
	(void)ctx;
	(void)site;
	(void)call_id;
	if (number == NULL || strcmp(number, "+15559876543") != 0 || asked_numbers++ == 0)
		return 0;
	*customer_id = 7;
	snprintf(name, namesz, "John <b>Smith</b>");
	return 1;
}

void test_live_store_rings_carry_the_customer_and_leave_after_the_call(void)
{
	struct live_store *st = live_store_new(fake_customer, NULL);
	uint64_t v = 0;
	const char ring[] = "{\"call_id\":\"lab:1.0\",\"state\":\"ringing\",\"extension\":\"100\",\"caller_number\":"
	                    "\"+15559876543\",\"customer_id\":99,\"customer_name\":\"forged\"}";
	const char withheld[] =
	    "{\"call_id\":\"lab:1.1\",\"state\":\"ringing\",\"extension\":\"100\",\"caller_number\":"
	    "null,\"withheld\":true}";
	const char no_ext[] = "{\"call_id\":\"lab:1.2\",\"state\":\"ringing\"}";
	const char hangup[] = "{\"call_id\":\"lab:1.0\"}";

	asked_numbers = 0;
	free(changes(st, &v));
	CHECK_EQ_INT(live_store_message(st, "pbx/calls/ringing", ring, strlen(ring), 1000), 0);
	char *c = changes(st, &v);
	/* not known yet: null, whatever the bridge wrote */
	CHECK(c && strstr(c, "\"kind\":\"ringing\",\"name\":\"lab:1.0/100\"") != NULL);
	CHECK(c && strstr(c, "\"customer_id\":null,\"customer_name\":null") != NULL && strstr(c, "forged") == NULL);
	free(c);
	live_store_matched(st, "pbx", "lab:1.0"); /* the answer came */
	c = changes(st, &v);
	CHECK(c && strstr(c, "\"customer_id\":7,\"customer_name\":\"John <b>Smith</b>\"") != NULL);
	free(c);
	CHECK_EQ_INT(live_store_message(st, "pbx/calls/ringing", withheld, strlen(withheld), 1000), 0);
	c = changes(st, &v);
	CHECK(c && strstr(c, "lab:1.1/100") != NULL && strstr(c, "\"customer_id\":null") != NULL);
	free(c);
	CHECK_EQ_INT(live_store_message(st, "pbx/calls/ringing", no_ext, strlen(no_ext), 1000), -1);
	/* the call is over: its ring says so, then leaves */
	CHECK_EQ_INT(live_store_message(st, "pbx/calls/hangup", hangup, strlen(hangup), 2000), 0);
	c = changes(st, &v);
	CHECK(c && strstr(c, "\"ended\":true") != NULL && strstr(c, "lab:1.1") == NULL);
	free(c);
	live_store_sweep(st, 2000 + LIVE_RING_LINGER_MS - 1);
	CHECK(changes(st, &v) == NULL);
	live_store_sweep(st, 2000 + LIVE_RING_LINGER_MS + 1000);
	c = changes(st, &v);
	CHECK(c && strstr(c, "\"name\":\"lab:1.0/100\",\"value\":null") != NULL && strstr(c, "lab:1.1") == NULL);
	free(c);
	live_store_close(st);
	live_store_free(st);
}
