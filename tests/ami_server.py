#!/usr/bin/env python3
"""Scripted AMI server for tests: speaks the real login exchange (plain and
MD5 challenge, success and failure, as in captures 01-03), answers the
bridge's own actions, then replays a capture's events.  Faults on request:
drop the TCP connection mid-message, a huge garbage line, refuse logins.

Prints one line per happening to stdout (LISTEN <port>, LOGIN ok|fail,
REPLAYED <n>, ...) so a test can follow it."""
import argparse
import hashlib
import os
import random
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import amicap  # noqa: E402

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


ID_LINE = re.compile(rb"^(\w*(?:uniqueid|linkedid)): (\d+)\.(\d+)", re.M | re.I)


def rewrite_ids(raw, loop):
    """Every loop of a replay is new calls: shift the epoch part of each
    Uniqueid/Linkedid (and DestUniqueid, TransfereeLinkedid...) by loop days."""
    return ID_LINE.sub(lambda m: b"%s: %d.%s" % (m.group(1), int(m.group(2)) + loop * 86400, m.group(3)), raw)


def load_recorded(base):
    """action name → the messages Asterisk answered it with (capture 04)."""
    with open(base + ".client.txt", "rb") as f:
        actions = [amicap.fields(b + b"\r\n\r\n") for b in f.read().split(b"\r\n\r\n") if b.strip()]
    by_id = {amicap.get(a, "ActionID"): amicap.get(a, "Action").lower() for a in actions}
    _, msgs = amicap.load(base + ".server.txt")
    out = {}
    for raw in msgs:
        name = by_id.get(amicap.get(amicap.fields(raw), "ActionID"))
        if name and name not in ("login", "logoff", "command"):
            out.setdefault(name, []).append(raw)
    return out


SAY_LOCK = threading.Lock()


def say(*a):
    # One write per line under a lock: print() writes its parts one by one,
    # and two session threads interleaving them once turned "COMPLETED <id>"
    # into a line the tests could not read (a call seemed not to happen).
    line = " ".join(str(x) for x in a) + "\n"
    with SAY_LOCK:
        sys.stdout.write(line)
        sys.stdout.flush()


def msg(*pairs):
    return b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in pairs) + b"\r\n"


class Session:
    def __init__(self, srv, conn):
        self.srv, self.conn, self.buf = srv, conn, b""
        self.send_lock = threading.Lock()  # answers and the replay share the socket
        self.challenge = None
        self.logged_in = False

    def send(self, data):
        # whole messages only: the replay thread and the answers must not interleave
        with self.send_lock:
            self.conn.sendall(data)

    def read_action(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.conn.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        raw, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return amicap.fields(raw + b"\r\n\r\n")

    def answer(self, a):
        name = (amicap.get(a, "Action") or "").lower()
        aid = amicap.get(a, "ActionID")
        idp = [("ActionID", aid)] if aid else []
        self.srv.actions.append(name)
        say("ACTION", name)
        if name == "challenge":
            self.challenge = str(random.randint(100000000, 999999999))
            return self.send(msg(("Response", "Success"), *idp, ("Challenge", self.challenge)))
        if name == "login":
            return self.login(a, idp)
        if not self.logged_in:
            return self.send(msg(("Response", "Error"), *idp, ("Message", "Permission denied")))
        if name == "ping":
            if self.srv.args.ignore_ping:
                return None
            return self.send(msg(("Response", "Success"), *idp, ("Ping", "Pong"), ("Timestamp", "%.6f" % time.time())))
        if name in self.srv.recorded and name != "coreshowchannels":
            return self.send_recorded(name, aid)
        if name == "coresettings":
            return self.send(msg(("Response", "Success"), *idp, ("AMIversion", "11.0.0"), ("AsteriskVersion", "22.10.1"),
                                 ("SystemName", ""), ("CoreMaxCalls", "0")))
        if name == "coreshowchannels":
            return self.core_show_channels(idp)
        if name == "filter":
            return self.send(msg(("Response", "Success"), *idp, ("Message", "Success")))
        if name == "logoff":
            self.send(msg(("Response", "Goodbye"), *idp, ("Message", "Thanks for all the fish.")))
            raise ConnectionError("logoff")
        return self.send(msg(("Response", "Error"), *idp,
                             ("Message", "Invalid/unknown command: %s. Use Action: ListCommands to show available commands." % name)))

    def send_recorded(self, name, aid):
        """The answer Asterisk gave to this action in capture 04, under our ActionID."""
        out = b""
        for raw in self.srv.recorded[name]:
            if self.srv.logins > 1 and self.srv.args.hide_later and any(
                    v in (self.srv.args.hide_later, "PJSIP/" + self.srv.args.hide_later)
                    for k, v in amicap.fields(raw) if k in ("Exten", "ObjectName", "Device")):
                continue
            out += re.sub(rb"ActionID: [^\r\n]*", b"ActionID: " + (aid or "").encode(), raw)
        self.send(out)

    def core_show_channels(self, idp):
        live = list(self.srv.live.values())
        out = msg(("Response", "Success"), *idp, ("EventList", "start"), ("Message", "Channels will follow"))
        for p in live:
            out += msg(("Event", "CoreShowChannel"), *idp, ("Channel", amicap.get(p, "Channel")),
                       ("ChannelStateDesc", amicap.get(p, "ChannelStateDesc") or "Up"),
                       ("CallerIDNum", amicap.get(p, "CallerIDNum") or ""), ("Context", amicap.get(p, "Context") or ""),
                       ("Exten", amicap.get(p, "Exten") or ""), ("Uniqueid", amicap.get(p, "Uniqueid")),
                       ("Linkedid", amicap.get(p, "Linkedid")), ("Duration", "00:00:01"), ("BridgeId", ""))
        out += msg(("Event", "CoreShowChannelsComplete"), *idp, ("EventList", "Complete"), ("ListItems", str(len(live))))
        self.send(out)

    def login(self, a, idp):
        user, secret = amicap.get(a, "Username"), self.srv.args.secret
        if (amicap.get(a, "AuthType") or "").lower() == "md5":
            want = hashlib.md5((self.challenge or "").encode() + secret.encode()).hexdigest()
            ok = self.challenge is not None and amicap.get(a, "Key") == want
        else:
            ok = amicap.get(a, "Secret") == secret
        ok = ok and user == self.srv.args.user and not self.srv.args.refuse_login
        self.srv.logins += 1
        if not ok:
            say("LOGIN fail")
            self.send(msg(("Response", "Error"), *idp, ("Message", "Authentication failed")))
            time.sleep(1.0)  # Asterisk closes about 1 s after a failed login
            raise ConnectionError("auth failed")
        say("LOGIN ok", amicap.get(a, "Events"))
        self.logged_in = True
        self.send(msg(("Response", "Success"), *idp, ("Message", "Authentication accepted")))
        self.send(msg(("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", "12"),
                      ("LastReload", "12"), ("Status", "Fully Booted")))
        self.srv.login_event.set()

    def run(self):
        self.send(BANNER)
        while not self.logged_in:
            a = self.read_action()
            if a is None:
                return
            self.answer(a)
        self.srv.session = self
        threading.Thread(target=self.replay, daemon=True).start()
        while True:
            a = self.read_action()
            if a is None:
                return
            self.answer(a)

    def replay(self):
        srv = self.srv
        try:
            time.sleep(srv.args.delay)
            if srv.args.garbage and not srv.garbage_sent:
                srv.garbage_sent = True
                self.send(b"X" * srv.args.garbage + b"\r\n\r\n")
                say("GARBAGE sent")
            if srv.args.blast:
                data = b"".join(srv.stream)
                t0 = time.time()
                self.send(data)
                srv.pos = len(srv.stream)
                srv.live = {}
                say("BLASTED %d messages %d bytes in %.3f s" % (len(srv.stream), len(data), time.time() - t0))
            while srv.pos < len(srv.stream) and srv.session is self:
                if srv.args.loop_gap and srv.pos in srv.loop_starts and srv.gap_done != srv.pos:
                    say("GAP", srv.pos)
                    time.sleep(srv.args.loop_gap)
                    srv.gap_done = srv.pos
                    if srv.session is not self:
                        return
                    say("LOOP", srv.pos)
                raw = srv.stream[srv.pos]
                if srv.drops_left > 0 and srv.pos == srv.drop_at:
                    srv.drops_left -= 1
                    srv.drop_at += srv.args.drop_every
                    self.send(raw[: len(raw) // 2])
                    say("DROPPED at", srv.pos)
                    for _ in range(srv.args.skip_after_drop):  # happened while the bridge was away
                        if srv.pos < len(srv.stream):
                            srv.consume(srv.stream[srv.pos])
                    time.sleep(0.1)
                    self.conn.shutdown(socket.SHUT_RDWR)
                    self.conn.close()
                    return
                self.send(raw)
                srv.consume(raw)
                if srv.args.pace:
                    time.sleep(srv.args.pace)
            say("REPLAYED", srv.pos)
        except OSError:
            pass


class Server:
    def __init__(self, args):
        self.args = args
        self.stream = []
        self.loop_starts = set()
        captures = [amicap.replayable(amicap.load(path)[1]) for path in args.capture]
        for loop in range(args.loops):
            if loop:
                self.loop_starts.add(len(self.stream))
            for msgs in captures:
                self.stream += [rewrite_ids(raw, loop) for raw in msgs] if loop else msgs
        self.session = None
        self.recorded = load_recorded(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "ami",
                                                   "04-info-actions"))
        self.calls_live = {}  # Linkedid -> channels up, to report completed calls
        if args.extra:
            self.stream += [e.encode().replace(b"\\r\\n", b"\r\n") for e in args.extra]
        self.pos = 0
        self.drops_left = args.drop
        self.drop_at = args.drop_at
        self.logins = 0
        self.actions = []
        self.garbage_sent = False
        self.live = {}  # Uniqueid -> Newchannel fields, for CoreShowChannels
        self.gap_done = -1
        self.login_event = threading.Event()

    def consume(self, raw):
        """The PBX moves on by one message: keep the live channel list."""
        self.pos += 1
        p = amicap.fields(raw)
        ev, uid = amicap.get(p, "Event"), amicap.get(p, "Uniqueid")
        lid = amicap.get(p, "Linkedid")
        if ev == "Newchannel" and uid:
            self.live[uid] = p
            self.calls_live[lid] = self.calls_live.get(lid, 0) + 1
        elif ev == "Hangup" and uid and self.live.pop(uid, None) is not None:
            self.calls_live[lid] -= 1
            if self.calls_live[lid] == 0:
                del self.calls_live[lid]
                if self.args.report_calls:
                    say("COMPLETED", lid)

    def serve(self):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.args.port))
        ls.listen(8)
        say("LISTEN", ls.getsockname()[1])
        while True:
            conn, _ = ls.accept()
            say("CONNECT")
            s = Session(self, conn)
            try:
                s.run()
            except (ConnectionError, OSError) as e:
                say("CLOSED", e)
            try:
                conn.close()
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--user", default="bridge")
    ap.add_argument("--secret", default="bridgepass")
    ap.add_argument("--capture", action="append", default=[])
    ap.add_argument("--loops", type=int, default=1)
    ap.add_argument("--extra", action="append", default=[], help="raw message appended (\\r\\n escapes)")
    ap.add_argument("--delay", type=float, default=0.2, help="seconds after login before replaying")
    ap.add_argument("--pace", type=float, default=0.0, help="seconds between messages")
    ap.add_argument("--drop", type=int, default=0, help="times to drop the connection mid-message")
    ap.add_argument("--drop-at", type=int, default=5)
    ap.add_argument("--drop-every", type=int, default=10)
    ap.add_argument("--hide-later", default="", help="extension left out of the lists after the first login")
    ap.add_argument("--loop-gap", type=float, default=0.0, help="seconds of quiet between loops")
    ap.add_argument("--report-calls", action="store_true", help="print COMPLETED <Linkedid> per call")
    ap.add_argument("--skip-after-drop", type=int, default=0, help="messages the bridge misses at each drop")
    ap.add_argument("--garbage", type=int, default=0, help="bytes of a garbage line sent before the replay")
    ap.add_argument("--refuse-login", action="store_true")
    ap.add_argument("--blast", action="store_true", help="send the whole replay in one write (benchmarks)")
    ap.add_argument("--ignore-ping", action="store_true")
    Server(ap.parse_args()).serve()


if __name__ == "__main__":
    main()
