#include "http_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "log.h"

#define REAP_EVERY_MS 500

/* Connections shut once they are past the deadline without a request. */
static void reap(struct http_guard *g, int64_t now)
{
	pthread_mutex_lock(&g->lock);
	for (struct guarded_conn *c = g->head; c; c = c->next) {
		if (c->waiting && now - c->since_ms > HTTP_HEADER_DEADLINE_MS) {
			/* the connection's own thread sees the end and closes it; the
			 * socket is still open: it is closed only after CLOSED is
			 * notified, which takes this lock */
			shutdown(c->fd, SHUT_RDWR);
			c->waiting = 0;
			c->fresh = 0;
			atomic_fetch_add(&g->cut, 1);
		}
	}
	pthread_mutex_unlock(&g->lock);
}

static void *reaper(void *arg)
{
	struct http_guard *g = arg;
	struct timespec pause = {0, REAP_EVERY_MS * 1000000L};

	while (!atomic_load(&g->stop)) {
		reap(g, clock_mono_ms());
		nanosleep(&pause, NULL);
	}
	return NULL;
}

int http_guard_start(struct http_guard *g, const char *trusted_proxy)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	g->trusted_proxy = trusted_proxy;
	if (pthread_create(&g->reaper, NULL, reaper, g) != 0)
		return -1;
	g->reaper_running = 1;
	return 0;
}

void http_guard_stop(struct http_guard *g)
{
	atomic_store(&g->stop, 1);
	if (g->reaper_running)
		pthread_join(g->reaper, NULL);
	g->reaper_running = 0;
	for (struct guarded_conn *c = g->head, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	g->head = NULL;
	pthread_mutex_destroy(&g->lock);
}

enum MHD_Result http_guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_guard *g = cls;
	char who[CLIENT_ADDRESS_MAX];
	int waiting = 0;
	(void)addrlen;

	client_address_text(addr, who);
	if (g->trusted_proxy && strcmp(who, g->trusted_proxy) == 0)
		return MHD_YES;
	pthread_mutex_lock(&g->lock);
	for (const struct guarded_conn *c = g->head; c; c = c->next)
		waiting += c->fresh && strcmp(c->addr, who) == 0;
	pthread_mutex_unlock(&g->lock);
	if (waiting < HTTP_WAITING_PER_ADDRESS)
		return MHD_YES;
	atomic_fetch_add(&g->refused, 1);
	return MHD_NO;
}

void http_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe)
{
	struct http_guard *g = cls;
	struct guarded_conn *c = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ad = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (fd == NULL || (c = calloc(1, sizeof(*c))) == NULL)
			return; /* not guarded: the idle timeout still applies */
		c->fd = fd->connect_fd;
		client_address_text(ad ? ad->client_addr : NULL, c->addr);
		c->waiting = 1;
		c->fresh = 1;
		c->since_ms = clock_mono_ms();
		pthread_mutex_lock(&g->lock);
		c->next = g->head;
		if (g->head)
			g->head->prev = c;
		g->head = c;
		pthread_mutex_unlock(&g->lock);
		*socket_context = c;
		return;
	}
	if (c == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		g->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&g->lock);
	free(c);
	*socket_context = NULL;
}

static struct guarded_conn *guarded(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

void http_guard_request_begins(struct http_guard *g, struct MHD_Connection *conn)
{
	struct guarded_conn *c = guarded(conn);

	if (c == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	c->waiting = 0;
	c->fresh = 0;
	pthread_mutex_unlock(&g->lock);
}

void http_guard_request_ends(struct http_guard *g, struct MHD_Connection *conn)
{
	struct guarded_conn *c = guarded(conn);

	if (c == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	c->waiting = 1;
	c->since_ms = clock_mono_ms();
	pthread_mutex_unlock(&g->lock);
}
