"""The shipped alert rules: valid, labelled for routing, and each one tested.

promtool comes from Debian's prometheus package (`make tools` extracts it into
.cache/tools/bin); PROMTOOL overrides the path.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from promql import base_name, documented_metrics, is_exporter_metric, metric_names

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "roles" / "prometheus" / "files" / "rules"
TESTS_DIR = ROOT / "tests" / "prometheus_rules"
RUNBOOK_BASE = "https://github.com/dataaggregator/ansible-collection-infrastructure/blob/main/docs/alerts.md#"

SEVERITIES = {"critical", "warning"}
# The alert that always fires, for the dead-man's switch: no tier, so no person gets it, and never silent.
WATCHDOG = "Watchdog"
TEAMS = {"database", "security", "data-engineering", "infrastructure"}

RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
TEST_FILES = sorted(TESTS_DIR.glob("*_test.yml"))


def load(path: Path):
    return yaml.safe_load(path.read_text())


def alerting_rules():
    """Every alerting rule, with the rule file's name as its category."""
    for path in RULE_FILES:
        for group in load(path)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    yield {"category": path.stem, **rule}


ALERTS = list(alerting_rules())


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda p: p.name)
def test_rule_file_passes_promtool_check(promtool, rule_file):
    result = subprocess.run([promtool, "check", "rules", str(rule_file)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_rule_tests_pass(promtool, test_file):
    result = subprocess.run(
        [promtool, "test", "rules", test_file.name], cwd=TESTS_DIR, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_at_least_40_alerting_rules_in_the_ten_categories():
    assert len(ALERTS) >= 40
    categories = {rule["category"] for rule in ALERTS}
    assert {"application", "authentication", "database", "pipelines", "system", "cache", "rate_limits",
            "websocket", "prometheus"} <= categories


@pytest.mark.parametrize("rule", ALERTS, ids=lambda rule: f"{rule['alert']}-{rule['labels'].get('severity')}")
def test_alert_carries_routing_labels_and_annotations(rule):
    labels, annotations = rule.get("labels", {}), rule.get("annotations", {})
    assert labels.get("severity") in (SEVERITIES if rule["alert"] != WATCHDOG else {"none"})
    assert labels.get("team") in TEAMS
    assert annotations.get("summary") and annotations.get("description")
    assert annotations.get("runbook_url") == RUNBOOK_BASE + rule["alert"].lower()


def collect_rule_tests():
    """(alertname, severity) pairs that some test expects to fire, and alertnames tested silent."""
    firing, silent, tested_files = set(), set(), set()
    for test_file in TEST_FILES:
        spec = load(test_file)
        tested_files.update((TESTS_DIR / name).resolve() for name in spec["rule_files"])
        for case in spec["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    for alert in check["exp_alerts"]:
                        firing.add((check["alertname"], alert["exp_labels"]["severity"]))
                else:
                    silent.add(check["alertname"])
    return firing, silent, tested_files


def test_every_rule_file_is_covered_by_a_test_file():
    tested_files = collect_rule_tests()[2]
    untested = [p.name for p in RULE_FILES if p.resolve() not in tested_files]
    assert not untested, f"rule files with no promtool test: {untested}"


def test_every_alert_fires_in_a_test_and_stays_silent_in_another():
    firing, silent = collect_rule_tests()[:2]
    never_fired = sorted({(rule["alert"], rule["labels"]["severity"]) for rule in ALERTS} - firing)
    never_silent = sorted({rule["alert"] for rule in ALERTS} - silent - {WATCHDOG})
    assert not never_fired, f"alerts with no test that shows them firing: {never_fired}"
    assert not never_silent, f"alerts with no test that shows them silent: {never_silent}"


def test_the_watchdog_always_fires_and_is_the_only_alert_of_no_tier():
    watchdogs = [rule for rule in ALERTS if rule["alert"] == WATCHDOG]
    assert len(watchdogs) == 1 and watchdogs[0]["expr"].strip() == "vector(1)" and "for" not in watchdogs[0]
    assert [rule["alert"] for rule in ALERTS if rule["labels"]["severity"] not in SEVERITIES] == [WATCHDOG]


def test_metric_names_parser_sees_through_promql():
    expr = 'sum by (job, instance) (rate(http_requests_total{status=~"5.."}[5m])) / on(job) group_left foo_total > 3 * 24'
    assert metric_names(expr) == {"http_requests_total", "foo_total"}


def test_rules_use_only_documented_application_metrics():
    documented = documented_metrics()
    assert len(documented) >= 60
    for rule in ALERTS:
        for name in metric_names(rule["expr"]):
            assert name in documented or base_name(name) in documented or is_exporter_metric(name), (
                f"{rule['alert']} uses {name}, which docs/metrics.md does not list"
            )
