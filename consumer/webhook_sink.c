#include "webhook_sink.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"

int webhook_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void webhook_init(struct webhook *w, const char *url, const char *token, int timeout_ms, int batch_ms)
{
	memset(w, 0, sizeof(*w));
	w->url = url;
	w->token = token && token[0] ? token : NULL;
	w->timeout_ms = timeout_ms;
	w->batch_ms = batch_ms;
}

/* The headers' memory holds the token: wiped before it is freed. */
static void free_headers(struct curl_slist *h)
{
	for (struct curl_slist *l = h; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(h);
}

void webhook_close(struct webhook *w)
{
	if (w->curl)
		curl_easy_cleanup(w->curl);
	free_headers(w->headers);
	w->curl = NULL;
	w->headers = NULL;
}

/* The CRM's answer is not read: its status says it all. */
static size_t discard(char *data, size_t size, size_t n, void *ctx)
{
	(void)data;
	(void)ctx;
	return size * n;
}

/* The headers of every POST, made once: the type, and the token when set. */
static struct curl_slist *headers_for(const struct webhook *w)
{
	char auth[600];
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");

	if (h && w->token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", w->token);
		struct curl_slist *more = curl_slist_append(h, auth);
		explicit_bzero(auth, sizeof(auth));
		if (more == NULL) {
			free_headers(h);
			return NULL;
		}
		h = more;
	}
	return h;
}

/* The handle and its headers, made once and kept (its connection is
 * reused): POSTs to the URL, http and https only, no redirects, no
 * signals. */
static int webhook_open(void *ctx)
{
	struct webhook *w = ctx;

	if (w->curl)
		return 0;
	CURL *c = curl_easy_init();
	struct curl_slist *h = c ? headers_for(w) : NULL;
	if (h == NULL || curl_easy_setopt(c, CURLOPT_URL, w->url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "pbxbus-consumer") != CURLE_OK) {
		snprintf(w->last_error, sizeof(w->last_error), "webhook: cannot set up a transfer to %s", w->url);
		if (c)
			curl_easy_cleanup(c);
		free_headers(h);
		return -1;
	}
	w->curl = c;
	w->headers = h;
	return 0;
}

/* One record POSTed within ms; 0, or -1 with last_error (and the
 * connection given up, so that the next try starts clean). */
static int post(struct webhook *w, const struct batch_item *it, int64_t ms)
{
	long status = 0;
	CURLcode rc = CURLE_OK;

	if (curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, it->payload) != CURLE_OK ||
	    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE, (long)it->len) != CURLE_OK ||
	    curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, (long)ms) != CURLE_OK)
		rc = CURLE_FAILED_INIT;
	if (rc == CURLE_OK)
		rc = curl_easy_perform(w->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK && status >= 200 && status < 300) {
		w->posts++;
		return 0;
	}
	if (rc != CURLE_OK)
		snprintf(w->last_error, sizeof(w->last_error), "webhook: POST to %s: %s", w->url,
		         curl_easy_strerror(rc));
	else
		snprintf(w->last_error, sizeof(w->last_error), "webhook: POST to %s: HTTP %ld", w->url, status);
	webhook_close(w);
	w->resets++;
	return -1;
}

/* A record the first sink settled, as received: a duplicate too (the CRM
 * may have missed it the first time). */
static int posted(const struct batch_item *it)
{
	return it->outcome == ITEM_SETTLED && it->parsed;
}

static enum sink_rc webhook_write(void *ctx, struct batch_item *items, size_t n)
{
	struct webhook *w = ctx;
	int64_t deadline = clock_mono_ms() + w->batch_ms;

	for (size_t i = 0; i < n; i++) {
		if (!posted(&items[i]))
			continue;
		int64_t left = deadline - clock_mono_ms();
		if (left <= 0) {
			snprintf(w->last_error, sizeof(w->last_error),
			         "webhook: the batch's POSTs took over %d ms: the rest waits", w->batch_ms);
			return SINK_DOWN;
		}
		if ((w->curl == NULL && webhook_open(w) < 0) ||
		    post(w, &items[i], left < w->timeout_ms ? left : w->timeout_ms) < 0)
			return SINK_DOWN;
	}
	return SINK_OK;
}

/* Written at once: send keeps the answer in the batch, receive gives it. */
static enum sink_rc webhook_send(void *ctx, struct batch_item *items, size_t n, struct sink_batch *b)
{
	return sink_written(b, n, webhook_write(ctx, items, n));
}

static const char *webhook_error(void *ctx)
{
	const struct webhook *w = ctx;
	return w->last_error;
}

static unsigned long long webhook_resets(void *ctx)
{
	const struct webhook *w = ctx;
	return (unsigned long long)w->resets;
}

void webhook_sink(struct webhook *w, struct sink *out)
{
	*out = (struct sink){.name = "webhook",
	                     .ctx = w,
	                     .open = webhook_open,
	                     .write = webhook_write,
	                     .send = webhook_send,
	                     .receive = sink_kept_receive,
	                     .socket = sink_none_socket,
	                     .drop = sink_none_drop,
	                     .error = webhook_error,
	                     .reconnects = webhook_resets};
}
