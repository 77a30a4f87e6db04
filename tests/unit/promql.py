"""PromQL helpers shared by the tests of the alert rules and the dashboards."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
METRICS_DOC = ROOT / "docs" / "metrics.md"
GRAFANA_ROLE = ROOT / "roles" / "grafana"
# Metrics whose names belong to an exporter or to Prometheus itself.
EXPORTER_PREFIXES = ("node_", "pg_", "redis_", "probe_", "prometheus_", "alertmanager_", "container_", "machine_", "promtail_", "alloy_",
                     "blackbox_exporter_")
# Series Prometheus makes itself: scrape health and alert states.
PROMETHEUS_SERIES = {"up", "ALERTS", "ALERTS_FOR_STATE"}
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "offset", "bool", "group_left", "group_right"}
# Dashboard variables, and what stands for them when a query runs outside Grafana.
DASHBOARD_VARIABLES = {"$environment": ".*", "$instance": ".*", "$job": ".*"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (label matchers, groupings and strings removed)."""
    expr = re.sub(r'"[^"]*"', "", expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expr):
        name = match.group(1)
        if name in PROMQL_WORDS or re.fullmatch(r"\d+[smhdwy]?", name):
            continue
        names.add(name)
    return names


def documented_metrics() -> set[str]:
    """The application metrics docs/metrics.md lists."""
    return set(re.findall(r"^\| `([a-z_:]+)` \|", METRICS_DOC.read_text(), flags=re.MULTILINE))


def base_name(name: str) -> str:
    """A histogram's series name without its _bucket, _sum or _count suffix."""
    return re.sub(r"_(bucket|sum|count)$", "", name)


def is_exporter_metric(name: str) -> bool:
    """Whether a metric keeps an upstream name (an exporter's, Prometheus's or Alertmanager's)."""
    return name in PROMETHEUS_SERIES or name.startswith(EXPORTER_PREFIXES)


def substitute_variables(expr: str) -> str:
    """The expression as Prometheus runs it once Grafana has filled in the variables."""
    for variable, value in DASHBOARD_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def shipped_dashboards() -> list:
    """(entry of grafana_dashboards, spec) of every dashboard the grafana role ships, in its order."""
    entries = yaml.safe_load((GRAFANA_ROLE / "defaults" / "main.yml").read_text())["grafana_dashboards"]
    return [(entry, yaml.safe_load((GRAFANA_ROLE / "files" / entry["src"]).read_text())) for entry in entries]


def spec_queries(spec) -> list:
    """(panel title, expression) of every query of a dashboard spec."""
    return [
        (panel["title"], query["expr"] if isinstance(query, dict) else query)
        for row in spec["rows"] for panel in row["panels"] for query in panel.get("queries") or []
    ]
