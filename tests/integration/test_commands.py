"""The command channel (docs/commands.md): read-only CLI commands asked on
the bus and answered there, against pbxbus-replay's recorded answers and a
real mosquitto (the shipped ACL for the sites); pbxbus-bridge --command."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Daemon, ReplayPbx, TempDir, free_port, run_tool, wait_for, SLOW  # noqa: E402
import rigs  # noqa: E402
from rigs import ShippedBroker, bridge_env  # noqa: E402

ALLOW = "core show*\npjsip show endpoints\npjsip show auth*"
VERSION_LINE = "Asterisk 22.10.1 built by root"  # capture 04's answer to core show version


def iso(seconds_from_now):
    t = time.time() + seconds_from_now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"


class Rig(rigs.CommandRig):
    """A broker, the stand-in PBX answering as capture 04 did, a bridge
    with the channel on, and a subscriber to every answer."""

    def __init__(self, replay_args=(), **env):
        super().__init__(replay_args, **dict(dict(PBXBUS_COMMANDS_ALLOW=ALLOW), **env))

    def ask(self, payload, kind="cli", wait=True):
        before = len(self.answers(payload["id"])) if wait else 0
        self.publish(kind, payload)
        if wait:
            return self.answer(payload["id"], before + 1)

    def answer(self, rid, n=1):
        return wait_for(lambda: len(self.answers(rid)) >= n and self.answers(rid), 20 * SLOW,
                        "the answer to " + rid)[n - 1]

    def status(self):
        p = subprocess.run(["mosquitto_sub", "-p", str(self.broker.port), "-t", "pbx/bridge/status", "-C", "1",
                            "-W", "5"], capture_output=True, text=True)
        return json.loads(p.stdout) if p.stdout.strip() else {}

    def ran(self, command):
        return self.pbx.text().count("COMMAND " + command + "\n")


def test_an_allowed_command_is_answered_with_the_recorded_lines_and_runs_once():
    r = Rig()
    try:
        a = r.ask({"id": "v1", "command": "core  SHOW version"})
        assert a["ok"] is True and a["error"] is None and a["kind"] == "cli", a
        assert a["output"][0].startswith(VERSION_LINE), a
        assert a["truncated"] is False, a
        # the same request again (a redelivery): answered, never run twice
        d = r.ask({"id": "v1", "command": "core show version"})
        assert d["ok"] is False and d["error"] == "duplicate", d
        # an unknown command runs, and the CLI's own words come back
        u = r.ask({"id": "u1", "command": "core show nosuchthing"})
        assert u["error"] == "command_failed" and "No such command 'core show nosuchthing'" in u["output"][0], u
        # ... across a restart too: the ids are kept beside the call journal
        r.bridge.stop()
        first_log = r.bridge.text()
        r.start()
        d = r.ask({"id": "v1", "command": "core show version"})
        assert d["error"] == "duplicate", d
        assert r.ran("core show version") == 1, r.pbx.text()
        # MQTT 5 (mosquitto_rr): the response topic and correlation honoured
        p = subprocess.run(["mosquitto_rr", "-p", str(r.broker.port), "-V", "5", "-q", "1", "-t", "pbx/commands/cli",
                            "-e", "pbx/commands/result/rr1", "-W", str(int(20 * SLOW)),
                            "-m", json.dumps({"id": "rr1", "command": "pjsip show endpoints"})],
                           capture_output=True, timeout=30 * SLOW)
        assert p.returncode == 0, p.stderr
        rr = json.loads(p.stdout)
        assert rr["ok"] is True and any("Endpoint:  100/100" in line for line in rr["output"]), rr
        # a response topic the ACL would drop is refused, answered where it can be
        subprocess.run(["mosquitto_pub", "-p", str(r.broker.port), "-V", "5", "-q", "1", "-t", "pbx/commands/cli",
                        "-D", "publish", "response-topic", "elsewhere/x",
                        "-m", json.dumps({"id": "rr2", "command": "core show version"})], check=True)
        bad = r.answer("rr2")
        assert bad["error"] == "bad_request" and "response topic" in bad["message"], bad
    finally:
        log = r.close()
    assert first_log.count("command v1 (cli 'core show version'): ran") == 1, first_log
    assert "command v1 (cli): duplicate" in log, log


def test_refused_requests_are_answered_with_the_reason_and_never_reach_the_pbx():
    r = Rig()
    try:
        cases = [
            ({"id": "s1", "command": "pjsip show auths"}, "not_allowed", "secret"),  # listed, still refused
            ({"id": "s2", "command": "core restart now"}, "not_allowed", "not a show"),
            ({"id": "s3", "command": "queue show"}, "not_allowed", "commands_allow"),
            ({"id": "s4", "command": "core show version\r\nAction: Originate"}, "bad_request", "control"),
            ({"id": "s5", "command": "core show version", "expires_at": "2020-01-01T00:00:00Z"}, "expired", "expired"),
            ({"id": "s6", "command": "core show version", "expires_at": iso(120)}, "bad_request", "60 s"),
            ({"id": "s7", "command": "core show version", "expires_at": "tomorrow"}, "bad_request", "ISO 8601"),
            ({"id": "s8", "command": "core show version", "site": "pbx/site2"}, "wrong_site", "another site"),
            ({"id": "s9"}, "bad_request", "no command"),
            ({"id": "s10", "command": "core show version"}, "bad_request", "no such kind"),
        ]
        for payload, code, words in cases:
            a = r.ask(payload, kind="fax" if payload["id"] == "s10" else "cli")
            assert a["ok"] is False and a["error"] == code and words in a["message"], (payload, a)
        # no id: nothing to answer on; said in the log, and the channel goes on
        r.ask("not json", wait=False)
        r.ask('{"command": "core show version"}', wait=False)  # within 10 s of it: counted, not logged
        ok = r.ask({"id": "s11", "command": "core show version", "expires_at": iso(30)})
        assert ok["ok"] is True, ok
        assert r.ran("core show version") == 1 and "COMMAND pjsip" not in r.pbx.text() and \
            "COMMAND core restart" not in r.pbx.text(), r.pbx.text()
        # bridge/status counts them (news: within seconds, not at status_interval)
        wait_for(lambda: (lambda st: st.get("commands_ran") == 1 and st.get("commands_refused") == 12)(r.status()),
                 30 * SLOW, "bridge/status counting the requests")
    finally:
        log = r.close()
    assert "is not JSON" in log and "has no id" not in log, log


def test_one_at_a_time_with_a_timeout_and_a_rate_limit():
    r = Rig(["--ignore-commands"], PBXBUS_COMMANDS_TIMEOUT="2", PBXBUS_COMMANDS_PER_MINUTE="2")
    try:
        r.ask({"id": "t1", "command": "core show uptime"}, wait=False)
        busy = r.ask({"id": "t2", "command": "core show uptime"})
        assert busy["error"] == "busy", busy
        t1 = r.answer("t1")
        assert t1["error"] == "timeout" and t1["output"] is None, t1
        t3 = r.ask({"id": "t3", "command": "core show uptime"})
        assert t3["error"] == "timeout", t3
        t4 = r.ask({"id": "t4", "command": "core show uptime"})
        assert t4["error"] == "rate_limited", t4
        assert r.ran("core show uptime") == 2, r.pbx.text()
    finally:
        r.close()


def test_a_site_reads_only_its_own_requests_under_the_shipped_acl():
    tmp = TempDir()
    b = ShippedBroker(tmp)
    pbx = ReplayPbx.scripted(tmp)
    env = bridge_env(pbx.port, b.pbx_port, tmp.path + "/outbox", PBXBUS_AMI_HOST="127.0.0.1",
                     PBXBUS_MQTT_USERNAME="site1", PBXBUS_MQTT_PASSWORD="z", PBXBUS_TOPIC_PREFIX="pbx/site1",
                     PBXBUS_PBX_ID="site1", PBXBUS_COMMANDS_ENABLED="yes", PBXBUS_COMMANDS_ALLOW="core show version")
    bridge = Daemon(tmp, "pbxbus-bridge", env, ["-c", "/dev/null"]).start()
    sub = subprocess.Popen(["mosquitto_sub", "-p", str(b.crm_port), "-u", "crm", "-P", "y", "-q", "1", "-t",
                            "pbx/+/commands/result/+", "-v"], stdout=subprocess.PIPE, text=True)
    try:
        bridge.wait_log("command channel: listening", 20 * SLOW)
        wait_for(lambda: "LOGIN ok" in pbx.text(), 20 * SLOW, "the bridge logged in")
        time.sleep(0.5 * SLOW)

        def ask(port, user, secret, rid):
            subprocess.run(["mosquitto_pub", "-p", str(port), "-u", user, "-P", secret, "-q", "1", "-t",
                            "pbx/site1/commands/cli", "-m",
                            json.dumps({"id": rid, "command": "core show version"})], check=True)
        ask(b.pbx_port, "east", "e", "from-east")  # another site's credential: the ACL drops it
        ask(b.crm_port, "crm", "y", "from-crm")
        wait_for(lambda: "command from-crm" in bridge.text(), 20 * SLOW, "the crm's request")
        time.sleep(1 * SLOW)
        assert "from-east" not in bridge.text() and pbx.text().count("COMMAND core show version") == 1
    finally:
        sub.terminate()
        out = sub.communicate(timeout=10)[0]
        assert rc_ok(bridge.stop()), bridge.text()[-2000:]
        pbx.stop()
        b.stop()
        tmp.cleanup()
    line = [x for x in out.splitlines() if x.startswith("pbx/site1/commands/result/from-crm ")]
    assert line and json.loads(line[0].split(" ", 1)[1])["ok"] is True, out


def rc_ok(rc):
    return rc == 0


def test_command_mode_prints_the_output_and_says_why_it_failed():
    tmp = TempDir()
    pbx = ReplayPbx.scripted(tmp)
    old = ReplayPbx.scripted(tmp, "--old-commands")
    refusing = ReplayPbx.scripted(tmp, "--refuse-actions")
    try:
        def run(port, command, allow="core show*"):
            env = bridge_env(port, free_port(), tmp.path + "/outbox", PBXBUS_AMI_HOST="127.0.0.1",
                             PBXBUS_COMMANDS_ALLOW=allow)
            return run_tool("pbxbus-bridge", ["-c", "/dev/null", "--command", command], env)
        rc, out, err = run(pbx.port, "core show version")
        assert rc == 0 and out.startswith(VERSION_LINE) and "logged in" in err, (rc, out, err)
        # Asterisk before 14 (synthetic Follows form): the same lines
        rc, out_old, err = run(old.port, "core show version")
        assert rc == 0 and out_old == out, (out_old, out, err)
        rc, out, err = run(pbx.port, "core show channels")
        assert rc == 0 and out.splitlines()[-1] == "0 calls processed", out
        rc, out, err = run(pbx.port, "pjsip show registrations")
        assert rc == 1 and out == "" and "not on commands_allow" in err, (out, err)
        rc, out, err = run(pbx.port, "pjsip show auths", allow="*")
        assert rc == 1 and "can print a secret" in err, err
        rc, out, err = run(refusing.port, "core show version")
        assert rc == 1 and "refused the action: Permission denied" in err and "write = command" in err, err
        rc, out, err = run(free_port(), "core show version")
        assert rc == 1 and "cannot reach the PBX" in err, err
        rc, out, err = run(pbx.port, "core show nosuchthing")
        assert rc == 1 and "No such command" in out and "did not run it" in err, (out, err)
        assert "COMMAND pjsip" not in pbx.text()
    finally:
        for p in (pbx, old, refusing):
            p.stop()
        tmp.cleanup()
