"""pbxbus-replay, the stand-in PBX of the demo: real login exchanges, recorded
pace, every loop new calls; checked through the real bridge and mosquitto."""
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import amicap  # noqa: E402
from harness import Daemon, Mosquitto, ReplayPbx, Subscriber, TempDir, fixture, wait_for, SLOW  # noqa: E402
import rigs  # noqa: E402

CAPS = ["10-in-answered-caller-hangup", "12-in-noanswer"]


def recorded_span(name):
    """Seconds from the first to the last replayable event of a capture."""
    _, msgs = amicap.load(fixture(name))
    times = [float(line.split()[0]) for line in open(fixture(name)[:-len(".server.txt")] + ".timing.txt")
             if re.match(r"\s*[\d.]+\s+MSG ", line)]
    keep = [t for raw, t in zip(msgs, times) if raw in amicap.replayable(msgs)]
    return keep[-1] - keep[0]


class Rig:
    def __init__(self, replay_args, bridge_env=None, secret="bridgepass"):
        self.tmp = TempDir()
        self.broker = Mosquitto(self.tmp).start()
        self.pbx = ReplayPbx(self.tmp, *replay_args, env={"PBXBUS_REPLAY_SECRET": secret})
        self.sub = Subscriber(self.tmp, self.broker, "pbx/calls/#")
        env = rigs.bridge_env(self.pbx.port, self.broker.port, self.tmp.path + "/outbox", PBXBUS_AMI_AUTH_RETRY=1)
        env.update(bridge_env or {})
        self.bridge = Daemon(self.tmp, "pbxbus-bridge", env, ["-c", "/dev/null"]).start()

    def hangups(self):
        return [json.loads(p) for t, _, p in self.sub.messages() if t == "pbx/calls/hangup"]

    def close(self):
        rcs = (self.bridge.stop(), self.pbx.stop())
        self.sub.stop()
        self.broker.stop()
        logs = self.bridge.text()[-2000:] + self.pbx.text()[-2000:]
        self.tmp.cleanup()
        assert rcs == (0, 0) or rcs == (None, 0), (rcs, logs)


def test_replay_loops_are_new_calls_at_the_recorded_pace():
    speed, gap = 4.0, 2.0
    r = Rig(["--speed", str(speed), "--gap", str(gap), "--loops", "2", "--delay", "0.5"]
            + [fixture(c) for c in CAPS])
    try:
        wait_for(lambda: r.pbx.count("LOGIN ok"), 10 * SLOW, "the MD5 login")
        t0 = time.time()
        wait_for(lambda: r.pbx.count("DONE"), 120 * SLOW, "two loops")
        elapsed = time.time() - t0
        # The recorded pauses, divided by the speed, are all kept: never faster.
        least = (2 * sum(recorded_span(c) for c in CAPS) + 3 * gap) / speed
        assert elapsed >= 0.9 * least, (elapsed, least)
        assert "LOOP 1" in r.pbx.text()
        wait_for(lambda: len(r.hangups()) == 4, 15 * SLOW, "4 call records")
        recs = r.hangups()
        ids = [x["call_id"] for x in recs]
        assert ids == ["lab:1795341833.0", "lab:1795341861.4", "lab:1795428233.0", "lab:1795428261.4"], ids
        assert [x["disposition"] for x in recs] == ["ANSWERED", "NO ANSWER"] * 2
        # Real pacing keeps real call lengths: the answered call lasted 5 s when captured.
        assert 5 / speed - 0.5 <= recs[0]["duration_s"] <= 5 / speed + 1.5, recs[0]
    finally:
        r.close()


def test_replay_runs_on_without_the_bridge_and_writes_its_schedule():
    # --run-on: with the bridge gone the PBX plays on (what nobody hears is
    # gone, as with Asterisk); --schedule says what happened to each call and
    # how much of it a client heard, so a test knows what to expect.
    sched = os.path.join(tempfile.mkdtemp(prefix="pbxbus-sched-"), "schedule.jsonl")
    r = Rig(["--speed", "4", "--gap", "2", "--loops", "4", "--delay", "0.5", "--run-on", "--schedule", sched]
            + [fixture(c) for c in CAPS])
    try:
        wait_for(lambda: len(r.hangups()) >= 1, 30 * SLOW, "the first call record")
        r.bridge.stop(signal.SIGKILL)
        time.sleep(8)  # more than a loop (about 6 s at --speed 4): whole calls happen unheard
        r.bridge = Daemon(r.tmp, "pbxbus-bridge", r.bridge.env, ["-c", "/dev/null"]).start()
        wait_for(lambda: r.pbx.count("DONE"), 120 * SLOW, "four loops")
        calls = [json.loads(line) for line in open(sched)]
        assert len(calls) == 8, calls
        assert all(c["start"] <= c["end"] and (c["answer"] is None or c["start"] <= c["answer"] <= c["end"])
                   for c in calls), calls
        heard = {c["linkedid"]: c["heard"] for c in calls}
        assert "none" in heard.values() and "all" in heard.values(), heard
        assert "MISSED" in r.pbx.text()
        wait_for(lambda: {"lab:" + lid for lid, h in heard.items() if h == "all"}
                 <= {x["call_id"] for x in r.hangups()}, 15 * SLOW, "a record of every call heard whole")
        got = {x["call_id"] for x in r.hangups()}
        assert not {"lab:" + lid for lid, h in heard.items() if h == "none"} & got, (heard, got)
    finally:
        r.close()
        shutil.rmtree(os.path.dirname(sched), ignore_errors=True)


def test_replay_plain_login_and_refusal():
    r = Rig(["--speed", "0", "--loops", "1", "--delay", "3"] + [fixture(c) for c in CAPS],
            bridge_env={"PBXBUS_AMI_AUTH": "plain"}, secret="other-secret")
    try:
        wait_for(lambda: r.pbx.count("LOGIN fail") >= 2, 10 * SLOW, "refused logins")
        assert "LOGIN ok" not in r.pbx.text()
        assert "Authentication failed" in r.bridge.text() or "refused" in r.bridge.text()
    finally:
        r.close()
    r = Rig(["--speed", "0", "--loops", "1", "--delay", "0.2"] + [fixture(c) for c in CAPS],
            bridge_env={"PBXBUS_AMI_AUTH": "plain"})
    try:
        wait_for(lambda: r.pbx.count("DONE"), 20 * SLOW, "one loop")
        wait_for(lambda: len(r.hangups()) == 2, 15 * SLOW, "2 call records")
        assert r.pbx.count("CLOSED") == 0, r.pbx.text()  # no action of the bridge made it hang up
    finally:
        r.close()


def test_docs_give_every_replay_switch_as_help_does():
    # docs/replay.md is the contract: its block of pbxbus-replay's options is
    # the --help text's, line for line (a switch added to one only fails).
    from harness import BIN_DIR
    import subprocess
    out = subprocess.run([os.path.join(BIN_DIR, "pbxbus-replay"), "--help"], capture_output=True, text=True).stdout
    lines = out.split("\n")
    first = next(i for i, x in enumerate(lines) if x.startswith("  --listen"))
    last = next(i for i, x in enumerate(lines) if x.startswith("  -V, --version"))
    doc = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "replay.md")).read()
    block = doc.split("```\npbxbus-replay [options] [CAPTURE.server.txt...]\n", 1)[1].split("```", 1)[0]
    assert block.rstrip("\n").split("\n") == lines[first:last + 1], "docs/replay.md's pbxbus-replay block differs from --help"


def test_replay_faults_drop_and_skip_on_its_own():
    # --drop cuts an event in half and closes; with --skip-after-drop the
    # PBX plays on meanwhile (those events are gone, as when the bridge is
    # away); the schedule still sees every call, and the DONE count is
    # what was heard.  Followed on the wire, with no bridge.
    import socket
    tmp = TempDir()
    sched = tmp.path + "/s.jsonl"
    pbx = ReplayPbx.scripted(tmp, fixture("10-in-answered-caller-hangup"), "--drop", "1", "--drop-at", "3",
                             "--skip-after-drop", "2", "--schedule", sched)
    try:
        def session():
            s = socket.create_connection(("127.0.0.1", pbx.port))
            s.sendall(b"Action: Login\r\nUsername: bridge\r\nSecret: bridgepass\r\n\r\n")
            data = b""
            s.settimeout(5)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if b"Event: Hangup" in data and data.count(b"Event: Hangup") >= 2 and data.endswith(b"\r\n\r\n"):
                    break
            s.close()
            return data
        first = session()
        assert pbx.count("DROPPED at 3") == 1
        # three whole events after FullyBooted, then half of the fourth
        events = [m for m in first.split(b"\r\n\r\n") if m.startswith(b"Event:") and b"FullyBooted" not in m]
        assert len(events) == 4 and not first.endswith(b"\r\n\r\n"), events
        second = session()
        want = len(amicap.replayable(amicap.load(fixture("10-in-answered-caller-hangup"))[1]))
        wait_for(lambda: "DONE" in pbx.text(), 10, "DONE")
        assert re.search(r"^DONE %d events" % (want - 2), pbx.text(), re.M), pbx.text()
        assert second.count(b"Event: ") == want - 5 + 1, second.count(b"Event: ")  # the rest and FullyBooted
        assert len(pbx.completed(sched)) == 1
    finally:
        pbx.stop()
        tmp.cleanup()
