/*
 * The dial kind of the command channel (docs/dial.md): checked again here
 * whatever the consumer checked, then one Originate, its answers from the
 * PBX's: "ringing" once it took the Originate, then the OriginateResponse.
 */
#include <stdio.h>
#include <string.h>

#include "command_internal.h"
#include "topic.h"

#define MINUTE_MS (60 * 1000)

/* OriginateResponse's Reason (Asterisk's AST_CONTROL_*): 4 answered, 5
 * busy, 3 rang out, 8 congestion, 1 hung up, 0 could not be rung. */
static enum command_error originate_outcome(const struct ami_msg *m, const char **why)
{
	char reason[8];

	if (ami_field_is(ami_msg_find(m, "Response"), "Success")) {
		*why = "your phone answered; the PBX is calling the number";
		return CE_NONE;
	}
	ami_msg_get(m, "Reason", reason, sizeof(reason));
	if (strcmp(reason, "5") == 0) {
		*why = "your phone is busy";
		return CE_PHONE_BUSY;
	}
	if (strcmp(reason, "3") == 0 || strcmp(reason, "1") == 0) {
		*why = "your phone did not answer";
		return CE_PHONE_NO_ANSWER;
	}
	*why = "your phone could not be rung (not registered, or dial_ring_context missing on the PBX)";
	return CE_PHONE_FAILED;
}

struct dial_fields {
	const struct dial_slot *slot;
	const char *state; /* "ringing", "done" */
	const char *call_id;
};

static void dial_fields(struct jw *w, const void *arg)
{
	const struct dial_fields *f = arg;

	jw_keyz(w, "state");
	jw_strz(w, f->state);
	jw_keyz(w, "extension");
	jw_strz(w, f->slot && f->slot->extension[0] ? f->slot->extension : NULL);
	jw_keyz(w, "call_id");
	jw_strz(w, f->call_id);
}

static void finish(struct dial_slot *d, enum command_error e, const char *why, const char *call_id)
{
	struct dial_fields f = {d, "done", call_id};

	command_answer(d->ch, &d->reply, "dial", d->what, e, why, 1, dial_fields, &f);
	d->used = 0;
}

static void on_originate(void *arg, struct ami_client *c, const struct ami_msg *m, enum ami_reply kind)
{
	struct dial_slot *d = arg;
	char msg[160], uid[64], call_id[192];
	const char *why = NULL;

	if (!d->used)
		return;
	if (kind == AMI_REPLY_RESPONSE && ami_field_is(ami_msg_find(m, "Response"), "Success")) {
		struct dial_fields f = {d, "ringing", NULL};
		command_answer(d->ch, &d->reply, "dial", d->what, CE_NONE, "ringing your phone", 0, dial_fields, &f);
		return;
	}
	if (kind == AMI_REPLY_RESPONSE) {
		ami_msg_get(m, "Message", msg, sizeof(msg));
		finish(d, CE_AMI_REFUSED, msg[0] ? msg : "the PBX refused the Originate", NULL);
		return;
	}
	if (kind == AMI_REPLY_LOST) {
		finish(d, c->state == AMI_UP ? CE_TIMEOUT : CE_AMI_UNAVAILABLE,
		       c->state == AMI_UP ? "the PBX did not say how the dial went"
		                          : "the connection to the PBX ended before the dial was through",
		       NULL);
		return;
	}
	enum command_error e = originate_outcome(m, &why);
	/* the originated channel began the call: its Uniqueid is the call's Linkedid */
	int linked = e == CE_NONE && ami_msg_get(m, "Uniqueid", uid, sizeof(uid))[0] && uid[0] != '<' &&
	             call_id_format(call_id, sizeof(call_id), d->ch->s->pbx_id, uid) == 0;
	finish(d, e, why, linked ? call_id : NULL);
}

/* Dials from ext in the last minute, and whether one is in flight. */
static size_t dials_from(const struct command_channel *ch, const char *ext, int64_t now, int *in_flight)
{
	size_t n = 0;

	*in_flight = 0;
	for (size_t i = 0; i < DIAL_SLOTS; i++)
		if (ch->dials[i].used && strcmp(ch->dials[i].extension, ext) == 0)
			*in_flight = 1;
	for (size_t i = 0; i < DIAL_RECENT; i++)
		if (ch->recent[i].at_ms > now - MINUTE_MS && strcmp(ch->recent[i].extension, ext) == 0)
			n++;
	return n;
}

static struct dial_slot *free_slot(struct command_channel *ch)
{
	for (size_t i = 0; i < DIAL_SLOTS; i++)
		if (!ch->dials[i].used)
			return &ch->dials[i];
	return NULL;
}

static enum command_error refuse(const char **why, const char *reason, enum command_error e)
{
	*why = reason;
	return e;
}

static const char *str_field(const cJSON *req, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The phone: one the PBX itself says is a phone (a hint, the endpoint
 * list, phone_endpoints, what it dialled or presented), never a trunk, an
 * unknown endpoint, or one taken for a phone by the last-resort guess. */
static int known_phone(const struct command_channel *ch, const char *ext)
{
	enum ep_why why;
	return endpoint_kind(ch->kinds, ext, &why) == EP_PHONE && why > EPW_GUESS;
}

void command_dial_refused(struct command_channel *ch, const struct command_reply *r, const cJSON *req, const char *what,
                          enum command_error e, const char *why)
{
	struct dial_slot shown = {0};
	const char *ext = str_field(req, "extension");
	struct dial_fields f = {&shown, "done", NULL};

	if (ext != NULL && dial_extension_valid(ext))
		memcpy(shown.extension, ext, strlen(ext) + 1);
	command_answer(ch, r, "dial", what, e, why, 1, dial_fields, &f);
}

void command_dial_what(const struct command_channel *ch, const cJSON *req, char *what, size_t whatsz)
{
	const char *ext = str_field(req, "extension"), *number = str_field(req, "number");
	const char *by = str_field(req, "by") ? str_field(req, "by") : "bus";
	char e164[PHONE_E164_MAX], masked[PHONE_E164_MAX + 4];

	if (ext == NULL || !dial_extension_valid(ext) || number == NULL || !dial_by_valid(by) ||
	    phone_to_e164(number, &ch->s->dial.plan, e164) < 0) {
		snprintf(what, whatsz, "dial");
		return;
	}
	phone_mask(e164, masked, sizeof(masked));
	snprintf(what, whatsz, "dial %s -> %s by %s", ext, masked, by);
}

enum command_error command_dial(struct command_channel *ch, const struct command_reply *r, const cJSON *req,
                                int64_t now, const char *what, const char **why)
{
	const struct dial_rules *rules = &ch->s->dial;
	const char *ext = str_field(req, "extension"), *number = str_field(req, "number");
	const char *by = str_field(req, "by") ? str_field(req, "by") : "bus";
	char e164[PHONE_E164_MAX];
	int in_flight;

	if (!ch->s->dial_enabled)
		return refuse(why, "dialing is off on this PBX (dial_enabled)", CE_DISABLED);
	if (ext == NULL || !dial_extension_valid(ext) || number == NULL || !dial_by_valid(by))
		return refuse(why, "extension, number and by must be given, in letters, digits and - _ . : @",
		              CE_BAD_REQUEST);
	if (phone_to_e164(number, &rules->plan, e164) < 0)
		return refuse(why, "the number is not a phone number", CE_BAD_REQUEST);
	if (!known_phone(ch, ext))
		return refuse(why, "extension unknown: not a phone this PBX knows", CE_NOT_ALLOWED);
	if (!dial_number_allowed(rules, e164))
		return refuse(why, "number not allowed (dial_numbers)", CE_NOT_ALLOWED);
	if (command_over_rate(ch, now) || dials_from(ch, ext, now, &in_flight) >= rules->per_minute)
		return refuse(why, "too many requests (dial_per_minute, commands_per_minute)", CE_RATE_LIMITED);
	if (in_flight)
		return refuse(why, "a dial from this extension is in flight", CE_BUSY);
	struct dial_slot *d = free_slot(ch);
	if (d == NULL)
		return refuse(why, "too many dials in flight", CE_BUSY);
	if (ch->ami->state != AMI_UP)
		return refuse(why, "the bridge is not logged in to the PBX", CE_AMI_UNAVAILABLE);
	if (command_ids_add(&ch->ids, r->id, now) < 0)
		return refuse(why, "its id could not be kept on disk, so it was not dialled", CE_NOT_RECORDED);
	memset(d, 0, sizeof(*d));
	d->ch = ch;
	d->reply = *r;
	memcpy(d->extension, ext, strlen(ext) + 1);
	snprintf(d->what, sizeof(d->what), "%s", what);
	struct ami_originate o = {ext, e164, r->id, by};
	if (ami_client_originate(ch->ami, &o, on_originate, d) < 0)
		return refuse(why, "the PBX connection could not take it", CE_AMI_UNAVAILABLE);
	d->used = 1;
	struct dial_recent *rec = &ch->recent[ch->recent_next++ % DIAL_RECENT];
	memcpy(rec->extension, ext, strlen(ext) + 1);
	rec->at_ms = now;
	return CE_NONE;
}
