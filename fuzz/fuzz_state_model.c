/* libFuzzer: the live-state model (extensions, trunks, queues, calls, the
 * endpoint kinds) fed arbitrary events and list answers, and every document
 * it renders re-parsed as JSON: what goes out under state/ is always JSON. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#include "ami_codec.h"
#include "call_tracker.h"
#include "state_model.h"
#include "state_render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct world {
	struct state_model st;
	struct call_tracker calls;
	int64_t clock_ms;
};

static struct jw writer;

static void must_parse(void)
{
	size_t len;
	const char *doc = jw_finish(&writer, &len);
	if (doc == NULL)
		return; /* over the writer's bound: not published */
	cJSON *j = cJSON_ParseWithLength(doc, len);
	if (j == NULL)
		__builtin_trap();
	cJSON_Delete(j);
}

static int is_trunk(void *ctx, const char *endpoint)
{
	enum ep_why why;
	return endpoint_kind(ctx, endpoint, &why) == EP_TRUNK;
}

static void on_message(void *ctx, const struct ami_msg *m)
{
	struct world *w = ctx;
	w->clock_ms += 250;
	/* an answer to a list action (ActionID) or an event: both reach the state */
	if (ami_msg_find(m, "ActionID"))
		call_tracker_listed(&w->calls, m);
	else
		call_tracker_event(&w->calls, m, w->clock_ms);
	state_model_event(&w->st, m, w->clock_ms);
}

static void render_all(struct world *w)
{
	struct state_view v = {&w->st, &w->calls, &w->calls.kinds, "fuzz", "0", 0};

	for (size_t i = 0; i < w->st.n; i++) {
		jw_reset(&writer);
		render_entity(&writer, &v, &w->st.e[i]);
		must_parse();
	}
	jw_reset(&writer);
	render_calls(&writer, &v);
	must_parse();
	jw_reset(&writer);
	render_snapshot(&writer, &v);
	must_parse();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ami_codec codec;
	static struct glob_list contexts, none;
	static int ready;
	struct world w = {0};

	if (!ready) {
		jw_init(&writer, 16 << 20);
		glob_list_parse(&contexts, "from-trunk from-pstn");
		struct ami_codec_handlers h0 = {NULL, on_message, NULL, NULL};
		if (ami_codec_init(&codec, &h0) < 0)
			return 0;
		ready = 1;
	}
	struct call_tracker_opts o = {
	    .trunk_contexts = &contexts, .trunk_endpoints = &none, .idle_timeout_ms = 3600 * 1000, .max_calls = 64};
	if (call_tracker_init(&w.calls, &o, NULL, NULL) < 0)
		return 0;
	state_model_init(&w.st, is_trunk, &w.calls.kinds);
	codec.h.ctx = &w;
	ami_codec_reset(&codec, 0);
	int syncing = size > 0 && data[0] == 'S';
	for (int k = 0; syncing && k < ST_KINDS; k++)
		state_model_sync_begin(&w.st, (enum st_kind)k);
	ami_codec_feed(&codec, (const char *)data, size);
	ami_codec_feed(&codec, "\r\n\r\n", 4);
	for (int k = 0; syncing && k < ST_KINDS; k++)
		state_model_sync_end(&w.st, (enum st_kind)k);
	render_all(&w);
	state_model_free(&w.st);
	call_tracker_free(&w.calls);
	return 0;
}
