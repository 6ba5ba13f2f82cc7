# pbxbus: AMI → MQTT bridge and MQTT → PostgreSQL consumer.
#   make            build both daemons
#   make test       install packages, build, run every test suite (README)
#   make bench      benchmarks (figures, not assertions)
#   make fuzz       libFuzzer targets for FUZZ_SECONDS each (clang)
#   make SANITIZE=address,undefined test-unit
#   make install PREFIX=/usr/local DESTDIR=

CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?=
FUZZ_SECONDS ?= 60
ONCE ?= 0
SPEED ?= 1

BUILD := build$(if $(SANITIZE),-san)$(if $(filter clang,$(notdir $(CC))),-clang)

WARN := -Wall -Wextra -Werror -Wshadow -Wconversion -Wno-sign-conversion \
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla -Wpointer-arith
BASE_CFLAGS := -std=c17 -D_DEFAULT_SOURCE -D_GNU_SOURCE -O2 -g $(WARN) \
	-fstack-protector-strong -D_FORTIFY_SOURCE=2
ifneq ($(SANITIZE),)
BASE_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all -O1
SAN_LDFLAGS := -fsanitize=$(SANITIZE)
endif

PKG_BRIDGE = libmosquitto libssl libcrypto libcjson libmariadb
CFLAGS_ALL = $(BASE_CFLAGS) $(shell pkg-config --cflags libcjson libpq libmariadb libcurl) $(CFLAGS)
LIBS_BRIDGE = $(shell pkg-config --libs $(PKG_BRIDGE))
LIBS_CONSUMER = $(shell pkg-config --libs libmosquitto libcjson libpq libmicrohttpd libcrypto libcurl) -lpthread
LIBS_TEST = $(shell pkg-config --libs $(PKG_BRIDGE) libcjson libpq libmicrohttpd libcurl) -lpthread

COMMON_SRC := common/log.c common/ami_codec.c common/json_writer.c common/clock.c \
	common/topic.c common/config.c common/cli.c common/backoff.c common/mqtt_link.c \
	common/globs.c common/mqtt_config.c common/utf8.c common/privdrop.c common/signals.c common/call_record_schema.c common/crc32.c common/state_topics.c common/phone.c common/command_wire.c
# The bridge's sources by concern (the prefixes say it; fuzz/run links
# these groups too: `make print-CALLS_SRC`).
AMI_SRC := bridge/ami_json.c bridge/ami_client.c bridge/cli_command.c bridge/dial.c bridge/command_ids.c bridge/event_filter.c bridge/asterisk_version.c bridge/caller_presentation.c
CALLS_SRC := bridge/call_tracker.c bridge/call_table.c bridge/call_view.c bridge/call_variables.c bridge/call_sync.c bridge/call_image.c bridge/call_from_cdr.c bridge/call_journal.c \
	bridge/call_record.c bridge/call_ringing.c bridge/ring_record.c bridge/endpoint_kinds.c bridge/pbx_clock.c
CDR_SRC := bridge/cdr_store.c bridge/cdr_backfill.c
DELIVERY_SRC := bridge/delivery.c bridge/outbox.c bridge/outbox_refused.c bridge/outbox_acks.c
STATE_MODEL_SRC := bridge/state_model.c bridge/state_kinds.c bridge/state_render.c
STATE_SRC := $(STATE_MODEL_SRC) bridge/state_service.c
COMMAND_SRC := bridge/command_channel.c bridge/command_dial.c
# common/md5hex.c (libcrypto) and common/tls.c (libssl) are shared by the
# bridge and the replay only.
BRIDGE_SRC := common/md5hex.c common/tls.c bridge/bridge_config.c bridge/bridge.c bridge/bridge_check.c bridge/bridge_status.c \
	bridge/call_service.c \
	$(AMI_SRC) $(CALLS_SRC) $(CDR_SRC) $(DELIVERY_SRC) $(STATE_SRC) $(COMMAND_SRC)
CONSUMER_SRC := consumer/manual_call.c consumer/dial_requests.c consumer/bridge_fleet.c consumer/dial_api.c consumer/payload_digest.c consumer/consumer_config.c consumer/record.c consumer/db.c consumer/db_sink.c consumer/db_requests.c consumer/db_housekeeping.c consumer/migrations.c \
	consumer/consumer.c consumer/consumer_metrics.c consumer/dead_letter.c consumer/http.c consumer/pg_array.c \
	consumer/live_store.c consumer/live_match.c consumer/live_feed.c consumer/call_log.c consumer/customer_search.c consumer/client_address.c consumer/console_session.c consumer/console.c consumer/http_reply.c \
	consumer/sink.c consumer/archive_sink.c consumer/webhook_sink.c consumer/site_rate.c consumer/http_guard.c
REPLAY_SRC := replay/capture.c replay/replay_server.c replay/replay_actions.c replay/replay_originate.c replay/cdr_writer.c
UNIT_SRC := $(wildcard tests/unit/test_*.c) tests/unit/unit_main.c

COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
BRIDGE_OBJ := $(BRIDGE_SRC:%.c=$(BUILD)/%.o)
CONSOLE_FILES := $(sort $(wildcard consumer/console/*.html consumer/console/*.css consumer/console/*.js))
CONSUMER_OBJ := $(CONSUMER_SRC:%.c=$(BUILD)/%.o) $(BUILD)/console_assets.o
REPLAY_OBJ := $(REPLAY_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)

BRIDGE_BIN := $(BUILD)/pbxbus-bridge
CONSUMER_BIN := $(BUILD)/pbxbus-consumer
CONSUMER_HOOKS_BIN := $(BUILD)/pbxbus-consumer-test-hooks
REPLAY_BIN := $(BUILD)/pbxbus-replay
UNIT_BIN := $(BUILD)/unit-tests
BENCH_BIN := $(BUILD)/bench-codec

.PHONY: print-% print-compile-flags all test test-run test-unit deps demo bench fuzz fuzz-smoke install deb man clean check-style format screenshots

all: $(BRIDGE_BIN) pbxbus-bridge $(CONSUMER_BIN) pbxbus-consumer $(REPLAY_BIN) pbxbus-replay $(BUILD)/tracker-replay \
	$(CONSUMER_HOOKS_BIN)

pbxbus-bridge: $(BRIDGE_BIN)
	cp $< $@

pbxbus-consumer: $(CONSUMER_BIN)
	cp $< $@

pbxbus-replay: $(REPLAY_BIN)
	cp $< $@

# The stand-in PBX: the codec, MD5 and TLS of the bridge, no MQTT.
$(REPLAY_BIN): $(REPLAY_OBJ) $(BUILD)/replay/main.o $(BUILD)/common/ami_codec.o $(BUILD)/common/log.o \
		$(BUILD)/common/clock.o $(BUILD)/common/signals.o $(BUILD)/common/md5hex.o $(BUILD)/common/tls.o
	$(CC) $(SAN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libssl libcrypto libmariadb)

# The console's files, built into the consumer.
$(BUILD)/console_assets.c: $(CONSOLE_FILES) scripts/embed-assets
	@mkdir -p $(BUILD)
	scripts/embed-assets $@ $(CONSOLE_FILES)

$(BUILD)/console_assets.o: $(BUILD)/console_assets.c
	$(CC) -Iconsumer $(CFLAGS_ALL) -c $< -o $@

# Each binary links only what it uses: the bridge never links libpq.
$(CONSUMER_BIN): $(COMMON_OBJ) $(CONSUMER_OBJ) $(BUILD)/consumer/main.o
	$(CC) $(SAN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS_CONSUMER)

# The consumer with its test failpoint (PBXBUS_TEST_DIE_AFTER_COMMIT), for
# the tests alone: it is never installed, and pbxbus-consumer has none.
$(BUILD)/consumer/consumer_test_hooks.o: consumer/consumer.c
	@mkdir -p $(dir $@)
	$(CC) -Iconsumer -Icommon $(CFLAGS_ALL) -DPBXBUS_TEST_HOOKS -MMD -MP -c $< -o $@

$(CONSUMER_HOOKS_BIN): $(COMMON_OBJ) $(filter-out $(BUILD)/consumer/consumer.o,$(CONSUMER_OBJ)) \
		$(BUILD)/consumer/consumer_test_hooks.o $(BUILD)/consumer/main.o
	$(CC) $(SAN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS_CONSUMER)

# Layers the compiler enforces: each folder sees only its own headers and
# common/'s (a wrong-way include does not compile; scripts/check-layers
# proves it).  Tests, fuzzers and benchmarks sit on top and see all.
layer_inc = $(if $(filter common/%,$1),-Icommon,$(if $(filter bridge/% consumer/% replay/%,$1),\
	-I$(firstword $(subst /, ,$1)) -Icommon,-Icommon -Ibridge -Iconsumer -Ireplay))
LAYER_INC = $(call layer_inc,$<)

# What a file in folder DIR is compiled with (scripts/check-layers).
print-compile-flags:
	@echo $(call layer_inc,$(DIR)/x.c) $(CFLAGS_ALL)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(LAYER_INC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BRIDGE_BIN): $(COMMON_OBJ) $(BRIDGE_OBJ) $(BUILD)/bridge/main.o
	$(CC) $(SAN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS_BRIDGE)

# The test list is every "void test_*(void)" in tests/unit, collected here.
$(BUILD)/unit_list.h: $(wildcard tests/unit/test_*.c)
	@mkdir -p $(BUILD)
	grep -ho '^void test_[a-z0-9_]*' $^ | sed 's/void \(.*\)/T(\1)/' > $@

$(UNIT_OBJ): $(BUILD)/unit_list.h
$(UNIT_OBJ): CFLAGS += -I$(BUILD)

$(UNIT_BIN): $(UNIT_OBJ) $(COMMON_OBJ) $(BRIDGE_OBJ) $(CONSUMER_OBJ) $(REPLAY_OBJ)
	$(CC) $(SAN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS_TEST)

$(BUILD)/tracker-replay: $(BUILD)/tests/tools/tracker_replay.o $(COMMON_OBJ) $(BRIDGE_OBJ)
	$(CC) $(SAN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS_BRIDGE)

$(BENCH_BIN): $(BUILD)/bench/bench_codec.o $(COMMON_OBJ) $(BRIDGE_OBJ)
	$(CC) $(SAN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS_BRIDGE)

$(BUILD)/pg-ceiling: $(BUILD)/bench/pg_ceiling.o
	$(CC) $(SAN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS_CONSUMER)

# The README's test command: packages, then everything in tests/run.
test: deps
	$(MAKE) test-run

test-run:
	tests/run

deps:
	scripts/install-deps

# The README's first command: the bridge against a replayed PBX, no PBX needed.
demo:
	ONCE=$(ONCE) SPEED=$(SPEED) scripts/demo

test-unit: $(UNIT_BIN)
	$(UNIT_BIN) tests/fixtures/ami

bench: $(BENCH_BIN) $(BUILD)/pg-ceiling $(BRIDGE_BIN) $(CONSUMER_BIN)
	bench/run $(BUILD)
	bench/consumer.py $(BUILD)
	bench/console.py $(BUILD)
	bench/pop.py $(BUILD)
	bench/fleet.py $(BUILD)

# The console's pages in a real headless Chromium (the browser tests),
# saved for docs/console.md.
screenshots: all
	PBXBUS_SCREENSHOTS=docs/screenshots python3 tests/lib/runner.py tests/integration/test_console.py tests/integration/test_click_to_call.py

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run full

fuzz-smoke:
	fuzz/run smoke

check-style:
	scripts/check-style

format:
	clang-format -i $$(git ls-files -co --exclude-standard "*.c" "*.h")

# Binaries, man pages, the systemd units (paths set for PREFIX), the example
# configs and the broker config; /etc is left to the admin (or the .deb).
install: $(BRIDGE_BIN) $(CONSUMER_BIN) $(REPLAY_BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/share/doc/pbxbus/examples
	install -m 755 $(BRIDGE_BIN) $(DESTDIR)$(PREFIX)/bin/pbxbus-bridge
	install -m 755 $(CONSUMER_BIN) $(DESTDIR)$(PREFIX)/bin/pbxbus-consumer
	install -m 755 $(REPLAY_BIN) $(DESTDIR)$(PREFIX)/bin/pbxbus-replay
	install -m 644 man/pbxbus-bridge.8 man/pbxbus-consumer.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 man/pbxbus.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	for u in pbxbus-bridge pbxbus-consumer; do \
		sed 's#/usr/local#$(PREFIX)#g' deploy/systemd/$$u.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/$$u.service; \
	done
	install -m 644 deploy/bridge.conf.example deploy/consumer.conf.example deploy/mosquitto/mosquitto.conf \
		deploy/mosquitto/acl deploy/freepbx/extensions_custom.conf deploy/prometheus/pbxbus-alerts.yml \
		deploy/prometheus/pbxbus-alerts.test.yml deploy/grafana/pbxbus.json $(DESTDIR)$(PREFIX)/share/doc/pbxbus/examples/
	install -d $(DESTDIR)$(PREFIX)/share/doc/pbxbus/docs
	install -m 644 README.md $(DESTDIR)$(PREFIX)/share/doc/pbxbus/
	install -m 644 $(wildcard docs/*.md) $(DESTDIR)$(PREFIX)/share/doc/pbxbus/docs/

# man/ is made from the daemons' --help; a test checks it is current.
man: $(BRIDGE_BIN) $(CONSUMER_BIN)
	scripts/make-man $(BUILD)

# The bridge as a Debian package (FreePBX 17 runs on Debian 12).
deb:
	scripts/make-deb

# One list of sources for every tool that links them (fuzz/run).
print-%:
	@echo $($*)

clean:
	rm -rf build build-* pbxbus-bridge pbxbus-consumer pbxbus-replay dist

-include $(shell find build* -name '*.d' 2>/dev/null)
