"""The metrics stack, checked through Prometheus's HTTP API on the monitoring host."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from conftest import http_get, inventory_host, play_recap, run_playbook, wait_until

API = "http://127.0.0.1:9090/api/v1"
MON = "mon-debian13-archive"
BROKEN_PROBE = "http://app-debian13-package:8000/broken"
PG_PASSWORD = "molecule-pg-monitor"
SCRAPE_PASSWORD = "molecule-scrape-password"
REDIS_PASSWORD = "molecule-redis-password"


@pytest.fixture(scope="module")
def mon():
    return inventory_host(MON)


def api(mon, path):
    response = http_get(mon, f"{API}/{path}")
    assert response["status"] == 200, response
    return json.loads(response["body"])["data"]


def query(mon, promql):
    return api(mon, "query?query=" + urllib.parse.quote(promql))["result"]


def alerting_rules(mon):
    return [rule for group in api(mon, "rules")["groups"] for rule in group["rules"] if rule["type"] == "alerting"]


def test_node_exporter_runs_on_every_host(host):
    assert host.service("node_exporter").is_running


def test_every_target_is_up(mon):
    def all_up():
        targets = api(mon, "targets")["activeTargets"]
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = wait_until(all_up, timeout=90, interval=3)
    assert targets, [(t["scrapeUrl"], t["lastError"]) for t in api(mon, "targets")["activeTargets"] if t["health"] != "up"]
    by_job = {}
    for target in targets:
        by_job.setdefault(target["labels"]["job"], []).append(target["labels"].get("inventory_hostname", target["labels"]["instance"]))
    assert sorted(by_job["node"]) == sorted(["mon-debian13-archive", "db-debian12-package", "cache-debian12-archive", "app-debian13-package"])
    assert by_job["postgres"] == ["db-debian12-package"]
    assert by_job["redis"] == ["cache-debian12-archive"]
    assert by_job["blackbox"] == ["mon-debian13-archive"]
    assert by_job["backend"] == ["app-debian13-package"]
    assert len(by_job["blackbox-health"]) == 3
    assert {"prometheus", "blackbox-http"} <= set(by_job)


def test_exporters_with_basic_auth_refuse_anonymous_scrapes():
    db = inventory_host("db-debian12-package")
    assert http_get(db, "http://127.0.0.1:9187/metrics")["status"] == 401
    assert http_get(db, "http://127.0.0.1:9100/metrics")["status"] == 401
    # ...while Prometheus scrapes them (test_every_target_is_up) with the inventory's credentials.


def test_exporters_reach_their_services_with_the_vault_credentials(mon):
    assert wait_until(lambda: query(mon, "pg_up == 1"), timeout=30)
    assert wait_until(lambda: query(mon, "redis_up == 1"), timeout=30)


def test_health_probes_succeed_and_the_broken_probe_fails(mon):
    assert wait_until(lambda: len(query(mon, 'probe_success{job="blackbox-health"} == 1')) == 3, timeout=30)
    assert wait_until(lambda: query(mon, f'probe_success{{instance="{BROKEN_PROBE}"}} == 0'), timeout=30)

    def pending():
        alerts = api(mon, "alerts")["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == "BlackboxProbeFailed" and a["labels"]["instance"] == BROKEN_PROBE]

    alerts = wait_until(pending, timeout=30)
    assert alerts and alerts[0]["state"] in ("pending", "firing")
    assert alerts[0]["labels"]["severity"] == "critical" and alerts[0]["labels"]["team"] == "infrastructure"


def test_at_least_40_alerting_rules_evaluate_without_error(mon):
    def evaluated():
        rules = alerting_rules(mon)
        return rules if rules and all(r["health"] == "ok" for r in rules) else None

    rules = wait_until(evaluated, timeout=60, interval=2)
    assert rules, [r for r in alerting_rules(mon) if r["health"] != "ok"]
    assert len(rules) >= 40
    assert all(not r.get("lastError") for r in rules)


def test_external_labels_carry_the_environment(mon):
    assert "environment: molecule" in api(mon, "status/config")["yaml"]


def test_secrets_sit_in_root_only_files(host):
    for path in ("/etc/postgres_exporter/environment", "/etc/redis_exporter/environment"):
        secret = host.file(path)
        if secret.exists:
            assert secret.user == "root" and secret.mode == 0o600
            assert "PASSWORD" in secret.content_string or "DATA_SOURCE_NAME" in secret.content_string
    assert PG_PASSWORD not in host.check_output("systemctl cat postgres_exporter 2>/dev/null || true")


def test_secrets_never_show_in_playbook_output():
    rc, output = run_playbook("--diff", "-v")
    assert rc == 0, output
    assert PG_PASSWORD not in output
    assert REDIS_PASSWORD not in output
    assert SCRAPE_PASSWORD not in output


def start_time(mon):
    return api(mon, "status/runtimeinfo")["startTime"]


def test_rule_change_reloads_without_restart(mon):
    started, count = start_time(mon), len(alerting_rules(mon))

    rc, output = run_playbook("--limit", MON, "-e", '{"prometheus_rules_shipped_disabled": ["websocket.yml"]}')
    assert rc == 0, output
    try:
        assert not mon.file("/etc/prometheus/rules/websocket.yml").exists
        assert wait_until(lambda: len(alerting_rules(mon)) == count - 2, timeout=20)
        assert start_time(mon) == started, "Prometheus restarted instead of reloading"
    finally:
        rc, output = run_playbook("--limit", MON)
        assert rc == 0, output
    assert wait_until(lambda: len(alerting_rules(mon)) == count, timeout=20)
    assert start_time(mon) == started


def test_bad_user_rule_fails_the_play_and_keeps_the_served_rules(mon, tmp_path):
    bad = tmp_path / "team-rules.yml"
    bad.write_text("groups:\n  - name: team\n    rules:\n      - alert: Broken\n        expr: rate(http_requests_total[5m] > 1\n")
    count = len(alerting_rules(mon))

    rc, output = run_playbook("--limit", MON, "-e", json.dumps({"prometheus_rule_files_extra": [str(bad)]}))

    assert rc != 0, output
    assert "team-rules.yml" in output
    assert "parse error" in output or "could not parse" in output, output
    assert not mon.file("/etc/prometheus/rules/team-rules.yml").exists
    assert len(alerting_rules(mon)) == count
    assert mon.service("prometheus").is_running


def test_a_good_user_rule_is_served_and_removed_again(mon, tmp_path):
    extra = tmp_path / "team-rules.yml"
    extra.write_text(
        "groups:\n  - name: team\n    rules:\n      - alert: TeamCanary\n        expr: vector(0) > 1\n"
        "        labels: {severity: warning, team: infrastructure}\n"
    )
    rc, output = run_playbook("--limit", MON, "-e", json.dumps({"prometheus_rule_files_extra": [str(extra)]}))
    assert rc == 0, output
    assert wait_until(lambda: any(r["name"] == "TeamCanary" for r in alerting_rules(mon)), timeout=20)
    rc, output = run_playbook("--limit", MON)
    assert rc == 0, output
    assert not mon.file("/etc/prometheus/rules/team-rules.yml").exists
    assert wait_until(lambda: not any(r["name"] == "TeamCanary" for r in alerting_rules(mon)), timeout=20)


def test_blackbox_rejects_a_bad_module_and_keeps_its_config(mon):
    before = mon.file("/etc/blackbox_exporter/blackbox.yml").content_string
    broken = {"exporters_blackbox_modules_extra": {"broken": {"prober": "http", "http": {"fail_if_body_not_matches_regexp": ["(unclosed"]}}}}
    try:
        rc, output = run_playbook("--limit", MON, "-e", json.dumps(broken))
        assert rc != 0, output
        assert "failed to validate" in output
        # blackbox_exporter's own words (they differ between versions).
        assert "Could not compile regular expression" in output or "error parsing regexp" in output, output
        assert mon.file("/etc/blackbox_exporter/blackbox.yml").content_string == before
        assert mon.service("blackbox_exporter").is_running
    finally:
        rc, output = run_playbook("--limit", MON)
        assert rc == 0, output


def test_check_mode_on_a_converged_host_changes_nothing():
    rc, output = run_playbook("--check", "--diff")
    assert rc == 0, output
    for name, counts in play_recap(output).items():
        assert counts["failed"] == 0 and counts["changed"] == 0, (name, output)


@pytest.mark.parametrize(
    ("extra_vars", "named"),
    [
        ('{"prometheus_retention_time": "a fortnight"}', "prometheus_retention_time"),
        ('{"prometheus_install_method": "docker"}', "prometheus_install_method"),
        ('{"prometheus_backend_metrics_port": "eight thousand"}', "prometheus_backend_metrics_port"),
        ('{"exporters_redis_enabled": "maybe"}', "exporters_redis_enabled"),
    ],
)
def test_bad_input_stops_the_play_before_any_change(extra_vars, named):
    rc, output = run_playbook("--limit", MON, "-e", extra_vars)
    assert rc != 0, output
    assert named in output
    for name, counts in play_recap(output).items():
        assert counts["changed"] == 0, (name, output)
