"""The quick stack of a bare `molecule test`: every target up, and an alert reaches Alertmanager."""

from __future__ import annotations

import json

from conftest import http_get, http_post_json, wait_until

PROMETHEUS = "http://127.0.0.1:9090"
ALERTMANAGER = "http://127.0.0.1:9093"


def api(host, url):
    response = http_get(host, url)
    assert response["status"] == 200, response
    return json.loads(response["body"])


def target_health(host):
    """{job: [health, ...]} of Prometheus's active targets."""
    health = {}
    for target in api(host, f"{PROMETHEUS}/api/v1/targets")["data"]["activeTargets"]:
        health.setdefault(target["labels"]["job"], []).append(target["health"])
    return health


def test_every_service_runs(host):
    for unit in ("node_exporter", "blackbox_exporter", "prometheus", "alertmanager"):
        assert host.service(unit).is_running, unit
        assert host.service(unit).is_enabled, unit


def test_prometheus_scrapes_every_target_of_the_host(host):
    def all_up():
        health = target_health(host)
        return health if {"prometheus", "node", "alertmanager"} <= set(health) and all(
            state == "up" for states in health.values() for state in states) else None

    assert wait_until(all_up, 90), target_health(host)


def test_prometheus_sends_its_alerts_to_the_alertmanager(host):
    def active():
        return api(host, f"{PROMETHEUS}/api/v1/alertmanagers")["data"]["activeAlertmanagers"]

    assert wait_until(active, 60)
    assert active()[0]["url"].endswith(":9093/api/v2/alerts")


def test_an_alert_posted_to_alertmanager_is_held_for_its_receivers(host):
    alert = [{"labels": {"alertname": "QuickstartProbe", "severity": "warning"},
              "annotations": {"summary": "posted by the default scenario's test"}}]
    assert http_post_json(host, f"{ALERTMANAGER}/api/v2/alerts", alert)["status"] == 200

    def held():
        return [a for a in api(host, f"{ALERTMANAGER}/api/v2/alerts") if a["labels"]["alertname"] == "QuickstartProbe"]

    found = wait_until(held, 30)
    assert found and found[0]["status"]["state"] == "active", found
    assert [receiver["name"] for receiver in found[0]["receivers"]] == ["default-warning"], found
