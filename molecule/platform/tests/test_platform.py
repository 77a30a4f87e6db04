"""The whole platform as site.yml provisions it, checked end to end through its own APIs.

The tests run in file order: the output of every play so far (prepare,
converge, idempotence and the --check --diff run below) is searched for the
vault's secrets before any test that touches the platform's data.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret
from conftest import (
    assert_no_secret_anywhere, assert_units_within_exposure_limits, http_get, inventory_groups, inventory_host,
    mirror_version, play_recap, run_playbook, start_unit, wait_until,
)

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
SCENARIO = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
PLAYS_LOG = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "plays.log"
API = "http://localhost:9090/api/v1"
MONITOR, DB, APP = "da-stack-monitor", "da-stack-db", "da-stack-app"
CACHE = "da-stack-cache"
HOSTS = [MONITOR, DB, CACHE, APP]
RECORDS = "/var/lib/receivers/records.jsonl"
RULE_FILES = sorted((PROJECT / "roles/prometheus/files/rules").glob("*.yml"))


def vault() -> dict:
    """The scenario's generated secrets, decrypted in-process (ansible-vault would log them)."""
    password = Path(os.environ["ANSIBLE_VAULT_PASSWORD_FILE"]).read_bytes().strip()
    text = (SCENARIO / "group_vars/all/vault.yml").read_bytes()
    return yaml.safe_load(VaultLib([("default", VaultSecret(password))]).decrypt(text))


@pytest.fixture(scope="module")
def monitor():
    return inventory_host(MONITOR)


@pytest.fixture(scope="module")
def db():
    return inventory_host(DB)


@pytest.fixture(scope="module")
def app():
    return inventory_host(APP)


def api(monitor, path):
    # Prometheus demands basic auth, as the shared inventory sets it up.
    response = http_get(monitor, f"{API}/{path}", user="prometheus", password=vault()["vault_prometheus_scrape_password"])
    assert response["status"] == 200, response
    return json.loads(response["body"])["data"]


def query(monitor, promql):
    return api(monitor, "query?query=" + urllib.parse.quote(promql))["result"]


def records(app) -> list:
    content = app.file(RECORDS).content_string if app.file(RECORDS).exists else ""
    return [json.loads(line) for line in content.splitlines() if line.strip()]


def site(*args):
    return run_playbook(*args, playbook=str(SCENARIO / "converge.yml"))


def test_check_diff_on_the_converged_fleet_changes_nothing():
    rc, output = site("--check", "--diff")
    assert rc == 0, output
    recap = play_recap(output)
    assert set(HOSTS) <= set(recap), recap
    for name, counts in recap.items():
        assert counts["failed"] == 0 and counts["changed"] == 0, (name, output)


def test_no_secret_of_the_vault_appears_in_any_play_output():
    output = PLAYS_LOG.read_text(encoding="utf-8", errors="replace")
    # prepare, converge, the idempotence run and the --check --diff run above
    assert output.count("PLAY RECAP") >= 4, "the plays' log is missing runs"
    secrets = vault()
    example = yaml.safe_load((Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "inventories/vault.yml.example").read_text())
    assert sorted(secrets) == sorted(example)
    leaked = [name for name, value in secrets.items() if str(value) in output]
    # A webhook URL's secret part is its last path segment.
    leaked += [f"{name} (token)" for name, value in secrets.items()
               if name in ("vault_slack_webhook_url", "vault_watchdog_webhook_url") and value.rsplit("/", 1)[-1] in output]
    assert not leaked, f"in the plays' output: {leaked}"
    assert Path(os.environ["ANSIBLE_VAULT_PASSWORD_FILE"]).read_text().strip() not in output


def test_prometheus_and_alertmanager_refuse_anonymous_requests_and_blackbox_is_on_loopback(monitor):
    for url in ("http://localhost:9090/api/v1/targets", "http://localhost:9093/api/v2/status"):
        assert http_get(monitor, url)["status"] == 401, url
    assert http_get(monitor, "http://localhost:9093/api/v2/status", user="grafana",
                    password=vault()["vault_grafana_datasource_password"])["status"] == 200
    # blackbox_exporter answers its own host's Prometheus on loopback, and no one on the network.
    connect = "python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], 9115), 3)' {}"
    assert monitor.run(connect.format("127.0.0.1")).rc == 0
    assert monitor.run(connect.format(MONITOR)).rc != 0


def test_the_exporters_refuse_anonymous_scrapes(monitor):
    # The cache host's too: the sandbox runs Debian 13's redis_exporter (1.69),
    # which checks basic auth itself (from 1.67 on).
    for host, port in ((DB, 9187), (DB, 9100), (CACHE, 9121), (CACHE, 9100), (APP, 9100)):
        assert http_get(monitor, f"http://{host}:{port}/metrics")["status"] == 401, host


def test_every_target_is_up_and_every_host_is_scraped(monitor):
    def all_up():
        targets = api(monitor, "targets?state=active")["activeTargets"]
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = wait_until(all_up, timeout=120, interval=3)
    assert targets, [(t["scrapeUrl"], t["lastError"]) for t in api(monitor, "targets")["activeTargets"] if t["health"] != "up"]
    by_job = {}
    for target in targets:
        by_job.setdefault(target["labels"]["job"], []).append(target["labels"].get("inventory_hostname", target["labels"]["instance"]))
    assert sorted(by_job["node"]) == sorted(HOSTS)
    assert by_job["postgres"] == [DB]
    assert by_job["redis"] == ["da-stack-cache"]
    assert by_job["backend"] == [APP]
    assert {"prometheus", "alertmanager", "blackbox"} <= set(by_job)


def test_the_stack_runs_the_newest_builds_within_reach_with_the_flags_they_know(monitor, db):
    # Debian 13's builds on every host, the Debian 12 ones included (they need
    # glibc 2.34): what each reports of itself, as Prometheus scrapes it.
    # Each program reports itself as <name>_build_info, its name as the mirror's.
    programs = ["node_exporter", "postgres_exporter", "redis_exporter", "prometheus", "alertmanager"]

    def reported():
        found = {}
        for series in query(monitor, '{__name__=~"(%s)_build_info"}' % "|".join(programs)):
            found.setdefault(series["metric"]["__name__"].removesuffix("_build_info"), set()).add(series["metric"]["version"])
        return found if set(found) == set(programs) else None

    found = wait_until(reported, timeout=60, interval=3)
    assert found, query(monitor, '{__name__=~".+_build_info"}')
    for program in programs:
        newest = mirror_version(monitor, program)  # the monitoring host runs Debian 13
        # Debian's builds report their repack suffix or revision too (2.53.3+ds1, 1.69.0-1).
        assert {re.match(r"v?([0-9.]*[0-9])", version).group(1) for version in found[program]} == {newest}, (program, found[program])
    # postgres_exporter 0.17 reads its config file (0.11 would refuse the
    # flag), and so has nothing to warn about at start.
    assert "--config.file=/etc/postgres_exporter/postgres_exporter.yml" in db.check_output("systemctl cat postgres_exporter")
    assert "Error loading config" not in db.check_output("journalctl -u postgres_exporter --no-pager -o cat")


def test_the_blackbox_probes_of_the_health_endpoints_succeed(monitor):
    assert wait_until(lambda: len(query(monitor, 'probe_success{job="blackbox-health"} == 1')) == 3, timeout=60, interval=3), \
        query(monitor, 'probe_success{job="blackbox-health"}')


def test_every_shipped_rule_loads_and_evaluates_without_error(monitor):
    shipped = sum(len(group["rules"]) for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"])

    def evaluated():
        rules = [rule for group in api(monitor, "rules")["groups"] for rule in group["rules"]]
        return rules if rules and all(r["health"] == "ok" for r in rules) else None

    rules = wait_until(evaluated, timeout=60, interval=3)
    assert rules, [(r["name"], r.get("lastError")) for g in api(monitor, "rules")["groups"] for r in g["rules"] if r["health"] != "ok"]
    assert len(rules) == shipped


def backup_metric(monitor, name):
    return {s["metric"]["database"]: float(s["value"][1]) for s in query(monitor, f'{name}{{database="dataaggregator"}}')}


def test_a_backup_runs_and_its_metrics_are_scraped(monitor, db):
    started = time.time()
    succeeded, journal = start_unit(db, "dataaggregator-backup.service")
    assert succeeded, journal
    assert wait_until(lambda: backup_metric(monitor, "dataaggregator_backup_last_run_success") == {"dataaggregator": 1.0},
                      timeout=60, interval=3)
    assert backup_metric(monitor, "dataaggregator_backup_last_success_timestamp_seconds")["dataaggregator"] >= started - 5


def test_a_failed_backup_alert_reaches_the_database_team_on_slack_and_pagerduty(monitor, db, app):
    """BackupFailed (critical, team database) fires on the next evaluation; the seed's policy sends it to #alerts-database and PagerDuty."""
    before = len(records(app))
    rename = "psql -v ON_ERROR_STOP=1 -c 'ALTER DATABASE {} RENAME TO {}'"
    assert db.run("sudo -u postgres " + rename.format("dataaggregator", "dataaggregator_away")).rc == 0
    try:
        succeeded, journal = start_unit(db, "dataaggregator-backup.service")
        assert not succeeded, journal
    finally:
        assert db.run("sudo -u postgres " + rename.format("dataaggregator_away", "dataaggregator")).rc == 0

    def delivered():
        new = records(app)[before:]
        # Alertmanager's messages name their channel; the backup program's own failure message does not.
        slack = [r for r in new if r["channel"] == "slack" and isinstance(r["body"], dict) and "channel" in r["body"]
                 and "BackupFailed" in json.dumps(r["body"])]
        pagerduty = [r for r in new if r["channel"] == "pagerduty" and "BackupFailed" in json.dumps(r["body"])]
        return (slack, pagerduty) if slack and pagerduty else None

    found = wait_until(delivered, timeout=120, interval=3)
    assert found, records(app)[before:]
    slack, pagerduty = found
    assert slack[0]["body"]["channel"] == "#alerts-database"
    assert pagerduty[0]["body"]["routing_key"] == vault()["vault_pagerduty_service_key"]
    assert pagerduty[0]["body"]["payload"]["severity"] == "critical"
    # The URL the message came to is the vault's webhook.
    assert vault()["vault_slack_webhook_url"].endswith(slack[0]["path"])
    # The backup program itself also told Slack, at once.
    assert [r for r in records(app)[before:] if r["channel"] == "slack" and set(r["body"]) == {"text"}]

    # A good backup again: the alert resolves.
    succeeded, journal = start_unit(db, "dataaggregator-backup.service")
    assert succeeded, journal


def row_count(db, database="dataaggregator"):
    result = db.run(f"sudo -u postgres psql -tA -d {database} -c 'SELECT count(*) FROM records'")
    assert result.rc == 0, result.stderr
    return int(result.stdout)


def test_the_restore_playbook_restores_the_last_backup(db):
    before = row_count(db)
    assert before == 5000
    assert db.run("sudo -u postgres psql -d dataaggregator -c 'DELETE FROM records WHERE id % 2 = 0'").rc == 0
    assert row_count(db) == before // 2

    rc, output = run_playbook("-e", json.dumps({"restore_database": "dataaggregator", "restore_force": True}),
                              playbook=str(PROJECT / "playbooks/restore.yml"))
    assert rc == 0, output
    assert play_recap(output)[DB]["failed"] == 0
    assert row_count(db) == before


def test_the_logs_reach_loki(monitor):
    groups = inventory_groups()
    if not groups.get("loki"):
        pytest.skip("Loki and Promtail join the sandbox's layout only with their real release artifacts, which no "
                    "reachable source carries here (put them in the directory named by DA_REAL_ARTIFACTS)")
    loki = inventory_host(groups["loki"][0])
    # Loki listens on its host's private address, which the host's name resolves to on the test network.
    address = f"{groups['loki'][0]}:3100"

    def shipped_hosts():
        response = http_get(loki, f"http://{address}/loki/api/v1/label/host/values")
        return set(json.loads(response["body"])["data"]) if response["status"] == 200 else set()

    assert wait_until(lambda: set(groups["promtail"]) <= shipped_hosts(), timeout=120, interval=5), shipped_hosts()


def test_the_simulated_backend_makes_an_application_alert_go_pending(monitor, app):
    response = http_get(app, "http://localhost:8001/faults/errors?seconds=600", data="{}")
    assert response["status"] == 200, response
    try:
        def pending():
            alerts = api(monitor, "alerts")["alerts"]
            return [a for a in alerts if a["labels"]["alertname"] == "BackendHighErrorRate"]

        alerts = wait_until(pending, timeout=90, interval=3)
        assert alerts, api(monitor, "alerts")
        assert re.fullmatch("pending|firing", alerts[0]["state"])
        assert alerts[0]["labels"]["team"] == "infrastructure"
    finally:
        http_get(app, "http://localhost:8001/faults/clear", data="{}")


@pytest.mark.last
def test_no_vault_value_in_any_hosts_logs_or_the_verbose_output():
    """Each of the vault's values: not in site.yml's -vvv --diff output, any host's journal or /var/log."""
    secrets = vault()
    assert assert_no_secret_anywhere(extra_secrets=list(secrets.values()), playbook=str(SCENARIO / "converge.yml")) >= len(secrets)


def test_every_unit_of_the_collection_is_within_its_exposure_limit():
    # systemd-analyze security on the running hosts, against the limits the offline unit test holds.
    assert assert_units_within_exposure_limits() >= 1
