#!/usr/bin/env python3
"""make bench, consumer part: sustained rows/s from the broker into PostgreSQL
(customer matching included) and the latency from publish to committed row
at 50 records/s.  PostgreSQL runs with fsync on; the broker with
max_inflight_messages 1000 as deploy/ ships it (MAX_INFLIGHT=20 to compare).
BENCH_LOG_LEVEL=debug also reports the transactions' sizes; ROWS sets how
many records are drained.  Then the ceiling in the same run, and two
consumers in a shared group (shared_group) draining the same number."""
import json
import os
import subprocess
import time

import benchenv  # noqa: E402,F401 (tests/lib, the build)
from rigs import consumer_env, migrate  # noqa: E402
from harness import Daemon, Mosquitto, Postgres, TempDir, wait_for  # noqa: E402

N = int(os.environ.get("ROWS", "100000"))


def record(i, ended_ms):
    ended = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ended_ms / 1000)) + ".%03dZ" % (ended_ms % 1000)
    return json.dumps({"v": 1, "pbx": "bench", "call_id": "bench:%d.%d" % (ended_ms, i), "direction": "inbound",
                       "external_number": "1555%07d" % (i % 5000), "external_name": "Caller", "did": "5551000",
                       "extension": "100", "extensions_rung": ["100"], "trunk": "trunk-provider", "queue": None,
                       "transferred": False, "partial": False, "started_at": ended, "answered_at": ended,
                       "ended_at": ended, "duration_s": 0, "billsec_s": 0, "disposition": "ANSWERED",
                       "pbx_answered": True, "hangup_cause": 16, "hangup_cause_text": "Normal Clearing", "legs": 2})


def main():
    tmp = TempDir()
    pg = Postgres(tmp, durable=True).start()  # fsync on: every COMMIT reaches the disk
    pg.create_db()
    broker = Mosquitto(tmp, extra="max_queued_messages 0\nmax_inflight_messages %s\n" % os.environ.get("MAX_INFLIGHT", "1000")).start()
    # one site's 100,000 rows at once: the drain is measured, not the rate
    env = consumer_env(pg.conninfo(), broker.port, PBXBUS_CONSUMER_ID="bench",
                       PBXBUS_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "warn"), PBXBUS_SITE_RECORD_RATE=0)
    migrate(env)
    # 5,000 customers, so every record is matched by an index lookup
    pg.psql("INSERT INTO crm_customers (name, phone_e164) SELECT 'c' || g, '+1555' || lpad(g::text, 7, '0') "
            "FROM generate_series(0, 4999) g; ANALYZE crm_customers; "
            "ALTER TABLE crm_comms_log ADD COLUMN bench_at timestamptz DEFAULT clock_timestamp()")
    consumer = Daemon(tmp, "pbxbus-consumer", env, ["-c", "/dev/null"]).start()
    wait_for(lambda: "subscribed" in consumer.text() or True, 5)
    time.sleep(1)

    # Throughput: N records queued in the broker first, then drained.
    consumer.stop()
    now = int(time.time() * 1000)
    # mosquitto_pub -l exits before it has sent everything when given more
    # than about 34,000 lines at QoS 1 (measured here): feed it in chunks.
    for start in range(0, N, 10000):
        pub = subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-q", "1", "-t", "pbx/calls/hangup", "-l"],
                             input="\n".join(record(i, now) for i in range(start, min(N, start + 10000))) + "\n",
                             text=True, timeout=300)
        assert pub.returncode == 0
    consumer = Daemon(tmp, "pbxbus-consumer", env, ["-c", "/dev/null"]).start()
    t0 = time.time()
    try:
        wait_for(lambda: int(pg.psql("SELECT count(*) FROM crm_comms_log")) >= N, 300, "rows")
    except AssertionError:
        print("consumer: only %s of %d rows; consumer log:\n%s"
              % (pg.psql("SELECT count(*) FROM crm_comms_log"), N, consumer.text()[-3000:]))
        raise
    secs = time.time() - t0
    matched = pg.psql("SELECT count(*) FROM crm_comms_log WHERE customer_id IS NOT NULL")
    print("consumer: %d rows in %.2f s = %.0f rows/s (queued records drained, %s matched to a customer)"
          % (N, secs, N / secs, matched))
    batches = [line.split("db: batch of ", 1)[1].split() for line in consumer.text().splitlines()
               if "db: batch of" in line]
    if batches:  # with BENCH_LOG_LEVEL=debug: "<n> written in <ms> ms", sent to answered
        sizes, ms = [int(b[0]) for b in batches], [int(b[3]) for b in batches]
        print("consumer: %d transactions, %.0f rows each on average, largest %d; %.1f ms from a batch's sending "
              "to its answer on average (a second batch waits behind the first, so these overlap)"
              % (len(sizes), sum(sizes) / len(sizes), max(sizes), sum(ms) / len(ms)))

    # The ceiling, same run, same database: the same rows inserted straight
    # (pipelined INSERT ... ON CONFLICT DO NOTHING, 500 a transaction), no
    # broker, no matching.
    consumer.stop()
    pg.psql("TRUNCATE crm_comms_log")
    out = subprocess.run([os.path.join(benchenv.BUILD, "pg-ceiling"), pg.conninfo(), str(N), str(now + 1000)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows, csecs = out.stdout.split()
    ceiling = int(rows) / float(csecs)
    print("consumer: ceiling %d rows in %s s = %.0f rows/s (straight into PostgreSQL); the consumer reached "
          "%.2fx of it" % (int(rows), csecs, ceiling, (N / secs) / ceiling))

    consumer = Daemon(tmp, "pbxbus-consumer", env, ["-c", "/dev/null"]).start()
    time.sleep(1)

    # Latency at 50 records/s: publish time is in ended_at; commit time is bench_at.
    pg.psql("TRUNCATE crm_comms_log")
    p = subprocess.Popen(["mosquitto_pub", "-p", str(broker.port), "-q", "1", "-t", "pbx/calls/hangup", "-l"],
                         stdin=subprocess.PIPE, text=True)
    for i in range(500):
        p.stdin.write(record(i, int(time.time() * 1000)) + "\n")
        p.stdin.flush()
        time.sleep(0.02)
    p.stdin.close()
    p.wait()
    wait_for(lambda: int(pg.psql("SELECT count(*) FROM crm_comms_log")) >= 500, 60, "500 rows")
    lat = pg.psql("SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM "
                  "bench_at - (raw->>'ended_at')::timestamptz) * 1000) FROM crm_comms_log")
    p50, p99 = (float(x) for x in lat.strip("{}").split(","))
    print("consumer: latency publish -> committed row at 50 records/s: p50 %.1f ms, p99 %.1f ms" % (p50, p99))
    consumer.stop()

    # The way to scale past one session: two consumers in a shared group
    # (shared_group), each with its own MQTT session and database
    # connection, the same records drained again.
    pg.psql("TRUNCATE crm_comms_log")
    group = [Daemon(tmp, "pbxbus-consumer", dict(env, PBXBUS_CONSUMER_ID="bench-%d" % k, PBXBUS_SHARED_GROUP="bench"),
                    ["-c", "/dev/null"]).start() for k in (1, 2)]
    time.sleep(1.5)  # their sessions and the shared subscription exist
    for d in group:
        d.stop()
    for start in range(0, N, 10000):
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-q", "1", "-t", "pbx/calls/hangup", "-l"],
                       input="\n".join(record(i, now + 2000) for i in range(start, min(N, start + 10000))) + "\n",
                       text=True, timeout=300, check=True)
    t0 = time.time()
    group = [d.start() for d in group]
    wait_for(lambda: int(pg.psql("SELECT count(*) FROM crm_comms_log")) >= N, 300, "rows")
    gsecs = time.time() - t0
    for d in group:
        d.stop()
    print("consumer: two in a shared group, %d rows in %.2f s = %.0f rows/s: %.2fx of the ceiling"
          % (N, gsecs, N / gsecs, (N / gsecs) / ceiling))

    broker.stop()
    pg.stop("immediate")
    tmp.cleanup()


main()
