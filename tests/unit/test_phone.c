#include "phone.h"
#include "unit.h"

struct phone_case {
	const char *plan; /* "uk", "us", "de" */
	const char *in;
	const char *want; /* NULL: no number */
};

static const struct phone_case cases[] = {
    /* UK: 44 / 0 / 00 */
    {"uk", "020 7946 0000", "+442079460000"},
    {"uk", "02079460000", "+442079460000"},
    {"uk", "(020) 7946-0000", "+442079460000"},
    {"uk", "+44 20 7946 0000", "+442079460000"},
    {"uk", "+44 (0)20 7946 0000", "+442079460000"}, /* the bracketed national prefix is dropped */
    {"uk", "+44 020 7946 0000", NULL},              /* a 0 after the country code is not a number */
    {"uk", "0044 20 7946 0000", "+442079460000"},
    {"uk", "442079460000", "+442079460000"},
    {"uk", "07911 123456", "+447911123456"},
    {"uk", "07911.123.456", "+447911123456"},
    {"uk", "447911123456", "+447911123456"},
    {"uk", "+1 212 555 0100", "+12125550100"},
    {"uk", "001 212 555 0100", "+12125550100"},
    {"uk", "0049 30 1234567", "+49301234567"},
    {"uk", "2079460000", "+442079460000"},
    {"uk", "999", NULL},
    {"uk", "101", NULL},
    {"uk", "100", NULL},
    {"uk", "12345", NULL},
    {"uk", "123456", NULL},
    {"uk", "anonymous", NULL},
    {"uk", "Anonymous", NULL},
    {"uk", "unknown", NULL},
    {"uk", "<unknown>", NULL},
    {"uk", "", NULL},
    {"uk", "   ", NULL},
    {"uk", "+", NULL},
    {"uk", "+44", NULL},
    {"uk", "0800 abc", NULL},
    {"uk", "12+34567890", NULL},
    {"uk", "*67 02079460000", NULL},
    {"uk", "1234567890123456789", NULL},
    {"uk", "+1234567890123456", NULL},
    {"uk", "0 20 7946 0000 ext", NULL},
    {"uk", "020\t7946\t0000", "+442079460000"},
    /* US: 1 / 1 / 011 */
    {"us", "(212) 555-0100", "+12125550100"},
    {"us", "212-555-0100", "+12125550100"},
    {"us", "212.555.0100", "+12125550100"},
    {"us", "1 212 555 0100", "+12125550100"},
    {"us", "12125550100", "+12125550100"},
    {"us", "+1 (212) 555-0100", "+12125550100"},
    {"us", "011 44 20 7946 0000", "+442079460000"},
    {"us", "01144 7911 123456", "+447911123456"},
    {"us", "15559876543", "+15559876543"},
    {"us", "15551234567", "+15551234567"},
    {"us", "5551000", "+15551000"},
    {"us", "555-1000", "+15551000"},
    {"us", "911", NULL},
    {"us", "411", NULL},
    {"us", "anonymous", NULL},
    {"us", "+15557778888", "+15557778888"},
    {"us", "15550004444", "+15550004444"},
    /* DE: 49 / 0 / 00 */
    {"de", "030 1234567", "+49301234567"},
    {"de", "030/1234567", "+49301234567"},
    {"de", "+49 30 1234567", "+49301234567"},
    {"de", "0049 30 1234567", "+49301234567"},
    {"de", "0171 1234567", "+491711234567"},
    {"de", "49301234567", "+49301234567"},
    {"de", "0044 20 7946 0000", "+442079460000"},
    {"de", "+43 1 234567", "+431234567"},
    {"de", "110", NULL},
    {"de", "112", NULL},
    {"de", "<unknown>", NULL},
    {"de", "089 / 12 34 56",
     "+498912345"
     "6"},
};

void test_phone_table(void)
{
	struct phone_plan uk, us, de;
	char out[PHONE_E164_MAX];
	size_t n = sizeof(cases) / sizeof(cases[0]);

	CHECK(phone_plan_init(&uk, "44", "0", "00") == 0);
	CHECK(phone_plan_init(&us, "1", "1", "011") == 0);
	CHECK(phone_plan_init(&de, "49", "0", "00") == 0);
	CHECK(n >= 60);
	for (size_t i = 0; i < n; i++) {
		const struct phone_case *c = &cases[i];
		const struct phone_plan *p = c->plan[0] == 'u' ? (c->plan[1] == 'k' ? &uk : &us) : &de;
		int rc = phone_to_e164(c->in, p, out);
		int ok = c->want ? (rc == 0 && strcmp(out, c->want) == 0) : rc < 0;
		if (!ok) {
			fprintf(stderr, "  [%s] \"%s\" -> rc %d \"%s\", want %s\n", c->plan, c->in, rc, out,
			        c->want ? c->want : "(no number)");
			unit_failures++;
		}
	}
	CHECK(phone_plan_init(&uk, "4x", "0", "00") < 0);
	CHECK(phone_plan_init(&uk, "", "0", "00") < 0);
	CHECK(phone_to_e164(NULL, &de, out) < 0);
}

void test_phone_dial_string_as_the_pbx_dials(void)
{
	struct phone_plan us, uk;
	enum phone_dial_format f;
	char out[32];

	CHECK(phone_plan_init(&us, "1", "1", "011") == 0);
	CHECK(phone_plan_init(&uk, "44", "0", "00") == 0);
	CHECK(phone_dial_string("+15559876543", &us, PHONE_DIAL_NATIONAL, out, sizeof(out)) == 0);
	CHECK_EQ_STR(out, "15559876543");
	CHECK(phone_dial_string("+442079460000", &uk, PHONE_DIAL_NATIONAL, out, sizeof(out)) == 0);
	CHECK_EQ_STR(out, "02079460000");
	CHECK(phone_dial_string("+4930123456", &uk, PHONE_DIAL_NATIONAL, out, sizeof(out)) == 0);
	CHECK_EQ_STR(out, "004930123456"); /* abroad: international */
	CHECK(phone_dial_string("+442079460000", &us, PHONE_DIAL_INTERNATIONAL, out, sizeof(out)) == 0);
	CHECK_EQ_STR(out, "011442079460000");
	CHECK(phone_dial_string("+442079460000", &us, PHONE_DIAL_E164, out, sizeof(out)) == 0);
	CHECK_EQ_STR(out, "+442079460000");
	CHECK(phone_dial_string("15559876543", &us, PHONE_DIAL_E164, out, sizeof(out)) < 0); /* not E.164 */
	CHECK(phone_dial_string("+1555", &us, PHONE_DIAL_E164, out, sizeof(out)) < 0);
	CHECK(phone_dial_string("+1555987654x", &us, PHONE_DIAL_E164, out, sizeof(out)) < 0);
	CHECK(phone_dial_string("+15559876543", &us, PHONE_DIAL_E164, out, 8) < 0);
	CHECK(phone_dial_format_parse("national", &f) == 0 && f == PHONE_DIAL_NATIONAL);
	CHECK(phone_dial_format_parse("E164", &f) < 0);
}
