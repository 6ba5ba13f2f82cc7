/*
 * make bench: the ceiling the consumer is compared with.  The same rows
 * bench/consumer.py publishes (N records, same columns, same raw JSON)
 * written straight into crm_comms_log: one prepared INSERT ... ON CONFLICT
 * DO NOTHING per row, pipelined, a transaction (a Sync) per 500 rows as the
 * consumer's batch_max; no broker, no matching, no parsing.
 *   pg-ceiling CONNINFO N EPOCH_MS  -> prints "<rows> <seconds>" on stdout
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 500

static const char insert_sql[] =
    "INSERT INTO crm_comms_log (type, direction, body, ext_message_id, occurred_at, external_number, "
    "external_e164, extension, did, duration_seconds, billsec_seconds, disposition, source, raw) "
    "VALUES ('call', $1, $2, $3, $4::timestamptz, $5, $6, $7, $8, $9::integer, $10::integer, $11, 'pbx', "
    "$12::jsonb) ON CONFLICT (ext_message_id) DO NOTHING";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Row i as bench/consumer.py's record(i, epoch_ms) makes it. */
static void row(long i, long long epoch_ms, char id[64], char when[32], char num[16], char e164[16], char raw[1024])
{
	time_t secs = (time_t)(epoch_ms / 1000);
	struct tm tm;
	char day[24];

	gmtime_r(&secs, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when, 32, "%s.%03lldZ", day, epoch_ms % 1000);
	snprintf(id, 64, "bench:%lld.%ld", epoch_ms, i);
	snprintf(num, 16, "1555%07ld", i % 5000);
	snprintf(e164, 16, "+1555%07ld", i % 5000);
	snprintf(raw, 1024,
	         "{\"v\": 1, \"pbx\": \"bench\", \"call_id\": \"%s\", \"direction\": \"inbound\", \"external_number\": "
	         "\"%s\", \"external_name\": \"Caller\", \"did\": \"5551000\", \"extension\": \"100\", "
	         "\"extensions_rung\": [\"100\"], \"trunk\": \"trunk-provider\", \"queue\": null, \"transferred\": "
	         "false, \"partial\": false, \"started_at\": \"%s\", \"answered_at\": \"%s\", \"ended_at\": \"%s\", "
	         "\"duration_s\": 0, \"billsec_s\": 0, \"disposition\": \"ANSWERED\", \"pbx_answered\": true, "
	         "\"hangup_cause\": 16, \"hangup_cause_text\": \"Normal Clearing\", \"legs\": 2}",
	         id, num, when, when, when);
}

static int drain(PGconn *c, long n)
{
	for (long i = 0; i < n; i++) {
		PGresult *r = PQgetResult(c);
		int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		PQclear(PQgetResult(c)); /* the NULL after each query */
		if (!ok) {
			fprintf(stderr, "pg-ceiling: insert failed: %s", PQerrorMessage(c));
			return -1;
		}
	}
	PGresult *r = PQgetResult(c);
	int ok = r && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
	PQclear(r);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: pg-ceiling CONNINFO N EPOCH_MS\n");
		return 2;
	}
	long n = strtol(argv[2], NULL, 10);
	long long epoch = strtoll(argv[3], NULL, 10);
	PGconn *c = PQconnectdb(argv[1]);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pg-ceiling: %s", PQerrorMessage(c));
		return 1;
	}
	PGresult *p = PQprepare(c, "ins", insert_sql, 12, NULL);
	if (PQresultStatus(p) != PGRES_COMMAND_OK) {
		fprintf(stderr, "pg-ceiling: prepare: %s", PQerrorMessage(c));
		return 1;
	}
	PQclear(p);
	double t0 = now_s();
	if (!PQenterPipelineMode(c))
		return 1;
	for (long done = 0; done < n;) {
		long k = n - done < BATCH ? n - done : BATCH;
		for (long i = done; i < done + k; i++) {
			char id[64], when[32], num[16], e164[16], raw[1024];
			row(i, epoch, id, when, num, e164, raw);
			const char *v[12] = {"inbound", "Call duration: 0s", id,  when, num,        e164,
			                     "100",     "5551000",           "0", "0",  "ANSWERED", raw};
			if (!PQsendQueryPrepared(c, "ins", 12, v, NULL, NULL, 0))
				return 1;
		}
		if (!PQpipelineSync(c) || drain(c, k) < 0)
			return 1;
		done += k;
	}
	printf("%ld %.3f\n", n, now_s() - t0);
	PQfinish(c);
	return 0;
}
