"""AMI over TLS (docs/bridge.md, "AMI over TLS"): pbxbus-replay serving
TLS with a throwaway CA's certificate; the bridge verifies it, logs in,
carries calls over it, reconnects over it; every way the certificate or
the port can be wrong is refused with its reason; no byte of an event
crosses the wire in clear."""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Daemon, Mosquitto, ReplayPbx, Subscriber, TempDir, fixture, free_port, run_tool,  # noqa: E402
                     wait_for, SLOW)
from rigs import Certs, bridge_env  # noqa: E402

CALLER = b"15559876543"  # capture 10's caller: personal data, never in clear


class Tap:
    """A TCP relay between the bridge and the PBX that keeps every byte
    the PBX sent: what anyone on the network would read."""

    def __init__(self, target_port):
        self.port, self.target = free_port(), target_port
        self.seen = bytearray()
        self.srv = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.srv.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src, dst, keep):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if keep:
                    self.seen += data
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.srv.close()


def tls_env(pbx_port, tmp, certs, **over):
    e = dict(PBXBUS_AMI_HOST="127.0.0.1", PBXBUS_AMI_TLS_CA=certs.path("ca.crt"))
    e.update(over)
    return bridge_env(pbx_port, free_port(), tmp.path + "/outbox", **e)


def test_calls_over_tls_arrive_whole_and_nothing_crosses_in_clear():
    tmp = TempDir()
    certs = Certs(tmp)
    broker = Mosquitto(tmp).start()
    # the connection is dropped halfway through an event once: the bridge
    # comes back over TLS and the event comes whole
    pbx = ReplayPbx.scripted(tmp, "--tls-cert", certs.path("server.crt"), "--tls-key", certs.path("server.key"),
                             "--drop", "1", "--drop-at", "20", fixture("10-in-answered-caller-hangup"))
    tap = Tap(pbx.port)
    sub = Subscriber(tmp, broker, "pbx/#")
    env = bridge_env(tap.port, broker.port, tmp.path + "/outbox", PBXBUS_AMI_HOST="127.0.0.1",
                     PBXBUS_AMI_TLS_CA=certs.path("ca.crt"), PBXBUS_AMI_TLS_SERVER_NAME="pbx.test")
    bridge = Daemon(tmp, "pbxbus-bridge", env, ["-c", "/dev/null"]).start()
    try:
        wait_for(lambda: sub.json_of("pbx/calls/hangup"), 40 * SLOW, "the call record")
        wait_for(lambda: "DONE" in pbx.text(), 40 * SLOW, "the replay to finish")
        rec = sub.json_of("pbx/calls/hangup")
        assert len(rec) == 1 and rec[0]["external_number"] == CALLER.decode() and not rec[0]["partial"], rec
        assert pbx.text().count("TLS ok") == 2 and pbx.text().count("LOGIN ok") == 2, pbx.text()
        assert "DROPPED at" in pbx.text()
        assert len(sub.topics("pbx/events/")) > 10
        # what went over the wire: TLS records, nothing an eavesdropper reads
        wire = bytes(tap.seen)
        assert len(wire) > 10000, len(wire)
        for clear in (b"Event:", b"Asterisk Call Manager", CALLER, b"Linkedid"):
            assert clear not in wire, clear
        assert wire[0] == 0x16, wire[:8]  # a TLS handshake record
    finally:
        rc = bridge.stop()
        tap.close()
        sub.stop()
        pbx.stop()
        broker.stop()
        log = bridge.text()
        tmp.cleanup()
    assert rc == 0, log[-2000:]


def test_a_certificate_or_port_that_is_wrong_is_refused_with_its_reason():
    tmp = TempDir()
    certs = Certs(tmp)
    served = {}
    try:
        for name, cert in (("good", "server.crt"), ("expired", "expired.crt")):
            served[name] = ReplayPbx.scripted(tmp, "--tls-cert", certs.path(cert), "--tls-key",
                                              certs.path("server.key"))
        served["plain"] = ReplayPbx.scripted(tmp)
        cases = [
            ("good", {}, 0, "\u2713 AMI CoreSettings"),  # every AMI step passes (no broker here)
            ("good", {"PBXBUS_AMI_TLS_SERVER_NAME": "other.test"}, 1, "hostname mismatch"),
            ("good", {"PBXBUS_AMI_TLS_CA": certs.path("other-ca.crt")}, 1, "unable to get local issuer certificate"),
            ("expired", {}, 1, "certificate has expired"),
            ("plain", {}, 1, "does not speak TLS"),
            ("good", {"PBXBUS_AMI_TLS_CA": certs.path("missing.crt")}, 1, "cannot read the CA file"),
        ]
        for server, over, want_rc, words in cases:
            rc, out, err = run_tool("pbxbus-bridge", ["-c", "/dev/null", "--check"],
                                    tls_env(served[server].port, tmp, certs, **over))
            assert rc == 1 and words in out, (server, over, rc, out, err)
            assert ("\u2717 AMI" in out) == bool(want_rc), out
        # a plain bridge at a TLS port waits for a banner that never comes, and says what to try
        env = bridge_env(served["good"].port, free_port(), tmp.path + "/outbox", PBXBUS_AMI_HOST="127.0.0.1",
                         PBXBUS_AMI_CONNECT_TIMEOUT="1")
        rc, out, err = run_tool("pbxbus-bridge", ["-c", "/dev/null", "--check"], env)
        assert rc == 1 and "set ami_tls_ca" in out, out
        # the stand-in PBX said why it ended each refused handshake
        assert "TLS failed" in served["good"].text()
        # TLS keys without the CA that turns it on: a configuration error
        rc, out, err = run_tool("pbxbus-bridge", ["-c", "/dev/null", "--check"],
                                bridge_env(1, 1, tmp.path + "/o", PBXBUS_AMI_TLS_SERVER_NAME="pbx.test"))
        assert rc == 2 and "need ami_tls_ca" in out, out
    finally:
        for p in served.values():
            p.stop()
        tmp.cleanup()
