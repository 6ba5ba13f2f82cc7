#include <stdlib.h>

#include "ami_codec.h"
#include "endpoint_kinds.h"
#include "unit.h"

/* Phone or trunk, from each kind of evidence, and which one wins. */

struct learner {
	struct endpoint_kinds *k;
};

static void on_msg(void *ctx, const struct ami_msg *m)
{
	endpoint_kinds_event(((struct learner *)ctx)->k, m);
}

static void tell(struct endpoint_kinds *k, const char *spec)
{
	struct learner l = {k};
	unit_feed_message(spec, on_msg, &l);
}

static enum ep_kind kind_of(const struct endpoint_kinds *k, const char *name, enum ep_why *why)
{
	enum ep_why ignored;
	return endpoint_kind(k, name, why ? why : &ignored);
}

static struct glob_list no_globs;

void test_endpoint_kinds_from_hints_and_lists(void)
{
	struct endpoint_kinds k;
	enum ep_why why;

	CHECK(endpoint_kinds_init(&k, &no_globs, &no_globs) == 0);
	tell(&k, "Event: ExtensionStatus|Exten: 100|Context: ext-local|Hint: PJSIP/100&SIP/alice&Custom:DND100");
	CHECK_EQ_INT(kind_of(&k, "100", &why), EP_PHONE);
	CHECK_EQ_INT(why, EPW_HINT);
	CHECK_EQ_INT(kind_of(&k, "alice", NULL), EP_PHONE);
	CHECK_EQ_INT(kind_of(&k, "DND100", NULL), EP_UNKNOWN); /* a custom state is no endpoint */
	/* capture 04's endpoint list: outbound auth is a trunk, inbound auth says nothing */
	tell(&k, "Event: EndpointList|ObjectName: trunk-provider|Auths: |OutboundAuths: trunk-provider-auth");
	tell(&k, "Event: EndpointList|ObjectName: 102|Auths: 102-auth|OutboundAuths: ");
	tell(&k, "Event: EndpointList|ObjectName: carrier-by-ip|Auths: |OutboundAuths: ");
	CHECK_EQ_INT(kind_of(&k, "trunk-provider", &why), EP_TRUNK);
	CHECK_EQ_INT(why, EPW_LISTED);
	CHECK_EQ_INT(kind_of(&k, "102", NULL), EP_UNKNOWN);
	CHECK_EQ_INT(kind_of(&k, "carrier-by-ip", NULL), EP_TRUNK);
	tell(&k, "Event: PeerEntry|ObjectName: 777|Dynamic: yes");
	tell(&k, "Event: PeerEntry|ObjectName: provider|Dynamic: no");
	CHECK_EQ_INT(kind_of(&k, "777", NULL), EP_PHONE);
	CHECK_EQ_INT(kind_of(&k, "provider", NULL), EP_UNKNOWN);
	/* a hint outranks the list: a phone with no auth is still a phone */
	tell(&k, "Event: ExtensionStatus|Exten: 300|Hint: PJSIP/carrier-by-ip");
	CHECK_EQ_INT(kind_of(&k, "carrier-by-ip", &why), EP_PHONE);
	CHECK_EQ_INT(why, EPW_HINT);
	endpoint_kinds_free(&k);
}

void test_endpoint_kinds_from_dial_strings(void)
{
	struct endpoint_kinds k;

	CHECK(endpoint_kinds_init(&k, &no_globs, &no_globs) == 0);
	endpoint_kinds_dialled(&k, "trunk-provider", "15551234567@trunk-provider");
	endpoint_kinds_dialled(&k, "okon.ferry.sip.com", "9898@okon.ferry.sip.com");
	endpoint_kinds_dialled(&k, "siptrunk", "siptrunk/0201234567");
	endpoint_kinds_dialled(&k, "100", "100");
	endpoint_kinds_dialled(&k, "101", "101/sip:101@10.0.0.5:5060");
	endpoint_kinds_dialled(&k, "150010002", "150010002/150010002/172.20.0.13!!201");
	endpoint_kinds_dialled(&k, "odd", "odd/sip:someone@else");
	endpoint_kinds_dialled(&k, "x", "@x");
	CHECK_EQ_INT(kind_of(&k, "trunk-provider", NULL), EP_TRUNK);
	CHECK_EQ_INT(kind_of(&k, "okon.ferry.sip.com", NULL), EP_TRUNK);
	CHECK_EQ_INT(kind_of(&k, "siptrunk", NULL), EP_TRUNK);
	CHECK_EQ_INT(kind_of(&k, "100", NULL), EP_PHONE);
	CHECK_EQ_INT(kind_of(&k, "101", NULL), EP_PHONE);
	CHECK_EQ_INT(kind_of(&k, "150010002", NULL), EP_PHONE);
	CHECK_EQ_INT(kind_of(&k, "odd", NULL), EP_UNKNOWN);
	CHECK_EQ_INT(kind_of(&k, "x", NULL), EP_UNKNOWN);
	endpoint_kinds_free(&k);
}

void test_endpoint_kinds_from_caller_numbers_and_guesses(void)
{
	struct endpoint_kinds k;
	enum ep_why why;

	CHECK(endpoint_kinds_init(&k, &no_globs, &no_globs) == 0);
	endpoint_kinds_caller(&k, "150010001", "osvpi_account", "150010001");
	endpoint_kinds_caller(&k, "voipgrid-siproute-docker", "voipgrid_in", "+31150010001");
	endpoint_kinds_caller(&k, "4956616060", "ctx-random", "9260647698");
	CHECK_EQ_INT(kind_of(&k, "150010001", &why), EP_PHONE);
	CHECK_EQ_INT(why, EPW_CALLER_NUMBER);
	CHECK_EQ_INT(kind_of(&k, "voipgrid-siproute-docker", NULL), EP_TRUNK);
	CHECK_EQ_INT(kind_of(&k, "4956616060", NULL), EP_TRUNK);
	CHECK_EQ_INT(k.guessed, 0);
	/* nothing tells: a guess, said once per endpoint however many calls */
	endpoint_kinds_caller(&k, "toOurAster", "incoming", "123");
	endpoint_kinds_caller(&k, "toOurAster", "incoming", "124");
	endpoint_kinds_caller(&k, "9170-12", "default", "9170");
	CHECK_EQ_INT(kind_of(&k, "toOurAster", &why), EP_TRUNK);
	CHECK_EQ_INT(why, EPW_GUESS);
	CHECK_EQ_INT(kind_of(&k, "9170-12", NULL), EP_PHONE);
	CHECK_EQ_INT(k.guessed, 2);
	/* better evidence corrects the guess; equal evidence does not flip it */
	endpoint_kinds_dialled(&k, "toOurAster", "toOurAster");
	CHECK_EQ_INT(kind_of(&k, "toOurAster", &why), EP_PHONE);
	CHECK_EQ_INT(why, EPW_DIALLED);
	endpoint_kinds_caller(&k, "150010001", "osvpi_account", "+31201234567");
	CHECK_EQ_INT(kind_of(&k, "150010001", NULL), EP_PHONE);
	endpoint_kinds_free(&k);
}

void test_endpoint_kinds_overrides_win_and_the_table_is_bounded(void)
{
	struct endpoint_kinds k;
	struct glob_list trunks, phones;
	enum ep_why why;
	char name[EP_NAME_MAX];

	glob_list_parse(&trunks, "carrier-*");
	glob_list_parse(&phones, "alice");
	CHECK(endpoint_kinds_init(&k, &trunks, &phones) == 0);
	tell(&k, "Event: ExtensionStatus|Exten: 100|Hint: PJSIP/carrier-1");
	endpoint_kinds_dialled(&k, "alice", "0201234567@alice");
	CHECK_EQ_INT(kind_of(&k, "carrier-1", &why), EP_TRUNK);
	CHECK_EQ_INT(why, EPW_CONFIGURED);
	CHECK_EQ_INT(kind_of(&k, "alice", &why), EP_PHONE);
	CHECK_EQ_INT(why, EPW_CONFIGURED);
	for (int i = 0; i < EP_MAX + 10; i++) {
		snprintf(name, sizeof(name), "ep%d", i);
		endpoint_kinds_learn(&k, name, EP_PHONE, EPW_HINT);
	}
	CHECK(k.n <= EP_MAX);
	CHECK(k.full > 0);
	CHECK_EQ_INT(kind_of(&k, "ep5", NULL), EP_PHONE);
	/* a name too long to keep is not kept, nor cut to another's name */
	char longer[EP_NAME_MAX * 2];
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	endpoint_kinds_free(&k);
	CHECK(endpoint_kinds_init(&k, &trunks, &phones) == 0);
	endpoint_kinds_learn(&k, longer, EP_TRUNK, EPW_HINT);
	CHECK_EQ_INT(kind_of(&k, longer, NULL), EP_UNKNOWN);
	longer[EP_NAME_MAX - 1] = '\0';
	CHECK_EQ_INT(kind_of(&k, longer, NULL), EP_UNKNOWN);
	endpoint_kinds_free(&k);
	glob_list_free(&trunks);
	glob_list_free(&phones);
}
