"""A real headless Chromium (Debian's), driven over the DevTools protocol
on a pipe (--remote-debugging-pipe: JSON messages separated by NUL on fds
3 and 4), so the tests need no WebSocket library and nothing from npm.

Chromium refuses to run as root: as root it runs as the harness's
unprivileged user, with --no-sandbox (the sandbox needs user namespaces,
which containers rarely give; the pages are our own)."""
import base64
import fcntl
import json
import os
import shutil
import subprocess
import threading
import time

from harness import SLOW, _pg_user

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def shots_dir(tmp):
    """Where a browser test puts its screenshots: $PBXBUS_SCREENSHOTS (make
    screenshots: docs/screenshots), else the test log directory, else tmp."""
    d = os.environ.get("PBXBUS_SCREENSHOTS") or os.path.join(os.environ.get("PBXBUS_TEST_LOGS") or tmp.path,
                                                              "screenshots")
    os.makedirs(d, exist_ok=True)
    return d


class BrowserError(AssertionError):
    pass


class Browser:
    def __init__(self, tmp, width=1280, height=900):
        self.profile = os.path.join(tmp.path, "chromium-%d" % id(self))
        os.makedirs(self.profile)
        user = None
        if os.getuid() == 0:
            user = _pg_user()
            shutil.chown(self.profile, user, user)
        to_r, self._to_w = os.pipe()      # we write commands on fd 3
        self._from_r, from_w = os.pipe()  # it answers on fd 4
        self.log = open(os.path.join(tmp.path, "chromium-%d.log" % id(self)), "wb")

        def child_fds():
            # above 9 first, so that neither lands on the other's target
            a, b = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [CHROMIUM, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-sync", "--mute-audio",
                "--user-data-dir=" + self.profile, "--window-size=%d,%d" % (width, height), "about:blank"]
        env = dict(os.environ, HOME=self.profile)
        # Not pass_fds=(3, 4): the child makes 3 and 4 inheritable before
        # child_fds runs, and fails (EBADF) when the runner has nothing open
        # there; the dups child_fds makes are inheritable, every other fd of
        # Python's is close-on-exec, so nothing else reaches Chromium.
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     preexec_fn=child_fds, close_fds=False, user=user, env=env)
        os.close(to_r)
        os.close(from_w)
        self._id = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._answers = {}
        self.events = []  # (method, params, sessionId)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime"):
            self.call(domain + ".enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=True)

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_r, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._answers[None] = "closed"
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cond:
                    if "id" in msg:
                        self._answers[msg["id"]] = msg
                    else:
                        self.events.append((msg.get("method"), msg.get("params", {}), msg.get("sessionId")))
                        if msg.get("method") == "Page.javascriptDialogOpening":
                            # answered from another thread: this one must keep reading
                            threading.Thread(target=self._dismiss, args=(msg.get("sessionId"),), daemon=True).start()
                    self._cond.notify_all()

    def _dismiss(self, session):
        try:
            self._send("Page.handleJavaScriptDialog", {"accept": False}, session)
        except BrowserError:
            pass

    def _send(self, method, params, session):
        with self._lock:
            self._id += 1
            i = self._id
            msg = {"id": i, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        end = time.time() + 30 * SLOW
        with self._cond:
            while i not in self._answers:
                if None in self._answers or time.time() > end:
                    raise BrowserError("chromium did not answer %s" % method)
                self._cond.wait(0.2)
            ans = self._answers.pop(i)
        if "error" in ans:
            raise BrowserError("%s: %s" % (method, ans["error"]))
        return ans.get("result", {})

    def call(self, method, params=None, session=False):
        return self._send(method, params, self.session if session else None)

    def evaluate(self, expr, await_promise=True):
        r = self.call("Runtime.evaluate", {"expression": expr, "awaitPromise": await_promise, "returnByValue": True},
                      session=True)
        if "exceptionDetails" in r:
            raise BrowserError("page script failed: %s" % json.dumps(r["exceptionDetails"])[:800])
        return r["result"].get("value")

    def goto(self, url):
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'", 15, "page load")

    def wait_for(self, expr, timeout=10, what=None):
        end = time.time() + timeout * SLOW
        last = None
        while time.time() < end:
            try:
                v = self.evaluate(expr)
                if v:
                    return v
            except BrowserError as e:  # a page in the middle of loading
                last = e
            time.sleep(0.1)
        raise AssertionError("timed out waiting for %s (%s)" % (what or expr, last))

    def dialogs(self):
        with self._cond:
            return [p for m, p, _ in self.events if m == "Page.javascriptDialogOpening"]

    def console_errors(self):
        with self._cond:
            return [p for m, p, _ in self.events if m == "Runtime.exceptionThrown"]

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data["data"]))

    def close(self):
        try:
            self._send("Browser.close", {}, None)
        except BrowserError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_w)
        self.log.close()
