"""What every suite starts, written once: a bridge's environment against a
stand-in PBX and a broker, a consumer's against PostgreSQL and a broker,
and the consumer's migrate step.  Overrides are given by their variable
names: bridge_env(pbx.port, broker.port, PBXBUS_RECONNECT_MAX="2")."""
import os

from harness import run_tool

# The one secret pbxbus-replay accepts unless PBXBUS_REPLAY_SECRET says
# otherwise (docs/replay.md).
REPLAY_SECRET = "bridgepass"


def _with(base, over):
    e = dict(base)
    e.update({k: str(v) for k, v in over.items()})
    return e


def bridge_env(ami_port, mqtt_port, outbox_dir=None, **over):
    """A bridge logging in to the stand-in PBX at ami_port as its user
    `bridge`, publishing to the broker at mqtt_port as PBX `lab`; its outbox
    and journal in outbox_dir when one is given."""
    e = {"PBXBUS_AMI_PORT": str(ami_port), "PBXBUS_AMI_USERNAME": "bridge", "PBXBUS_AMI_SECRET": REPLAY_SECRET,
         "PBXBUS_MQTT_PORT": str(mqtt_port), "PBXBUS_PBX_ID": "lab", "PBXBUS_RECONNECT_MAX": "1"}
    if outbox_dir:
        e["PBXBUS_OUTBOX_DIR"] = outbox_dir
    return _with(e, over)


def consumer_env(conninfo, mqtt_port, **over):
    """A consumer `crm1` reading the broker at mqtt_port into the database
    at conninfo."""
    e = {"PBXBUS_DB_CONNINFO": conninfo, "PBXBUS_MQTT_PORT": str(mqtt_port), "PBXBUS_CONSUMER_ID": "crm1",
         "PBXBUS_RECONNECT_MAX": "1"}
    return _with(e, over)


def migrate(env):
    """pbxbus-consumer --migrate with env: the schema at its version."""
    rc, out, err = run_tool("pbxbus-consumer", ["-c", "/dev/null", "--migrate"], env)
    assert rc == 0, (out, err)
    return out


class Pipeline:
    """The whole path on loopback: a persistent mosquitto, PostgreSQL, a
    migrated consumer (started unless start_consumer is false) and, once a
    stand-in PBX is there, a bridge (start_bridge).  A context manager;
    close() stops everything and returns the daemons' exit codes."""

    def __init__(self, broker_extra="", start_consumer=True, tmp=None, outbox=None):
        from harness import Daemon, Mosquitto, Postgres, TempDir
        self.tmp = tmp or TempDir()
        self.outbox = outbox or self.tmp.path + "/outbox"
        self.pg = Postgres(self.tmp).start()
        self.pg.create_db()
        self.broker = Mosquitto(self.tmp, extra="max_queued_messages 0\npersistence true\npersistence_location %s/\n%s"
                                % (self.tmp.path, broker_extra)).start()
        self.cenv = consumer_env(self.pg.conninfo(), self.broker.port, PBXBUS_MQTT_KEEPALIVE=5)
        migrate(self.cenv)
        self.consumer = Daemon(self.tmp, "pbxbus-consumer", self.cenv, ["-c", "/dev/null"])
        self.pbx = self.bridge = None
        if start_consumer:
            self.start_consumer()

    def start_consumer(self):
        self.consumer.start()
        self.consumer.wait_log("mqtt: subscribed to")

    def start_bridge(self, pbx_port, **over):
        from harness import Daemon
        self.bridge = Daemon(self.tmp, "pbxbus-bridge", bridge_env(pbx_port, self.broker.port, self.outbox, **over),
                             ["-c", "/dev/null"]).start()
        return self.bridge

    def status(self, pred=lambda s: True):
        """The newest bridge/status that satisfies pred (it is refreshed at
        most every 5 s, and at every status_interval)."""
        from harness import Subscriber, wait_for
        sub = Subscriber(self.tmp, self.broker, "pbx/bridge/status", name="status")
        try:
            return wait_for(lambda: [s for s in sub.json_of("pbx/bridge/status") if pred(s)], 20, "status")[-1]
        finally:
            sub.stop()

    def close(self):
        rcs = [d.stop() for d in (self.bridge, self.consumer) if d]
        if self.pbx:
            self.pbx.stop()
        self.broker.stop()
        self.pg.stop("immediate")
        self.release()
        self.tmp.cleanup()
        return rcs

    def release(self):
        """What a rig adds is undone here, before the temp dir goes (a mount, say)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ShippedBroker:
    """deploy/mosquitto/mosquitto.conf and acl as users get them, with paths
    and ports for here: pbx_port is the bridges' listener, crm_port the
    consumers'.  Users: bridge/x, site1/z, east/e on the first (and
    more_users, {name: secret}); crm/y on the second."""

    def __init__(self, tmp, more_users=None):
        import subprocess as sp
        from harness import Mosquitto, free_port, wait_for
        root = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "mosquitto")
        self.pbx_port, self.crm_port = free_port(), free_port()
        pw, pw_crm = tmp.path + "/passwd", tmp.path + "/passwd-crm"
        sp.run(["mosquitto_passwd", "-c", "-b", pw, "bridge", "x"], check=True)
        for user, secret in (("site1", "z"), ("west", "w"), ("east", "e")):
            sp.run(["mosquitto_passwd", "-b", pw, user, secret], check=True)
        sp.run(["mosquitto_passwd", "-c", "-b", pw_crm, "crm", "y"], check=True)
        if more_users:  # hashed in one go (-U), not one process each
            plain = tmp.path + "/passwd-more"
            with open(plain, "w") as f:
                f.write("".join("%s:%s\n" % kv for kv in more_users.items()))
            sp.run(["mosquitto_passwd", "-U", plain], check=True)
            with open(pw, "a") as out, open(plain) as f:
                out.write(f.read())
        conf = open(root + "/mosquitto.conf").read()
        conf = conf.replace("listener 1883\n", "listener %d 127.0.0.1\n" % self.pbx_port)
        conf = conf.replace("listener 1884 127.0.0.1\n", "listener %d 127.0.0.1\n" % self.crm_port)
        conf = conf.replace("/var/lib/mosquitto/", tmp.path + "/")
        conf = conf.replace("/etc/mosquitto/passwd-crm", pw_crm).replace("/etc/mosquitto/passwd\n", pw + "\n")
        conf = conf.replace("/etc/mosquitto/acl", os.path.abspath(root + "/acl"))
        assert str(self.pbx_port) in conf and str(self.crm_port) in conf, "the shipped listeners moved"
        self.dir = tmp.path
        path = tmp.file("m.conf", "user root\nlog_dest file %s/mosquitto.log\n" % tmp.path + conf, 0o644)
        self.proc = sp.Popen(["mosquitto", "-c", path], stdout=sp.DEVNULL, stderr=sp.PIPE)
        for port in (self.pbx_port, self.crm_port):
            wait_for(Mosquitto(tmp, port=port).ready, 10, "the shipped broker config")

    def log(self):
        with open(self.dir + "/mosquitto.log") as f:
            return f.read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)


class Certs:
    """A CA, a server certificate for pbx.test and 127.0.0.1 (also one
    that expired in 2020), and a second CA that signed nothing of ours."""

    def __init__(self, tmp):
        import subprocess
        d = self.dir = os.path.join(tmp.path, "certs")
        os.makedirs(d)

        def run(*args):
            subprocess.run(args, cwd=d, check=True, capture_output=True)
        for ca in ("ca", "other-ca"):
            run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=" + ca,
                "-keyout", ca + ".key", "-out", ca + ".crt")
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=pbx.test", "-keyout", "server.key",
            "-out", "server.csr")
        with open(os.path.join(d, "ext"), "w") as f:
            f.write("subjectAltName=DNS:pbx.test,IP:127.0.0.1\n")
        run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "ext", "-out", "server.crt")
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = c\n[c]\ndatabase = %s/index.txt\nnew_certs_dir = %s\nserial = %s/serial\n"
                    "default_md = sha256\npolicy = p\ncopy_extensions = copy\n[p]\ncommonName = supplied\n"
                    % (d, d, d))
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("01\n")
        run("openssl", "ca", "-batch", "-config", "ca.cnf", "-cert", "ca.crt", "-keyfile", "ca.key", "-in",
            "server.csr", "-out", "expired.crt", "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
            "-extfile", "ext")

    def path(self, name):
        return os.path.join(self.dir, name)


class CommandRig:
    """The command channel's rig: a broker, the stand-in PBX answering as
    capture 04 did (replay_args added), a bridge with the channel on (env
    overrides by variable name), a subscriber to subscribe (default every
    answer).  started: a line of the replay's log that says the bridge is
    ready for requests."""

    def __init__(self, replay_args=(), subscribe="pbx/commands/result/#", started="LOGIN ok", **env):
        from harness import Mosquitto, ReplayPbx, Subscriber, TempDir
        self.tmp = TempDir()
        self.broker = Mosquitto(self.tmp).start()
        self.pbx = ReplayPbx.scripted(self.tmp, *replay_args)
        self.sub = Subscriber(self.tmp, self.broker, subscribe)
        self.started = started
        over = dict(PBXBUS_AMI_HOST="127.0.0.1", PBXBUS_COMMANDS_ENABLED="yes")
        over.update(env)
        self.env = bridge_env(self.pbx.port, self.broker.port, self.tmp.path + "/outbox", **over)
        self.bridge = None
        self.start()

    def start(self):
        import time
        from harness import SLOW, Daemon, wait_for
        self.bridge = Daemon(self.tmp, "pbxbus-bridge", self.env, ["-c", "/dev/null"]).start()
        self.bridge.wait_log("command channel: listening", 20 * SLOW)
        wait_for(lambda: self.started in self.pbx.text(), 20 * SLOW, "the bridge ready (%s)" % self.started)
        time.sleep(0.5 * SLOW)

    def publish(self, kind, payload):
        import json
        import subprocess
        subprocess.run(["mosquitto_pub", "-p", str(self.broker.port), "-q", "1", "-t", "pbx/commands/" + kind,
                        "-m", payload if isinstance(payload, str) else json.dumps(payload)], check=True)

    def answers(self, rid):
        return self.sub.json_of("pbx/commands/result/" + rid)

    def close(self):
        rc = self.bridge.stop()
        self.sub.stop()
        self.pbx.stop()
        self.broker.stop()
        log = self.bridge.text()
        self.tmp.cleanup()
        assert rc == 0, (rc, log[-3000:])
        return log


class RabbitMQ:
    """Debian's RabbitMQ (3.10) with its MQTT plugin, on loopback on free
    ports, as the package's unprivileged user `rabbitmq`, in a temp dir of
    its own (its node name, epmd port, data and logs there): users
    bridge/x and crm/y.  restart() keeps its data (sessions, queues)."""

    READY = 60  # seconds: it takes ~12 s here, more under load

    def __init__(self, tmp):
        import pwd
        import shutil
        from harness import free_port
        self.dir = os.path.join(tmp.path, "rabbitmq")
        os.makedirs(self.dir)
        self.port, amqp, dist, self.epmd = free_port(), free_port(), free_port(), free_port()
        self.node = "pbxbus%d@localhost" % self.port
        with open(os.path.join(self.dir, "enabled_plugins"), "w") as f:
            f.write("[rabbitmq_mqtt].\n")
        with open(os.path.join(self.dir, "rabbitmq.conf"), "w") as f:
            f.write("listeners.tcp.default = 127.0.0.1:%d\nmqtt.listeners.tcp.default = 127.0.0.1:%d\n"
                    "mqtt.allow_anonymous = false\nloopback_users = none\n" % (amqp, self.port))
        os.chmod(tmp.path, 0o755)
        user = "rabbitmq"
        pwd.getpwnam(user)  # the package's user
        for root, dirs, files in os.walk(self.dir):
            for n in dirs + files:
                shutil.chown(os.path.join(root, n), user)
        shutil.chown(self.dir, user)
        self.env = {"HOME": self.dir, "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                    "RABBITMQ_NODENAME": self.node, "RABBITMQ_DIST_PORT": str(dist),
                    "ERL_EPMD_PORT": str(self.epmd), "RABBITMQ_MNESIA_BASE": self.dir + "/mnesia",
                    "RABBITMQ_LOG_BASE": self.dir + "/log", "RABBITMQ_CONFIG_FILE": self.dir + "/rabbitmq.conf",
                    "RABBITMQ_ENABLED_PLUGINS_FILE": self.dir + "/enabled_plugins",
                    "RABBITMQ_PID_FILE": self.dir + "/pid"}
        self.proc = None
        self.start()
        for user, secret in (("bridge", "x"), ("crm", "y")):
            self.ctl("add_user", user, secret)
            self.ctl("set_permissions", "-p", "/", user, ".*", ".*", ".*")

    def ctl(self, *args):
        import subprocess as sp
        r = sp.run(["runuser", "-u", "rabbitmq", "--", "env", "-i"] + ["%s=%s" % kv for kv in self.env.items()] +
                   ["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", self.node] + list(args),
                   capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout

    def start(self):
        import subprocess as sp
        from harness import wait_for
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = sp.Popen(["runuser", "-u", "rabbitmq", "--", "env", "-i"] +
                             ["%s=%s" % kv for kv in self.env.items()] + ["/usr/lib/rabbitmq/bin/rabbitmq-server"],
                             cwd=self.dir, stdout=self.log, stderr=sp.STDOUT)
        wait_for(lambda: self._listening(), self.READY, "RabbitMQ's MQTT listener")
        return self

    def _listening(self):
        import socket
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", self.port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def stop(self):
        """A clean stop (its data kept); the node's epmd goes with it."""
        import subprocess as sp
        import glob
        if self.proc is None:
            return
        try:
            self.ctl("stop")
        except AssertionError:
            self.proc.kill()
        self.proc.wait(30)
        self.proc = None
        self.log.close()
        epmd = (glob.glob("/usr/lib/erlang/erts-*/bin/epmd") or ["epmd"])[0]
        sp.run([epmd, "-kill"], env={"ERL_EPMD_PORT": str(self.epmd)}, capture_output=True, timeout=10)

    def restart(self):
        self.stop()
        return self.start()
