#!/usr/bin/env python3
"""make bench, console part.

1. The call log's page query over ROWS (1,000,000) calls: the first page and
   a page deep in the past (the key of the row 90 % of the way back), each
   asked through GET /api/calls as the console asks it; PostgreSQL's own
   execution time and plan come from auto_explain (log_analyze) in its log.
2. Customer search over CUSTOMERS (1,000,000) customers through GET
   /api/customers?q= (part of a name, the last digits of a number, a name
   found nowhere), PostgreSQL's own time from auto_explain, with the
   trigram indexes of migration 5 and without them (pg_trgm missing).
3. Missed calls to call back (GET /api/calls/missed) over RECENT (100,000)
   calls of the last 7 days, a fifth of the inbound ones missed.
4. Live: the time from a publish on the bus to the change arriving on an
   open /api/live/stream, p50/p99 at RATE (50) changes/s for SECONDS (20)."""
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import benchenv  # noqa: E402,F401 (tests/lib, the build)
from rigs import consumer_env, migrate  # noqa: E402
from harness import Daemon, Mosquitto, Postgres, TempDir, free_port  # noqa: E402

ROWS = int(os.environ.get("ROWS", "1000000"))
CUSTOMERS = int(os.environ.get("CUSTOMERS", "1000000"))
RECENT = int(os.environ.get("RECENT", "100000"))
RATE = int(os.environ.get("RATE", "50"))
SECONDS = int(os.environ.get("SECONDS", "20"))
TOKEN = "bench-token-0123456789"


def api(port, path):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), headers={"Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def explained(pg, since, table="crm_comms_log"):
    """(ms, plan) of the last query on table auto_explain logged after offset since."""
    with open(pg.dir + "/server.log") as f:
        f.seek(since)
        text = f.read()
    runs = re.findall(r"duration: ([0-9.]+) ms  plan:\n(.*?)(?=\n\S|\Z)", text, re.S)
    runs = [(float(ms), plan) for ms, plan in runs if table in plan]
    return runs[-1]


def best_of(pg, port, query, table, key, tries=5):
    """(PostgreSQL ms, API ms, plan, items) of the fastest of tries asks."""
    best = None
    for _ in range(tries):
        at = log_size(pg)
        t0 = time.time()
        page = api(port, query)
        wall = (time.time() - t0) * 1000
        time.sleep(0.2)
        ms, plan = explained(pg, at, table)
        if best is None or ms < best[0]:
            best = (ms, wall, plan, len(page[key]))
    return best


def customer_search(tmp, pg, env, port):
    """Names of two words from syllables (17,576 of each), numbers at random."""
    syl = "ARRAY['an','be','ca','do','el','fi','ga','ho','ir','jo','ka','li','mo','na','or','pe','qu','ri','sa'," \
          "'to','ul','vi','wa','xe','yo','zu']"
    pg.psql("TRUNCATE crm_customers RESTART IDENTITY")
    pg.psql("INSERT INTO crm_customers (name, phone_e164) SELECT initcap(s[1 + i %% 26] || s[1 + (i / 26) %% 26] || "
            "s[1 + (i / 676) %% 26]) || ' ' || initcap(s[1 + (i * 7919) %% 26] || s[1 + (i * 104729 / 26) %% 26] || "
            "s[1 + (i * 1299709 / 676) %% 26]), '+1' || (2000000000 + (i::bigint * 2654435761) %% 7999999999)::text "
            "FROM generate_series(1::bigint, %d) i, (SELECT %s AS s) a" % (CUSTOMERS, syl))
    pg.psql("VACUUM ANALYZE crm_customers")
    who = json.loads(pg.psql("SELECT json_build_object('name', name, 'phone', phone_e164) FROM crm_customers "
                             "WHERE id = %d" % (CUSTOMERS // 3)))
    last = who["name"].split(" ")[1]
    queries = (("part of a last name (%s)" % last[1:5].lower(), last[1:5].lower()),
               ("a whole name", who["name"]),
               ("last 4 digits of a number", who["phone"][-4:]),
               ("7 digits of a number", who["phone"][-7:]),
               ("a name found nowhere", "zzqx"))
    consumer = Daemon(tmp, "pbxbus-consumer", env, ["-c", "/dev/null"]).start()
    consumer.wait_log("http: listening")
    out = []
    for indexed in (True, False):
        if not indexed:
            pg.psql("DROP INDEX crm_customers_name_trgm, crm_customers_phone_trgm")
        for name, q in queries:
            path = "/api/customers?q=" + urllib.parse.quote(q)
            api(port, path)  # a warm cache
            out.append((indexed, name, best_of(pg, port, path, "crm_customers", "customers", 3 if indexed else 1)))
    consumer.stop()
    return out


def missed_calls(tmp, pg, env, port):
    pg.psql("INSERT INTO crm_comms_log (type, direction, body, ext_message_id, occurred_at, external_number, "
            "external_e164, duration_seconds, billsec_seconds, disposition, source) "
            "SELECT 'call', CASE WHEN i %% 3 = 0 THEN 'outbound' ELSE 'inbound' END, 'bench', 'recent:' || i, "
            "now() - (i * 6) * interval '1 second', '1555' || lpad((i %% 20000)::text, 7, '0'), "
            "'+1555' || lpad((i %% 20000)::text, 7, '0'), 20 + i %% 40, "
            "CASE WHEN i %% 5 = 1 THEN 0 ELSE 30 END, CASE WHEN i %% 5 = 1 THEN 'NO ANSWER' ELSE 'ANSWERED' END, "
            "'pbx' FROM generate_series(1, %d) i" % RECENT)
    pg.psql("VACUUM ANALYZE crm_comms_log")
    consumer = Daemon(tmp, "pbxbus-consumer", env, ["-c", "/dev/null"]).start()
    consumer.wait_log("http: listening")
    api(port, "/api/calls/missed")
    best = best_of(pg, port, "/api/calls/missed", "crm_comms_log", "missed")
    count = api(port, "/api/calls/missed")["count"]
    consumer.stop()
    return best, count


def log_size(pg):
    return os.path.getsize(pg.dir + "/server.log")


def page_query(tmp, pg, env, port):
    pg.psql("INSERT INTO crm_comms_log (customer_id, type, direction, body, ext_message_id, occurred_at, extension, "
            "external_number, duration_seconds, billsec_seconds, disposition, source) "
            "SELECT CASE WHEN i %% 7 = 0 THEN 1 + i %% 5000 END, 'call', (ARRAY['inbound','outbound','internal'])[1 + i %% 3], "
            "'bench', 'bench:' || i, timestamptz '2020-01-01' + i * interval '1 minute', (100 + i %% 50)::text, "
            "'1555' || lpad((i %% 100000)::text, 7, '0'), i %% 600, i %% 300, "
            "CASE WHEN i %% 4 = 0 THEN 'NO ANSWER' ELSE 'ANSWERED' END, 'pbx' FROM generate_series(1, %d) i" % ROWS)
    pg.psql("VACUUM ANALYZE crm_comms_log")
    consumer = Daemon(tmp, "pbxbus-consumer", env, ["-c", "/dev/null"]).start()
    consumer.wait_log("http: listening")
    api(port, "/api/calls")  # a warm cache, as a running console has
    out = []
    for name, query in (("first page", "/api/calls"), ("deep page", None), ("answered=no, deep", None)):
        if query is None:
            key_row = pg.psql("SELECT (extract(epoch FROM occurred_at) * 1000000)::bigint || '_' || id FROM "
                              "crm_comms_log ORDER BY occurred_at DESC, id DESC OFFSET %d LIMIT 1" % int(ROWS * 0.9))
            query = "/api/calls?before=" + key_row + ("&answered=no" if "answered" in name else "")
        out.append((name, best_of(pg, port, query, "crm_comms_log", "calls")))
    consumer.stop()
    return out


def live_latency(tmp, broker, env, port):
    consumer = Daemon(tmp, "pbxbus-consumer", env, ["-c", "/dev/null"]).start()
    consumer.wait_log("subscribed to the state")
    sent, seen = {}, {}
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /api/live/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n\r\n")

    def read():
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                return  # closed at the end of the run
            if not chunk:
                return
            now = time.time()
            buf += chunk
            for m in re.finditer(rb'"value":\{"extension":"b0","state":"s(\d+)"', buf):
                seen.setdefault(int(m.group(1)), now)
            buf = buf[-4096:]
    threading.Thread(target=read, daemon=True).start()
    time.sleep(1)
    pub = subprocess.Popen(["mosquitto_pub", "-p", str(broker.port), "-q", "0", "-l", "-t", "pbx/state/extensions/b"],
                           stdin=subprocess.PIPE, text=True)
    # one topic per change would be one mosquitto_pub each: instead one
    # topic, a new document each time (each one a change)
    n = RATE * SECONDS
    for i in range(n):
        sent[i] = time.time()
        pub.stdin.write(json.dumps({"extension": "b0", "state": "s%d" % i}) + "\n")
        pub.stdin.flush()
        time.sleep(max(0, sent[i] + 1.0 / RATE - time.time()))
    pub.stdin.close()
    pub.wait(30)
    time.sleep(2)
    s.close()
    consumer.stop()
    lat = sorted((seen[i] - sent[i]) * 1000 for i in sent if i in seen)
    return n, len(lat), lat


def main():
    tmp = TempDir()
    pg = Postgres(tmp, durable=True).start()
    pg.create_db()
    for setting in ("session_preload_libraries = 'auto_explain'", "auto_explain.log_min_duration = 0",
                    "auto_explain.log_analyze = on", "auto_explain.log_buffers = on"):
        pg.psql("ALTER DATABASE pbxbus SET " + setting, db="postgres")
    broker = Mosquitto(tmp).start()
    port = free_port()
    env = consumer_env(pg.conninfo(), broker.port, PBXBUS_CONSUMER_ID="bench", PBXBUS_LOG_LEVEL="info",
                       PBXBUS_HTTP_LISTEN="127.0.0.1:%d" % port, PBXBUS_HTTP_TOKEN=TOKEN)
    migrate(env)
    pg.psql("INSERT INTO crm_customers (name, phone_e164) SELECT 'c' || g, '+1555' || lpad(g::text, 7, '0') "
            "FROM generate_series(1, 5000) g")
    try:
        for name, (ms, wall, plan, n) in page_query(tmp, pg, env, port):
            print("console calls page over %d rows, %s: %.2f ms in PostgreSQL (%.1f ms through the API), %d rows"
                  % (ROWS, name, ms, wall, n))
            for line in plan.splitlines():
                if "Index" in line or "Limit" in line or "Execution" in line or "Seq Scan" in line:
                    print("    " + line.strip())
        for indexed, name, (ms, wall, plan, n) in customer_search(tmp, pg, env, port):
            print("customer search over %d customers, %s, %s: %.2f ms in PostgreSQL (%.1f ms through the API), "
                  "%d found" % (CUSTOMERS, name, "trigram indexes" if indexed else "no index", ms, wall, n))
            for line in plan.splitlines():
                if "Index" in line or "Seq Scan" in line or "Bitmap" in line:
                    print("    " + line.strip())
        (ms, wall, plan, n), count = missed_calls(tmp, pg, env, port)
        print("missed calls over %d calls of the last 7 days: %.2f ms in PostgreSQL (%.1f ms through the API), "
              "%d callers to call back, %d shown" % (RECENT, ms, wall, count, n))
        for line in plan.splitlines():
            if "Index" in line or "Seq Scan" in line:
                print("    " + line.strip())
        n, got, lat = live_latency(tmp, broker, env, port)
        if lat:
            print("console live: %d changes at %d/s, %d seen on the stream; publish -> stream p50 %.1f ms, "
                  "p99 %.1f ms, max %.1f ms" % (n, RATE, got, lat[len(lat) // 2], lat[int(len(lat) * 0.99)],
                                              lat[-1]))
    finally:
        broker.stop()
        pg.stop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
