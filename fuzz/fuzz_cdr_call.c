/* libFuzzer: CDR rows -> a call (bridge/call_from_cdr.c), the path a
 * hostile or odd CDR store feeds (audit-3 I11): each input line is one row,
 * its cells separated by '|' in the order of struct cdr_row (linkedid,
 * uniqueid, calldate, clid, src, dst, dcontext, channel, dstchannel,
 * lastapp, disposition, did, duration, billsec), each cut to its size as
 * the store cuts it.  Rows of one Linkedid go to the tracker together, as
 * the backfill hands them over; the record written must be whole. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call_record.h"
#include "call_tracker.h"
#include "cdr_store.h"
#include "fuzz_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ROWS 64

static void cell(char *dst, const char *src, size_t n)
{
	if (n > CDR_TEXT_MAX - 1)
		n = CDR_TEXT_MAX - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* One line into a row; its cells as far as the line goes. */
static void parse_row(const char *line, size_t len, struct cdr_row *r)
{
	char *text[] = {r->linkedid, r->uniqueid, NULL,          r->clid,    r->src,         r->dst,
	                r->dcontext, r->channel,  r->dstchannel, r->lastapp, r->disposition, r->did};
	char num[24];
	size_t k = 0;

	memset(r, 0, sizeof(*r));
	for (size_t at = 0; at <= len && k < 14; k++) {
		const char *bar = memchr(line + at, '|', len - at);
		size_t n = (bar ? (size_t)(bar - line) : len) - at;
		if (k < 12 && text[k])
			cell(text[k], line + at, n);
		else if (k == 2 || k >= 12) {
			snprintf(num, sizeof(num), "%.*s", (int)(n < 23 ? n : 23), line + at);
			if (k == 2)
				r->start_ms = strtoll(num, NULL, 10);
			else if (k == 12)
				r->duration = strtoll(num, NULL, 10);
			else
				r->billsec = strtoll(num, NULL, 10);
		}
		at += n + 1;
	}
	if (r->linkedid[0] == '\0')
		memcpy(r->linkedid, r->uniqueid, sizeof(r->linkedid));
}

static int by_call(const void *x, const void *y)
{
	return strcmp(((const struct cdr_row *)x)->linkedid, ((const struct cdr_row *)y)->linkedid);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cdr_row rows[MAX_ROWS];
	static struct glob_list contexts, none;
	static int ready;
	struct call_tracker t;
	size_t n = 0;

	if (!ready) {
		glob_list_parse(&contexts, "from-pstn from-trunk");
		ready = 1;
	}
	const char *p = (const char *)data, *end = p + size;
	while (p < end && n < MAX_ROWS) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		parse_row(p, len, &rows[n]);
		n++; /* rows the store would refuse too: the tracker must refuse them itself */
		p += len + 1;
	}
	struct call_tracker_opts o = {
	    .trunk_contexts = &contexts, .trunk_endpoints = &none, .idle_timeout_ms = 3600 * 1000, .max_calls = 16};
	if (call_tracker_init(&t, &o, fuzz_record_renders, NULL) < 0)
		return 0;
	qsort(rows, n, sizeof(rows[0]), by_call);
	for (size_t i = 0, k; i < n; i = k) {
		for (k = i + 1; k < n && strcmp(rows[k].linkedid, rows[i].linkedid) == 0; k++)
			;
		call_tracker_cdr_call(&t, &rows[i], k - i, 2000000000000LL);
	}
	call_tracker_cdr_done(&t);
	call_tracker_free(&t);
	return 0;
}
