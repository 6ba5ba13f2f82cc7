#include "caller_presentation.h"

#include <stdio.h>
#include <string.h>

void caller_presentation_init(struct caller_presentation *p, struct ami_client *ami, struct call_tracker *calls)
{
	memset(p, 0, sizeof(*p));
	p->ami = ami;
	p->calls = calls;
	for (size_t i = 0; i < AMI_PENDING_ACTIONS; i++)
		p->asks[i].owner = p;
}

static void on_answer(void *arg, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	struct presentation_ask *a = arg;
	char value[64];
	(void)c;

	if (kind == AMI_REPLY_RESPONSE && ami_field_is(ami_msg_find(m, "Response"), "Success")) {
		ami_msg_get(m, "Value", value, sizeof(value));
		if (strncmp(value, "prohib", 6) == 0)
			a->owner->withheld++;
		call_tracker_presentation(a->owner->calls, a->linkedid, value);
	} else if (kind == AMI_REPLY_RESPONSE) {
		/* not answered (the channel is gone): as it was presented */
		call_tracker_presentation(a->owner->calls, a->linkedid, "");
	}
	if (kind == AMI_REPLY_RESPONSE || kind == AMI_REPLY_LOST)
		a->used = 0;
}

void caller_presentation_ask(struct caller_presentation *p, const char *channel, const char *linkedid)
{
	char headers[CT_NAME_MAX + 64];
	struct presentation_ask *a = NULL;

	for (size_t i = 0; i < AMI_PENDING_ACTIONS && a == NULL; i++)
		if (!p->asks[i].used)
			a = &p->asks[i];
	if (a == NULL || p->ami->state != AMI_UP || strlen(linkedid) >= sizeof(a->linkedid)) {
		p->not_asked++;
		return;
	}
	snprintf(headers, sizeof(headers), "Channel: %s\r\nVariable: CALLERID(num-pres)\r\n", channel);
	memcpy(a->linkedid, linkedid, strlen(linkedid) + 1);
	if (ami_client_action(p->ami, "Getvar", headers, on_answer, a) < 0) {
		p->not_asked++;
		return;
	}
	a->used = 1;
	p->asked++;
}
