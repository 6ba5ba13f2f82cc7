#!/usr/bin/env python3
"""make bench, screen pop part: the AMI event that makes a phone ring (its
DialBegin, as the stand-in PBX writes it to the bridge) to the card on the
screen in a real headless Chromium, p50/p99 over CALLS (200) calls at RATE
(5) calls/s; the stand-in PBX answers the Getvar at once.  Each call is
capture 10 (John Smith rings 100, who answers), played with new ids every
loop at an even pace so that one call begins every 1/RATE s.  A relay
between the PBX and the bridge notes when each DialBegin passes (the wall
clock), the page notes when each card appears (Date.now(), the same
clock).  The consumer's CPU (user + system, /proc) over the run is the
matching's and the live stream's: it is said per call.  Figures, not
assertions."""
import json
import os
import re
import socket
import subprocess
import threading
import time

import benchenv  # noqa: E402,F401 (tests/lib, the build)
from browser import Browser  # noqa: E402
from harness import Daemon, Mosquitto, Postgres, ReplayPbx, TempDir, fixture, free_port, wait_for  # noqa: E402
from rigs import bridge_env, consumer_env, migrate  # noqa: E402

CALLS = int(os.environ.get("CALLS", "200"))
RATE = float(os.environ.get("RATE", "5"))
CUSTOMERS = int(os.environ.get("POP_CUSTOMERS", "100000"))
TOKEN = "bench-token-0123456789"
CAPTURE = "10-in-answered-caller-hangup"

WATCH = """
window.__seen = {};
window.__named = {};
new MutationObserver(() => {
  const now = Date.now();
  for (const c of document.querySelectorAll("#pops .pop")) {
    if (!(c.dataset.call in window.__seen)) window.__seen[c.dataset.call] = now;
    if (!(c.dataset.call in window.__named) && c.querySelector(".pop-customer")) window.__named[c.dataset.call] = now;
  }
}).observe(document, { subtree: true, childList: true });
"""


class Relay:
    """AMI from the stand-in PBX to the bridge, byte for byte; the wall time
    each DialBegin to PJSIP/100 passes, by its Linkedid."""

    def __init__(self, upstream_port):
        self.up = upstream_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.rang = {}
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            down, _ = self.sock.accept()
            up = socket.create_connection(("127.0.0.1", self.up))
            threading.Thread(target=self.pump, args=(down, up, False), daemon=True).start()
            threading.Thread(target=self.pump, args=(up, down, True), daemon=True).start()

    def pump(self, src, dst, watch):
        buf = b""
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                dst.close()
                return
            now = time.time() * 1000
            dst.sendall(data)
            if not watch:
                continue
            buf += data
            *msgs, buf = buf.split(b"\r\n\r\n")
            for m in msgs:
                if b"Event: DialBegin" in m and b"DestChannel: PJSIP/100-" in m:
                    lid = re.search(rb"\nLinkedid: ([^\r]+)", m)
                    if lid:
                        self.rang.setdefault(lid.group(1).decode(), now)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    tmp = TempDir()
    pg = Postgres(tmp).start()
    pg.create_db()
    broker = Mosquitto(tmp).start()
    port = free_port()
    env = consumer_env(pg.conninfo(), broker.port, PBXBUS_HTTP_LISTEN="127.0.0.1:%d" % port,
                       PBXBUS_HTTP_TOKEN=TOKEN)
    migrate(env)
    pg.psql("INSERT INTO crm_customers (name, phone_e164) SELECT 'Customer ' || i, '+1' || (2000000000 + i)::text "
            "FROM generate_series(1, %d) i" % CUSTOMERS)
    pg.psql("INSERT INTO crm_customers (name, phone_e164) VALUES ('John Smith', '+15559876543')")
    pg.psql("VACUUM ANALYZE crm_customers")
    consumer = Daemon(tmp, "pbxbus-consumer", env, ["-c", "/dev/null"]).start()
    consumer.wait_log("subscribed to the state")

    b = Browser(tmp)
    b.call("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH}, session=True)
    b.goto("http://127.0.0.1:%d/login" % port)
    b.evaluate("fetch('/api/login', {method: 'POST', headers: {'Content-Type': 'application/json'}, "
               "body: JSON.stringify({token: %s})}).then((r) => r.status)" % json.dumps(TOKEN))
    b.evaluate("localStorage.setItem('pbxbus.extension', '100'); true")
    b.goto("http://127.0.0.1:%d/calls" % port)
    b.wait_for("pbx.live.source !== null && pbx.live.source.readyState === 1", 15, "the page's stream")

    # one call every 1/RATE s: the capture's messages evenly over that time
    with open(fixture(CAPTURE), "rb") as f:
        nmsgs = f.read().count(b"\r\n\r\n") - 1
    pace = 1.0 / RATE / nmsgs
    pbx = ReplayPbx(tmp, "--loops", str(CALLS), "--pace", "%.6f" % pace, "--gap", "0", "--delay", "2",
                    fixture(CAPTURE))
    relay = Relay(pbx.port)
    bridge = Daemon(tmp, "pbxbus-bridge", bridge_env(relay.port, broker.port, tmp.path + "/outbox",
                                                    PBXBUS_AMI_HOST="127.0.0.1"), ["-c", "/dev/null"]).start()
    sub = subprocess.Popen(["mosquitto_sub", "-p", str(broker.port), "-t", "pbx/calls/ringing", "-F", "%U %p"],
                           stdout=subprocess.PIPE, text=True)
    cpu0, t0 = cpu_seconds(consumer.proc.pid), time.time()
    wait_for(lambda: re.search(r"DONE \d+ events", pbx.text()), CALLS / RATE + 120, "the calls")
    time.sleep(2)
    cpu1, t1 = cpu_seconds(consumer.proc.pid), time.time()
    sub.terminate()
    on_bus = {}
    for line in sub.communicate()[0].splitlines():
        at, doc = line.split(" ", 1)
        rec = json.loads(doc)
        if rec["state"] == "ringing":
            on_bus.setdefault(rec["call_id"], float(at) * 1000)
    bus = [on_bus["lab:" + lid] - at for lid, at in relay.rang.items() if "lab:" + lid in on_bus]
    seen = b.evaluate("window.__seen")
    delays = [seen["lab:" + lid] - at for lid, at in relay.rang.items() if "lab:" + lid in seen]
    named = b.evaluate("window.__named")
    naming = [named[c] - seen[c] for c in named if c in seen]
    rows = int(pg.psql("SELECT count(*) FROM crm_comms_log"))
    bridge.stop()
    pbx.stop()
    b.close()
    consumer.stop()
    broker.stop()
    pg.stop()
    tmp.cleanup()
    if not delays:
        print("screen pop: no card seen (%d rings)" % len(relay.rang))
        return
    print("screen pop: AMI DialBegin -> card in Chromium, %d calls at %.0f/s (%d rings, %d cards, %d rows logged): "
          "p50 %.0f ms, p99 %.0f ms, max %.0f ms" % (CALLS, RATE, len(relay.rang), len(delays), rows,
                                                     pct(delays, 50), pct(delays, 99), max(delays)))
    if bus:
        print("screen pop: of which AMI DialBegin -> calls/ringing on the bus (the bridge): p50 %.0f ms, p99 %.0f ms"
              % (pct(bus, 50), pct(bus, 99)))
    if naming:
        print("screen pop: the customer's name on the card after the card: p50 %.0f ms, p99 %.0f ms (%d of %d cards)"
              % (pct(naming, 50), pct(naming, 99), len(naming), len(delays)))
    print("screen pop: consumer CPU %.2f s over %.1f s (%.1f %%), %.1f ms a call (its customer matched over %d "
          "customers, the live stream, the call logged)"
          % (cpu1 - cpu0, t1 - t0, 100 * (cpu1 - cpu0) / (t1 - t0), 1000 * (cpu1 - cpu0) / CALLS, CUSTOMERS + 1))


if __name__ == "__main__":
    main()
