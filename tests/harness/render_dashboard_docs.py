"""Generate docs/dashboards.md from the dashboard specs the grafana role ships.

  python tests/harness/render_dashboard_docs.py           write docs/dashboards.md
  python tests/harness/render_dashboard_docs.py --check   fail if it is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from generated_docs import check_requested, sync

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "grafana"
TARGET = ROOT / "docs" / "dashboards.md"


def cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render() -> str:
    entries = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())["grafana_dashboards"]
    specs = [(entry["folder"], yaml.safe_load((ROLE / "files" / entry["src"]).read_text())) for entry in entries]
    all_panels = [panel for folder_and_spec in specs for row in folder_and_spec[1]["rows"] for panel in row["panels"]]
    panels = len(all_panels)
    queries = sum(len(panel.get("queries") or []) for panel in all_panels)
    lines = [
        "<!-- Generated from roles/grafana/files/dashboards/*.yml by tests/harness/render_dashboard_docs.py; do not edit. -->",
        "",
        "# Dashboards",
        "",
        f"The grafana role ships {len(specs)} dashboards ({panels} panels, {queries} queries), built from",
        "compact specs by the `dataaggregator.infrastructure.grafana_dashboard` filter. Every dashboard",
        "has the tag `dataaggregator` and a menu of links to the others. The queries use the",
        "metrics of the [metrics contract](metrics.md) and the exporters' own metric names;",
        "the monitoring scenario runs each of them against a live Prometheus. Their `environment`",
        "variable starts on `grafana_environment`, the inventory's `platform_environment`.",
        "",
        "| Dashboard | uid | Folder | Panels |",
        "| --- | --- | --- | --- |",
    ]
    for folder, spec in specs:
        count = sum(len(row["panels"]) for row in spec["rows"])
        anchor = spec["title"].lower().replace(" ", "-")
        lines.append(f"| [{spec['title']}](#{anchor}) | `{spec['uid']}` | {folder} | {count} |")
    for folder, spec in specs:
        lines.extend(["", f"## {spec['title']}", "", f"{cell(spec.get('description', ''))} Folder: {folder}.", ""])
        for row in spec["rows"]:
            lines.extend([f"### {spec['title']}: {row['title']}", "", "| Panel | Type | Queries |", "| --- | --- | --- |"])
            for panel in row["panels"]:
                exprs = [query["expr"] if isinstance(query, dict) else query for query in panel.get("queries") or []]
                shown = "<br>".join(f"`{cell(expr)}`" for expr in exprs) or "(Alertmanager's alerts)"
                lines.append(f"| {cell(panel['title'])} | {panel.get('type', 'timeseries')} | {shown} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    return sync({TARGET: render()}, check_requested(__doc__))


if __name__ == "__main__":
    sys.exit(main())
