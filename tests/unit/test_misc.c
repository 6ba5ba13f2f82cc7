#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backoff.h"
#include "clock.h"
#include "event_filter.h"
#include "md5hex.h"
#include "topic.h"
#include "unit.h"

void test_md5_challenge_from_capture(void)
{
	char key[33];
	/* capture 02: challenge 150700078, secret bridgepass */
	CHECK(md5_hex("150700078", 9, "bridgepass", 10, key) == 0);
	CHECK_EQ_STR(key, "d4cb89ea63a8184bbee6f43197b572b0");
	CHECK(md5_hex("a", 1, "bc", 2, key) == 0);
	CHECK_EQ_STR(key, "900150983cd24fb0d6963f7d28e17f72");
}

void test_topic_site_of_a_multi_pbx_filter(void)
{
	char site[32];
	CHECK_EQ_INT(topic_site("pbx/+/calls/hangup", "pbx/site1/calls/hangup", site, sizeof(site)), 1);
	CHECK_EQ_STR(site, "site1");
	CHECK_EQ_INT(topic_site("pbx/calls/hangup", "pbx/calls/hangup", site, sizeof(site)), 0);
	CHECK_EQ_INT(topic_site("pbx/+/calls/hangup", "pbx/calls/hangup", site, sizeof(site)), -1);
	CHECK_EQ_INT(topic_site("pbx/+/calls/hangup", "pbx/a/b/calls/hangup", site, sizeof(site)), -1);
	CHECK_EQ_INT(topic_site("pbx/+/calls/hangup", "pbx/site1/calls/answer", site, sizeof(site)), -1);
	CHECK_EQ_INT(topic_site("acme/+/x/+/calls/hangup", "acme/eu/x/s2/calls/hangup", site, sizeof(site)), 1);
	CHECK_EQ_STR(site, "eu");
	CHECK_EQ_INT(topic_site("pbx/+/calls/hangup", "pbx/a-site-name-too-long-for-out-x/calls/hangup", site, 8), -1);
	CHECK_EQ_INT(topic_site("pbx/+/calls/hangup", "pbx//calls/hangup", site, sizeof(site)), -1);
}

void test_topic_vocabulary_parses_what_it_names(void)
{
	char prefix[64];
	CHECK(topic_record_prefix("pbx/site1/calls/hangup", prefix, sizeof(prefix)) == 0);
	CHECK_EQ_STR(prefix, "pbx/site1");
	CHECK(topic_record_prefix("pbx/calls/start", prefix, sizeof(prefix)) < 0);
	CHECK(topic_record_prefix("/calls/hangup", prefix, sizeof(prefix)) < 0);
	CHECK(topic_record_prefix("pbx/site1/calls/hangup", prefix, 9) < 0); /* "pbx/site1" needs 10 */
	CHECK_EQ_STR(topic_strip_share("$share/crm/pbx/+/calls/hangup"), "pbx/+/calls/hangup");
	CHECK_EQ_STR(topic_strip_share("pbx/calls/hangup"), "pbx/calls/hangup");
	CHECK_EQ_STR(topic_strip_share("$share/nogroup"), "$share/nogroup");
	CHECK_EQ_STR("calls/hangup", TOPIC_CALL_RECORDS);
	CHECK_EQ_STR(topic_call_phases[CALL_HANGUP], "hangup");
	char kind[16];
	CHECK(topic_command_kind("pbx/site1", "pbx/site1/commands/cli", kind, sizeof(kind)) == 0);
	CHECK_EQ_STR(kind, "cli");
	CHECK(topic_command_kind("pbx/site1", "pbx/site1/commands/result/x1", kind, sizeof(kind)) < 0);
	CHECK(topic_command_kind("pbx/site1", "pbx/site2/commands/cli", kind, sizeof(kind)) < 0);
	CHECK(topic_command_kind("pbx", "pbx/site1/commands/cli", kind, sizeof(kind)) < 0);
	CHECK(topic_command_kind("pbx", "pbx/commands/", kind, sizeof(kind)) < 0);
	CHECK(topic_command_kind("pbx", "pbx/commands/averyveryverylongkind", kind, sizeof(kind)) < 0);
	CHECK_EQ_STR(TOPIC_COMMAND_RESULTS, "commands/result");
}

void test_topic_segment_sanitised(void)
{
	char out[128];
	CHECK_EQ_STR(topic_segment(out, sizeof(out), "Hangup", 6), "Hangup");
	CHECK_EQ_STR(topic_segment(out, sizeof(out), "a/b+c#d e\x01\xff", 11), "a%2Fb%2Bc%23d%20e%01%FF");
	CHECK_EQ_STR(topic_segment(out, sizeof(out), "x\0y", 3), "x%00y");
	/* reversible (audit L13): names that sanitising made one stay apart */
	char other[128];
	CHECK(strcmp(topic_segment(out, sizeof(out), "100/1", 5), topic_segment(other, sizeof(other), "100+1", 5)) !=
	      0);
	CHECK(strcmp(topic_segment(out, sizeof(out), "100_1", 5), topic_segment(other, sizeof(other), "100/1", 5)) !=
	      0);
	CHECK_EQ_STR(topic_segment(out, sizeof(out), "", 0), "%");
	CHECK_EQ_STR(topic_segment(out, sizeof(out), "%", 1), "%25");
	/* long names: cut, with a hash of the whole, within the bound */
	char a[100], b[100];
	memset(a, 'x', sizeof(a));
	memcpy(b, a, sizeof(b));
	b[99] = 'y';
	topic_segment(out, sizeof(out), a, sizeof(a));
	topic_segment(other, sizeof(other), b, sizeof(b));
	CHECK(strlen(out) <= 64 && strlen(other) <= 64 && strcmp(out, other) != 0);
	CHECK(strchr(out, '~') != NULL);
	memset(a, '/', sizeof(a));
	CHECK(strlen(topic_segment(out, sizeof(out), a, sizeof(a))) <= 64);
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	CHECK_EQ_INT(strlen(topic_segment(out, sizeof(out), longname, sizeof(longname))), 64);

	const char *why;
	CHECK(topic_prefix_valid("pbx", &why) == 0);
	CHECK(topic_prefix_valid("pbx/site1", &why) == 0);
	CHECK(topic_prefix_valid("pbx/+", &why) < 0);
	CHECK(topic_prefix_valid("pbx/", &why) < 0);
	CHECK(topic_prefix_valid("$SYS", &why) < 0);
	CHECK(topic_prefix_valid("a//b", &why) < 0);
	CHECK(topic_prefix_valid("", &why) < 0);
}

void test_backoff_doubles_with_jitter_and_cap(void)
{
	struct backoff b;
	backoff_init(&b, 500, 30000, 12345);
	int64_t d1 = backoff_next(&b), d2 = backoff_next(&b), d3 = backoff_next(&b);
	CHECK(d1 >= 250 && d1 <= 500);
	CHECK(d2 >= 500 && d2 <= 1000);
	CHECK(d3 >= 1000 && d3 <= 2000);
	for (int i = 0; i < 6; i++)
		backoff_next(&b); /* 4 s, 8 s, 16 s, then the cap */
	for (int i = 0; i < 100; i++) {
		int64_t d = backoff_next(&b);
		CHECK(d >= 15000 && d <= 30000);
	}
	backoff_reset(&b);
	d1 = backoff_next(&b);
	CHECK(d1 >= 250 && d1 <= 500);
}

void test_event_filter_defaults(void)
{
	struct event_filter f;
	CHECK(event_filter_init(&f, "*", "VarSet Newexten RTCP*") == 0);
	CHECK(event_filter_allows(&f, "Hangup", 6));
	CHECK(!event_filter_allows(&f, "VarSet", 6));
	CHECK(!event_filter_allows(&f, "RTCPSent", 8));
	CHECK(!event_filter_allows(&f, "RTCPReceived", 12));
	CHECK(event_filter_allows(&f, "Hangup", 6)); /* cached */
	CHECK(event_filter_allows(&f, "Newexten2", 9));
	event_filter_free(&f);
	CHECK(event_filter_init(&f, "Hangup,Cdr Dial*", "") == 0);
	CHECK(event_filter_allows(&f, "Cdr", 3));
	CHECK(event_filter_allows(&f, "DialEnd", 7));
	CHECK(!event_filter_allows(&f, "Newchannel", 10));
	event_filter_free(&f);
}

void test_clock_formats(void)
{
	char buf[ISO8601_LEN];
	CHECK_EQ_STR(iso8601_ms(1795345290123, buf), "2026-11-22T11:01:30.123Z");
	/* dates that do not exist are refused, not moved on (audit L8) */
	CHECK(iso8601_parse_ms("2026-02-31T10:00:00Z") < 0);
	CHECK(iso8601_parse_ms("2026-04-31T10:00:00Z") < 0);
	CHECK(iso8601_parse_ms("2025-02-29T00:00:00Z") < 0);
	CHECK(iso8601_parse_ms("2024-02-29T00:00:00Z") == 1709164800000);
	CHECK(iso8601_parse_ms("2026-11-22T11:01:30.123Z") == 1795345290123);
	CHECK_EQ_INT(ami_timestamp_ms("1795345290.123456", 17), 1795345290123);
	CHECK_EQ_INT(ami_timestamp_ms("1795345290", 10), 1795345290000);
	CHECK_EQ_INT(ami_timestamp_ms("1795345290.5", 12), 1795345290500);
	CHECK_EQ_INT(ami_timestamp_ms("1741614725.335807", 17), 1741614725336); /* to the nearest ms */
	CHECK_EQ_INT(ami_timestamp_ms("1741614725.999500", 17), 1741614726000);
	CHECK_EQ_INT(ami_timestamp_ms("17x", 3), -1);
	CHECK_EQ_INT(ami_timestamp_ms("", 0), -1);
}

#include <sys/socket.h>

#include "ami_client.h"
#include "cli_command.h"
#include "dial.h"
#include "log.h"
#include "phone.h"

void test_ami_actions_are_read_only(void)
{
	struct ami_client c;
	struct ami_opts o = {.host = "127.0.0.1", .port = 1, .username = "u", .secret = "s", .action_timeout_ms = 1000};
	struct ami_callbacks cb = {0};
	int sv[2];
	char out[512];

	CHECK(ami_client_init(&c, &o, &cb) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	c.fd = sv[0]; /* a live session: only the allow-list decides */
	c.state = AMI_UP;
	log_set_level((enum log_level) - 1); /* the refusals are logged as CRITICAL */
	CHECK(ami_client_action(&c, "Originate", "Channel: PJSIP/100\r\n", NULL, NULL) < 0);
	CHECK(ami_client_action(&c, "Command", NULL, NULL, NULL) < 0);
	CHECK(ami_client_action(&c, "Hangup", NULL, NULL, NULL) < 0);
	CHECK(ami_client_action(&c, "Park", "Channel: PJSIP/100-00000001\r\n", NULL, NULL) <
	      0); /* ParkedCalls only lists */
	log_set_level(LOG_LVL_ERROR);
	CHECK(ami_client_action(&c, "CoreSettings", NULL, NULL, NULL) == 0);
	ssize_t n = read(sv[1], out, sizeof(out) - 1);
	CHECK(n > 0);
	out[n > 0 ? n : 0] = '\0';
	CHECK_EQ_STR(out, "Action: CoreSettings\r\nActionID: pbxbus-1\r\n\r\n");
	/* Command leaves only through ami_client_command, which checks the
	 * rules itself: none set, nothing goes; a secret never, whatever the list */
	static char *const allow[] = {"core show *", "PJSIP  show auth*"};
	struct cli_rules rules = {allow, 2};
	log_set_level((enum log_level) - 1);
	CHECK(ami_client_command(&c, "core show version", 1000, NULL, NULL) < 0);
	c.o.commands = &rules;
	CHECK(ami_client_command(&c, "pjsip show auths", 1000, NULL, NULL) < 0);
	CHECK(ami_client_command(&c, "core restart now", 1000, NULL, NULL) < 0);
	CHECK(ami_client_command(&c, "core show version\r\nAction: Originate", 1000, NULL, NULL) < 0);
	log_set_level(LOG_LVL_ERROR);
	CHECK(ami_client_command(&c, "  Core   SHOW\tversion ", 1000, NULL, NULL) == 0);
	n = read(sv[1], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	CHECK_EQ_STR(out, "Action: Command\r\nActionID: pbxbus-2\r\nCommand: core show version\r\n\r\n");
	/* Originate leaves only through ami_client_originate, which checks the
	 * dial rules itself: none set, nothing is dialled */
	struct ami_originate dial = {"100", "+15559876543", "d1", "console 192.0.2.7"};
	struct dial_rules rules_d = {.ring_context = "pbxbus-dial-device",
	                             .context = "from-internal",
	                             .format = PHONE_DIAL_NATIONAL,
	                             .ring_timeout_ms = 30000};
	CHECK(phone_plan_init(&rules_d.plan, "1", "1", "011") == 0);
	log_set_level((enum log_level) - 1);
	CHECK(ami_client_originate(&c, &dial, NULL, NULL) < 0);
	c.o.dial = &rules_d; /* no dial_numbers: still nothing */
	CHECK(ami_client_originate(&c, &dial, NULL, NULL) < 0);
	CHECK(glob_list_parse(&rules_d.numbers, "+1*") == 0);
	struct ami_originate abroad = {"100", "+442079460000", "d2", "x"},
	                     odd_ext = {"100@evil", "+15559876543", "d3", "x"},
	                     odd_by = {"100", "+15559876543", "d4", "x\r\nAction: Hangup"};
	CHECK(ami_client_originate(&c, &abroad, NULL, NULL) < 0);
	CHECK(ami_client_originate(&c, &odd_ext, NULL, NULL) < 0);
	CHECK(ami_client_originate(&c, &odd_by, NULL, NULL) < 0);
	log_set_level(LOG_LVL_ERROR);
	CHECK(ami_client_originate(&c, &dial, NULL, NULL) == 0);
	n = read(sv[1], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	CHECK_EQ_STR(out, "Action: Originate\r\nActionID: pbxbus-3\r\nChannel: Local/100@pbxbus-dial-device\r\n"
	                  "Context: from-internal\r\nExten: 15559876543\r\nPriority: 1\r\nAsync: true\r\n"
	                  "Timeout: 30000\r\nCallerID: \"+15559876543\" <100>\r\nVariable: PBXBUS_DIAL=d1\r\n"
	                  "Variable: PBXBUS_DIAL_BY=console 192.0.2.7\r\n\r\n");
	glob_list_free(&rules_d.numbers);
	close(sv[1]);
	ami_client_free(&c);
}

void test_phone_mask_keeps_the_last_four_digits(void)
{
	char out[32];

	phone_mask("+15559876543", out, sizeof(out));
	CHECK_EQ_STR(out, "+xxxxxxx6543");
	phone_mask("+123", out, sizeof(out));
	CHECK_EQ_STR(out, "+123");
	phone_mask("+15559876543", out, 6);
	CHECK_EQ_STR(out, "+xxxx");
	CHECK(dial_extension_valid("100") && dial_extension_valid("sales-1") && !dial_extension_valid("100@x") &&
	      !dial_extension_valid(""));
	CHECK(dial_by_valid("console 192.0.2.7") && !dial_by_valid("a\nb") && !dial_by_valid("a,b"));
}

void test_cli_command_rules(void)
{
	static char *const allow[] = {"core show channels*", "queue show*", "database show*", "sip show *"};
	struct cli_rules r = {allow, 4};
	char norm[CLI_COMMAND_MAX + 1], big[400];

	CHECK_EQ_INT(cli_command_check(&r, "core show channels concise", norm, sizeof(norm)), CLI_OK);
	CHECK_EQ_INT(cli_command_check(&r, "Queue  Show", norm, sizeof(norm)), CLI_OK);
	CHECK_EQ_STR(norm, "queue show");
	CHECK_EQ_INT(cli_command_check(&r, "core show uptime", norm, sizeof(norm)), CLI_NOT_LISTED);
	CHECK_EQ_INT(cli_command_check(&r, "database show", norm, sizeof(norm)),
	             CLI_SECRET); /* listed, still refused */
	CHECK_EQ_INT(cli_command_check(&r, "sip show users", norm, sizeof(norm)), CLI_SECRET);
	CHECK_EQ_INT(cli_command_check(&r, "sip show peers", norm, sizeof(norm)), CLI_OK);
	CHECK_EQ_INT(cli_command_check(&r, "core stop now", norm, sizeof(norm)), CLI_NOT_A_SHOW);
	CHECK_EQ_INT(cli_command_check(&r, "core showx", norm, sizeof(norm)), CLI_NOT_A_SHOW);
	CHECK_EQ_INT(cli_command_check(&r, "show", norm, sizeof(norm)), CLI_NOT_A_SHOW);
	CHECK_EQ_INT(cli_command_check(&r, "queue show\nq", norm, sizeof(norm)), CLI_MALFORMED);
	CHECK_EQ_INT(cli_command_check(&r, "   ", norm, sizeof(norm)), CLI_MALFORMED);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "queue show ", 11);
	CHECK_EQ_INT(cli_command_check(&r, big, norm, sizeof(norm)), CLI_MALFORMED);
	CHECK_EQ_INT(cli_command_check(NULL, "queue show", norm, sizeof(norm)), CLI_NOT_LISTED);
}

#include "command_ids.h"

void test_command_ids_survive_a_restart_for_ten_minutes(void)
{
	struct command_ids t;
	char dir[] = "/tmp/pbxbus-ids-XXXXXX", err[256];
	int64_t now = 1800000000000;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(command_ids_open(&t, dir, now, err, sizeof(err)) == 0);
	CHECK(!command_ids_seen(&t, "a1", now));
	CHECK(command_ids_add(&t, "a1", now) == 0);
	CHECK(command_ids_add(&t, "a2", now + 1000) == 0);
	CHECK(command_ids_add(&t, "bad id", now) < 0);
	CHECK(command_ids_seen(&t, "a1", now + 2000));
	CHECK_EQ_INT(command_ids_since(&t, now + 500), 1);
	command_ids_close(&t);
	CHECK(command_ids_open(&t, dir, now + 5 * 60 * 1000, err, sizeof(err)) == 0); /* a restart */
	CHECK(command_ids_seen(&t, "a1", now + 5 * 60 * 1000));
	CHECK(!command_ids_seen(&t, "a3", now + 5 * 60 * 1000));
	CHECK(!command_ids_seen(&t, "a1", now + 10 * 60 * 1000 + 1)); /* ten minutes on: forgotten */
	CHECK(command_ids_seen(&t, "a2", now + 10 * 60 * 1000 + 1));
	for (int i = 0; i < 500; i++) { /* the file is rewritten, not grown without end */
		char id[16];
		snprintf(id, sizeof(id), "b%d", i);
		CHECK(command_ids_add(&t, id, now + 11 * 60 * 1000 + i) == 0);
	}
	CHECK(t.lines <= 2 * t.n + 64);
	command_ids_close(&t);
	CHECK(command_ids_open(&t, dir, now + 11 * 60 * 1000 + 600, err, sizeof(err)) == 0);
	CHECK_EQ_INT(t.n, 500);
	CHECK(command_ids_seen(&t, "b499", now + 11 * 60 * 1000 + 600));
	command_ids_close(&t);
	char path[128];
	snprintf(path, sizeof(path), "%s/command-ids", dir);
	unlink(path);
	rmdir(dir);
}
