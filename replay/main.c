/*
 * pbxbus-replay: a stand-in PBX for the demo, the tests and the
 * benchmarks.  It serves real AMI captures over TCP as Asterisk would.
 */
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "cdr_writer.h"
#include "log.h"
#include "replay_server.h"
#include "signals.h"
#include "tls.h"
#include "version.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: pbxbus-replay [options] [CAPTURE.server.txt...]\n"
	           "Serves AMI captures (tests/fixtures/ami) as an Asterisk Manager Interface\n"
	           "would: login (plain or MD5 challenge), the read-only actions pbxbus-bridge\n"
	           "sends, and the captures' events at their recorded pace, looping with new\n"
	           "Uniqueid/Linkedid values on every loop; with no capture it only answers.\n"
	           "Prints one line per happening on stdout: LISTEN <port>, CONNECT, LOGIN ok\n"
	           "<events>|fail, ACTION <name>, COMMAND <text>, TLS ok|failed: <why>, GAP <n>\n"
	           "(quiet begins), LOOP <n>, DROPPED at <n>, GARBAGE sent, CLOSED <why>, DONE <n>\n"
	           "events <b> bytes in <s> s once the last\n"
	           "loop is written, and MISSED <n> events when some were played to nobody.\n\n"
	           "  --listen HOST:PORT  address to listen on (default 127.0.0.1:5038; port 0: any)\n"
	           "  --user NAME         AMI user accepted (default bridge)\n"
	           "  --speed F           pace: 1 as recorded, 10 ten times faster, 0 no pauses (default 1)\n"
	           "  --gap SECONDS       quiet between captures and loops, before --speed (default 2)\n"
	           "  --delay SECONDS     after a login, before events flow (default 1)\n"
	           "  --loops N           times to play the captures, 0 for ever (default 0)\n"
	           "  --answers BASE      capture answering the actions (default: 04-info-actions\n"
	           "                      beside the first capture)\n"
	           "  --run-on            after the first login, play on while no client is logged in\n"
	           "                      (what it misses is gone, as with Asterisk)\n"
	           "  --refuse-actions    answer every action but Login, Ping and Logoff with\n"
	           "                      \"Permission denied\" (an AMI user without the classes)\n"
	           "  --withheld          every caller's presentation is restricted: Getvar\n"
	           "                      CALLERID(num-pres) answers prohib_passed_screen (else\n"
	           "                      allowed_not_screened)\n"
	           "  --cdr-socket PATH   write a CDR row as each call's legs end into\n"
	           "                      asteriskcdrdb.cdr of the MariaDB at PATH (as root), as\n"
	           "                      FreePBX does (replay/freepbx-cdr.sql); calldate in local time\n"
	           "  --schedule FILE     write each call as it ends: {\"linkedid\", \"start\", \"answer\",\n"
	           "                      \"end\", \"heard\": all|part|none}, one JSON object a line\n"
	           "  --originate-call CAPTURE  the call played after an Originate that succeeded (an\n"
	           "                      outbound capture, new ids, the Originate's variables on its\n"
	           "                      first channel); without it only the answers are given\n"
	           "  --originate-result R  success (the default: Reason 4, as recorded), failure\n"
	           "                      (Reason 0, recorded), busy (5) or noanswer (3) (synthetic)\n"
	           "  --tls-cert FILE     serve AMI over TLS with this certificate (chain) ...\n"
	           "  --tls-key FILE      ... and its key (as Asterisk's tlsenable on port 5039)\n"
	           "  --log-level L       error, warn, info or debug (default info)\n"
	           "Pace and faults, for tests:\n"
	           "  --pace SECONDS      events this far apart whatever was recorded; --gap is\n"
	           "                      then plain seconds too (default: the recorded pace)\n"
	           "  --extra MESSAGE     an event played after the captures' (\\r\\n for CR LF);\n"
	           "                      may be given more than once\n"
	           "  --drop N            end the connection halfway through an event N times\n"
	           "                      (default 0); the event comes again whole to the next client\n"
	           "  --drop-at N         ... first at event N, counted from 0 over all loops (default 5)\n"
	           "  --drop-every N      ... then every N events (default 10)\n"
	           "  --skip-after-drop N events played to nobody at each drop (default 0)\n"
	           "  --garbage BYTES     one line of BYTES bytes without a colon before the first\n"
	           "                      event (once)\n"
	           "  --hide-later EXT    extension EXT is left out of the lists after the first login\n"
	           "  --ignore-ping       Ping goes unanswered\n"
	           "  --ignore-commands   Command (a CLI command) goes unanswered\n"
	           "  --old-commands      Command answered as Asterisk before 14 did (Response:\n"
	           "                      Follows, raw lines, --END COMMAND--; synthetic: no capture\n"
	           "                      of ours has it)\n"
	           "  --refuse-logins     refuse logins from the start (as SIGUSR1)\n"
	           "  -h, --help          this text\n"
	           "  -V, --version       version\n\n"
	           "The AMI secret accepted comes from PBXBUS_REPLAY_SECRET (default bridgepass),\n"
	           "never from the command line.  SIGUSR1 drops the client and refuses logins (as\n"
	           "after the AMI password changed); SIGUSR2 accepts them again.\n");
}

static volatile sig_atomic_t refuse_logins;

static void on_refuse_signal(int sig)
{
	refuse_logins = sig == SIGUSR1;
}

/* SIGUSR1: drop the client and refuse logins; SIGUSR2: accept them again. */
static void install_refuse_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_refuse_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0 || sigaction(SIGUSR2, &sa, NULL) < 0)
		fatal("sigaction");
}

static int parse_number(const char *s, double min, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !(v >= min) || v > 1e9)
		return -1;
	*out = v;
	return 0;
}

static int parse_listen(char *s, struct replay_options *o)
{
	char *colon = strrchr(s, ':');
	double port;
	if (colon == NULL || parse_number(colon + 1, 0, &port) < 0 || port > 65535)
		return -1;
	*colon = '\0';
	o->host = s;
	o->port = (int)port;
	return 0;
}

struct extras {
	const char **text; /* as many as there are arguments */
	size_t n;
};

enum {
	OPT_PACE = 256,
	OPT_EXTRA,
	OPT_DROP,
	OPT_DROP_AT,
	OPT_DROP_EVERY,
	OPT_SKIP,
	OPT_GARBAGE,
	OPT_HIDE,
	OPT_NO_PING,
	OPT_NO_COMMANDS,
	OPT_OLD_COMMANDS,
	OPT_REFUSE
};

/* A whole number option: 0 when it is one, within max. */
static int parse_count(const char *s, double max, unsigned long *out)
{
	double v;
	if (parse_number(s, 0, &v) < 0 || v > max || v != (double)(unsigned long)v)
		return -1;
	*out = (unsigned long)v;
	return 0;
}

/* The pace and fault switches; 1 when c was one of them, *bad set on a bad value. */
static int parse_fault(int c, const char *arg, struct replay_options *o, struct extras *x, int *bad)
{
	unsigned long v = 0;

	switch (c) {
	case OPT_PACE:
		*bad = parse_number(arg, 0, &o->pace);
		return 1;
	case OPT_EXTRA:
		x->text[x->n++] = arg;
		return 1;
	case OPT_DROP:
	case OPT_SKIP:
		*bad = parse_count(arg, 1e6, &v);
		*(c == OPT_DROP ? &o->drops : &o->skip_after_drop) = (unsigned)v;
		return 1;
	case OPT_DROP_AT:
		*bad = parse_count(arg, 1e9, &o->drop_at);
		return 1;
	case OPT_DROP_EVERY:
		*bad = parse_count(arg, 1e9, &o->drop_every);
		return 1;
	case OPT_GARBAGE:
		*bad = parse_count(arg, 64 * 1024 * 1024, &v);
		o->garbage = v;
		return 1;
	case OPT_HIDE:
		o->hide_later = arg;
		return 1;
	case OPT_NO_PING:
		o->ignore_ping = 1;
		return 1;
	case OPT_NO_COMMANDS:
		o->ignore_commands = 1;
		return 1;
	case OPT_OLD_COMMANDS:
		o->old_commands = 1;
		return 1;
	case OPT_REFUSE:
		refuse_logins = 1;
		return 1;
	default:
		return 0;
	}
}

static int parse_originate_result(const char *arg, enum originate_result *r)
{
	static const char *const names[] = {"success", "busy", "noanswer", "failure"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(arg, names[i]) == 0) {
			*r = (enum originate_result)i;
			return 0;
		}
	return 1;
}

static int parse_args(int argc, char **argv, struct replay_options *o, const char **answers, const char **cdr_socket,
                      struct extras *x, const char **originate_call)
{
	static const struct option opts[] = {{"pace", required_argument, NULL, OPT_PACE},
	                                     {"extra", required_argument, NULL, OPT_EXTRA},
	                                     {"drop", required_argument, NULL, OPT_DROP},
	                                     {"drop-at", required_argument, NULL, OPT_DROP_AT},
	                                     {"drop-every", required_argument, NULL, OPT_DROP_EVERY},
	                                     {"skip-after-drop", required_argument, NULL, OPT_SKIP},
	                                     {"garbage", required_argument, NULL, OPT_GARBAGE},
	                                     {"hide-later", required_argument, NULL, OPT_HIDE},
	                                     {"ignore-ping", no_argument, NULL, OPT_NO_PING},
	                                     {"ignore-commands", no_argument, NULL, OPT_NO_COMMANDS},
	                                     {"old-commands", no_argument, NULL, OPT_OLD_COMMANDS},
	                                     {"refuse-logins", no_argument, NULL, OPT_REFUSE},
	                                     {"listen", required_argument, NULL, 'l'},
	                                     {"user", required_argument, NULL, 'u'},
	                                     {"speed", required_argument, NULL, 's'},
	                                     {"gap", required_argument, NULL, 'g'},
	                                     {"delay", required_argument, NULL, 'd'},
	                                     {"loops", required_argument, NULL, 'n'},
	                                     {"answers", required_argument, NULL, 'a'},
	                                     {"run-on", no_argument, NULL, 'r'},
	                                     {"refuse-actions", no_argument, NULL, 'R'},
	                                     {"withheld", no_argument, NULL, 'W'},
	                                     {"cdr-socket", required_argument, NULL, 'C'},
	                                     {"schedule", required_argument, NULL, 'S'},
	                                     {"log-level", required_argument, NULL, 'L'},
	                                     {"tls-cert", required_argument, NULL, 'T'},
	                                     {"originate-call", required_argument, NULL, 'O'},
	                                     {"originate-result", required_argument, NULL, 'X'},
	                                     {"tls-key", required_argument, NULL, 'K'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {"version", no_argument, NULL, 'V'},
	                                     {NULL, 0, NULL, 0}};
	double loops;
	enum log_level level;
	int c, idx = 0;

	while ((c = getopt_long(argc, argv, "hV", opts, &idx)) != -1) {
		int bad = 0;
		if (parse_fault(c, optarg, o, x, &bad)) {
			c = 0; /* handled */
		}
		switch (c) {
		case 0:
			break;
		case 'l':
			bad = parse_listen(optarg, o);
			break;
		case 'u':
			o->user = optarg;
			break;
		case 's':
			bad = parse_number(optarg, 0, &o->speed);
			break;
		case 'g':
			bad = parse_number(optarg, 0, &o->gap);
			break;
		case 'd':
			bad = parse_number(optarg, 0, &o->delay);
			break;
		case 'n':
			bad = parse_number(optarg, 0, &loops) || loops != (unsigned)loops;
			o->loops = (unsigned)loops;
			break;
		case 'a':
			*answers = optarg;
			break;
		case 'T':
			o->tls_cert = optarg;
			break;
		case 'O':
			*originate_call = optarg;
			break;
		case 'X':
			bad = parse_originate_result(optarg, &o->originate_result);
			break;
		case 'K':
			o->tls_key = optarg;
			break;
		case 'r':
			o->run_on = 1;
			break;
		case 'R':
			o->refuse_actions = 1;
			break;
		case 'W':
			o->withheld = 1;
			break;
		case 'C':
			*cdr_socket = optarg;
			break;
		case 'S':
			o->schedule = optarg;
			break;
		case 'L':
			bad = log_level_parse(optarg, &level);
			if (!bad)
				log_set_level(level);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("pbxbus-replay %s\n", PBXBUS_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
		if (bad) {
			fprintf(stderr, "pbxbus-replay: bad value for --%s: %s\n", opts[idx].name, optarg);
			exit(2);
		}
	}
	if (optind == argc && *answers == NULL) {
		fprintf(stderr, "pbxbus-replay: with no capture, say where the answers are (--answers)\n");
		usage(stderr);
		exit(2);
	}
	return optind;
}

/* --extra's text with its \\r\\n escapes made CR LF, ended by a blank line. */
static int extra_message(const char *text, struct cap_msg *m)
{
	size_t len = strlen(text), n = 0;
	char *out = malloc(len + 5);

	if (out == NULL)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\\' && (text[i + 1] == 'r' || text[i + 1] == 'n')) {
			out[n++] = text[++i] == 'r' ? '\r' : '\n';
			continue;
		}
		out[n++] = text[i];
	}
	/* at most two line ends make the blank line that ends a message */
	for (int i = 0; i < 2 && (n < 4 || memcmp(out + n - 4, "\r\n\r\n", 4) != 0); i++) {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	*m = (struct cap_msg){.raw = out, .len = n};
	return 0;
}

static char *default_answers(const char *first)
{
	char *copy = strdup(first);
	char *out = NULL;
	if (copy && (out = malloc(strlen(copy) + 32)) != NULL)
		snprintf(out, strlen(first) + 32, "%s/04-info-actions", dirname(copy));
	free(copy);
	return out;
}

int main(int argc, char **argv)
{
	struct replay_options o = {.host = "127.0.0.1",
	                           .port = 5038,
	                           .user = "bridge",
	                           .speed = 1,
	                           .gap = 2,
	                           .delay = 1,
	                           .loops = 0,
	                           .pace = -1,
	                           .drop_at = 5,
	                           .drop_every = 10};
	const char *answers_base = NULL;
	static volatile sig_atomic_t stop;
	char err[512];

	log_init("pbxbus-replay", LOG_LVL_INFO);
	const char *cdr_socket = NULL;
	struct extras extras = {.text = calloc((size_t)argc, sizeof(char *)), .n = 0};
	if (extras.text == NULL)
		fatalx("out of memory");
	const char *originate_path = NULL;
	static struct capture originate_call;
	int first = parse_args(argc, argv, &o, &answers_base, &cdr_socket, &extras, &originate_path);
	o.secret = getenv("PBXBUS_REPLAY_SECRET") ? getenv("PBXBUS_REPLAY_SECRET") : "bridgepass";

	size_t ncaps = (size_t)(argc - first), nitems = 0;
	struct capture *caps = calloc(ncaps, sizeof(*caps));
	size_t total = 0;
	for (size_t i = 0; caps && i < ncaps; i++) {
		if (capture_load(&caps[i], argv[first + (int)i], err, sizeof(err)) < 0)
			fatalx("%s", err);
		if (!caps[i].timed)
			log_warnx("%s: no matching timing file; its events go without pauses", argv[first + (int)i]);
		total += caps[i].n;
	}
	struct replay_stream_item *items = calloc(total + extras.n + 1, sizeof(*items));
	struct cap_msg *extra_msgs = calloc(extras.n + 1, sizeof(*extra_msgs));
	if ((caps == NULL && ncaps > 0) || items == NULL || extra_msgs == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < ncaps; i++) {
		int first_of = 1;
		for (size_t j = 0; j < caps[i].n; j++) {
			if (!capture_is_replayable(&caps[i].msgs[j]))
				continue;
			items[nitems++] =
			    (struct replay_stream_item){.msg = &caps[i].msgs[j], .first_of_capture = first_of};
			first_of = 0;
		}
	}
	for (size_t i = 0; i < extras.n; i++) {
		if (extra_message(extras.text[i], &extra_msgs[i]) < 0)
			fatalx("out of memory");
		extra_msgs[i].t = nitems ? items[nitems - 1].msg->t : 0;
		items[nitems++] = (struct replay_stream_item){.msg = &extra_msgs[i]};
	}
	if (nitems == 0 && ncaps > 0)
		fatalx("the captures hold no events to replay");

	char *dflt = answers_base ? NULL : default_answers(argv[first]);
	struct recorded answers;
	if (recorded_load(&answers, answers_base ? answers_base : dflt, err, sizeof(err)) < 0)
		fatalx("answers: %s", err);
	free(dflt);

	struct cdr_writer *cdr = NULL;
	if (cdr_socket != NULL) {
		if ((cdr = malloc(sizeof(*cdr))) == NULL ||
		    cdr_writer_open(cdr, cdr_socket, o.speed, err, sizeof(err)) < 0)
			fatalx("%s", cdr ? err : "out of memory");
		o.cdr = cdr;
	}
	if (originate_path != NULL) {
		if (capture_load(&originate_call, originate_path, err, sizeof(err)) < 0)
			fatalx("--originate-call: %s", err);
		o.originate_call = &originate_call;
	}
	if ((o.tls_cert || o.tls_key) && (o.tls = tls_server_new(o.tls_cert, o.tls_key, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	signals_install(&stop);
	install_refuse_signals();
	o.refuse_logins = &refuse_logins;
	int rc = replay_serve(&o, items, nitems, &answers, &stop);
	recorded_free(&answers);
	tls_ctx_free(o.tls);
	if (o.originate_call)
		capture_free(&originate_call);
	if (cdr) {
		cdr_writer_close(cdr);
		free(cdr);
	}
	for (size_t i = 0; i < ncaps; i++)
		capture_free(&caps[i]);
	free(caps);
	free(items);
	for (size_t i = 0; i < extras.n; i++)
		free(extra_msgs[i].raw);
	free(extra_msgs);
	free(extras.text);
	return rc < 0 ? 1 : 0;
}
