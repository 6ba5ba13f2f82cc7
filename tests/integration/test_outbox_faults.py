"""The bridge's outbox on a bad day, end to end (pbxbus-replay → bridge →
mosquitto → consumer → PostgreSQL): a disk that fills mid-run and then has
room again, with the bridge SIGKILLed after; a full disk while the broker is
SIGKILLed before it saved anything; and a PBX whose clock is 8 days off the
bridge's, with the bridge SIGKILLed mid-call.  The expected ids come from
the stand-in PBX (the calls it completed), not from the bridge."""
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Daemon, ReplayPbx, Subscriber, TempDir, fixture,  # noqa: E402
                     wait_for)
import rigs  # noqa: E402

TMPFS_SIZE = "64k"


class Pipeline(rigs.Pipeline):
    """rigs.Pipeline whose outbox may be a small tmpfs (to fill), its
    broker keeping 1000 messages in flight."""

    def __init__(self, outbox_tmpfs=False, broker_extra=""):
        tmp = TempDir()
        outbox = tmp.path + "/outbox"
        self.mounted = False
        if outbox_tmpfs:
            os.makedirs(outbox)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % TMPFS_SIZE, "tmpfs", outbox],
                           check=True)
            self.mounted = True
        super().__init__(broker_extra="max_inflight_messages 1000\n" + broker_extra, tmp=tmp, outbox=outbox)
        self.bridge_logs = ""

    def start_bridge(self, pbx_port, extra=None):
        over = {"PBXBUS_OUTBOX_RESEND_TIMEOUT": 3, "PBXBUS_EVENTS_ALLOW": "FullyBooted", "PBXBUS_PUBLISH_STATE": "no"}
        over.update(extra or {})
        return super().start_bridge(pbx_port, **over)

    def kill_bridge_and_restart(self):
        self.bridge.stop(signal.SIGKILL)
        self.bridge_logs += self.bridge.text()
        self.bridge = Daemon(self.tmp, "pbxbus-bridge", self.bridge.env, ["-c", "/dev/null"]).start()

    def rows(self):
        return self.pg.psql("SELECT ext_message_id FROM crm_comms_log").split()

    def dead_letters(self):
        return int(self.pg.psql("SELECT count(*) FROM pbxbus_dead_letters"))

    def fill_disk(self):
        """Fills the outbox's tmpfs to the last byte (a filler file)."""
        filler = self.outbox + "/filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 512)
        except OSError:
            pass
        finally:
            os.close(fd)
        return filler

    def expect_every_call_once(self, expected):
        wait_for(lambda: len(set(self.rows())) >= len(expected), 120, "%d rows" % len(expected))
        try:
            wait_for(lambda: not os.path.exists(self.outbox + "/outbox.log")
                     or os.path.getsize(self.outbox + "/outbox.log") == 0, 120, "an empty outbox")
        except AssertionError:
            print(self.bridge.text()[-3000:])
            raise
        time.sleep(1)
        rows = self.rows()
        assert len(rows) == len(set(rows)), "duplicates"
        assert set(rows) == expected, (sorted(set(rows) - expected)[:5], sorted(expected - set(rows))[:5])
        assert self.dead_letters() == 0, self.pg.psql("SELECT error FROM pbxbus_dead_letters LIMIT 5")

    def release(self):
        if self.mounted:
            subprocess.run(["umount", "-l", self.outbox])


def burst_pbx(p, loops, gap="0.5"):
    p.schedule = p.tmp.path + "/schedule.jsonl"
    return ReplayPbx.scripted(p.tmp, fixture("19-burst-20-inbound"), "--loops", str(loops), "--gap", gap,
                              "--delay", "1", "--schedule", p.schedule)


def completed(p):
    """Call ids of the calls the stand-in PBX finished (its schedule)."""
    return {"lab:" + x for x in p.pbx.completed(p.schedule)}


def skip_unless_root():
    if os.geteuid() != 0:
        print("skipped: mounting a tmpfs needs root")
        return True
    return False


def test_faults_outbox_disk_fills_then_has_room_loses_nothing():
    # The consumer is frozen so records pile up in the outbox until its disk
    # is full (a short write at the very end, then ENOSPC); records wait in
    # memory; room comes back (another file deleted) while calls go on, so
    # new records land after the failed write; then the consumer thaws and
    # the bridge is SIGKILLed and restarted.  Every call once, no garbage.
    if skip_unless_root():
        return
    p = Pipeline(outbox_tmpfs=True)
    try:
        other = p.outbox + "/other-file"
        with open(other, "wb") as f:
            f.write(b"\0" * 32 * 1024)
        p.consumer.send(signal.SIGSTOP)
        p.pbx = burst_pbx(p, 12, gap="1.0")
        p.start_bridge(p.pbx.port)
        p.bridge.wait_log(r"No space left on device", 60)
        at_full = len(completed(p))
        wait_for(lambda: len(completed(p)) >= at_full + 20, 60, "a loop more on a full disk")
        os.unlink(other)
        at_room = len(completed(p))
        wait_for(lambda: len(completed(p)) >= at_room + 40, 60, "two loops more with room again")
        p.consumer.send(signal.SIGCONT)
        wait_for(lambda: "DONE" in p.pbx.text(), 120, "the end of the replay")
        time.sleep(1)
        p.kill_bridge_and_restart()
        expected = completed(p)
        assert len(expected) == 240, len(expected)
        p.expect_every_call_once(expected)
        logs = p.bridge_logs + p.bridge.text()
        assert "torn" not in logs and "damaged" not in logs, logs[-2000:]
        print("full disk: %d calls (%d when the disk filled, %d when room came back), %d rows" %
              (len(expected), at_full, at_room, len(p.rows())))
    finally:
        p.close()


def test_faults_outbox_full_and_broker_killed_loses_nothing():
    # The disk stays full: records are held in the bridge's memory and
    # published from there; the broker is SIGKILLed before it saved them
    # (autosave far away) and comes back; the bridge sends them again at once.
    if skip_unless_root():
        return
    p = Pipeline(outbox_tmpfs=True, broker_extra="autosave_interval 3600\n")
    try:
        p.consumer.send(signal.SIGSTOP)  # records queue in the broker, for the consumer's session
        filler = p.fill_disk()
        p.pbx = burst_pbx(p, 4)
        p.start_bridge(p.pbx.port)
        p.bridge.wait_log(r"No space left on device", 60)
        wait_for(lambda: "DONE" in p.pbx.text(), 120, "the end of the replay")
        time.sleep(2)
        p.broker.stop(signal.SIGKILL)  # everything it held for the consumer is gone
        time.sleep(1)
        p.broker.start()
        p.consumer.send(signal.SIGCONT)
        expected = completed(p)
        assert len(expected) == 80, len(expected)
        wait_for(lambda: len(set(p.rows())) >= len(expected), 60, "%d rows with the disk still full" % len(expected))
        os.unlink(filler)
        p.expect_every_call_once(expected)
        assert "NOT kept" not in p.bridge.text()
        # bridge/status follows the outbox within seconds (status_interval is 60 s)
        assert p.status(lambda s: s.get("outbox_pending") == 0)["outbox"] == "ok"
    finally:
        p.close()


def test_faults_pbx_clock_days_off_across_a_bridge_restart():
    # Capture 40 carries Timestamp: headers 8 days before the bridge's clock
    # (the stand-in PBX moves them a day per loop, like the ids).  The bridge
    # is SIGKILLed mid-call and restarts: the call carried over keeps the
    # PBX's clock; no record contradicts itself or is refused, and idle
    # expiry (on the same clock) splits no call.
    p = Pipeline()
    try:
        p.pbx = ReplayPbx(p.tmp, "--speed", "2", "--gap", "1", "--loops", "6",
                          fixture("40-timestampevents-in-answered"))
        records = Subscriber(p.tmp, p.broker, "pbx/calls/#", name="calls")
        p.start_bridge(p.pbx.port, {"PBXBUS_AMI_AUTH_RETRY": "1"})

        def starts():
            return [json.loads(x) for t, _, x in records.messages() if t == "pbx/calls/start"]
        wait_for(lambda: len(starts()) >= 2, 60, "the second loop's call")
        time.sleep(1)
        p.kill_bridge_and_restart()
        wait_for(lambda: "DONE" in p.pbx.text(), 120, "the end of the replay")
        wait_for(lambda: len(set(p.rows())) >= 6, 60, "6 rows")
        time.sleep(1)
        hangups = [json.loads(x) for t, _, x in records.messages() if t == "pbx/calls/hangup"]
        records.stop()
        ids = {h["call_id"] for h in hangups}
        assert len(ids) == 6, sorted(ids)
        for h in hangups:
            assert h["started_at"] <= (h["answered_at"] or h["started_at"]) <= h["ended_at"], h
            assert h["duration_s"] < 60, h
        # one call was up across the restart: carried over from the call journal,
        # on the PBX's clock kept there too (else idle expiry, a week off, would
        # have cut it), it is whole: no record is partial, and each is sent the same
        assert not [h["call_id"] for h in hangups if h["partial"]], hangups
        for h in hangups:
            assert all(json.dumps(x, sort_keys=True) == json.dumps(h, sort_keys=True)
                       for x in hangups if x["call_id"] == h["call_id"]), h["call_id"]
        assert "carried over" in p.bridge.text()
        assert p.dead_letters() == 0, p.pg.psql("SELECT error FROM pbxbus_dead_letters LIMIT 5")
        assert len(p.rows()) == 6
        assert "out of order" not in p.bridge_logs + p.bridge.text()
    finally:
        p.close()
