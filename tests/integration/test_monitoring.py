"""Every bridge's health in Prometheus (docs/monitoring.md): two bridges
(two sites) and a consumer on the real broker; the consumer's /metrics has
both sites' series, right, and passes `promtool check metrics`; a bridge
SIGKILLed reads up 0 at once (its last will), one that stops (SIGSTOP:
no will, the connection stays) within 2 status intervals; the shipped
alert rules pass `promtool test rules` and fire on the scraped series; a
real Prometheus (Debian's) scrapes the consumer; the dashboard's metric
names are all exported."""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Daemon, Postgres, ReplayPbx, TempDir, fixture, free_port,  # noqa: E402
                     wait_for, SLOW, _pg_user)
from rigs import ShippedBroker, bridge_env, consumer_env, migrate  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SITES = ("pbx/site1", "pbx/east")
SECRETS = {"site1": "z", "east": "e"}  # the shipped broker's users (rigs.ShippedBroker)


class Rig:
    """The shipped broker config and ACL, PostgreSQL, a consumer of
    pbx/+/calls/hangup (user crm) with its HTTP listener, and per site a
    stand-in PBX playing capture 10 once and a bridge (the site's own user,
    status_interval 5)."""

    def __init__(self, database_down=False):
        """database_down: PostgreSQL stops before the bridges start (no
        record can be committed, so none is acknowledged)."""
        self.tmp = TempDir()
        self.pg = Postgres(self.tmp).start()
        self.pg.create_db()
        self.broker = ShippedBroker(self.tmp)
        self.port = free_port()
        env = consumer_env(self.pg.conninfo(), self.broker.crm_port, PBXBUS_SUBSCRIBE="pbx/+/calls/hangup",
                           PBXBUS_HTTP_LISTEN="127.0.0.1:%d" % self.port, PBXBUS_MQTT_USERNAME="crm",
                           PBXBUS_MQTT_PASSWORD="y")
        migrate(env)
        self.consumer = Daemon(self.tmp, "pbxbus-consumer", env, ["-c", "/dev/null"]).start()
        self.consumer.wait_log("subscribed to the state", 20 * SLOW)
        if database_down:
            self.pg.stop()
        self.pbxs, self.bridges = {}, {}
        for site in SITES:
            name = site.split("/")[1]
            self.pbxs[site] = ReplayPbx.scripted(self.tmp, fixture("10-in-answered-caller-hangup"))
            self.bridges[site] = Daemon(self.tmp, "pbxbus-bridge", bridge_env(
                self.pbxs[site].port, self.broker.pbx_port, self.tmp.path + "/outbox-" + name,
                PBXBUS_AMI_HOST="127.0.0.1", PBXBUS_TOPIC_PREFIX=site, PBXBUS_PBX_ID=name, PBXBUS_STATUS_INTERVAL="5",
                PBXBUS_MQTT_USERNAME=name, PBXBUS_MQTT_PASSWORD=SECRETS[name]), ["-c", "/dev/null"]).start()

    def metrics_text(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port, timeout=10) as r:
            return r.read().decode()

    def metrics(self):
        """{(name, site): value} of the pbxbus_bridge_* series."""
        out = {}
        for m in re.finditer(r'^(pbxbus_bridge_\w+)\{site="([^"]*)"[^}]*\} (\S+)$', self.metrics_text(), re.M):
            out[(m.group(1), m.group(2))] = float(m.group(3))
        return out

    def close(self):
        for d in list(self.bridges.values()) + [self.consumer]:
            if d.proc.poll() is None:
                d.send(signal.SIGCONT)
                d.stop()
        for p in self.pbxs.values():
            p.stop()
        self.broker.stop()
        self.pg.stop()
        self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def promtool(*args, stdin=None):
    r = subprocess.run(["promtool", *args], input=stdin, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def test_every_sites_bridge_is_in_the_consumers_metrics_and_a_gone_one_reads_down():
    with Rig() as r:
        m = wait_for(lambda: (lambda m: m if all(m.get(("pbxbus_bridge_calls_completed_total", s)) == 1 and
                                                 m.get(("pbxbus_bridge_up", s)) == 1 for s in SITES) else None)(
            r.metrics()), 30 * SLOW, "both sites' bridges up with their call")
        for s in SITES:
            assert m[("pbxbus_bridge_ami_connected", s)] == 1 and m[("pbxbus_bridge_call_records_enabled", s)] == 1, m
            assert m[("pbxbus_bridge_status_interval_seconds", s)] == 5, m
            assert m[("pbxbus_bridge_outbox_pending_records", s)] == 0, m
            assert 0 <= m[("pbxbus_bridge_status_age_seconds", s)] < 10, m
        text = r.metrics_text()
        assert re.search(r'^pbxbus_bridge_info\{site="pbx/east",version="[^"]+",asterisk_version="22\.[^"]*"\} 1$',
                         text, re.M), text
        # nothing finer than a site: no call id, number or extension in a label
        assert "lab:" not in text and "1555" not in text and 'extension="' not in text
        # the consumer's own: rows by direction and disposition, the lag histogram, dead letters by reason
        text = wait_for(lambda: (lambda t: t if "pbxbus_consumer_record_lag_seconds_count 2\n" in t else None)(
            r.metrics_text()), 30 * SLOW, "both rows committed")
        assert 'pbxbus_consumer_calls_total{direction="inbound",disposition="answered"} 2\n' in text, text
        assert 'pbxbus_consumer_calls_total{direction="outbound",disposition="answered"} 0\n' in text, text
        assert 'pbxbus_consumer_record_lag_seconds_bucket{le="+Inf"} 2\n' in text, text
        assert 'pbxbus_consumer_dead_letters_by_reason_total{reason="invalid"} 0\n' in text, text
        rc, out = promtool("check", "metrics", stdin=text)
        assert rc == 0 and out.strip() == "", out
        # SIGKILL: the broker sends the last will; up 0 at once, the rest stays
        r.bridges["pbx/east"].send(signal.SIGKILL)
        wait_for(lambda: r.metrics().get(("pbxbus_bridge_up", "pbx/east")) == 0, 20 * SLOW, "east down")
        m = r.metrics()
        assert m[("pbxbus_bridge_up", "pbx/site1")] == 1, m
        assert m[("pbxbus_bridge_calls_completed_total", "pbx/east")] == 1, "the last values stay"
        # SIGSTOP: no will (the connection stays); stale after 2 intervals
        r.bridges["pbx/site1"].send(signal.SIGSTOP)
        stopped = time.monotonic()
        wait_for(lambda: r.metrics().get(("pbxbus_bridge_up", "pbx/site1")) == 0, 30 * SLOW, "site1 stale")
        took = time.monotonic() - stopped
        assert took <= 2 * 5 + 6 * SLOW, took  # 2 intervals, plus the last document's own age
        r.bridges["pbx/site1"].send(signal.SIGCONT)
        wait_for(lambda: r.metrics().get(("pbxbus_bridge_up", "pbx/site1")) == 1, 30 * SLOW, "site1 back")
        # the alert rules fire on what was scraped: east down, site1 not
        scraped = [(k, "%g" % v) for k, v in r.metrics().items() if k[0] == "pbxbus_bridge_up"]
        assert sorted(scraped) == [(("pbxbus_bridge_up", "pbx/east"), "0"), (("pbxbus_bridge_up", "pbx/site1"), "1")]
        rules = os.path.abspath(os.path.join(ROOT, "deploy/prometheus/pbxbus-alerts.yml"))
        summary, description = re.search(r'alert: PbxbusBridgeDown\n.*?summary: "(.*?)"\n.*?description: "(.*?)"\n',
                                         open(rules).read(), re.S).groups()
        series = "".join("      - series: '%s{site=\"%s\"}'\n        values: '%sx12'\n" % (k[0], k[1], v)
                         for k, v in scraped)
        test = os.path.join(r.tmp.path, "scraped.test.yml")
        with open(test, "w") as f:
            f.write("rule_files: [%s]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n%s"
                    "    alert_rule_test:\n      - eval_time: 10m\n        alertname: PbxbusBridgeDown\n"
                    "        exp_alerts:\n          - exp_labels: {severity: critical, site: pbx/east}\n"
                    "            exp_annotations: {summary: %s, description: %s}\n"
                    % (json.dumps(rules), series, json.dumps(summary.replace("{{ $labels.site }}", "pbx/east")),
                       json.dumps(description)))
        rc, out = promtool("test", "rules", test)
        assert rc == 0, out


def test_a_backlog_grows_in_the_metrics_while_nothing_is_acknowledged():
    # The database down: the consumer exports on, acknowledges nothing; each
    # bridge's outbox holds its call, and its oldest record ages.
    with Rig(database_down=True) as r:
        def waiting():
            m = r.metrics()
            return m if all(m.get(("pbxbus_bridge_outbox_pending_records", s)) == 1 and
                            m.get(("pbxbus_bridge_outbox_oldest_pending_age_seconds", s), 0) >= 5 for s in SITES) \
                else None
        m = wait_for(waiting, 40 * SLOW, "each site's record waiting 5 s")
        assert all(m[("pbxbus_bridge_up", s)] == 1 for s in SITES), m
        assert "pbxbus_consumer_db_connected 0" in r.metrics_text()
        r.pg.start()
        wait_for(lambda: all(r.metrics().get(("pbxbus_bridge_outbox_pending_records", s)) == 0 for s in SITES),
                 60 * SLOW, "the backlog acknowledged")
        m = r.metrics()
        assert all(m[("pbxbus_bridge_outbox_oldest_pending_age_seconds", s)] == 0 for s in SITES), m


def test_the_shipped_alert_rules_pass_their_tests_and_the_dashboard_names_exported_metrics():
    rc, out = promtool("check", "rules", os.path.join(ROOT, "deploy/prometheus/pbxbus-alerts.yml"))
    assert rc == 0, out
    here = os.path.join(ROOT, "deploy/prometheus")
    r = subprocess.run(["promtool", "test", "rules", "pbxbus-alerts.test.yml"], cwd=here, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "SUCCESS" in r.stdout + r.stderr, r.stdout + r.stderr
    with Rig() as rig:
        wait_for(lambda: ("pbxbus_bridge_up", "pbx/site1") in rig.metrics(), 30 * SLOW, "a site's series")
        exported = set(re.findall(r"^# TYPE (\w+) ", rig.metrics_text(), re.M))
    exported |= {n + s for n in exported for s in ("_bucket", "_sum", "_count")}
    dash = json.load(open(os.path.join(ROOT, "deploy/grafana/pbxbus.json")))
    used = set()
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            used |= set(re.findall(r"\b(pbxbus_\w+)", t["expr"]))
    assert used and used <= exported, sorted(used - exported)
    rules = open(os.path.join(here, "pbxbus-alerts.yml")).read()
    in_rules = set(re.findall(r"\b(pbxbus_\w+)", "\n".join(re.findall(r"^\s*expr: (.*)$", rules, re.M))))
    assert len(in_rules) >= 10, in_rules
    assert in_rules <= exported, sorted(in_rules - exported)


def test_a_real_prometheus_scrapes_the_consumer_and_loads_the_rules():
    with Rig() as r:
        wait_for(lambda: r.metrics().get(("pbxbus_bridge_up", "pbx/site1")) == 1, 30 * SLOW, "site1 up")
        port = free_port()
        data = os.path.join(r.tmp.path, "prometheus")
        os.makedirs(data)
        conf = os.path.join(r.tmp.path, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [%s]\n"
                    "scrape_configs:\n  - job_name: pbxbus-consumer\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n"
                    % (json.dumps(os.path.abspath(os.path.join(ROOT, "deploy/prometheus/pbxbus-alerts.yml"))), r.port))
        user = None
        if os.getuid() == 0:
            user = _pg_user()
            subprocess.run(["chown", "-R", user, data, conf], check=True)
        log = open(os.path.join(r.tmp.path, "prometheus.log"), "wb")
        prom = subprocess.Popen(["prometheus", "--config.file=" + conf, "--storage.tsdb.path=" + data,
                                 "--web.listen-address=127.0.0.1:%d" % port], stdout=log, stderr=log, user=user)
        try:
            def query(q):
                url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (port, urllib.parse.quote(q))
                try:
                    with urllib.request.urlopen(url, timeout=5) as resp:
                        return json.loads(resp.read())["data"]["result"]
                except OSError:
                    return None
            got = wait_for(lambda: query('pbxbus_bridge_up{site="pbx/site1"}'), 60 * SLOW, "a scraped series")
            assert got[0]["value"][1] == "1", got
            assert query('up{job="pbxbus-consumer"}')[0]["value"][1] == "1"
            with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/rules" % port, timeout=5) as resp:
                groups = json.loads(resp.read())["data"]["groups"]
            names = {rule["name"] for g in groups for rule in g["rules"]}
            assert "PbxbusBridgeDown" in names and all(
                rule["health"] == "ok" for g in groups for rule in g["rules"] if rule.get("lastEvaluation")), groups
        finally:
            prom.terminate()
            prom.wait(10)
