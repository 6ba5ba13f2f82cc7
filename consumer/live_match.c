#include "live_match.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "live_store.h"
#include "log.h"
#include "phone.h"

#define SITE_MAX    128
#define CALL_ID_MAX 200
#define NUMBER_MAX  64
/* After a failed connection, lookups are not tried again for this long:
 * each would wait for connect_timeout on the thread. */
#define RETRY_AFTER_MS 5000

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_ASKED, SLOT_KNOWN };

struct slot {
	char site[SITE_MAX], call_id[CALL_ID_MAX], number[NUMBER_MAX];
	enum slot_state state;
	uint64_t seq; /* when it was taken: the oldest is reused */
	int64_t customer_id;
	char name[LIVE_MATCH_NAME_MAX];
};

struct live_match {
	const struct consumer_settings *s;
	struct live_store *st;
	pthread_t thread;
	int running, stopping;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct slot *slots;
	uint64_t seq;
	int queue[LIVE_MATCH_QUEUE];
	int qhead, qlen;
	struct db db;
	int64_t retry_at_ms;
	struct live_match_counts counts;
	struct log_ratelimit fail_log;
};

struct live_match *live_match_new(const struct consumer_settings *s)
{
	struct live_match *m = calloc(1, sizeof(*m));

	if (m == NULL || (m->slots = calloc(LIVE_MATCH_MAX, sizeof(*m->slots))) == NULL) {
		free(m);
		return NULL;
	}
	m->s = s;
	m->fail_log.interval_ms = 60000;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->wake, NULL);
	return m;
}

static struct slot *slot_of(struct live_match *m, const char *site, const char *call_id)
{
	for (int i = 0; i < LIVE_MATCH_MAX; i++) {
		struct slot *sl = &m->slots[i];
		if (sl->state != SLOT_FREE && strcmp(sl->call_id, call_id) == 0 && strcmp(sl->site, site) == 0)
			return sl;
	}
	return NULL;
}

/* A free slot, else the oldest one not being looked up now. */
static struct slot *take_slot(struct live_match *m)
{
	struct slot *best = NULL;

	for (int i = 0; i < LIVE_MATCH_MAX; i++) {
		struct slot *sl = &m->slots[i];
		if (sl->state == SLOT_FREE)
			return sl;
		if (sl->state == SLOT_KNOWN && (best == NULL || sl->seq < best->seq))
			best = sl;
	}
	return best;
}

int live_match_get(struct live_match *m, const char *site, const char *call_id, const char *number,
                   int64_t *customer_id, char *name, size_t namesz)
{
	int known = 0;

	if (m == NULL || strlen(site) >= SITE_MAX || strlen(call_id) >= CALL_ID_MAX)
		return 0;
	if (number == NULL || number[0] == '\0' || strlen(number) >= NUMBER_MAX)
		return 0; /* no number (withheld, not known yet): no customer, whatever was matched before */
	pthread_mutex_lock(&m->lock);
	struct slot *sl = slot_of(m, site, call_id);
	if (sl != NULL && strcmp(sl->number, number) != 0 && sl->state == SLOT_KNOWN)
		sl->state = SLOT_FREE; /* the call's caller is another number now: asked again */
	if (sl != NULL && sl->state == SLOT_FREE)
		sl = NULL;
	if (sl != NULL && sl->state == SLOT_KNOWN) {
		*customer_id = sl->customer_id;
		snprintf(name, namesz, "%s", sl->name);
		known = 1;
	} else if (sl == NULL && m->running) {
		if (m->qlen == LIVE_MATCH_QUEUE || (sl = take_slot(m)) == NULL) {
			m->counts.dropped++; /* the pop goes without a customer */
		} else {
			memset(sl, 0, sizeof(*sl));
			memcpy(sl->site, site, strlen(site) + 1);
			memcpy(sl->call_id, call_id, strlen(call_id) + 1);
			memcpy(sl->number, number, strlen(number) + 1);
			sl->state = SLOT_QUEUED;
			sl->seq = ++m->seq;
			m->queue[(m->qhead + m->qlen++) % LIVE_MATCH_QUEUE] = (int)(sl - m->slots);
			m->counts.asked++;
			pthread_cond_signal(&m->wake);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return known;
}

int live_match_ask(void *ctx, const char *site, const char *call_id, const char *number, int64_t *customer_id,
                   char *name, size_t namesz)
{
	return live_match_get(ctx, site, call_id, number, customer_id, name, namesz);
}

/* The customer of one number: 0 with the answer (id 0: none), -1 when the
 * database could not say (the pop then shows no customer). */
static int look_up(struct live_match *m, const char *number, long long *id, char *name, size_t namesz)
{
	char e164[PHONE_E164_MAX], err[256];
	int64_t now = clock_mono_ms();
	uint64_t held_back;

	*id = 0;
	name[0] = '\0';
	if (phone_to_e164(number, &m->s->plan, e164) < 0)
		return 0; /* an extension, a withheld word: no customer */
	if (!db_connected(&m->db) && now < m->retry_at_ms)
		return -1;
	if (db_live_match(&m->db, e164, LIVE_MATCH_TIMEOUT_MS, id, name, namesz, err, sizeof(err)) == 0)
		return 0;
	if (!db_connected(&m->db))
		m->retry_at_ms = now + RETRY_AFTER_MS;
	if (log_ratelimit_ok(&m->fail_log, now, &held_back))
		log_warnx("live: a caller could not be matched to a customer (the pop shows none): %s (%llu more not "
		          "said)",
		          err, (unsigned long long)held_back);
	return -1;
}

static void *run(void *arg)
{
	struct live_match *m = arg;
	char site[SITE_MAX], call_id[CALL_ID_MAX], number[NUMBER_MAX], name[LIVE_MATCH_NAME_MAX];

	pthread_mutex_lock(&m->lock);
	while (!m->stopping) {
		if (m->qlen == 0) {
			pthread_cond_wait(&m->wake, &m->lock);
			continue;
		}
		struct slot *sl = &m->slots[m->queue[m->qhead]];
		m->qhead = (m->qhead + 1) % LIVE_MATCH_QUEUE;
		m->qlen--;
		uint64_t seq = sl->seq;
		sl->state = SLOT_ASKED;
		memcpy(site, sl->site, sizeof(site));
		memcpy(call_id, sl->call_id, sizeof(call_id));
		memcpy(number, sl->number, sizeof(number));
		pthread_mutex_unlock(&m->lock);

		long long id;
		int rc = look_up(m, number, &id, name, sizeof(name));

		pthread_mutex_lock(&m->lock);
		if (sl->seq == seq) {
			sl->state = SLOT_KNOWN;
			sl->customer_id = rc == 0 ? id : 0;
			memcpy(sl->name, name, sizeof(sl->name));
		}
		if (rc < 0)
			m->counts.failed++;
		else if (id > 0)
			m->counts.matched++;
		else
			m->counts.unmatched++;
		pthread_mutex_unlock(&m->lock);
		if (rc == 0 && id > 0)
			live_store_matched(m->st, site, call_id); /* its items show the customer now */
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int live_match_start(struct live_match *m, struct live_store *st, char *err, size_t errsz)
{
	m->st = st;
	db_init(&m->db, m->s->db_conninfo, m->s->db_password[0] ? m->s->db_password : NULL, m->s->suffix_digits);
	m->db.statement_timeout_ms = LIVE_MATCH_TIMEOUT_MS;
	if (pthread_create(&m->thread, NULL, run, m) != 0) {
		snprintf(err, errsz, "live: cannot start the customer matching thread");
		return -1;
	}
	pthread_mutex_lock(&m->lock);
	m->running = 1;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void live_match_stop(struct live_match *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	int running = m->running;
	m->stopping = 1;
	m->running = 0;
	pthread_cond_broadcast(&m->wake);
	pthread_mutex_unlock(&m->lock);
	if (running) {
		pthread_join(m->thread, NULL);
		db_close(&m->db);
	}
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->wake);
	free(m->slots);
	free(m);
}

void live_match_counts(struct live_match *m, struct live_match_counts *out)
{
	pthread_mutex_lock(&m->lock);
	*out = m->counts;
	pthread_mutex_unlock(&m->lock);
}
