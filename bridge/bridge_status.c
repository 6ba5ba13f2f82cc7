#include "bridge_status.h"

#include <string.h>

#include "asterisk_version.h"
#include "clock.h"
#include "version.h"

/* A run of counters in the status document, in the order given. */
struct counter {
	const char *key;
	uint64_t value;
};

static void put_counters(struct jw *w, const struct counter *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		jw_keyz(w, c[i].key);
		jw_uint(w, c[i].value);
	}
}

const char *bridge_status_json(struct bridge *b, const char *state)
{
	char since[ISO8601_LEN];
	struct jw *w = &b->json;

	jw_reset(w);
	jw_obj_begin(w);
	jw_keyz(w, "state");
	jw_strz(w, state);
	jw_keyz(w, "ami");
	jw_strz(w, b->ami.state == AMI_UP ? "connected" : "disconnected");
	jw_keyz(w, "pbx");
	jw_strz(w, b->s->pbx_id);
	jw_keyz(w, "version");
	jw_strz(w, PBXBUS_VERSION);
	jw_keyz(w, "ami_version");
	const char *slash = strrchr(b->ami.version, '/');
	jw_strz(w, slash ? slash + 1 : NULL);
	jw_keyz(w, "since");
	jw_strz(w, iso8601_ms(b->started_wall_ms, since));
	jw_keyz(w, "ami_error");
	jw_strz(w, b->ami.last_error[0] ? b->ami.last_error : NULL);
	const struct counter events_and_calls[] = {
	    {"events_published", (uint64_t)b->events_published},
	    {"events_shed", (uint64_t)b->events_shed},
	    {"events_filtered", (uint64_t)b->events_filtered},
	    {"events_too_big", (uint64_t)b->events_too_big},
	    {"ami_logins", (uint64_t)b->ami.logins},
	    {"ami_disconnects", (uint64_t)b->ami.disconnects},
	    {"ami_bad_input", (uint64_t)b->ami.codec_errors},
	    {"calls_active", (uint64_t)b->calls.ncalls},
	    {"calls_completed", (uint64_t)b->calls.calls_ended},
	    {"calls_partial", (uint64_t)b->calls.calls_partial},
	    {"calls_untracked", (uint64_t)b->calls.calls_refused},
	    {"calls_times_fixed", (uint64_t)b->calls.times_fixed},
	    {"calls_bad_ids", (uint64_t)b->calls.bad_linkedids},
	    {"calls_restored", (uint64_t)b->calls.calls_restored},
	    {"calls_seen_late", (uint64_t)b->calls.calls_seen_late},
	    {"gaps", (uint64_t)b->gaps},
	    {"gap_seconds", (uint64_t)b->gap_seconds},
	};
	put_counters(w, events_and_calls, sizeof(events_and_calls) / sizeof(events_and_calls[0]));
	jw_keyz(w, "last_gap_from");
	jw_time_ms(w, b->last_gap_from_ms);
	jw_keyz(w, "last_gap_to");
	jw_time_ms(w, b->last_gap_to_ms);
	jw_keyz(w, "cdr_store");
	jw_strz(w, !b->backfill.enabled ? "off" : b->backfill.pending && b->backfill.attempts ? "failing" : "on");
	const struct counter cdr_and_kinds[] = {
	    {"cdr_calls_recovered", (uint64_t)b->backfill.recovered},
	    {"cdr_calls_completed", (uint64_t)b->backfill.completed},
	    {"journal_write_failures", (uint64_t)b->journal.write_failures},
	    {"endpoints_guessed", (uint64_t)b->calls.kinds.guessed},
	};
	put_counters(w, cdr_and_kinds, sizeof(cdr_and_kinds) / sizeof(cdr_and_kinds[0]));
	jw_keyz(w, "call_records");
	jw_strz(w, b->calls.no_linkedid ? "off: " ASTERISK_TOO_OLD : "on");
	const struct counter records[] = {
	    {"records_published", (uint64_t)b->records_published},
	    {"records_shed", (uint64_t)b->records_shed},
	};
	put_counters(w, records, sizeof(records) / sizeof(records[0]));
	jw_keyz(w, "outbox");
	unsigned fill = outbox_fill_percent(&b->outbox);
	int refusing = b->refused_at_ms != 0 && clock_mono_ms() - b->refused_at_ms < 60000;
	jw_strz(w, refusing || fill >= 100 || b->outbox.disk_failing ? "full" : fill >= 80 ? "high" : "ok");
	const struct counter outbox_and_mqtt[] = {
	    {"outbox_pending", (uint64_t)b->outbox.pending},
	    {"outbox_bytes", (uint64_t)b->outbox.size},
	    {"outbox_memory_bytes", (uint64_t)b->outbox.mem_bytes},
	    {"outbox_write_failures", (uint64_t)b->outbox.write_failures},
	    {"outbox_refused", (uint64_t)b->outbox.refused},
	    {"outbox_resent", (uint64_t)b->outbox.resent},
	    {"acks_received", (uint64_t)b->acks_received},
	    {"mqtt_connects", (uint64_t)b->mqtt.connects},
	    {"mqtt_held_messages", (uint64_t)b->mqtt.held_msgs},
	    {"mqtt_held_bytes", (uint64_t)b->mqtt.held_total_bytes},
	};
	put_counters(w, outbox_and_mqtt, sizeof(outbox_and_mqtt) / sizeof(outbox_and_mqtt[0]));
	jw_obj_end(w);
	return jw_finish(w, NULL);
}

/* A digest of what the status says, to notice that it changed. */
uint64_t bridge_status_digest(const struct bridge *b)
{
	uint64_t h = b->calls.no_linkedid * 29u + b->events_shed * 1000003u + b->ami.codec_errors * 10007u +
	             b->ami.logins * 101u + b->calls.calls_ended * 7u + b->outbox.pending * 13u +
	             b->outbox.refused * 17u + b->outbox.write_failures * 19u + (uint64_t)b->outbox.blocked * 23u;
	for (const char *p = b->ami.last_error; *p; p++)
		h = h * 31 + (unsigned char)*p;
	return h;
}
