"""The Alertmanager cluster, checked by real deliveries to real sinks.

Alerts are posted to every member, as Prometheus does; the sinks on the
receivers host record each e-mail, Slack message, PagerDuty event and webhook
call. The routing matrix is the shipped policy's (plus a webhook for the
infrastructure team's warnings, set in molecule.yml).
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from pathlib import Path

import pytest
import yaml
from conftest import (
    assert_no_secret_anywhere, assert_units_within_exposure_limits, http_get, http_post_json, inventory_host,
    play_recap, run_playbook, scenario_dir, wait_until,
)

MEMBERS = ["am1-debian12-package", "am2-debian12-archive", "am3-debian13-package"]
# How each member's API is reached from its own host: the third one serves
# TLS from the scenario's CA and demands basic auth.
AM_PASSWORD = "molecule-am-password"
ACCESS = {
    MEMBERS[0]: {"url": "http://127.0.0.1:9093", "credentials": {}},
    MEMBERS[1]: {"url": "http://127.0.0.1:9093", "credentials": {}},
    MEMBERS[2]: {
        "url": "https://localhost:9093",
        "credentials": {"user": "prometheus", "password": AM_PASSWORD, "cafile": "/usr/local/share/molecule-ca.crt"},
    },
}
TEAMS = ["database", "security", "data-engineering", "infrastructure"]
SEVERITIES = ["critical", "warning"]
# What the policy names for each tier (the infrastructure team adds a webhook to warnings).
CHANNELS = {"critical": {"email", "slack", "pagerduty"}, "warning": {"email", "slack"}}
EMAIL = {team: f"{team}-team@example.org" for team in ("database", "security", "infrastructure")} | {
    "data-engineering": "data-engineering@example.org"
}
SECRETS = ["molecule-slack-secret", AM_PASSWORD] + [f"molecule-pd-{team}" for team in TEAMS]
# Long enough for the warning tier's 30 s group wait plus the cluster's
# peer-position delay (15 s per member) before a member sends.
DELIVERY_TIMEOUT = 120
# After the first delivery, how long duplicates from other members would take to show.
DUPLICATE_WINDOW = 35


@pytest.fixture(scope="module")
def receivers():
    return inventory_host("receivers-debian12")


@pytest.fixture(scope="module")
def am1():
    return inventory_host(MEMBERS[0])


def records(receivers):
    content = receivers.file("/var/lib/receivers/records.jsonl")
    return [json.loads(line) for line in content.content_string.splitlines()] if content.exists else []


def delivered(receivers, alertname):
    """{channel: [record, ...]} of every delivery that concerns alertname."""
    found = {}
    for entry in records(receivers):
        if alertname in json.dumps(entry):
            found.setdefault(entry["channel"], []).append(entry)
    return found


def alert(alertname, team, severity, instance="molecule:1"):
    """An alert as Prometheus posts it; team None leaves the label out."""
    return {
        "labels": {"alertname": alertname, "severity": severity, "instance": instance} | ({"team": team} if team else {}),
        "annotations": {
            "summary": f"{alertname} summary",
            "description": f"{alertname} on {instance} for team {team}",
            "runbook_url": f"https://example.org/runbooks/{alertname.lower()}",
        },
    }


def post_to(members, alerts):
    for name in members:
        access = ACCESS[name]
        response = http_post_json(inventory_host(name), f"{access['url']}/api/v2/alerts", alerts, **access["credentials"])
        assert response["status"] == 200, (name, response)


def api(name, path):
    access = ACCESS[name]
    response = http_get(inventory_host(name), f"{access['url']}/api/v2/{path}", **access["credentials"])
    assert response["status"] == 200, (name, response)
    return json.loads(response["body"])


def expected_channels(team, severity):
    return CHANNELS[severity] | ({"webhook"} if (team, severity) == ("infrastructure", "warning") else set())


def wait_for_deliveries(receivers, expected):
    """Wait until every alertname has its expected channels, then for any duplicate to arrive."""
    def complete():
        return all(set(delivered(receivers, name)) >= channels for name, channels in expected.items())

    assert wait_until(complete, timeout=DELIVERY_TIMEOUT, interval=3), {
        name: sorted(delivered(receivers, name)) for name in expected
    }
    time.sleep(DUPLICATE_WINDOW)


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def test_cluster_has_three_members():
    for name in MEMBERS:
        status = api(name, "status")
        assert status["cluster"]["status"] == "ready", name
        assert len(status["cluster"]["peers"]) == 3, name


def test_the_members_gossip_over_mutual_tls():
    for name in MEMBERS:
        host = inventory_host(name)
        command = host.check_output("systemctl show --property=ExecStart alertmanager")
        assert "--cluster.tls-config=/etc/alertmanager/cluster-tls/cluster-tls.yml" in command, (name, command)
        key = host.file("/etc/alertmanager/cluster-tls/tls.key")
        assert (key.user, key.group, key.mode) == ("root", "alertmanager", 0o640), name


# A rogue member on am3: without TLS, or with a certificate from another CA
# (the web's). It trusts the cluster's CA, so only the members' check of its
# client certificate keeps it out.
ROGUE_TLS = """tls_server_config:
  cert_file: /etc/alertmanager/tls.crt
  key_file: /etc/alertmanager/tls.key
tls_client_config:
  cert_file: /etc/alertmanager/tls.crt
  key_file: /etc/alertmanager/tls.key
  ca_file: /etc/alertmanager/cluster-tls/ca.crt
  server_name: alertmanager-gossip
"""


@pytest.mark.parametrize("credentials", ["none", "another CA's certificate"])
def test_a_member_without_the_clusters_certificate_cannot_join(credentials):
    host = inventory_host(MEMBERS[2])
    flags = ""
    if credentials != "none":
        encoded = base64.b64encode(ROGUE_TLS.encode()).decode()
        host.check_output(f"echo {encoded} | base64 -d > /tmp/rogue-tls.yml")
        flags = "--cluster.tls-config=/tmp/rogue-tls.yml"
    host.check_output("rm -rf /tmp/rogue && mkdir /tmp/rogue")
    pid = host.check_output(
        "timeout 40 /usr/bin/prometheus-alertmanager --config.file=/etc/alertmanager/alertmanager.yml "
        "--storage.path=/tmp/rogue --web.listen-address=127.0.0.1:19093 --cluster.listen-address=0.0.0.0:19094 "
        f"--cluster.peer={MEMBERS[0]}:9094 --cluster.peer={MEMBERS[1]}:9094 {flags} >/tmp/rogue/log 2>&1 & echo $!").strip()
    try:
        # Long enough for a join and a few push-pull exchanges (5 s).
        time.sleep(20)
        rogue = http_get(host, "http://127.0.0.1:19093/api/v2/status")
        assert rogue["status"] == 200, host.run("cat /tmp/rogue/log").stdout
        assert len(json.loads(rogue["body"])["cluster"]["peers"]) == 1, rogue["body"]
        for name in MEMBERS:
            assert len(api(name, "status")["cluster"]["peers"]) == 3, name
    finally:
        # timeout passes the signal on; the next case needs the port free.
        # (No pkill in the test images.)
        host.run(f"kill {pid}; for i in $(seq 50); do [ -d /proc/{pid} ] || break; sleep 0.2; done")
        host.run("rm -rf /tmp/rogue /tmp/rogue-tls.yml")
        assert not host.file(f"/proc/{pid}").exists, "the rogue member did not stop"


def test_members_exchange_full_state_inside_the_peer_timeout():
    # Without it the duplicate checks below fail now and then: gossip in a
    # burst can leave a peer without another member's notification log.
    for name in MEMBERS:
        command = inventory_host(name).check_output("systemctl show --property=ExecStart alertmanager")
        assert "--cluster.peer-timeout=15s" in command, (name, command)
        assert "--cluster.pushpull-interval=5s" in command, (name, command)


def test_the_secured_member_refuses_anonymous_and_plain_requests():
    secured = inventory_host(MEMBERS[2])
    cafile = ACCESS[MEMBERS[2]]["credentials"]["cafile"]
    assert http_get(secured, "https://localhost:9093/api/v2/status", cafile=cafile)["status"] == 401
    assert http_get(secured, "https://localhost:9093/api/v2/status", "prometheus", "wrong", cafile)["status"] == 401
    assert http_get(secured, "http://127.0.0.1:9093/api/v2/status")["status"] == 400


@pytest.mark.parametrize("team", TEAMS)
@pytest.mark.parametrize("severity", SEVERITIES)
def test_amtool_routes_each_team_and_severity_to_its_receiver(am1, team, severity):
    result = am1.run(
        "amtool config routes test --config.file=/etc/alertmanager/alertmanager.yml team=%s severity=%s alertname=X",
        team, severity,
    )
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == f"{team}-{severity}"


@pytest.mark.parametrize("team", ["", "marketing"])
@pytest.mark.parametrize("severity", SEVERITIES)
def test_amtool_routes_an_alert_of_no_known_team_by_its_severity(am1, team, severity):
    labels = f"team={team} " if team else ""
    result = am1.run(f"amtool config routes test --config.file=/etc/alertmanager/alertmanager.yml {labels}severity={severity} alertname=X")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == f"default-{severity}"


def test_amtool_routes_an_alert_of_no_known_severity_to_the_default_receiver(am1):
    result = am1.run("amtool config routes test --config.file=/etc/alertmanager/alertmanager.yml team=database severity=info")
    assert result.stdout.strip() == "default"


def test_a_critical_alert_of_no_team_or_an_unknown_one_still_pages(receivers):
    names = {(team, severity): unique(f"Orphan{team or 'none'}{severity}") for team in (None, "marketing") for severity in SEVERITIES}
    post_to(MEMBERS, [alert(name, team, severity) for (team, severity), name in names.items()])
    wait_for_deliveries(receivers, {name: CHANNELS[severity] for (_team, severity), name in names.items()})
    for (team, severity), name in names.items():
        got = delivered(receivers, name)
        assert set(got) == CHANNELS[severity], (team, severity, sorted(got))
        assert all(len(entries) == 1 for entries in got.values()), (team, severity)
        assert got["email"][0]["to"] == ["infrastructure-team@example.org"]
        assert got["slack"][0]["body"]["channel"] == "#alerts"
        if severity == "critical":
            assert got["pagerduty"][0]["body"]["routing_key"] == "molecule-pd-infrastructure"


def test_every_combination_is_delivered_once_through_exactly_its_channels(receivers):
    names = {(team, severity): unique(f"Matrix{team.replace('-', '')}{severity}") for team in TEAMS for severity in SEVERITIES}
    post_to(MEMBERS, [alert(name, team, severity) for (team, severity), name in names.items()])
    wait_for_deliveries(receivers, {name: expected_channels(*key) for key, name in names.items()})

    for (team, severity), name in names.items():
        got = delivered(receivers, name)
        assert set(got) == expected_channels(team, severity), (team, severity, sorted(got))
        assert all(len(entries) == 1 for entries in got.values()), (team, severity, {
            channel: [(entry["sender"], entry["received_at"]) for entry in entries] for channel, entries in got.items()
        })
        mail = got["email"][0]
        assert mail["to"] == [EMAIL[team]]
        assert got["slack"][0]["body"]["channel"] == f"#alerts-{team}"
        if severity == "critical":
            event = got["pagerduty"][0]["body"]
            assert event["routing_key"] == f"molecule-pd-{team}"
            assert event["payload"]["severity"] == "critical"


def test_notifications_show_severity_team_summary_runbook_and_a_silence_link(receivers):
    name = unique("Content")
    post_to(MEMBERS, [alert(name, "security", "critical")])
    wait_for_deliveries(receivers, {name: CHANNELS["critical"]})
    got = delivered(receivers, name)
    mail, slack = got["email"][0], got["slack"][0]["body"]["attachments"][0]
    assert mail["subject"].startswith("[FIRING:1] CRITICAL ") and "(team security)" in mail["subject"]
    for text in (mail["text"], mail["html"], slack["text"]):
        assert f"{name} summary" in text
        assert f"https://example.org/runbooks/{name.lower()}" in text
        assert "/#/silences/new?filter=%7B" in text
    assert slack["color"] == "danger"


def test_a_critical_alert_inhibits_its_warning_twin(receivers):
    name = unique("Twin")
    post_to(MEMBERS, [alert(name, "database", "critical"), alert(name, "database", "warning")])
    wait_for_deliveries(receivers, {name: CHANNELS["critical"]})
    subjects = [mail["subject"] for mail in delivered(receivers, name)["email"]]
    assert len(subjects) == 1 and " CRITICAL " in subjects[0], subjects


def test_with_one_member_stopped_new_alerts_are_still_delivered_once(receivers):
    stopped = inventory_host(MEMBERS[2])
    stopped.run("systemctl stop alertmanager")
    try:
        names = {severity: unique(f"Degraded{severity}") for severity in SEVERITIES}
        post_to(MEMBERS[:2], [alert(name, "data-engineering", severity) for severity, name in names.items()])
        wait_for_deliveries(receivers, {name: CHANNELS[severity] for severity, name in names.items()})
        for severity, name in names.items():
            got = delivered(receivers, name)
            assert set(got) == CHANNELS[severity]
            assert all(len(entries) == 1 for entries in got.values()), {c: len(e) for c, e in got.items()}
    finally:
        stopped.run("systemctl start alertmanager")


def test_an_alert_that_fires_in_prometheus_reaches_the_webhook(receivers):
    def canary():
        return delivered(receivers, "MoleculeCanary").get("webhook", [])

    calls = wait_until(canary, timeout=DELIVERY_TIMEOUT, interval=3)
    assert calls, sorted(delivered(receivers, "MoleculeCanary"))
    body = calls[0]["body"]
    assert body["receiver"] == "infrastructure-warning"
    assert body["alerts"][0]["labels"]["environment"] == "molecule"
    assert calls[0]["path"] == "/webhook/infrastructure"
    # Prometheus sent it to every member, the secured one with its credentials.
    # (Prometheus resends every minute, so a member restarted by an earlier test has it again soon.)
    for name in MEMBERS:
        assert wait_until(lambda name=name: any(a["labels"]["alertname"] == "MoleculeCanary" for a in api(name, "alerts")),
                          timeout=90, interval=3), name


def test_the_watchdog_reaches_the_dead_mans_switch_every_minute_and_no_person(receivers):
    """The Watchdog (shipped meta.yml) fires from the start; the switch sees it again and again."""
    def calls():
        return [entry for entry in delivered(receivers, '"Watchdog"').get("webhook", [])
                if entry["path"] == "/webhook/watchdog-molecule-secret"]

    assert wait_until(lambda: len(calls()) >= 2, timeout=180, interval=5), delivered(receivers, '"Watchdog"')
    moments = sorted(entry["received_at"] for entry in calls())
    # Repeated every minute (after the first, one per group interval), not once.
    assert moments[-1] - moments[0] >= 50, moments
    assert all(entry["body"]["receiver"] == "watchdog" for entry in calls())
    assert set(delivered(receivers, '"Watchdog"')) == {"webhook"}, "the Watchdog reached a person"


def test_prometheus_knows_every_member_with_its_scheme(am1):
    response = http_get(am1, "http://127.0.0.1:9090/api/v1/alertmanagers")
    active = sorted(a["url"] for a in json.loads(response["body"])["data"]["activeAlertmanagers"])
    assert active == [
        "http://am1-debian12-package:9093/api/v2/alerts",
        "http://am2-debian12-archive:9093/api/v2/alerts",
        "https://am3-debian13-package:9093/api/v2/alerts",
    ]


def test_secrets_sit_in_group_readable_files_and_stay_out_of_the_config(host):
    if host.backend.get_hostname() not in MEMBERS:
        pytest.skip("not an Alertmanager host")
    for name in ["slack-api-url"] + [f"pagerduty-{team}" for team in TEAMS]:
        secret = host.file(f"/etc/alertmanager/secrets/{name}")
        assert (secret.user, secret.group, secret.mode) == ("root", "alertmanager", 0o640), name
    config = host.file("/etc/alertmanager/alertmanager.yml").content_string
    assert not any(secret in config for secret in SECRETS)
    assert "routing_key_file: /etc/alertmanager/secrets/pagerduty-database" in config


def test_secrets_never_show_in_playbook_output():
    rc, output = run_playbook("--diff", "-v")
    assert rc == 0, output
    assert not any(secret in output for secret in SECRETS)


def test_a_bad_template_fails_the_play_and_keeps_the_running_config(am1, tmp_path):
    broken = tmp_path / "team.tmpl"
    broken.write_text('{{ define "team.title" }}{{ .Status }\n')
    before = am1.file("/etc/alertmanager/alertmanager.yml").content_string
    rc, output = run_playbook("--limit", MEMBERS[0], "-e", json.dumps({"alertmanager_template_files_extra": [str(broken)]}))
    assert rc != 0, output
    assert "failed to validate" in output
    assert "team.tmpl" in output
    assert not am1.file("/etc/alertmanager/templates/team.tmpl").exists
    assert am1.file("/etc/alertmanager/alertmanager.yml").content_string == before
    assert am1.service("alertmanager").is_running


@pytest.mark.parametrize(
    ("policy_change", "message"),
    [
        ({"severities": [{"name": "critical", "channels": ["sms"]}]}, "unknown channel 'sms'"),
        ({"default": {"channels": ["email"]}}, "the default receiver is notified by email but has no email_to"),
    ],
)
def test_a_bad_policy_stops_the_play_before_any_change(policy_change, message):
    defaults = scenario_dir().parents[1] / "roles" / "alertmanager" / "defaults" / "main.yml"
    shipped = yaml.safe_load(defaults.read_text())["alertmanager_routing_policy"]
    extra = {"alertmanager_routing_policy": {**shipped, **policy_change}}
    rc, output = run_playbook("--limit", MEMBERS[0], "-e", json.dumps(extra))
    assert rc != 0, output
    # YAML output may fold a long message; compare with whitespace collapsed.
    assert message in " ".join(output.split())
    assert play_recap(output)[MEMBERS[0]]["changed"] == 0, output


def test_check_mode_on_the_converged_cluster_changes_nothing():
    rc, output = run_playbook("--check", "--diff")
    assert rc == 0, output
    for name, counts in play_recap(output).items():
        assert counts["failed"] == 0 and counts["changed"] == 0, (name, output)


@pytest.mark.last
def test_no_secret_in_any_hosts_logs_or_the_verbose_output():
    """Every secret of the scenario: not in a -vvv --diff run's output, any host's journal or /var/log.

    The private keys (the gossip's and the secured member's web key) come
    from lookups the inventory does not resolve: a line from the middle of
    each stands for the key, as any print of the key would hold it whole.
    """
    keys = sorted((Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "tls").glob("**/*-debian1[23]*.key"))
    assert len(keys) == len(MEMBERS) + 1, keys
    key_lines = [key.read_text().splitlines()[5] for key in keys]
    assert assert_no_secret_anywhere(extra_secrets=SECRETS + key_lines) >= len(SECRETS) + len(keys)


def test_every_unit_of_the_collection_is_within_its_exposure_limit():
    # systemd-analyze security on the running hosts, against the limits the offline unit test holds.
    assert assert_units_within_exposure_limits() >= 1
