"""The platform's dashboards, as the grafana role ships them.

Each spec builds, round-trips through Grafana's own schema unchanged, and
queries only metrics that exist: exporter metrics, or application metrics
that docs/metrics.md lists. Every expression passes promtool's parser (the
monitoring scenario then runs each one against a live Prometheus).
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.models.dashboard import Dashboard
from promql import (
    base_name,
    documented_metrics,
    is_exporter_metric,
    metric_names,
    shipped_dashboards,
    spec_queries,
    substitute_variables,
)

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._dashboards import grafana_dashboards

plugins.register_default_plugins()

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "grafana"
RULES_DIR = ROOT / "roles" / "prometheus" / "files" / "rules"
# The backend's /metrics as the monitoring scenario serves it (generated from docs/metrics.md).
BACKEND_FIXTURE = ROOT / "molecule" / "monitoring" / "files" / "backend-metrics.prom"
# The labels Prometheus adds to what it scrapes from the backend.
TARGET_LABELS = {"job": "backend", "instance": "app:8001", "environment": "molecule"}
# The seed's dashboards (../shared/seed/infrastructure-README.md): each must ship; more may.
SEED_TITLES = {
    "System Overview", "Application", "Database", "Pipeline", "Connector", "Authentication",
    "Cache Performance", "Business", "WebSocket", "Alerts",
}
# Keys of a dashboard provider in Grafana's provisioning documentation
# (https://grafana.com/docs/grafana/latest/administration/provisioning/#dashboards).
DOCUMENTED_PROVIDER = {"name", "orgId", "folder", "folderUid", "type", "disableDeletion", "updateIntervalSeconds",
                       "allowUiUpdates", "options"}
DOCUMENTED_PROVIDER_OPTIONS = {"path", "foldersFromFilesStructure"}


def role_vars():
    return yaml.safe_load((ROLE / "vars" / "main.yml").read_text())


SHIPPED = shipped_dashboards()
ENTRIES = [entry for entry, _spec in SHIPPED]
SPECS = [spec for _entry, spec in SHIPPED]
BUILT = grafana_dashboards(SPECS)


def queries():
    """(dashboard uid, panel title, expression) of every query of every shipped dashboard."""
    for spec in SPECS:
        for panel, expr in spec_queries(spec):
            yield spec["uid"], panel, expr


QUERIES = list(queries())
EXPRESSIONS = [query[2] for query in QUERIES]


def test_every_seed_dashboard_ships_and_every_dashboard_is_in_a_folder():
    titles = [dashboard["title"] for dashboard in BUILT]
    assert SEED_TITLES <= set(titles), SEED_TITLES - set(titles)
    assert len(titles) == len(set(titles)), "two dashboards share a title"
    assert all(entry["folder"] for entry in ENTRIES)
    assert len({entry["folder"] for entry in ENTRIES}) >= 2


@pytest.mark.parametrize("dashboard", BUILT, ids=lambda d: d["uid"])
def test_shipped_dashboard_round_trips_through_grafanas_schema(dashboard):
    model = Dashboard.from_json(copy.deepcopy(dashboard))
    assert json.loads(json.dumps(model, default=lambda obj: obj.to_json())) == dashboard


def test_the_alerts_dashboard_shows_firing_alerts_and_their_history():
    alerts = next(d for d in BUILT if d["title"] == "Alerts")
    assert any(panel["type"] == "alertlist" for panel in alerts["panels"])
    history = [t["expr"] for panel in alerts["panels"] if panel["type"] == "timeseries" for t in panel["targets"]]
    assert any("ALERTS" in expr for expr in history), history


def test_every_panel_has_queries_except_the_alert_list():
    for dashboard in BUILT:
        for panel in dashboard["panels"]:
            if panel["type"] not in ("row", "alertlist"):
                assert panel["targets"], (dashboard["uid"], panel["title"])


@pytest.mark.parametrize(("uid", "panel", "expr"), QUERIES, ids=[f"{q[0]}:{q[1]}:{i}" for i, q in enumerate(QUERIES)])
def test_queries_use_only_exporter_or_documented_metrics(uid, panel, expr):
    documented = documented_metrics()
    for name in metric_names(expr):
        assert is_exporter_metric(name) or name in documented or base_name(name) in documented, (
            f"{uid} / {panel} uses {name}, which docs/metrics.md does not list"
        )


def rule_metrics() -> set[str]:
    names = set()
    for path in RULES_DIR.glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                names |= {base_name(name) for name in metric_names(rule["expr"])}
    return names


def test_dashboards_and_alert_rules_cover_the_metrics_contract():
    """Every documented application metric is on a dashboard or in an alert rule,
    so the contract, the rules and the dashboards name the same metrics."""
    shown = {base_name(name) for expr in EXPRESSIONS for name in metric_names(expr)}
    unused = sorted(documented_metrics() - shown - rule_metrics())
    assert not unused, f"docs/metrics.md lists metrics that no dashboard or rule uses: {unused}"


def test_every_alerted_application_metric_is_on_a_dashboard():
    shown = {base_name(name) for expr in EXPRESSIONS for name in metric_names(expr)}
    alerted = {name for name in rule_metrics() if not is_exporter_metric(name)}
    missing = sorted(alerted - shown)
    assert not missing, f"alert rules watch metrics no dashboard shows: {missing}"


def test_every_expression_parses_with_promtool(promtool, tmp_path):
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:query:{index}", "expr": substitute_variables(expr)} for index, expr in enumerate(EXPRESSIONS)
    ]}]}
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_provider_uses_documented_keys_and_folders_from_directories():
    provider_file = role_vars()["__grafana_dashboard_provider"]
    assert provider_file["apiVersion"] == 1
    (provider,) = provider_file["providers"]
    assert set(provider) <= DOCUMENTED_PROVIDER
    assert set(provider["options"]) <= DOCUMENTED_PROVIDER_OPTIONS
    assert provider["type"] == "file" and provider["options"]["foldersFromFilesStructure"] is True
    # A file taken away takes its dashboard with it; the UI cannot drift from the files.
    assert provider["disableDeletion"] is False and provider["allowUiUpdates"] is False


def backend_series():
    """The fixture's samples as promtool input series, with the labels a scrape adds."""
    for line in BACKEND_FIXTURE.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        selector, value = line.rsplit(" ", 1)
        name, brace, label_text = selector.partition("{")
        assert brace or not label_text
        labels = dict(re.findall(r'([a-z_]+)="([^"]*)"', label_text))
        # A scrape keeps its own job, instance and environment; the page's are renamed.
        labels = {("exported_" + key if key in TARGET_LABELS else key): item for key, item in labels.items()}
        labels.update(TARGET_LABELS)
        rendered = ",".join(f'{key}="{item}"' for key, item in labels.items())
        yield {"series": f"{name}{{{rendered}}}", "values": f"{value}+0x40"}


def test_every_application_query_finds_data_in_the_backends_metrics(promtool, tmp_path):
    """Each query on application metrics returns series from a page with every
    documented metric: the dashboards select on labels and values the contract has."""
    documented = documented_metrics()
    checked = [
        (index, expr) for index, expr in enumerate(EXPRESSIONS)
        if all(name in documented or base_name(name) in documented for name in metric_names(expr))
    ]
    assert len(checked) >= 70
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"alert": f"NoData{index}", "expr": f"absent({substitute_variables(expr)})"} for index, expr in checked
    ]}]}
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": list(backend_series()),
        "alert_rule_test": [{"eval_time": "30m", "alertname": f"NoData{index}", "exp_alerts": []} for index, _expr in checked],
    }]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    result = subprocess.run([promtool, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True, check=False)
    empty = sorted({int(number) for number in re.findall(r"alertname: NoData(\d+)", result.stdout + result.stderr)})
    assert result.returncode == 0, [f"{QUERIES[i][0]} / {QUERIES[i][1]}: {QUERIES[i][2]}" for i in empty] or result.stdout + result.stderr


def test_the_backend_fixture_is_the_contract():
    names = {series["series"].split("{")[0] for series in backend_series()}
    assert {base_name(name) for name in names} == documented_metrics()
