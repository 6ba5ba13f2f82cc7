"""Fault suite: about 2,000 calls through pbxbus-replay → bridge → mosquitto →
consumer → PostgreSQL while everything is knocked over, spread over the run:
the broker restarted 3 times (once with SIGKILL), PostgreSQL restarted 3
times, the consumer SIGKILLed 3 times, the bridge SIGKILLed 3 times (between
calls), the AMI connection dropped mid-message 3 times, and 3 bad payloads
injected.  The expected ids come from the replay's own schedule (the calls it
completed), not from the bridge.  At the end the table holds exactly those
ids, once each, the dead letters are the 3 injected, and the outbox is empty."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Daemon, Mosquitto, Postgres, ReplayPbx, Subscriber, TempDir, fixture,  # noqa: E402
                     wait_for)
from rigs import bridge_env, consumer_env, migrate  # noqa: E402

LOOPS = int(os.environ.get("PBXBUS_FAULT_LOOPS", "100"))  # 20 calls each


def in_gap(pbx):
    """The stand-in PBX is quiet between two loops: its last line but the
    actions the bridge sent says GAP."""
    lines = [x for x in pbx.text().rstrip().split("\n") if not x.startswith("ACTION ")]
    return bool(lines) and lines[-1].startswith("GAP")


def test_faults_two_thousand_calls():
    tmp = TempDir()
    pg = Postgres(tmp).start()
    pg.create_db()
    broker = Mosquitto(tmp, extra="max_queued_messages 0\nmax_inflight_messages 1000\npersistence true\n"
                       "persistence_location %s/\nautosave_interval 1\n" % tmp.path).start()
    cenv = consumer_env(pg.conninfo(), broker.port, PBXBUS_MQTT_KEEPALIVE=5)
    migrate(cenv)
    burst = len(open(fixture("19-burst-20-inbound"), "rb").read())
    per_loop = 1954  # replayable messages of capture 19
    schedule = tmp.path + "/schedule.jsonl"
    ami = ReplayPbx.scripted(tmp, fixture("19-burst-20-inbound"), "--loops", str(LOOPS), "--gap", "1.0",
                    "--delay", "1", "--schedule", schedule, "--drop", "3", "--drop-at", str(per_loop * LOOPS // 5 + 77),
                    "--drop-every", str(per_loop * LOOPS // 4))
    benv = bridge_env(ami.port, broker.port, tmp.path + "/outbox", PBXBUS_OUTBOX_RESEND_TIMEOUT=3,
                      PBXBUS_EVENTS_ALLOW="FullyBooted")
    consumer = Daemon(tmp, "pbxbus-consumer", cenv, ["-c", "/dev/null"]).start()
    consumer.wait_log("mqtt: subscribed to")
    records = Subscriber(tmp, broker, "pbx/calls/hangup", name="records")
    bridge = Daemon(tmp, "pbxbus-bridge", benv, ["-c", "/dev/null"]).start()
    done = {"bridge": 0, "broker": 0, "pg": 0, "consumer": 0, "bad": 0}

    def completed():
        return ami.completed(schedule)

    def loop_now():
        return ami.text().count("\nGAP ")

    seen_before = set()  # ids seen by subscribers of earlier broker lives

    def seen_records():
        return seen_before | {p.split('"call_id":"', 1)[1].split('"', 1)[0] for _, _, p in records.messages()
                              if '"call_id":"' in p}

    def kill_bridge():
        nonlocal bridge
        # between calls: in a gap, once everything completed is in the outbox (seen published)
        wait_for(lambda: in_gap(ami), 30, "a gap")
        want = {"lab:" + x for x in completed()}
        # published (seen on the bus) or already in the table: either way out of the outbox's hands
        wait_for(lambda: want <= seen_records() | set(pg.psql("SELECT ext_message_id FROM crm_comms_log").split()),
                 60, "records of the completed calls")
        bridge.stop(signal.SIGKILL)
        bridge = Daemon(tmp, "pbxbus-bridge", benv, ["-c", "/dev/null"]).start()

    def restart_broker(sig):
        nonlocal records
        seen_before.update(seen_records())
        records.stop()
        broker.stop(sig)
        time.sleep(0.5)
        broker.start()
        records = Subscriber(tmp, broker, "pbx/calls/hangup", name="records")

    def restart_pg(mode):
        pg.stop(mode)
        time.sleep(1)
        pg.start()

    def kill_consumer():
        nonlocal consumer
        consumer.stop(signal.SIGKILL)
        time.sleep(0.5)
        consumer = Daemon(tmp, "pbxbus-consumer", cenv, ["-c", "/dev/null"]).start()

    def inject_bad():
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-q", "1", "-t", "pbx/calls/hangup", "-m",
                        '{"v":1,"call_id":"lab:bad","direction":"sideways"}'], check=True)

    # (loop, action) spread over the run
    plan = []
    for k, (name, action) in enumerate([("bridge", kill_bridge), ("broker", lambda: restart_broker(signal.SIGTERM)),
                                         ("pg", lambda: restart_pg("fast")), ("consumer", kill_consumer),
                                         ("bad", inject_bad)]):
        for j in range(3):
            plan.append((LOOPS * (2 + 6 * j + k) // 22, name, action))
    plan.sort(key=lambda x: x[0])
    plan[[i for i, p in enumerate(plan) if p[1] == "broker"][1]] = (
        [p for p in plan if p[1] == "broker"][1][0], "broker", lambda: restart_broker(signal.SIGKILL))
    plan[[i for i, p in enumerate(plan) if p[1] == "pg"][2]] = (
        [p for p in plan if p[1] == "pg"][2][0], "pg", lambda: restart_pg("immediate"))
    try:
        for at, name, action in plan:
            wait_for(lambda: loop_now() >= at, 600, "loop %d" % at)
            action()
            done[name] += 1
        wait_for(lambda: "DONE" in ami.text(), 900, "the end of the replay")
        expected = {"lab:" + x for x in completed()}
        wait_for(lambda: int(pg.psql("SELECT count(*) FROM crm_comms_log")) >= len(expected), 300,
                 "%d rows" % len(expected))
        wait_for(lambda: not os.path.exists(tmp.path + "/outbox/outbox.log")
                 or os.path.getsize(tmp.path + "/outbox/outbox.log") == 0, 120, "an empty outbox")
        time.sleep(2)
        rows = pg.psql("SELECT ext_message_id FROM crm_comms_log").split()
        dead = int(pg.psql("SELECT count(*) FROM pbxbus_dead_letters"))
        print("fault suite: %d calls completed by the replay, %d rows, %d distinct, %d dead letters, faults %s, "
              "AMI drops %d" % (len(expected), len(rows), len(set(rows)), dead, done, ami.count("DROPPED")))
        assert len(expected) >= LOOPS * 20 - 20, len(expected)
        assert len(rows) == len(set(rows)), "duplicates"
        assert set(rows) == expected, (sorted(set(rows) - expected)[:5], sorted(expected - set(rows))[:5],
                                       bridge.text()[-3000:])
        assert dead == 3, dead
        assert ami.count("DROPPED") == 3
        assert done == {"bridge": 3, "broker": 3, "pg": 3, "consumer": 3, "bad": 3}, done
        assert burst > 0
    finally:
        for d in (bridge, consumer):
            d.stop()
        records.stop()
        ami.stop()
        broker.stop()
        pg.stop("immediate")
        tmp.cleanup()
