#include "consumer_metrics.h"

#include <string.h>

static int word_index(const char *s, const char *const *words, int n)
{
	for (int i = 0; i < n && words[i]; i++)
		if (strcmp(s, words[i]) == 0)
			return i;
	return -1;
}

void consumer_metrics_count_call(struct consumer_metrics *m, const char *direction, const char *disposition)
{
	int d = word_index(direction, call_record_directions, CALL_DIRECTIONS);
	int p = word_index(disposition, call_record_dispositions, CALL_DISPOSITIONS);

	if (d >= 0 && p >= 0)
		atomic_fetch_add(&m->calls[d][p], 1);
}

void consumer_metrics_count_lag(struct consumer_metrics *m, int64_t lag_ms)
{
	static const double bounds[LAG_BUCKETS] = LAG_BOUNDS_S;

	if (lag_ms < 0)
		lag_ms = 0; /* clocks apart: the row is no earlier than the call's end */
	for (int i = 0; i < LAG_BUCKETS; i++)
		if ((double)lag_ms <= bounds[i] * 1000.0)
			atomic_fetch_add(&m->lag_le[i], 1);
	atomic_fetch_add(&m->lag_count, 1);
	atomic_fetch_add(&m->lag_sum_ms, (uint64_t)lag_ms);
}
