"""Call records from the tracker, checked against Asterisk's own Cdr events and
the scenario each capture's INDEX entry describes.  The tracker runs with the
recorded arrival times (tests/tools/tracker_replay.c); the same records must
come out with every Cdr and CEL event removed and with random chunk sizes."""
import calendar
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import amicap  # noqa: E402
from harness import BIN_DIR, fixture  # noqa: E402
from rigs import bridge_env  # noqa: E402

# capture: direction, extension, external number, disposition, extra checks
EXPECT = {
    "10-in-answered-caller-hangup": ("inbound", "100", "15559876543", "ANSWERED", {"did": "5551000", "billsec_s": 3}),
    "11-in-answered-callee-hangup": ("inbound", "100", "15559876543", "ANSWERED", {"billsec_s": 3}),
    "12-in-noanswer": ("inbound", "100", "15559876543", "NO ANSWER", {"billsec_s": 0, "answered_at": None}),
    "13-in-busy": ("inbound", "100", "15559876543", "BUSY", {"billsec_s": 0}),
    "14-out-answered": ("outbound", "100", "15551234567", "ANSWERED",
                        {"trunk": "trunk-provider", "did": None, "billsec_s": 3}),
    "15-out-failed-503": ("outbound", "100", "15551234567", "CONGESTION", {"billsec_s": 0}),
    "16-internal-100-to-101": ("internal", "100", None, "ANSWERED",
                               {"trunk": None, "extensions_rung": ["101"], "billsec_s": 3}),
    "17-queue-answered": ("inbound", "100", "15559876543", "ANSWERED",
                          {"queue": "sales", "extensions_rung": ["100", "101"]}),
    "18-queue-abandon": ("inbound", "100", "15559876543", "NO ANSWER", {"queue": "sales", "answered_at": None}),
    "40-timestampevents-in-answered": ("inbound", "100", None, "ANSWERED", {"billsec_s": 3}),
    "70-in-ivr-5553000-then-101": ("inbound", "101", "15550001111", "ANSWERED",
                                   {"did": "5553000", "pbx_answered": True, "external_name": "Ivy Caller"}),
    "71-in-ivr-5553000-caller-hangup-in-announcement": ("inbound", None, "15550002222", "NO ANSWER",
                                                        {"pbx_answered": True, "answered_at": None,
                                                         "extensions_rung": []}),
    "72-in-ringgroup-5554000-100-answers": ("inbound", "100", "15550003333", "ANSWERED",
                                            {"extensions_rung": ["100", "101"], "billsec_s": 4}),
    "73-in-blind-transfer-101-to-100": ("inbound", "100", "15550004444", "ANSWERED",
                                        {"transferred": True, "extensions_rung": ["101", "100"]}),
    "74-in-attended-transfer-101-to-100": ("inbound", "100", "15550005555", "ANSWERED",
                                           {"transferred": True, "extensions_rung": ["101", "100"]}),
    "75-out-101-15557778888-provider-hangup": ("outbound", "101", "15557778888", "ANSWERED", {"billsec_s": 4}),
    "76-timestampevents-in-hold-unhold": ("inbound", "100", "15550006666", "ANSWERED", {"billsec_s": 10}),
}
# The PBX (IVR, queue) answered before a person, or a transfer split the
# talk: CDR's BillableSeconds is not talk time there.
CDR_BILLSEC_DIFFERS = {"17-queue-answered", "18-queue-abandon", "70-in-ivr-5553000-then-101",
                       "71-in-ivr-5553000-caller-hangup-in-announcement", "73-in-blind-transfer-101-to-100",
                       "74-in-attended-transfer-101-to-100"}


def replay(capture, *args):
    p = subprocess.run([os.path.join(BIN_DIR, "tracker-replay")] + list(args) + [fixture(capture)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "open calls: 0" in p.stderr, p.stderr
    out = []
    for line in p.stdout.splitlines():
        kind, _, doc = line.partition(" ")
        out.append((kind, json.loads(doc)))
    return out


def iso_ms(s):
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) * 1000 + int(s[20:23])


def cdr_time(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%d %H:%M:%S")) if s else None


def cdrs_by_call(capture):
    """All Cdr events of each call (Linkedid), via the Uniqueid of their channel."""
    _, msgs = amicap.load(fixture(capture))
    linked, cdrs = {}, {}
    for raw in msgs:
        p = amicap.fields(raw)
        uid, lid = amicap.get(p, "Uniqueid"), amicap.get(p, "Linkedid")
        if uid and lid:
            linked[uid] = lid
        if amicap.get(p, "Event") == "Cdr":
            cdrs.setdefault(amicap.get(p, "UniqueID"), []).append(dict(p))
    out = {}
    for uid, lst in cdrs.items():
        out.setdefault(linked.get(uid, uid), []).extend(lst)
    return out


def check_against_cdr(capture, rec, cdrs):
    start = min(cdr_time(c["StartTime"]) for c in cdrs)
    end = max(cdr_time(c["EndTime"]) for c in cdrs)
    measured = (iso_ms(rec["ended_at"]) - iso_ms(rec["started_at"])) / 1000.0
    assert abs(measured - (end - start)) <= 1.0, (capture, measured, end - start)
    assert rec["duration_s"] == round(measured), rec
    cdr_disp = "ANSWERED" if any(c["Disposition"] == "ANSWERED" for c in cdrs) else \
        next((c["Disposition"] for c in cdrs if c["DestinationChannel"]), cdrs[0]["Disposition"])
    if rec["disposition"] == "ANSWERED" or cdr_disp != "ANSWERED":
        assert rec["disposition"] == cdr_disp, (capture, rec["disposition"], cdr_disp)
    else:
        assert rec["pbx_answered"] is True, rec  # CDR counts the PBX's own answer
    if capture not in CDR_BILLSEC_DIFFERS:
        billsec = sum(int(c["BillableSeconds"]) for c in cdrs)
        talk = (iso_ms(rec["ended_at"]) - iso_ms(rec["answered_at"])) / 1000.0 if rec["answered_at"] else 0
        assert abs(talk - billsec) <= 1.0, (capture, talk, billsec)
    elif rec["answered_at"]:
        # talk time from the events is shorter than what CDR bills
        assert rec["billsec_s"] <= sum(int(c["BillableSeconds"]) for c in cdrs), rec


def check_capture(capture):
    direction, ext, number, disp, extra = EXPECT[capture]
    records = replay(capture)
    hangups = [r for k, r in records if k == "hangup"]
    assert len(hangups) == 1, (capture, len(hangups))
    rec = hangups[0]
    assert rec["v"] == 1 and rec["pbx"] == "lab" and rec["call_id"].startswith("lab:"), rec
    assert (rec["direction"], rec["extension"], rec["disposition"]) == (direction, ext, disp), (capture, rec)
    if number is not None:
        assert rec["external_number"] == number, rec
    for k, v in extra.items():
        assert rec[k] == v, (capture, k, rec[k], v)
    assert rec["partial"] is False
    assert rec["billsec_s"] == (round((iso_ms(rec["ended_at"]) - iso_ms(rec["answered_at"])) / 1000.0)
                                if rec["answered_at"] else 0)
    cdrs = cdrs_by_call(capture)[rec["call_id"].split(":", 1)[1]]
    check_against_cdr(capture, rec, cdrs)
    # order: start first, answer (if any) before hangup, one of each
    kinds = [k for k, r in records]
    assert kinds[0] == "start" and kinds[-1] == "hangup" and kinds.count("start") == 1
    assert kinds.count("answer") == (1 if rec["answered_at"] else 0)
    # Without Cdr/CEL and in random chunks: the very same records.
    assert replay(capture, "--no-cdr") == records
    assert replay(capture, "--no-cdr", "--chunks", "7") == records


def test_each_call_capture_matches_cdr_and_scenario():
    failures = []
    for capture in sorted(EXPECT):
        try:
            check_capture(capture)
        except AssertionError as e:
            failures.append("%s: %s" % (capture, e))
    assert not failures, "\n".join(failures)


def test_burst_gives_exactly_twenty_records():
    records = replay("19-burst-20-inbound", "--no-cdr", "--chunks", "3")
    hangups = [r for k, r in records if k == "hangup"]
    assert len(hangups) == 20
    assert len({r["call_id"] for r in hangups}) == 20
    cdrs = cdrs_by_call("19-burst-20-inbound")
    for rec in hangups:
        assert rec["direction"] == "inbound" and rec["extension"] == "100" and rec["disposition"] == "ANSWERED"
        check_against_cdr("19-burst-20-inbound", rec, cdrs[rec["call_id"].split(":", 1)[1]])
    assert [r for k, r in records if k == "answer"].__len__() == 20


def test_start_of_an_outbound_call_has_no_direction_yet():
    records = replay("14-out-answered")
    start = records[0][1]
    assert records[0][0] == "start" and start["direction"] is None and start["extension"] == "100"
    assert start["ended_at"] is None and start["duration_s"] is None and start["disposition"] is None
    answer = [r for k, r in records if k == "answer"][0]
    assert answer["direction"] == "outbound" and answer["external_number"] == "15551234567"


# ---- through the real bridge and a real mosquitto ----

from harness import Daemon, Mosquitto, ReplayPbx, Subscriber, TempDir, wait_for, SLOW  # noqa: E402


class CallRig:
    def __init__(self, server_args, env=None):
        self.tmp = TempDir()
        self.broker = Mosquitto(self.tmp).start()
        # events begin once the bridge's MQTT link is surely up (start and
        # answer records are shed while it is not)
        self.ami = ReplayPbx.scripted(self.tmp, "--delay", str(0.5 * SLOW), *server_args)
        self.sub = Subscriber(self.tmp, self.broker, "pbx/calls/#", qos=1)
        e = bridge_env(self.ami.port, self.broker.port, self.tmp.path + "/outbox")
        e.update(env or {})
        self.bridge = Daemon(self.tmp, "pbxbus-bridge", e, ["-c", "/dev/null"]).start()

    def records(self):
        return [(t.rsplit("/", 1)[1], json.loads(p)) for t, _, p in self.sub.messages()]

    def close(self):
        rc = self.bridge.stop()
        self.sub.stop()
        self.ami.stop()
        self.broker.stop()
        self.tmp.cleanup()
        assert rc == 0, rc


def test_bridge_publishes_start_answer_hangup_in_order():
    caps = ["10-in-answered-caller-hangup", "12-in-noanswer", "14-out-answered", "17-queue-answered",
            "19-burst-20-inbound"]
    args = []
    for c in caps:
        args += [fixture(c)]
    r = CallRig(args)
    try:
        wait_for(lambda: len([k for k, _ in r.records() if k == "hangup"]) == 24, 20, "24 hangup records")
        time.sleep(0.3)
        by_call = {}
        for kind, rec in r.records():
            by_call.setdefault(rec["call_id"], []).append(kind)
        assert len(by_call) == 24
        for call_id, kinds in by_call.items():
            phases = [k for k in kinds if k != "ringing"]
            assert phases in (["start", "answer", "hangup"], ["start", "hangup"]), (call_id, kinds)
            # calls/ringing (the screen pop): every phone's pair before the
            # call's answer and its end
            rings = [rec for k, rec in r.records() if k == "ringing" and rec["call_id"] == call_id]
            states = {}
            for rec in rings:
                states.setdefault(rec["extension"], []).append(rec["state"])
            assert all(s == ["ringing", "stopped"] for s in states.values()), (call_id, states)
            last_ring = max([i for i, k in enumerate(kinds) if k == "ringing"], default=-1)
            assert last_ring < kinds.index("answer" if "answer" in kinds else "hangup"), (call_id, kinds)
        hang = {rec["call_id"]: rec for k, rec in r.records() if k == "hangup"}
        assert hang["lab:1795341861.4"]["disposition"] == "NO ANSWER"
        assert all(not rec["partial"] for rec in hang.values())
    finally:
        r.close()


def test_reconnect_mid_call_keeps_one_record():
    # The connection drops in the middle of call 10; the PBX still has both
    # channels (CoreShowChannels says so): one complete, non-partial record.
    r = CallRig([fixture("10-in-answered-caller-hangup"), "--drop", "1", "--drop-at", "60"])
    try:
        wait_for(lambda: [k for k, _ in r.records() if k == "hangup"], 20, "hangup record")
        time.sleep(0.5)
        recs = [rec for k, rec in r.records() if k == "hangup"]
        assert len(recs) == 1 and recs[0]["partial"] is False and recs[0]["disposition"] == "ANSWERED", recs
        assert r.ami.count("ACTION coreshowchannels") == 2
    finally:
        r.close()


def test_call_that_ended_while_away_is_closed_partial():
    # The bridge misses the end of call 10 (dropped, and the PBX moved on):
    # after the re-login CoreShowChannels no longer lists its channels.
    rest_of_10 = len(amicap.replayable(amicap.load(fixture("10-in-answered-caller-hangup"))[1])) - 60
    r = CallRig([fixture("10-in-answered-caller-hangup"), fixture("12-in-noanswer"),
                 "--drop", "1", "--drop-at", "60", "--skip-after-drop", str(rest_of_10)])
    try:
        wait_for(lambda: len([k for k, _ in r.records() if k == "hangup"]) == 2, 20, "two hangup records")
        time.sleep(0.5)
        recs = {rec["call_id"]: rec for k, rec in r.records() if k == "hangup"}
        assert recs["lab:1795341833.0"]["partial"] is True
        assert recs["lab:1795341861.4"]["partial"] is False
        assert len([1 for k, rec in r.records() if k == "hangup"]) == 2
    finally:
        r.close()
