"""Click-to-call end to end (docs/dial.md): a click in a real headless
Chromium on a customer's page -> the consumer's POST /api/calls/dial -> the
request through the shipped broker config and ACL -> the bridge's one
Originate (the stand-in PBX's log) -> the outcome on the page and on the
live stream -> one outbound record in crm_comms_log naming the request,
matched to the customer.  Also the API's checks and refusals, a bridge that
never answers, and a consumer with dialling off."""
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Daemon, Postgres, ReplayPbx, TempDir, fixture, free_port, run_tool,  # noqa: E402
                     wait_for, SLOW)
from rigs import ShippedBroker, bridge_env, consumer_env, migrate  # noqa: E402
from browser import Browser, shots_dir  # noqa: E402

TOKEN = "console-token-0123456789"
ACME = "+15551234567"  # capture 14 dials it: the call that follows is Acme's
CUSTOMERS = [("John Smith", "+15559876543"), ("Acme Supplies", ACME)]


class Rig:
    """PostgreSQL with two customers; the shipped broker config; the
    consumer as user crm with its console and dialling on; the stand-in PBX
    (a successful Originate plays capture 14); a bridge as user bridge with
    the command channel and dialling on (unless bridge is False)."""

    def __init__(self, bridge=True, **consumer_over):
        self.tmp = TempDir()
        self.pg = Postgres(self.tmp).start()
        self.pg.create_db()
        self.broker = ShippedBroker(self.tmp)
        self.base = "http://127.0.0.1:%d" % free_port()
        over = dict(PBXBUS_MQTT_USERNAME="crm", PBXBUS_MQTT_PASSWORD="y", PBXBUS_HTTP_TOKEN=TOKEN,
                    PBXBUS_HTTP_LISTEN=self.base[len("http://"):], PBXBUS_DIAL_ENABLED="yes")
        over.update(consumer_over)
        self.env = consumer_env(self.pg.conninfo(), self.broker.crm_port, **over)
        migrate(self.env)
        for name, phone in CUSTOMERS:
            self.pg.psql("INSERT INTO crm_customers (name, phone_e164) VALUES ('%s', '%s')" % (name, phone))
        self.consumer = Daemon(self.tmp, "pbxbus-consumer", self.env, ["-c", "/dev/null"]).start()
        self.consumer.wait_log("subscribed to the state", 20 * SLOW)
        self.pbx = self.bridge = self.browser = None
        if bridge:
            self.pbx = ReplayPbx.scripted(self.tmp, "--originate-call", fixture("14-out-answered"))
            env = bridge_env(self.pbx.port, self.broker.pbx_port, self.tmp.path + "/outbox",
                             PBXBUS_AMI_HOST="127.0.0.1", PBXBUS_MQTT_USERNAME="bridge", PBXBUS_MQTT_PASSWORD="x",
                             PBXBUS_COMMANDS_ENABLED="yes", PBXBUS_DIAL_ENABLED="yes", PBXBUS_DIAL_NUMBERS="+1*")
            self.bridge = Daemon(self.tmp, "pbxbus-bridge", env, ["-c", "/dev/null"]).start()
            self.bridge.wait_log("command channel: listening", 20 * SLOW)
            wait_for(lambda: "ACTION extensionstatelist" in self.pbx.text(), 20 * SLOW, "the phones known")
            time.sleep(0.5 * SLOW)

    def api(self, path, body=None, token=TOKEN, headers=None):
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        req = urllib.request.Request(self.base + path, data=None if body is None else json.dumps(body).encode(),
                                     headers=h, method="GET" if body is None else "POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def dial(self, body, token=TOKEN):
        """POSTs a dial; its final state (or the refusal's status and body)."""
        status, out = self.api("/api/calls/dial", body, token)
        if status != 202:
            return status, out
        rid = out["id"]

        def final():
            s, doc = self.api("/api/calls/dial/" + rid)
            return doc if s == 200 and doc["final"] else None
        return 202, wait_for(final, 40 * SLOW, "the outcome of " + rid)

    def originates(self):
        return [line for line in self.pbx.text().splitlines() if line.startswith("ORIGINATE Channel=")]

    def close(self):
        if self.browser:
            self.browser.close()
        rcs = [d.stop() for d in (self.bridge,) if d]
        if self.pbx:
            self.pbx.stop()
        rcs.append(self.consumer.stop())
        log = self.consumer.text()
        self.broker.stop()
        self.pg.stop()
        self.tmp.cleanup()
        assert all(rc == 0 for rc in rcs), (rcs, log[-3000:])
        return log

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_a_click_on_a_customers_number_rings_the_phone_then_calls_them():
    r = Rig()
    try:
        b = r.browser = Browser(r.tmp)
        b.goto(r.base + "/login")
        b.evaluate("document.getElementById('token').value = %s; "
                   "document.getElementById('login-form').requestSubmit(); true" % json.dumps(TOKEN))
        b.wait_for("location.pathname === '/'", 10, "the live page")
        b.goto(r.base + "/customer?id=2")
        b.wait_for("document.querySelector('#phones li.phone button.dial') !== null", 10 * SLOW, "the call button")
        assert b.evaluate("document.querySelector('#phones li.phone .number').textContent") == ACME
        # no extension of mine yet: the button says so and dials nothing
        b.evaluate("document.querySelector('#phones button.dial').click(); true")
        b.wait_for("document.querySelector('.dial-status').textContent.includes('set your extension')", 10 * SLOW, "ask")
        b.evaluate("(() => { const i = document.getElementById('my-extension'); i.value = '100';"
                   " i.dispatchEvent(new Event('change')); return true; })()")
        b.evaluate("document.querySelector('#phones button.dial').click(); true")
        b.wait_for("document.querySelector('.dial-status.dial-ok') !== null", 40 * SLOW, "the outcome on the page")
        said = b.evaluate("document.querySelector('.dial-status').textContent")
        assert said == "your phone answered; the PBX is calling the number", said
        b.screenshot(os.path.join(shots_dir(r.tmp), "click-to-call.png"))
        rid = re.findall(r"http: dial (d-[0-9a-f]+) \(100 -> \+xxxxxxx4567 by console 127\.0\.0\.1\): asked of pbx",
                         r.consumer.text())
        assert len(rid) == 1, r.consumer.text()[-2000:]
        rid = rid[0]
        assert r.originates() == [
            'ORIGINATE Channel=Local/100@pbxbus-dial-device Context=from-internal Exten=15551234567 Priority=1 '
            'Async=true Timeout=30000 CallerID="+15551234567" <100> Variable=PBXBUS_DIAL=%s '
            'Variable=PBXBUS_DIAL_BY=console 127.0.0.1' % rid], r.pbx.text()
        # the call that follows: one outbound row, Acme's, naming the request
        row = wait_for(lambda: r.pg.psql(
            "SELECT direction, customer_id, raw->>'originated_by', ext_message_id FROM crm_comms_log "
            "WHERE raw->>'originated_request_id' = '%s'" % rid), 40 * SLOW, "the dialled call's row")
        direction, customer, by, call_id = row.split("|")
        assert (direction, customer, by) == ("outbound", "2", "console 127.0.0.1"), row
        assert r.pg.psql("SELECT count(*) FROM crm_comms_log") == "1"
        status, doc = r.api("/api/calls/dial/" + rid)
        assert status == 200 and doc["ok"] is True and doc["state"] == "done" and doc["call_id"] == call_id, doc
        assert doc["extension"] == "100" and doc["site"] == "pbx" and "number" not in doc, doc
        # the live picture carries it too, for any page that follows the stream
        _, live = r.api("/api/live")
        dials = [it for it in live["items"] if it["kind"] == "dial"]
        assert [(d["site"], d["name"], d["value"]["ok"]) for d in dials] == [("pbx", rid, True)], dials
        # the customer's timeline says who dialled it
        b.goto(r.base + "/customer?id=2")
        b.wait_for("document.querySelectorAll('#timeline li.call').length === 1", 10 * SLOW, "the call")
        entry = b.evaluate("document.querySelector('#timeline li.call').textContent")
        assert "click-to-call by console 127.0.0.1" in entry, entry
        # the call log has a Call button beside the number
        b.goto(r.base + "/calls")
        b.wait_for("document.querySelector('#calls tbody td.number button.dial') !== null", 10 * SLOW, "the log's button")
        assert b.evaluate("document.querySelector('#calls tbody td.number').firstChild.textContent") == \
            "15551234567"
        assert b.dialogs() == [] and b.console_errors() == [], (b.dialogs(), b.console_errors())
    finally:
        log = r.close()
    assert ACME not in log and "15551234567" not in log, "the number is masked in the consumer's log"


def test_the_api_checks_a_dial_and_the_bridge_refuses_what_it_must():
    with Rig() as r:
        # who may ask: the token or a session, nothing else
        assert r.api("/api/calls/dial", {"extension": "100", "number": ACME}, token=None)[0] == 401
        assert r.api("/api/calls/dial", {"extension": "100", "number": ACME}, token="wrong-token-000000")[0] == 401
        # what the consumer checks before anything is published
        for body, word in (({"extension": "100@x", "number": ACME}, "extension"),
                           ({"extension": "100", "number": "call me"}, "number"),
                           ({"extension": "100", "number": "100"}, "number"),
                           ({"site": "east", "extension": "100", "number": ACME}, "site"),
                           ({"site": 7, "extension": "100", "number": ACME}, "site"),
                           ({"id": "a/b", "extension": "100", "number": ACME}, "id")):
            status, out = r.api("/api/calls/dial", body)
            assert status == 400 and out["error"].startswith(word), (body, status, out)
        assert r.api("/api/calls/dial/d-unknown")[0] == 404
        # what the bridge checks again: each answered, none reaching the PBX
        status, out = r.dial({"extension": "100", "number": "+442079460000"})
        assert status == 202 and out["ok"] is False and out["error"] == "not_allowed", out
        status, out = r.dial({"extension": "999", "number": ACME})
        assert status == 202 and out["ok"] is False and out["error"] == "not_allowed", out
        assert r.originates() == [], r.pbx.text()
        # through the API: said so, as the one asking; the asker's own id,
        # asked again, is the same request, never dialled again
        ask = {"id": "crm-order-42", "site": "pbx", "extension": "101", "number": "5551234567"}
        status, out = r.dial(ask)
        assert status == 202 and out["ok"] is True and out["id"] == "crm-order-42", out
        assert r.api("/api/calls/dial", ask) == (202, {"id": "crm-order-42"})
        assert len(r.originates()) == 1 and r.originates()[0].endswith(
            "Variable=PBXBUS_DIAL=crm-order-42 Variable=PBXBUS_DIAL_BY=api 127.0.0.1"), r.originates()
        assert "dial crm-order-42 (101 -> +xxxxxxx4567 by api 127.0.0.1): asked again" in r.consumer.text()
        assert "Exten=15551234567 " in r.originates()[0], "a national number read with the consumer's plan"


def test_a_bridge_that_never_answers_is_said_and_dialling_is_off_by_default():
    with Rig(bridge=False) as r:
        status, out = r.dial({"extension": "100", "number": ACME})
        assert status == 202 and out["error"] == "no_answer" and "commands_enabled" in out["message"], out
    with Rig(bridge=False, PBXBUS_DIAL_ENABLED="no") as r:
        assert r.api("/api/calls/dial") == (200, {"enabled": False, "sites": []})
        status, out = r.api("/api/calls/dial", {"extension": "100", "number": ACME})
        assert status == 404 and "dial_enabled" in out["error"], out
    env = consumer_env("dbname=x", 1883, PBXBUS_DIAL_ENABLED="yes", PBXBUS_HTTP_LISTEN="127.0.0.1:1")
    rc, out, err = run_tool("pbxbus-consumer", ["-c", "/dev/null", "--check"], env)
    assert rc != 0 and "dial_enabled: needs http_listen and http_token" in err, (rc, out, err)
