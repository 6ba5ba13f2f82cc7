#!/usr/bin/env python3
"""make bench, fleet part (issue 30): SITES bridges (default 200), each with
its own stand-in PBX session playing a call a few times a minute as a real
site does, into one mosquitto with the shipped config, the per-site users
and ACL; a consumer group of two (shared_group) into PostgreSQL.  For
DURATION seconds (default 120), then every call must be in crm_comms_log
once and every site's status in the consumer's /metrics.  Reports the
broker's and the consumers' CPU and memory, each bridge's RSS, and what
that predicts for 2,000 sites.  Absolute figures move 2-4x between
machines here: read them against each other."""
import os
import re
import subprocess
import sys
import time
import urllib.request

import benchenv  # noqa: E402,F401 (tests/lib, the build)
from rigs import ShippedBroker, bridge_env, consumer_env, migrate  # noqa: E402
from harness import Daemon, Postgres, ReplayPbx, TempDir, fixture, free_port, wait_for  # noqa: E402

SITES = int(os.environ.get("SITES", "200"))
DURATION = int(os.environ.get("DURATION", "120"))
GAP = os.environ.get("CALL_GAP", "20")  # seconds between one site's calls (a call lasts ~7 s)
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_kb(pid, key="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def main():
    tmp = TempDir()
    names = ["s%03d" % i for i in range(SITES)]
    pg = Postgres(tmp).start()
    pg.create_db()
    broker = ShippedBroker(tmp, more_users={n: "pw-" + n for n in names})
    port = free_port()
    consumers = []
    for i, cid in enumerate(("crm1", "crm2")):
        env = consumer_env(pg.conninfo(), broker.crm_port, PBXBUS_CONSUMER_ID=cid, PBXBUS_MQTT_USERNAME="crm",
                           PBXBUS_MQTT_PASSWORD="y", PBXBUS_SUBSCRIBE="pbx/+/calls/hangup", PBXBUS_SHARED_GROUP="g",
                           PBXBUS_LOG_LEVEL="warn", PBXBUS_SITE_RECORD_RATE=0)
        if i == 0:
            env["PBXBUS_HTTP_LISTEN"] = "127.0.0.1:%d" % port
            migrate(env)
        consumers.append(Daemon(tmp, "pbxbus-consumer", env, ["-c", "/dev/null"]).start())
    time.sleep(2)
    broker_base = rss_kb(broker.proc.pid)  # before any bridge: what the sites add is measured against it
    pbxs, bridges, schedules = [], [], []
    t0 = time.time()
    for n in names:
        schedule = os.path.join(tmp.path, "calls-%s.jsonl" % n)
        pbx = ReplayPbx(tmp, "--loops", "0", "--gap", GAP, "--delay", "%.1f" % (len(pbxs) * 0.1 % 20),
                        "--schedule", schedule, fixture("10-in-answered-caller-hangup"), wrap=False)
        env = bridge_env(pbx.port, broker.pbx_port, os.path.join(tmp.path, "outbox-" + n), PBXBUS_AMI_HOST="127.0.0.1",
                         PBXBUS_TOPIC_PREFIX="pbx/" + n, PBXBUS_PBX_ID=n, PBXBUS_MQTT_USERNAME=n,
                         PBXBUS_MQTT_PASSWORD="pw-" + n, PBXBUS_LOG_LEVEL="warn", PBXBUS_STATUS_INTERVAL="30")
        bridges.append(Daemon(tmp, "pbxbus-bridge", env, ["-c", "/dev/null"], wrap=False).start())
        pbxs.append(pbx)
        schedules.append(schedule)
    started = time.time() - t0
    cpu0 = {"broker": cpu_s(broker.proc.pid), "consumers": sum(cpu_s(c.proc.pid) for c in consumers),
            "bridges": sum(cpu_s(b.proc.pid) for b in bridges)}
    t1 = time.time()
    time.sleep(DURATION)
    for p in pbxs:
        p.stop()  # the calls in progress end unseen (partial), as at a real PBX's restart
    elapsed = time.time() - t1
    cpu1 = {"broker": cpu_s(broker.proc.pid), "consumers": sum(cpu_s(c.proc.pid) for c in consumers),
            "bridges": sum(cpu_s(b.proc.pid) for b in bridges)}
    ended = sum(len(p.completed(s)) for p, s in zip(pbxs, schedules))

    def rows():
        return int(pg.psql("SELECT count(*) FROM crm_comms_log"))
    wait_for(lambda: rows() >= ended, 120, "every completed call's row")
    time.sleep(3)
    total, distinct = pg.psql("SELECT count(*) || ' ' || count(DISTINCT ext_message_id) FROM crm_comms_log").split()
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        metrics = r.read().decode()
    up = len(re.findall(r'^pbxbus_bridge_up\{site="pbx/s\d+"\} 1$', metrics, re.M))
    rss = sorted(rss_kb(b.proc.pid) for b in bridges)
    broker_rss = rss_kb(broker.proc.pid, "VmHWM")
    consumer_rss = [rss_kb(c.proc.pid, "VmHWM") for c in consumers]
    per = {k: (cpu1[k] - cpu0[k]) / elapsed * 100 for k in cpu0}
    print("fleet: %d sites (%d bridges started in %.0f s), %.0f s, %d calls ended (%.1f a minute a site); rows %s, "
          "%s distinct; %d sites up in the consumer's /metrics"
          % (SITES, len(bridges), started, elapsed, ended, ended / SITES / (elapsed / 60), total, distinct, up))
    print("fleet: CPU (%% of one core): broker %.1f, two consumers %.1f, all bridges %.1f (%.2f each)"
          % (per["broker"], per["consumers"], per["bridges"], per["bridges"] / SITES))
    per_site_kb = max(0, broker_rss - broker_base) / SITES
    print("fleet: memory: broker %d kB before the bridges, peak %d kB (%.0f kB a site), consumers' peaks %s kB, "
          "bridge RSS median %d kB, max %d kB"
          % (broker_base, broker_rss, per_site_kb, "/".join(str(x) for x in consumer_rss), rss[len(rss) // 2],
             rss[-1]))
    print("fleet: for 2,000 sites (CPU linear in sites and calls): broker %.0f%%, consumers %.0f%% of one core; broker "
          "memory ~%.0f MB; each PBX's bridge stays ~%.0f MB on its own PBX"
          % (per["broker"] * 2000 / SITES, per["consumers"] * 2000 / SITES,
             (broker_base + per_site_kb * 2000) / 1024, rss[len(rss) // 2] / 1024))
    ok = int(total) == int(distinct) >= ended and up == SITES
    for b in bridges + consumers:
        b.stop()
    broker.stop()
    pg.stop()
    tmp.cleanup()
    if not ok:
        print("fleet: FAILED: rows %s (distinct %s) for %d calls; %d of %d sites up" % (total, distinct, ended, up,
                                                                                     SITES))
        sys.exit(1)


if __name__ == "__main__":
    main()
