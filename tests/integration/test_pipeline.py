"""The whole path: pbxbus-replay → bridge (outbox) → real mosquitto → consumer → real PostgreSQL,
with the consumer, the broker and the bridge going away while calls complete."""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Daemon, Mosquitto, Postgres, ReplayPbx, Subscriber, TempDir, fixture,  # noqa: E402
                     run_tool, wait_for)
import rigs  # noqa: E402
from rigs import ShippedBroker, bridge_env, consumer_env, migrate  # noqa: E402

CALLS = ["10-in-answered-caller-hangup", "12-in-noanswer", "13-in-busy", "14-out-answered", "16-internal-100-to-101",
         "17-queue-answered", "18-queue-abandon", "72-in-ringgroup-5554000-100-answers"]
# a valid call record, as a bridge writes one
RECORD = {"v": 1, "pbx": "lab", "call_id": "lab:1795400000.1", "direction": "inbound",
          "external_number": "15559876543", "external_name": "John Smith", "did": "5551000", "extension": "100",
          "extensions_rung": ["100"], "trunk": "trunk-provider", "queue": None, "transferred": False,
          "partial": False, "started_at": "2026-11-22T10:03:53.000Z", "answered_at": "2026-11-22T10:03:55.000Z",
          "ended_at": "2026-11-22T10:04:58.000Z", "duration_s": 65, "billsec_s": 63, "disposition": "ANSWERED",
          "pbx_answered": True, "hangup_cause": 16, "hangup_cause_text": "Normal Clearing", "legs": 2}


# The bridge of every Pipeline: records sent again after 2 s, its status every 5 s.
BRIDGE = {"PBXBUS_OUTBOX_RESEND_TIMEOUT": 2, "PBXBUS_STATUS_INTERVAL": 5}


class Pipeline(rigs.Pipeline):
    """rigs.Pipeline with the stand-in PBX playing captures at a fixed pace
    (all the calls of CALLS by default), and the bridge started."""

    def __init__(self, loops=1, start_consumer=True, pace=0.002, delay=1.0, captures=None):
        super().__init__(start_consumer=start_consumer)
        captures = captures or [fixture(c) for c in CALLS]
        self.pbx = ReplayPbx.scripted(self.tmp, "--loops", str(loops), "--pace", str(pace), "--delay", str(delay),
                                      *captures)
        self.expected = len(captures) * loops
        self.start_bridge(self.pbx.port, **BRIDGE)

    @property
    def ami(self):
        return self.pbx

    @ami.setter
    def ami(self, pbx):
        self.pbx = pbx

    def rows(self):
        return int(self.pg.psql("SELECT count(*) FROM crm_comms_log"))

    def distinct(self):
        return int(self.pg.psql("SELECT count(DISTINCT ext_message_id) FROM crm_comms_log"))

    def outbox_bytes(self):
        p = self.tmp.path + "/outbox/outbox.log"
        return os.path.getsize(p) if os.path.exists(p) else 0

    def close(self):
        rcs = super().close()
        assert all(rc in (None, 0) for rc in rcs), rcs


def test_every_call_lands_once_and_the_outbox_empties():
    p = Pipeline(loops=3)
    try:
        wait_for(lambda: p.rows() == p.expected, 60, "%d rows" % p.expected)
        wait_for(lambda: p.outbox_bytes() == 0, 30, "an empty outbox")
        assert p.distinct() == p.expected
        st = p.status(lambda s: s["calls_completed"] == p.expected and s["outbox_pending"] == 0)
        assert st["outbox_pending"] == 0 and st["acks_received"] >= 1 and st["outbox"] == "ok", st
    finally:
        p.close()


def test_consumer_not_there_yet_records_are_sent_again():
    # Nobody has subscribed: the broker drops the first copies.  The outbox
    # sends them again (resend timeout 2 s) until a consumer acks them.
    p = Pipeline(start_consumer=False)
    try:
        wait_for(lambda: "DONE" in p.ami.text(), 30, "replay")
        time.sleep(1)
        assert p.outbox_bytes() > 0
        p.consumer.start()
        wait_for(lambda: p.rows() == p.expected, 60, "%d rows" % p.expected)
        wait_for(lambda: p.outbox_bytes() == 0, 30, "an empty outbox")
        assert p.distinct() == p.expected
        assert p.status(lambda s: s["outbox_pending"] == 0)["outbox_resent"] >= p.expected
    finally:
        p.close()


def test_broker_down_records_wait_on_disk():
    p = Pipeline(delay=3)
    try:
        p.bridge.wait_log("mqtt: connected")
        p.broker.stop()
        wait_for(lambda: "DONE" in p.ami.text(), 30, "replay")
        time.sleep(0.5)
        assert p.outbox_bytes() > 0 and p.rows() == 0
        p.broker.start()
        wait_for(lambda: p.rows() == p.expected, 60, "%d rows" % p.expected)
        wait_for(lambda: p.outbox_bytes() == 0, 30, "an empty outbox")
    finally:
        p.close()


def test_bridge_killed_with_records_pending_sends_them_after_restart():
    p = Pipeline(start_consumer=False)
    try:
        wait_for(lambda: "DONE" in p.ami.text(), 30, "replay")
        time.sleep(0.5)
        p.bridge.stop(signal.SIGKILL)
        before = p.outbox_bytes()
        assert before > 0
        p.ami.stop()
        p.ami = ReplayPbx.scripted(p.tmp)  # the PBX is quiet now
        p.start_bridge(p.ami.port, **BRIDGE)
        p.bridge.wait_log("record\\(s\\) pending from before")
        p.consumer.start()
        wait_for(lambda: p.rows() == p.expected, 60, "%d rows" % p.expected)
        wait_for(lambda: p.outbox_bytes() == 0, 30, "an empty outbox")
    finally:
        p.close()


def test_hostile_caller_strings_stay_data():
    """Caller names and numbers come from outside callers: quotes, %s, SQL,
    invalid UTF-8 and a 60 KiB name must reach neither a topic, a log line
    nor SQL as anything but data, and must not break the JSON."""
    tmp_caps = TempDir()
    name = b"O'Brien \"%s%n\" \xff\xfe caf\xc3\xa9 " + b"N" * (60 * 1024)
    number = b"'; DROP TABLE crm_comms_log; --"
    lines = [b"Asterisk Call Manager/11.0.0\r\n"]

    def ev(*pairs):
        lines.append(b"".join(k + b": " + v + b"\r\n" for k, v in pairs) + b"\r\n")
    base = [(b"Uniqueid", b"1795499999.1"), (b"Linkedid", b"1795499999.1")]
    ev((b"Event", b"Newchannel"), (b"Channel", b"PJSIP/trunk-provider-00000001"), (b"ChannelStateDesc", b"Ring"),
       (b"CallerIDNum", number), (b"CallerIDName", name), (b"Context", b"from-pstn"), (b"Exten", b"5551000"), *base)
    ev((b"Event", b"Hangup"), (b"Channel", b"PJSIP/trunk-provider-00000001"), (b"CallerIDNum", number),
       (b"CallerIDName", name), (b"Cause", b"16"), (b"Cause-txt", b"Normal Clearing"), *base)
    path = tmp_caps.file("hostile.server.txt")
    with open(path, "wb") as f:
        f.write(b"".join(lines))
    p = Pipeline(captures=[path])
    try:
        sub = Subscriber(p.tmp, p.broker, "pbx/#", name="all")
        wait_for(lambda: p.rows() == 1, 30, "the row")
        assert p.pg.psql("SELECT count(*) FROM crm_comms_log WHERE external_number = $$%s$$ "
                         "AND external_e164 IS NULL" % number.decode()) == "1"
        assert p.pg.psql("SELECT left(raw->>'external_name', 12) FROM crm_comms_log") == "O'Brien \"%s%"
        for t, _, payload in sub.messages():
            assert t.startswith("pbx/") and "DROP" not in t and "%" not in t, t
            json.loads(payload)
        logs = p.bridge.text() + p.consumer.text()
        assert "DROP TABLE" not in logs and "O'Brien" not in logs
        sub.stop()
    finally:
        p.close()
        tmp_caps.cleanup()


def make_tls(tmp):
    """A throwaway CA and a server certificate for 127.0.0.1."""
    import subprocess as sp
    d = tmp.path + "/tls"
    os.makedirs(d)
    run = lambda *a: sp.run(list(a), check=True, capture_output=True, cwd=d)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=pbxbus test CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
        "-out", "server.csr")
    with open(d + "/san.cnf", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "san.cnf", "-out", "server.crt")
    return d


def test_tls_and_acls_for_real():
    tmp = TempDir()
    tls = make_tls(tmp)
    pw = tmp.path + "/passwd"
    import subprocess as sp
    for user, secret in (("bridge", "bridge-secret-1"), ("crm", "crm-secret-1")):
        sp.run(["mosquitto_passwd", "-b"] + (["-c"] if user == "bridge" else []) + [pw, user, secret], check=True)
    acl = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "mosquitto", "acl")  # the shipped one
    port = __import__("harness").free_port()
    broker = Mosquitto(tmp, port=port)
    # TLS listener only, no anonymous access
    conf = ("user root\nper_listener_settings false\nallow_anonymous false\npassword_file %s\nacl_file %s\n"
            "listener %d 127.0.0.1\ncafile %s/ca.crt\ncertfile %s/server.crt\nkeyfile %s/server.key\n"
            "log_dest file %s/mosquitto.log\n" % (pw, acl, port, tls, tls, tls, broker.dir))
    with open(broker.dir + "/mosquitto.conf", "w") as f:
        f.write(conf)
    broker.proc = sp.Popen(["mosquitto", "-c", broker.dir + "/mosquitto.conf"], stdout=sp.DEVNULL, stderr=sp.DEVNULL)
    wait_for(broker.ready, 10, "TLS broker")
    pg = Postgres(tmp).start()
    pg.create_db()
    secret_file = tmp.file("crm.secret", "crm-secret-1\n", 0o600)
    bsecret_file = tmp.file("bridge.secret", "bridge-secret-1\n", 0o600)
    cenv = consumer_env(pg.conninfo(), port, PBXBUS_MQTT_USERNAME="crm", PBXBUS_MQTT_PASSWORD_FILE=secret_file,
                        PBXBUS_MQTT_TLS_CA=tls + "/ca.crt")
    migrate(cenv)
    ami = ReplayPbx.scripted(tmp, fixture("10-in-answered-caller-hangup"), fixture("14-out-answered"), "--delay", "1.5")
    benv = bridge_env(ami.port, port, tmp.path + "/outbox", PBXBUS_MQTT_USERNAME="bridge",
                      PBXBUS_MQTT_PASSWORD_FILE=bsecret_file, PBXBUS_MQTT_TLS_CA=tls + "/ca.crt", PBXBUS_LOG_LEVEL="debug")
    consumer = Daemon(tmp, "pbxbus-consumer", cenv, ["-c", "/dev/null"]).start()
    bridge = Daemon(tmp, "pbxbus-bridge", benv, ["-c", "/dev/null"]).start()
    denied = None
    try:
        consumer.wait_log("mqtt: subscribed to")
        wait_for(lambda: int(pg.psql("SELECT count(*) FROM crm_comms_log")) == 2, 30, "2 rows over TLS")
        wait_for(lambda: "acknowledged" in bridge.text(), 15, "acks over TLS")
        idle_pbx = ReplayPbx.scripted(tmp)  # a new connection would replace the bridge's session
        check_env = dict(benv, PBXBUS_AMI_PORT=str(idle_pbx.port))
        rc, out, _ = run_tool("pbxbus-bridge", ["-c", "/dev/null", "--check"], check_env)
        assert rc == 0 and "MQTT connect to 127.0.0.1:%d (TLS)" % port in out, out
        # without the CA the broker's certificate is not trusted
        bad = dict(check_env, PBXBUS_MQTT_TLS_CA="/etc/ssl/certs/ca-certificates.crt")
        rc, out, _ = run_tool("pbxbus-bridge", ["-c", "/dev/null", "--check"], bad)
        assert rc == 1 and "\u2717 MQTT connect" in out, out
        # audit L11: and it says why, in OpenSSL's words
        assert "certificate verify failed" in out, out
        idle_pbx.stop()
        # a prefix the ACL does not allow: the refusal is reported, not lost silently
        denied = Daemon(tmp, "pbxbus-bridge", dict(benv, PBXBUS_TOPIC_PREFIX="other", PBXBUS_MQTT_CLIENT_ID="x",
                                                   PBXBUS_OUTBOX_DIR=tmp.path + "/outbox2"),
                        ["-c", "/dev/null"]).start()
        denied.wait_log("refused message", 20)
        assert "Not authorized" in denied.text() or "not authorised" in denied.text().lower(), denied.text()
        for log in (bridge.text(), consumer.text(), denied.text()):
            assert "bridge-secret-1" not in log and "crm-secret-1" not in log
    finally:
        for d in (bridge, consumer, denied):
            if d:
                d.stop()
        ami.stop()
        broker.stop()
        pg.stop("immediate")
        tmp.cleanup()


def test_shipped_broker_config_starts():
    """deploy/mosquitto/mosquitto.conf as users get it, with paths for here."""
    import subprocess as sp
    tmp = TempDir()
    try:
        b = ShippedBroker(tmp)
        port, cport = b.pbx_port, b.crm_port
        r = sp.run(["mosquitto_pub", "-p", str(port), "-u", "bridge", "-P", "x", "-q", "1", "-t", "pbx/events/x",
                    "-m", "{}"], capture_output=True)
        assert r.returncode == 0, r.stderr
        # message_size_limit (audit M2): a payload over it never reaches the
        # consumer; the bridge's largest event JSON (6.1 MiB) and a record do
        sub = sp.Popen(["mosquitto_sub", "-p", str(cport), "-u", "crm", "-P", "y", "-q", "1", "-t",
                        "pbx/calls/hangup", "-C", "2", "-W", "20"], stdout=sp.PIPE)
        time.sleep(0.5)
        for payload in (b"x" * (9 << 20), b"y" * (6 << 20), b"ok"):
            sp.run(["mosquitto_pub", "-p", str(port), "-u", "bridge", "-P", "x", "-q", "1", "-t", "pbx/calls/hangup",
                    "-s"], input=payload, check=True)
        out = sub.communicate(timeout=30)[0].split(b"\n")
        assert [len(x) for x in out if x] == [6 << 20, 2], [len(x) for x in out]
        # several PBXs (audit M1): user site1 writes under pbx/site1/ only,
        # reads its own acks only; the consumer reads every site's records
        sub = sp.Popen(["mosquitto_sub", "-p", str(cport), "-u", "crm", "-P", "y", "-q", "1", "-t",
                        "pbx/+/calls/hangup", "-v", "-C", "1", "-W", "10"], stdout=sp.PIPE)
        time.sleep(0.5)
        for topic in ("pbx/site2/calls/hangup", "pbx/site1/calls/hangup"):
            sp.run(["mosquitto_pub", "-p", str(port), "-u", "site1", "-P", "z", "-q", "1", "-t", topic, "-m", topic],
                   check=True)
        got = sub.communicate(timeout=30)[0].decode().split()
        assert got[0] == "pbx/site1/calls/hangup", got  # site2's, sent first, was refused
        acks = sp.Popen(["mosquitto_sub", "-p", str(port), "-u", "site1", "-P", "z", "-q", "1", "-t",
                         "pbx/+/acks/#", "-v", "-C", "1", "-W", "10"], stdout=sp.PIPE)
        time.sleep(0.5)
        for topic in ("pbx/site2/acks/crm", "pbx/site1/acks/crm"):
            sp.run(["mosquitto_pub", "-p", str(cport), "-u", "crm", "-P", "y", "-q", "1", "-t", topic, "-m", topic],
                   check=True)
        assert acks.communicate(timeout=30)[0].decode().split()[0] == "pbx/site1/acks/crm"
        # a PBX login cannot log in on the consumers' listener at all
        r = sp.run(["mosquitto_sub", "-p", str(cport), "-u", "site1", "-P", "z", "-t", "x", "-E"], capture_output=True)
        assert r.returncode != 0 and b"not authori" in r.stderr.lower(), r
        b.stop()
    finally:
        tmp.cleanup()


def test_one_pbx_login_cannot_take_another_session():
    """Audit-3 N1 with the shipped files: east connecting with west's client
    id does not knock west's bridge off, and connecting with the consumer's
    id neither knocks it off nor empties the records queued for it."""
    import subprocess as sp
    tmp = TempDir()
    pg = Postgres(tmp).start()
    pg.create_db()
    b = ShippedBroker(tmp)
    secret = tmp.file("crm.secret", "y\n", 0o600)
    cenv = consumer_env(pg.conninfo(), b.crm_port, PBXBUS_MQTT_USERNAME="crm", PBXBUS_MQTT_PASSWORD_FILE=secret,
                        PBXBUS_SUBSCRIBE="pbx/+/calls/hangup")
    migrate(cenv)
    west = None
    consumer = Daemon(tmp, "pbxbus-consumer", cenv, ["-c", "/dev/null"]).start()
    try:
        consumer.wait_log("mqtt: subscribed to")
        consumer.stop()  # its persistent session holds what comes now
        for i in range(5):
            rec = dict(RECORD, pbx="west", call_id="west:1795999999.%d" % i)
            sp.run(["mosquitto_pub", "-p", str(b.pbx_port), "-u", "west", "-P", "w", "-q", "1", "-t",
                    "pbx/west/calls/hangup", "-m", json.dumps(rec)], check=True)
        # west's bridge stands in as a subscriber holding its connection
        west = sp.Popen(["mosquitto_sub", "-p", str(b.pbx_port), "-u", "west", "-P", "w", "-i",
                         "pbxbus-bridge-west", "-t", "pbx/west/acks/#", "-d"], stdout=sp.PIPE, stderr=sp.STDOUT)
        wait_for(lambda: "u'west'" in b.log(), 10, "west connected")
        for cid in ("pbxbus-bridge-west", "crm1", "crm1-live"):
            for clean in ([], ["-c"]):
                r = sp.run(["mosquitto_sub", "-p", str(b.pbx_port), "-u", "east", "-P", "e", "-i", cid, "-q", "1",
                            "-t", "pbx/east/acks/#", "-E"] + clean, capture_output=True)
                assert r.returncode == 0, r.stderr
        time.sleep(0.5)
        assert west.poll() is None
        assert "already connected" not in b.log(), b.log()
        consumer = Daemon(tmp, "pbxbus-consumer", cenv, ["-c", "/dev/null"]).start()
        wait_for(lambda: int(pg.psql("SELECT count(*) FROM crm_comms_log")) == 5, 30, "the 5 queued records")
    finally:
        if west:
            west.kill()
            west.wait()
        consumer.stop()
        b.stop()
        pg.stop("immediate")
        tmp.cleanup()
