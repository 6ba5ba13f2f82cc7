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
#include "version.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: pbxbus-replay [options] CAPTURE.server.txt...\n"
	           "Serves AMI captures (tests/fixtures/ami) as an Asterisk Manager Interface\n"
	           "would: login (plain or MD5 challenge), the read-only actions pbxbus-bridge\n"
	           "sends, and the captures' events at their recorded pace, looping with new\n"
	           "Uniqueid/Linkedid values on every loop.  Prints LISTEN <port>, CONNECT,\n"
	           "LOGIN ok|fail, LOOP <n>, CLOSED <why>, and DONE <n> events <b> bytes in <s> s\n"
	           "once the last loop is written, on stdout.\n\n"
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
	           "  --log-level L       error, warn, info or debug (default info)\n"
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

static int parse_args(int argc, char **argv, struct replay_options *o, const char **answers, const char **cdr_socket)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},     {"user", required_argument, NULL, 'u'},
	    {"speed", required_argument, NULL, 's'},      {"gap", required_argument, NULL, 'g'},
	    {"delay", required_argument, NULL, 'd'},      {"loops", required_argument, NULL, 'n'},
	    {"answers", required_argument, NULL, 'a'},    {"run-on", no_argument, NULL, 'r'},
	    {"refuse-actions", no_argument, NULL, 'R'},   {"withheld", no_argument, NULL, 'W'},
	    {"cdr-socket", required_argument, NULL, 'C'}, {"schedule", required_argument, NULL, 'S'},
	    {"log-level", required_argument, NULL, 'L'},  {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},          {NULL, 0, NULL, 0}};
	double loops;
	enum log_level level;
	int c, idx = 0;

	while ((c = getopt_long(argc, argv, "hV", opts, &idx)) != -1) {
		int bad = 0;
		switch (c) {
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
	if (optind == argc) {
		fprintf(stderr, "pbxbus-replay: name at least one capture (NAME.server.txt)\n");
		usage(stderr);
		exit(2);
	}
	return optind;
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
	struct replay_options o = {
	    .host = "127.0.0.1", .port = 5038, .user = "bridge", .speed = 1, .gap = 2, .delay = 1, .loops = 0};
	const char *answers_base = NULL;
	static volatile sig_atomic_t stop;
	char err[512];

	log_init("pbxbus-replay", LOG_LVL_INFO);
	const char *cdr_socket = NULL;
	int first = parse_args(argc, argv, &o, &answers_base, &cdr_socket);
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
	struct replay_stream_item *items = calloc(total ? total : 1, sizeof(*items));
	if (caps == NULL || items == NULL)
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
	if (nitems == 0)
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
	signals_install(&stop);
	install_refuse_signals();
	o.refuse_logins = &refuse_logins;
	int rc = replay_serve(&o, items, nitems, &answers, &stop);
	recorded_free(&answers);
	if (cdr) {
		cdr_writer_close(cdr);
		free(cdr);
	}
	for (size_t i = 0; i < ncaps; i++)
		capture_free(&caps[i]);
	free(caps);
	free(items);
	return rc < 0 ? 1 : 0;
}
