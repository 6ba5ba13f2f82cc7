"""Right on PBXs we have never seen.  Other people's captures (read from
../shared/fixtures/ami-outside, never copied here) go through the real
bridge, pbxbus-replay and mosquitto with the shipped defaults and no
per-capture configuration, the stand-in PBX refusing every action (as for an
AMI user without the classes to ask), so phones and trunks must be told
apart from the event stream alone.  The expected records are those
SOURCES.md gives.  Our own captures then run with their trunk context
renamed to a random name on every run, with and without the list answers."""
import json
import os
import random
import re
import shutil
import string
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Daemon, Mosquitto, ReplayPbx, Subscriber, TempDir, fixture, wait_for, SLOW  # noqa: E402
from rigs import bridge_env  # noqa: E402

OUTSIDE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "fixtures", "ami-outside")
ANSWERS = fixture("04-info-actions")[:-len(".server.txt")]

# SOURCES.md's expected records, field by field: capture -> [record, ...]
# ("rung" is a subset of extensions_rung; "rung_first" its first entry).
EXPECTED = {
    "01-callme-a13-sip-inbound-ivr-queue": [
        {"direction": "inbound", "external_number": "123", "external_name": "Eugene R", "did": "888999",
         "trunk": "toOurAster", "queue": "Q1", "extension": "777", "disposition": "ANSWERED"}],
    "02-ispbx-a22-pjsip-internal-answered": [
        {"direction": "internal", "extension": "101", "rung": ["100"], "disposition": "ANSWERED",
         "started_at": "13:52:05.336Z", "answered_at": "13:52:16.235Z", "ended_at": "13:52:18.459Z",
         "duration_s": 13, "billsec_s": 2}],
    "03-ispbx-a22-pjsip-internal-noanswer": [
        {"direction": "internal", "extension": "101", "rung": ["100"], "disposition": "NO ANSWER",
         "started_at": "23:38:05.788Z", "ended_at": "23:38:14.560Z", "duration_s": 9, "answered_at": None}],
    "04-freepbx-sip-inbound-ivr-hangup": [
        {"direction": "inbound", "external_number": "9260647698", "did": "4956616060", "trunk": "4956616060",
         "disposition": "NO ANSWER", "pbx_answered": True}],
    "05-freepbx-sip-inbound-ivr-followme": [
        {"direction": "inbound", "external_number": "9260647698", "did": "4956616060", "disposition": "NO ANSWER"},
        {"direction": "inbound", "external_number": "9260647698", "did": "4956616060", "disposition": "ANSWERED",
         "extension": "9001"}],
    "06-goami2-sip-call": [
        {"extension": "9170-12", "trunk": "okon.ferry.sip.com", "external_number": "9898",
         "disposition": "ANSWERED"}],
    "08-cacofonisk-a13-ab-success-a-hangup": [
        {"direction": "internal", "extension": "150010001", "rung": ["150010002"], "disposition": "ANSWERED"}],
    "09-cacofonisk-a13-ab-reject": [
        {"direction": "internal", "extension": "150010001", "disposition": "BUSY", "answered_at": None}],
    "10-cacofonisk-a13-ab-callgroup": [
        {"direction": "internal", "extension": "150010001", "rung": ["150010002", "150010003"],
         "disposition": "ANSWERED"}],
    "11-cacofonisk-a13-a-created-no-answer": [
        {"direction": "inbound", "external_number": "+31150010001", "did": "+31150010004",
         "disposition": "NO ANSWER"}],
    "12-cacofonisk-a13-queue-simple": [
        {"direction": "inbound", "external_number": "+31150010001", "did": "+31150010004",
         "extension": "150010002", "disposition": "ANSWERED"}],
    "13-cacofonisk-a13-queue-a-cancel": [
        {"direction": "inbound", "disposition": "NO ANSWER", "rung_first": "150010002", "answered_at": None}],
    "15-cacofonisk-a13-attended-xfer-abbcac-anon": [
        {"direction": "inbound", "withheld": True, "external_number": None, "external_name": None,
         "disposition": "ANSWERED", "transferred": True, "extension": "150010003"},
        {"direction": "internal", "extension": "150010001", "rung": ["150010003"], "disposition": "ANSWERED"}],
}
TOO_OLD = ["07-xivo-a11-originate-local", "18-cacofonisk-a11-fixed-incomming-success",
           "19-cacofonisk-a11-fixed-outbound-success", "20-cacofonisk-a11-queue-simple",
           "22-cacofonisk-a11-ab-busy"]


class Rig:
    """mosquitto, pbxbus-replay playing captures once, the bridge with defaults."""

    def __init__(self, captures, replay_args=()):
        self.tmp = TempDir()
        self.broker = Mosquitto(self.tmp).start()
        self.pbx = ReplayPbx(self.tmp, "--loops", "1", "--speed", "0", "--gap", "0",
                             "--delay", "0.3", *replay_args, *captures)
        self.sub = Subscriber(self.tmp, self.broker, "pbx/#")
        env = bridge_env(self.pbx.port, self.broker.port, self.tmp.path + "/outbox")
        self.bridge = Daemon(self.tmp, "pbxbus-bridge", env, ["-c", "/dev/null"]).start()

    def hangups(self):
        return [json.loads(p) for t, _, p in self.sub.messages() if t == "pbx/calls/hangup"]

    def payloads(self, prefix):
        return [p for t, _, p in self.sub.messages() if t.startswith(prefix)]

    def wait_done(self, records):
        wait_for(lambda: "DONE" in self.pbx.text(), 30 * SLOW, "the replay to finish")
        wait_for(lambda: len({r["call_id"] for r in self.hangups()}) >= records, 15 * SLOW,
                 "%d call records" % records)
        time.sleep(0.5)  # nothing more may come

    def close(self):
        rcs = (self.bridge.stop(), self.pbx.stop())
        self.sub.stop()
        self.broker.stop()
        logs = self.bridge.text()[-3000:]
        self.tmp.cleanup()
        assert rcs[0] == 0, (rcs, logs)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def ms_of_day(hms):
    h, m, rest = hms.rstrip("Z").split(":")
    return round(((int(h) * 60 + int(m)) * 60 + float(rest)) * 1000)


def check_record(name, rec, want):
    for key, value in want.items():
        if key == "rung":
            assert set(value) <= set(rec["extensions_rung"]), (name, key, rec)
        elif key == "rung_first":
            assert rec["extensions_rung"][:1] == [value], (name, key, rec)
        elif key.endswith("_at") and value is not None:
            # SOURCES gives the time of day to the ms; the two BridgeEnter
            # events of an answer are that far apart
            assert rec[key] is not None and abs(ms_of_day(rec[key][11:]) - ms_of_day(value)) <= 1, \
                (name, key, rec[key], value)
        else:
            assert rec[key] == value, (name, key, rec[key], value, rec)
    assert rec["partial"] is False, (name, rec)


def match_records(name, got, expected):
    """Each expected record matches one record, in the order of started_at."""
    got = sorted(got, key=lambda r: (r["started_at"], r["call_id"]))
    assert len(got) == len(expected), (name, len(got), len(expected), got)
    if name.startswith("15-"):  # two calls at once: pair them by direction
        got = sorted(got, key=lambda r: r["direction"] != "inbound")
    for rec, want in zip(got, expected):
        check_record(name, rec, want)


def test_other_peoples_pbxs_give_the_expected_records_with_no_configuration():
    if not os.path.isdir(OUTSIDE):
        print("skipped: %s is absent (other people's captures are not kept in the project)" % OUTSIDE)
        return
    for name, expected in EXPECTED.items():
        with Rig([os.path.join(OUTSIDE, name + ".server.txt")],
                 ["--refuse-actions", "--answers", ANSWERS]) as r:
            r.wait_done(len(expected))
            hangups = {rec["call_id"]: rec for rec in r.hangups()}  # a re-send is the same record
            match_records(name, list(hangups.values()), expected)
            status = r.sub.json_of("pbx/bridge/status")[-1]
            assert status["call_records"] == "on", (name, status)


def test_a_withheld_caller_is_in_no_payload_but_events():
    # Capture 15: CID-CallingPres 33 (Presentation Prohibited) on the caller
    # leg.  The number is in the events (raw AMI) and nowhere else.
    if not os.path.isdir(OUTSIDE):
        print("skipped: %s is absent (other people's captures are not kept in the project)" % OUTSIDE)
        return
    name = "15-cacofonisk-a13-attended-xfer-abbcac-anon"
    with Rig([os.path.join(OUTSIDE, name + ".server.txt")], ["--refuse-actions", "--answers", ANSWERS]) as r:
        r.wait_done(2)
        assert any("+31260" in p for p in r.payloads("pbx/events/"))
        for prefix in ("pbx/calls/", "pbx/state/"):
            leaked = [p for p in r.payloads(prefix) if "+31260" in p]
            assert not leaked, (prefix, leaked)


def test_old_asterisk_is_refused_out_loud_with_actions_refused():
    if not os.path.isdir(OUTSIDE):
        print("skipped: %s is absent (other people's captures are not kept in the project)" % OUTSIDE)
        return
    for name in TOO_OLD:
        with Rig([os.path.join(OUTSIDE, name + ".server.txt")], ["--refuse-actions", "--answers", ANSWERS]) as r:
            wait_for(lambda: "DONE" in r.pbx.text(), 30 * SLOW, "the replay of " + name)
            wait_for(lambda: any(st.get("call_records", "").startswith("off: call records need Asterisk 13")
                                 for st in r.sub.json_of("pbx/bridge/status")), 15 * SLOW, "records off: " + name)
            assert r.bridge.text().count("CRITICAL: call tracker: call records need Asterisk 13") == 1, name
            assert not r.hangups(), name


# ---- our own captures, trunk context renamed ----

LAB = {  # capture: direction, extension, external number, trunk
    "10-in-answered-caller-hangup": ("inbound", "100", "15559876543", "trunk-provider"),
    "14-out-answered": ("outbound", "100", "15551234567", "trunk-provider"),
    "16-internal-100-to-101": ("internal", "100", None, None),
    "17-queue-answered": ("inbound", "100", "15559876543", "trunk-provider"),
    "72-in-ringgroup-5554000-100-answers": ("inbound", "100", "15550003333", "trunk-provider"),
}


def renamed_copies(tmp, names, edit=None):
    """Copies of our captures with FreePBX's trunk contexts renamed to one
    random name, so trunk_contexts' defaults cannot match."""
    ctx = "ctx-" + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    out = []
    for n in names:
        src = fixture(n)
        text = open(src, "rb").read().decode("latin-1")
        text = re.sub(r"from-(pstn|trunk|did-direct)", ctx, text)
        if edit:
            text = edit(text)
        dst = os.path.join(tmp, n + ".server.txt")
        open(dst, "wb").write(text.encode("latin-1"))
        shutil.copy(src[:-len(".server.txt")] + ".timing.txt", os.path.join(tmp, n + ".timing.txt"))
        out.append(dst)
    return ctx, out


def check_lab_records(hangups):
    by_number = {}
    for rec in hangups:
        by_number.setdefault(rec["call_id"], rec)
    got = sorted(by_number.values(), key=lambda r: r["started_at"])
    assert len(got) == len(LAB), got
    for rec, (name, (direction, ext, number, trunk)) in zip(got, LAB.items()):
        assert (rec["direction"], rec["extension"], rec["external_number"], rec["trunk"]) == \
            (direction, ext, number, trunk), (name, rec)


def run_renamed(replay_args):
    tmp = TempDir()
    try:
        ctx, caps = renamed_copies(tmp.path, list(LAB))
        with Rig(caps, ["--answers", ANSWERS] + replay_args) as r:
            r.wait_done(len(LAB))
            check_lab_records(r.hangups())
            assert "cannot tell" not in r.bridge.text(), (ctx, r.bridge.text())
            return r.sub.json_of("pbx/bridge/status")[-1]
    finally:
        tmp.cleanup()


def test_a_trunk_context_of_its_own_name_with_the_lists_answered():
    status = run_renamed([])
    assert status["endpoints_guessed"] == 0, status


def test_a_trunk_context_of_its_own_name_from_the_events_alone():
    status = run_renamed(["--refuse-actions"])
    assert status["endpoints_guessed"] == 0, status


def test_collect_says_what_each_endpoint_is_and_why():
    tmp = TempDir()
    try:
        pbx = ReplayPbx(tmp, "--answers", ANSWERS, fixture("10-in-answered-caller-hangup"))
        env = dict(os.environ, PBXBUS_AMI_PORT=str(pbx.port), PBXBUS_AMI_USERNAME="bridge",
                   PBXBUS_AMI_SECRET="bridgepass")
        import subprocess
        from harness import BIN_DIR
        p = subprocess.run([os.path.join(BIN_DIR, "pbxbus-bridge"), "-c", "/dev/null", "--collect"], env=env,
                           capture_output=True, text=True, timeout=30 * SLOW)
        pbx.stop()
        assert p.returncode == 0, p.stderr
        eps = json.loads(p.stdout)["endpoints"]
        assert eps["trunk-provider"] == {"kind": "trunk", "why": "the PBX's endpoint list"}, eps
        assert eps["100"] == {"kind": "phone", "why": "behind a hint"}, eps
        assert eps["101"]["kind"] == "phone" and eps["102"]["kind"] == "phone", eps
    finally:
        tmp.cleanup()


def test_cannot_tell_is_said_once_per_endpoint_over_two_loops():
    # An inbound call whose trunk presents a short number (like capture 01's
    # "123"), in a context of its own name, every action refused: nothing
    # tells, so the bridge guesses (a name with letters: a trunk), says so
    # once with the key that fixes it, and counts it.
    tmp = TempDir()
    try:
        ctx, caps = renamed_copies(tmp.path, ["10-in-answered-caller-hangup"],
                                   lambda t: t.replace("15559876543", "123"))
        with Rig(caps, ["--answers", ANSWERS, "--refuse-actions", "--loops", "2"]) as r:
            wait_for(lambda: "DONE" in r.pbx.text(), 30 * SLOW, "two loops")
            wait_for(lambda: len({x["call_id"] for x in r.hangups()}) == 2, 15 * SLOW, "two records")
            log = r.bridge.text()
            lines = [ln for ln in log.splitlines() if "cannot tell" in ln]
            assert len(lines) == 1, lines
            assert "trunk-provider" in lines[0] and ctx in lines[0] and "phone_endpoints" in lines[0], lines
            assert all(x["direction"] == "inbound" and x["trunk"] == "trunk-provider" for x in r.hangups())
            wait_for(lambda: r.sub.json_of("pbx/bridge/status")[-1]["endpoints_guessed"] == 1, 10 * SLOW,
                     "endpoints_guessed 1")
    finally:
        tmp.cleanup()


def test_a_caller_restricted_from_the_start_is_asked_for_and_withheld():
    # A call that arrives restricted (PJSIP "Privacy: id") raises no
    # NewCallerid: the bridge asks Getvar CALLERID(num-pres) as the call
    # starts.  Inbound to an extension and into a queue (its callers list).
    with Rig([fixture("10-in-answered-caller-hangup"), fixture("17-queue-answered")],
             ["--answers", ANSWERS, "--withheld", "--speed", "4"]) as r:
        r.wait_done(2)
        assert any("15559876543" in p for p in r.payloads("pbx/events/"))
        for prefix in ("pbx/calls/", "pbx/state/"):
            leaked = [p for p in r.payloads(prefix) if "15559876543" in p or "John Smith" in p]
            assert not leaked, (prefix, leaked)
        recs = {x["call_id"]: x for x in r.hangups()}.values()
        assert all(x["withheld"] is True and x["external_number"] is None and x["external_name"] is None
                   and x["direction"] == "inbound" for x in recs), recs
        starts = [json.loads(p) for p in r.payloads("pbx/calls/start")]
        assert len(starts) == 2 and all(x["withheld"] for x in starts), starts


def test_an_allowed_caller_is_shown_after_the_start_hold():
    with Rig([fixture("10-in-answered-caller-hangup")], ["--answers", ANSWERS, "--speed", "1"]) as r:
        r.wait_done(1)
        starts = [json.loads(p) for p in r.payloads("pbx/calls/start")]
        assert len(starts) == 1 and starts[0]["external_number"] == "15559876543", starts
        assert r.hangups()[0]["withheld"] is False
