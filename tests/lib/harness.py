"""Real parts for integration tests: a mosquitto broker, PostgreSQL, MariaDB,
pbxbus-replay (the stand-in PBX) and our daemons, each on a free loopback
port in a temp dir."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "ami")
BIN_DIR = os.environ.get("PBXBUS_BIN_DIR", os.path.join(ROOT, "build"))
# Under valgrind or sanitizers everything is slower; waits scale with this.
SLOW = float(os.environ.get("PBXBUS_TEST_SLOW", "1"))
WRAP = os.environ.get("PBXBUS_TEST_WRAP", "").split()


def fixture(name):
    return os.path.join(FIXTURES, name + ".server.txt")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout=10.0, what="condition"):
    end = time.time() + timeout * SLOW
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class TempDir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="pbxbus-test-")
        os.chmod(self.path, 0o755)

    def file(self, name, content=None, mode=0o600):
        p = os.path.join(self.path, name)
        if content is not None:
            with open(p, "w") as f:
                f.write(content)
            os.chmod(p, mode)
        return p

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Mosquitto:
    def __init__(self, tmp, port=None, extra=""):
        self.tmp, self.port, self.extra = tmp, port or free_port(), extra
        self.proc = None
        self.dir = os.path.join(tmp.path, "mqtt-%d" % self.port)
        os.makedirs(self.dir, exist_ok=True)

    def start(self):
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("user root\nlistener %d 127.0.0.1\nallow_anonymous true\n"
                    "persistence false\nlog_dest file %s/mosquitto.log\n%s\n" % (self.port, self.dir, self.extra))
        self.proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.ready, 10, "mosquitto on %d" % self.port)
        return self

    def ready(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise AssertionError("a key twice in one JSON object: %s" % sorted(dup))
    return dict(pairs)


def strict_json(text):
    """json.loads that refuses a key twice (Python would keep the last)."""
    return json.loads(text, object_pairs_hook=_no_duplicate_keys)


class Subscriber:
    """mosquitto_sub writing "topic<TAB>retained<TAB>payload" lines."""

    def __init__(self, tmp, broker, topic="pbx/#", qos=1, name="sub"):
        self.path = os.path.join(tmp.path, "%s-%d.txt" % (name, free_port()))
        self.out = open(self.path, "wb")
        # A private probe topic too: the subscription is in place once a
        # probe comes back (a fixed sleep lost the first messages under load).
        self.probe = "pbxbus-test-probe/%d" % free_port()
        self.proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", topic,
                                      "-t", self.probe, "-q", str(qos), "-F", "%t\t%r\t%p"],
                                     stdout=self.out, stderr=subprocess.DEVNULL)
        wait_for(lambda: self._probe_seen(broker), 20, "mosquitto_sub subscribed")

    def _probe_seen(self, broker):
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", self.probe, "-m", "probe"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        time.sleep(0.05)
        with open(self.path, "rb") as f:
            return (self.probe + "\t").encode() in f.read()

    def messages(self):
        with open(self.path, "rb") as f:
            # what follows the last newline is a line mosquitto_sub is still
            # writing: read it next time, whole
            lines = [ln.decode("utf-8") for ln in f.read().split(b"\n")[:-1]]
        out = []
        for line in lines:
            if not line:
                continue
            topic, retained, payload = line.split("\t", 2)
            if topic == self.probe:
                continue
            out.append((topic, retained == "1", payload))
        return out

    def topics(self, prefix=""):
        return [t for t, _, _ in self.messages() if t.startswith(prefix)]

    def json_of(self, topic):
        return [strict_json(p) for t, _, p in self.messages() if t == topic and p]

    def stop(self):
        # mosquitto_sub can deadlock in its own SIGTERM handler (it calls
        # mosquitto_disconnect there): never wait for it without a limit.
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


class _PbxProcess:
    """A stand-in PBX on a free port: its stdout lines (LISTEN <port>, LOGIN ok, ...) in a log file."""

    def __init__(self, tmp, name, cmd, env=None, wait=10):
        self.log_path = os.path.join(tmp.path, "%s-%d.log" % (name, free_port()))
        self.log = open(self.log_path, "w")
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=e)
        m = wait_for(lambda: re.search(r"LISTEN (\d+)", self.text()), wait, name)
        self.port = int(m.group(1))

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def count(self, word):
        return len(re.findall(r"^%s" % word, self.text(), re.M))


class ReplayPbx(_PbxProcess):
    """pbxbus-replay, our stand-in PBX; stop() returns its exit status (0 when clean)."""

    def __init__(self, tmp, *args, env=None, wrap=True):
        super().__init__(tmp, "replay", (WRAP if wrap else []) +
                         [os.path.join(BIN_DIR, "pbxbus-replay"), "--listen", "127.0.0.1:0"] + list(args), env, 10 * SLOW)

    @classmethod
    def scripted(cls, tmp, *args, env=None):
        """As the fault tests want it: events back to back, one loop, 0.2 s
        after a login, the answers of capture 04 whatever the captures; any
        of these the args give again wins (the last one counts).  Never under
        valgrind: there it is the bridge that is checked, and a stand-in
        slowed 30 times would change the faults' timing."""
        return cls(tmp, "--pace", "0", "--gap", "0", "--loops", "1", "--delay", "0.2",
                   "--answers", os.path.join(FIXTURES, "04-info-actions"), *args, env=env, wrap=False)

    def completed(self, schedule):
        """Linkedids of the calls that ended, from the --schedule file."""
        if not os.path.exists(schedule):
            return set()
        with open(schedule) as f:
            return {json.loads(line)["linkedid"] for line in f if line.endswith("\n")}

    def stop(self):
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(10 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = "hung"
        self.log.close()
        return rc


class Daemon:
    """One of our binaries, with its config in the environment."""

    def __init__(self, tmp, name, env=None, args=(), wrap=True):
        self.tmp, self.name = tmp, name
        self.log_path = os.path.join(tmp.path, "%s-%d.log" % (name, free_port()))
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.args = list(args)
        self.wrap = WRAP if wrap else []
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.wrap + [os.path.join(BIN_DIR, self.name)] + self.args, env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def text(self):
        if not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=10):
        return wait_for(lambda: re.search(pattern, self.text()), timeout, "%s log: %s" % (self.name, pattern))

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def rss_peak_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return -1


def run_tool(name, args, env=None, timeout=30):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([os.path.join(BIN_DIR, name)] + list(args), env=e, capture_output=True, timeout=timeout * SLOW)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


PGBIN = "/usr/lib/postgresql/15/bin"


def _pg_user():
    """PostgreSQL refuses to run as root: use postgres, else a system user of ours."""
    import pwd
    for name in ("postgres", "pbxbus-pgci"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "pbxbus-pgci"],
                   check=True)
    return "pbxbus-pgci"


class Postgres:
    """A throwaway PostgreSQL 15 on a free loopback port, data in the temp dir."""

    def __init__(self, tmp, port=None, durable=False):
        """durable: fsync on, as in production (benchmarks); tests run without."""
        self.tmp, self.port, self.durable = tmp, port or free_port(), durable
        self.dir = os.path.join(tmp.path, "pg-%d" % self.port)
        self.user = _pg_user()
        os.makedirs(self.dir)
        shutil.chown(self.dir, self.user, self.user)
        self.run_as([PGBIN + "/initdb", "-D", self.dir + "/data", "-U", "postgres", "-A", "trust", "-E", "UTF8",
                     "--locale=C", "--no-sync"])

    def run_as(self, cmd, check=True):
        prefix = ["runuser", "-u", self.user, "--"] if os.getuid() == 0 else []
        return subprocess.run(prefix + cmd, check=check, capture_output=True, text=True)

    def start(self):
        self.run_as([PGBIN + "/pg_ctl", "-D", self.dir + "/data", "-l", self.dir + "/server.log", "-w", "-t", "30",
                     "-o", "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=%s"
                     % (self.port, self.dir, "on" if self.durable else "off"),
                     "start"])
        return self

    def stop(self, mode="fast"):
        self.run_as([PGBIN + "/pg_ctl", "-D", self.dir + "/data", "-m", mode, "-w", "stop"], check=False)

    def pid(self):
        with open(self.dir + "/data/postmaster.pid") as f:
            return int(f.readline())

    def conninfo(self, db="pbxbus"):
        return "host=127.0.0.1 port=%d user=postgres dbname=%s" % (self.port, db)

    def psql(self, sql, db="pbxbus"):
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                            str(self.port), "-U", "postgres", "-d", db, "-c", sql],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError("psql: " + p.stderr)
        return p.stdout.strip()

    def create_db(self, name="pbxbus"):
        self.psql("CREATE DATABASE %s" % name, db="postgres")


class MariaDB:
    """A throwaway MariaDB (the PBX's CDR store) on a free loopback port and a
    socket in the temp dir, run as an unprivileged user (it refuses root);
    root connects over the socket without a password, the bridge as a user
    that may only SELECT from asteriskcdrdb.cdr."""

    SCHEMA = os.path.join(os.path.dirname(__file__), "..", "..", "replay", "freepbx-cdr.sql")

    def __init__(self, tmp, port=None):
        self.tmp, self.port = tmp, port or free_port()
        self.dir = os.path.join(tmp.path, "mariadb-%d" % self.port)
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.user = _pg_user()
        self.proc = None
        os.makedirs(self.dir)
        shutil.chown(self.dir, self.user, self.user)
        os.chmod(tmp.path, 0o755)
        p = subprocess.run(["mariadb-install-db", "--no-defaults", "--datadir=" + self.dir + "/data",
                            "--user=" + self.user, "--auth-root-authentication-method=normal", "--skip-test-db",
                            "--skip-name-resolve"], capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError("mariadb-install-db: " + p.stderr[-2000:])

    def start(self):
        self.log = open(os.path.join(self.tmp.path, "mariadb-%d.log" % self.port), "ab")
        self.proc = subprocess.Popen(["mariadbd", "--no-defaults", "--user=" + self.user, "--datadir=" + self.dir +
                                      "/data", "--socket=" + self.socket, "--port=%d" % self.port,
                                      "--bind-address=127.0.0.1", "--pid-file=" + self.dir + "/mysqld.pid",
                                      "--skip-log-bin", "--innodb-flush-log-at-trx-commit=0",
                                      "--innodb-buffer-pool-size=32M", "--skip-name-resolve"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.socket) or self.proc.poll() is not None, 60 * SLOW, "MariaDB up")
        assert self.proc.poll() is None, "mariadbd exited"
        os.chmod(self.dir, 0o755)
        self.sql(open(self.SCHEMA).read())
        return self

    def sql(self, stmts, db=None):
        cmd = ["mariadb", "--no-defaults", "-S", self.socket, "-u", "root", "-N", "-B"] + ([db] if db else [])
        p = subprocess.run(cmd, input=stmts, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError("mariadb: " + p.stderr)
        return p.stdout.strip()

    def add_reader(self, user="pbxbus", password="cdr-secret"):
        """The one grant an operator runs on FreePBX (README)."""
        self.sql("CREATE USER '%s'@'localhost' IDENTIFIED BY '%s';\n"
                 "CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s';\n"
                 "GRANT SELECT ON asteriskcdrdb.cdr TO '%s'@'localhost';\n"
                 "GRANT SELECT ON asteriskcdrdb.cdr TO '%s'@'127.0.0.1';\n" % (user, password, user, password, user, user))
        return user, password

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
