"""Prometheus as the prometheus role sets it up, checked through its HTTP API."""

from __future__ import annotations

import json

import pytest
from conftest import http_get, inventory_host, play_recap, run_playbook, wait_until

API = "http://127.0.0.1:9090/api/v1"
HOSTS = ["prometheus-debian12-package", "prometheus-debian13-archive"]


def api(host, path):
    response = http_get(host, f"{API}/{path}")
    assert response["status"] == 200, response
    return json.loads(response["body"])["data"]


def alerting_rules(host):
    return [rule for group in api(host, "rules")["groups"] for rule in group["rules"] if rule["type"] == "alerting"]


def test_service_is_active_and_enabled(host):
    assert host.service("prometheus").is_running
    assert host.service("prometheus").is_enabled


def test_every_target_is_up(host):
    def all_up():
        targets = api(host, "targets")["activeTargets"]
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = wait_until(all_up, timeout=60, interval=2)
    assert targets, api(host, "targets")["activeTargets"]
    jobs = {t["labels"]["job"] for t in targets}
    assert {"prometheus", "node"} <= jobs
    # Both members of the pair, found through the inventory.
    node_targets = sorted(t["labels"]["inventory_hostname"] for t in targets if t["labels"]["job"] == "node")
    assert node_targets == HOSTS
    assert all(t["labels"]["environment"] == "molecule" for t in targets if t["labels"]["job"] == "node")


def test_external_labels_carry_environment_and_replica(host):
    config = api(host, "status/config")["yaml"]
    assert "environment: molecule" in config
    assert f"replica: {host.backend.get_hostname()}" in config


def test_at_least_40_alerting_rules_evaluate_without_error(host):
    def evaluated():
        rules = alerting_rules(host)
        return rules if rules and all(r["health"] == "ok" for r in rules) else None

    rules = wait_until(evaluated, timeout=60, interval=2)
    assert rules, [r for r in alerting_rules(host) if r["health"] != "ok"]
    assert len(rules) >= 40
    assert all(not r.get("lastError") for r in rules)


def test_rule_files_are_readable_only_by_prometheus(host):
    rules = host.file("/etc/prometheus/rules/system.yml")
    assert rules.user == "root" and rules.group == "prometheus" and rules.mode == 0o640


def start_time(host):
    return api(host, "status/runtimeinfo")["startTime"]


def test_rule_change_reloads_without_restart():
    hosts = [inventory_host(name) for name in HOSTS]
    before = {name: (start_time(h), len(alerting_rules(h))) for name, h in zip(HOSTS, hosts)}

    rc, output = run_playbook("-e", '{"prometheus_rules_shipped_disabled": ["websocket.yml"]}')
    assert rc == 0, output
    try:
        for name, target in zip(HOSTS, hosts):
            assert not target.file("/etc/prometheus/rules/websocket.yml").exists
            assert wait_until(lambda t=target, n=name: len(alerting_rules(t)) == before[n][1] - 2, timeout=20)
            assert start_time(target) == before[name][0], "Prometheus restarted instead of reloading"
    finally:
        rc, output = run_playbook()
        assert rc == 0, output
    for name, target in zip(HOSTS, hosts):
        assert wait_until(lambda t=target, n=name: len(alerting_rules(t)) == before[n][1], timeout=20)
        assert start_time(target) == before[name][0]


def test_bad_user_rule_fails_the_play_and_keeps_the_served_rules(tmp_path):
    bad = tmp_path / "team-rules.yml"
    bad.write_text("groups:\n  - name: team\n    rules:\n      - alert: Broken\n        expr: rate(http_requests_total[5m] > 1\n")
    hosts = [inventory_host(name) for name in HOSTS]
    counts = [len(alerting_rules(h)) for h in hosts]

    rc, output = run_playbook("-e", json.dumps({"prometheus_rule_files_extra": [str(bad)]}))

    assert rc != 0, output
    assert "team-rules.yml" in output
    assert "parse error" in output or "could not parse" in output, output
    for target, count in zip(hosts, counts):
        assert not target.file("/etc/prometheus/rules/team-rules.yml").exists
        assert len(alerting_rules(target)) == count
        assert target.service("prometheus").is_running


def test_a_good_user_rule_is_served_and_removed_again(tmp_path):
    extra = tmp_path / "team-rules.yml"
    extra.write_text(
        "groups:\n  - name: team\n    rules:\n      - alert: TeamCanary\n        expr: vector(0) > 1\n"
        "        labels: {severity: warning, team: infrastructure}\n"
    )
    target = inventory_host(HOSTS[0])
    rc, output = run_playbook("--limit", HOSTS[0], "-e", json.dumps({"prometheus_rule_files_extra": [str(extra)]}))
    assert rc == 0, output
    assert wait_until(lambda: any(r["name"] == "TeamCanary" for r in alerting_rules(target)), timeout=20)
    rc, output = run_playbook("--limit", HOSTS[0])
    assert rc == 0, output
    assert not target.file("/etc/prometheus/rules/team-rules.yml").exists
    assert wait_until(lambda: not any(r["name"] == "TeamCanary" for r in alerting_rules(target)), timeout=20)


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
    ],
)
def test_bad_input_stops_the_play_before_any_change(extra_vars, named):
    # Only the prometheus role's tasks (and the always-run argument checks).
    rc, output = run_playbook("--tags", "prometheus", "-e", extra_vars)
    assert rc != 0, output
    assert named in output
    for name, counts in play_recap(output).items():
        assert counts["changed"] == 0, (name, output)
