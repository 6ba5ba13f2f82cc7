/*
 * Asks the PBX whether a new call's caller is withheld: a call that arrives
 * with its presentation restricted (PJSIP "Privacy: id") raises no
 * NewCallerid, so the caller leg's CALLERID(num-pres) is read with Getvar
 * (read-only) as the call starts, and the answer goes to the call tracker.
 * At most AMI_PENDING_ACTIONS questions are out at once; past that a call
 * is not asked (counted): NewCallerid and the start hold still protect it.
 */
#ifndef PBXBUS_CALLER_PRESENTATION_H
#define PBXBUS_CALLER_PRESENTATION_H

#include <stdint.h>

#include "ami_client.h"
#include "bounds.h"
#include "call_tracker.h"

struct presentation_ask {
	struct caller_presentation *owner;
	char linkedid[CT_ID_MAX];
	int used;
};

struct caller_presentation {
	struct ami_client *ami;
	struct call_tracker *calls;
	struct presentation_ask asks[AMI_PENDING_ACTIONS];
	uint64_t asked, withheld, not_asked;
};

void caller_presentation_init(struct caller_presentation *p, struct ami_client *ami, struct call_tracker *calls);
/* Sends "Getvar CALLERID(num-pres)" for channel, the first of call linkedid. */
void caller_presentation_ask(struct caller_presentation *p, const char *channel, const char *linkedid);

#endif
