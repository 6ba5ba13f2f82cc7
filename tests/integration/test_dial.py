"""Click-to-call on the bus (docs/dial.md): a dial request on
pbx/commands/dial, checked again by the bridge, one Originate with exactly
the expected headers (the stand-in PBX's log), "ringing" then the outcome
on pbx/commands/result/<id>, and the call that follows recorded with its
request; every refusal answered with no Originate on the wire."""
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import fixture, run_tool, wait_for, SLOW  # noqa: E402
import rigs  # noqa: E402

OUTBOUND = fixture("14-out-answered")
NUMBER = "+15559876543"


class Rig(rigs.CommandRig):
    """The command channel's rig with dialling on: the phones are known once
    the login's lists are read (hints 100, 101, 102), and a successful
    Originate plays capture 14 as the call that follows."""

    def __init__(self, replay_args=(), **env):
        over = dict(PBXBUS_DIAL_ENABLED="yes", PBXBUS_DIAL_NUMBERS="+1*")
        over.update(env)
        super().__init__(["--originate-call", OUTBOUND] + list(replay_args), subscribe="pbx/#",
                         started="ACTION extensionstatelist", **over)

    def ask(self, payload, n=1):
        self.publish("dial", payload)
        return self.final(payload["id"], n)

    def final(self, rid, n=1):
        return wait_for(lambda: (lambda f: f[n - 1] if len(f) >= n else None)(
            [a for a in self.answers(rid) if a["final"]]), 30 * SLOW, "the outcome of " + rid)

    def originates(self):
        return [line for line in self.pbx.text().splitlines() if line.startswith("ORIGINATE Channel=")]


def dial(rid, ext="100", number=NUMBER, **more):
    d = {"id": rid, "extension": ext, "number": number, "by": "console 127.0.0.1"}
    d.update(more)
    return d


def test_a_dial_rings_the_phone_then_the_number_and_the_call_carries_its_request():
    r = Rig()
    try:
        done = r.ask(dial("d1"))
        assert done["ok"] is True and done["error"] is None and done["state"] == "done", done
        assert done["extension"] == "100" and done["call_id"].startswith("lab:"), done
        first = r.answers("d1")[0]
        assert first["final"] is False and first["ok"] is None and first["state"] == "ringing", first
        assert first["message"] == "ringing your phone", first
        assert r.originates() == [
            'ORIGINATE Channel=Local/100@pbxbus-dial-device Context=from-internal Exten=15559876543 Priority=1 '
            'Async=true Timeout=30000 CallerID="+15559876543" <100> Variable=PBXBUS_DIAL=d1 '
            'Variable=PBXBUS_DIAL_BY=console 127.0.0.1'], r.pbx.text()
        # the call that follows: one outbound record, the person's, with its request
        rec = wait_for(lambda: [x for x in r.sub.json_of("pbx/calls/hangup") if x["originated_request_id"]],
                       30 * SLOW, "the dialled call's record")
        assert len(rec) == 1, rec
        assert rec[0]["direction"] == "outbound" and rec[0]["extension"] == "100", rec
        assert rec[0]["originated_request_id"] == "d1" and rec[0]["originated_by"] == "console 127.0.0.1", rec
        assert rec[0]["call_id"] == done["call_id"], (rec, done)
        # the same request again, before and after a SIGKILL: never dialled twice
        again = r.ask(dial("d1"), n=2)
        assert again["error"] == "duplicate", again
        r.bridge.send(signal.SIGKILL)
        r.bridge.proc.wait()
        r.start()
        again = r.ask(dial("d1"), n=3)
        assert again["error"] == "duplicate", again
        assert len(r.originates()) == 1, r.originates()
    finally:
        log = r.close()
    assert "command d1 (dial 100 -> +xxxxxxx6543 by console 127.0.0.1): duplicate" in log, log
    assert NUMBER not in log, "the number is masked in the log"


def test_refused_dials_are_answered_and_never_reach_the_pbx():
    r = Rig(PBXBUS_DIAL_PER_MINUTE="1")
    try:
        cases = [
            (dial("r1", ext="999"), "not_allowed", "extension unknown"),
            (dial("r2", ext="trunk-provider"), "not_allowed", "extension unknown"),
            (dial("r3", number="+442079460000"), "not_allowed", "number not allowed"),
            (dial("r4", number="call me"), "bad_request", "not a phone number"),
            (dial("r5", expires_at="2020-01-01T00:00:00Z"), "expired", "expired"),
            (dial("r6", site="pbx/site2"), "wrong_site", "another site"),
            (dial("r7", by="x\ny"), "bad_request", "letters, digits"),
        ]
        for payload, code, words in cases:
            a = r.ask(payload)
            assert a["ok"] is False and a["error"] == code and words in a["message"], (payload, a)
            # a dial's answer has its keys whatever became of it (null where unknown)
            assert a["state"] == "done" and a["call_id"] is None and "extension" in a, a
        assert r.originates() == [], r.originates()
        ok = r.ask(dial("r8"))
        assert ok["ok"] is True, ok
        limited = r.ask(dial("r9"))  # dial_per_minute 1 for extension 100
        assert limited["error"] == "rate_limited", limited
        other = r.ask(dial("r10", ext="101"))  # another extension has its own
        assert other["ok"] is True, other
        assert len(r.originates()) == 2, r.originates()
    finally:
        r.close()


def test_the_phone_busy_unanswered_or_unreachable_is_said():
    for result, code, words in (("busy", "phone_busy", "busy"), ("noanswer", "phone_no_answer", "did not answer"),
                                ("failure", "phone_failed", "could not be rung")):
        r = Rig(["--originate-result", result])
        try:
            a = r.ask(dial("p1"))
            assert a["ok"] is False and a["error"] == code and words in a["message"], (result, a)
            assert a["call_id"] is None and len(r.originates()) == 1
            assert [x["state"] for x in r.answers("p1")] == ["ringing", "done"], r.answers("p1")
        finally:
            r.close()


def test_dialling_is_off_unless_enabled():
    r = Rig(PBXBUS_DIAL_ENABLED="no")
    try:
        a = r.ask(dial("o1"))
        assert a["error"] == "disabled" and "dial_enabled" in a["message"], a
        assert a["extension"] == "100" and a["state"] == "done", a
        assert r.originates() == [] and "ACTION originate" not in r.pbx.text()
    finally:
        r.close()


def test_the_shipped_ring_context_is_the_one_the_docs_show():
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    shipped = [ln for ln in open(os.path.join(root, "deploy", "freepbx", "extensions_custom.conf")).read().splitlines()
               if ln and not ln.startswith(";")]
    doc = open(os.path.join(root, "docs", "dial.md")).read()
    block = doc.split("```\n[pbxbus-dial-device]\n", 1)[1].split("```", 1)[0]
    assert ["[pbxbus-dial-device]"] + block.rstrip("\n").split("\n") == shipped, (shipped, block)
    # and it is the bridge's default dial_ring_context
    rc, out, _ = run_tool("pbxbus-bridge", ["--help"])
    assert "PBXBUS_DIAL_RING_CONTEXT  default: pbxbus-dial-device" in out, out
