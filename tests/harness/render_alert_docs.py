"""Generate docs/alerts.md from the shipped alert rules.

Each alert's runbook_url points at its section here:
  python tests/harness/render_alert_docs.py           write docs/alerts.md
  python tests/harness/render_alert_docs.py --check   fail if it is stale
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import yaml
from generated_docs import check_requested, sync

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / ".collections"))
from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._channels import (  # noqa: E402
    CHANNELS,
    SETTING_PREFIX,
)
RULES_DIR = ROOT / "roles" / "prometheus" / "files" / "rules"
TARGET = ROOT / "docs" / "alerts.md"


def channel_lines() -> list:
    """The registry of notification channels, as a table."""
    lines = ["## Notification channels", "",
             "The routing policy's channels (from `plugins/plugin_utils/_channels.py`, which the",
             "routing filter, the role's preflight and its secret files read).", "",
             "| Channel | Integration | Contact (team or default) | Needs | Secrets, as files |",
             "| --- | --- | --- | --- | --- |"]
    for name, entry in CHANNELS.items():
        contact = f"`{entry['contact']}`" + (" (a list)" if entry["contact_is_list"] else "")
        needs = ", ".join(f"`{SETTING_PREFIX}{setting}`" for setting in entry["required"]) or "nothing else"
        secrets = ", ".join(f"`{SETTING_PREFIX}{secret['setting']}` as `{secret['file'].format('<reference>')}`"
                            for secret in entry["secrets"])
        if entry["inline"]:
            secrets = "the contact itself, kept in `alertmanager.yml`, which is then never shown"
        lines.append(f"| {name} | `{entry['integration']}` | {contact} | {needs} | {secrets or 'none'} |")
    return lines


def render() -> str:
    by_category = defaultdict(lambda: defaultdict(list))
    total = 0
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    by_category[path.stem][rule["alert"]].append(rule)
                    total += 1
    lines = [
        "<!-- Generated from roles/prometheus/files/rules/*.yml by tests/harness/render_alert_docs.py; do not edit. -->",
        "",
        "# Alerts",
        "",
        f"{total} alerting rules ({sum(len(a) for a in by_category.values())} alerts; a warning and a critical",
        "rule of one alert share its name, and Alertmanager lets the critical one",
        "inhibit the warning). Every rule carries `severity` and `team` labels for",
        "routing, and each one has a `promtool test rules` case that shows it firing",
        "and one that shows it silent (`tests/prometheus_rules/`), but the",
        "Watchdog, which always fires.",
        "",
        "**The dead-man's switch.** The Watchdog (`meta`) fires all the time, so",
        "that its absence can page: Alertmanager sends it, before any other route",
        "and to no person, to `alertmanager_watchdog_webhook_url` every minute",
        "(`vault_watchdog_webhook_url` in the shipped inventories). Point that at a",
        "service outside the platform that expects a call every few minutes and pages",
        "when none comes: a Healthchecks.io check's ping URL (period 1 minute, grace",
        "5), a Dead Man's Snitch URL, or PagerDuty's or Opsgenie's heartbeat",
        "integration. When Prometheus, every Alertmanager or the network between",
        "them and the outside is down, the calls stop and that service pages.",
        "Without a URL the Watchdog goes to a receiver with no integration.",
        "",
        *channel_lines(),
        "",
        "## The alerts",
        "",
        "| Category | Alert | Severities | Team |",
        "| --- | --- | --- | --- |",
    ]
    for category, alerts in by_category.items():
        for name, rules in alerts.items():
            severities = ", ".join(r["labels"]["severity"] for r in rules)
            lines.append(f"| {category} | [{name}](#{name.lower()}) | {severities} | {rules[0]['labels']['team']} |")
    for category, alerts in by_category.items():
        lines.extend(["", f"## {category}"])
        for name, rules in alerts.items():
            lines.extend(["", f"### {name}", ""])
            lines.append(rules[0]["annotations"]["description"].replace("{{", "`{{").replace("}}", "}}`"))
            lines.append("")
            for rule in rules:
                wait = f", after {rule['for']}" if rule.get("for") else ""
                lines.append(f"- **{rule['labels']['severity']}**{wait}, team `{rule['labels']['team']}`:")
                lines.extend(["", "  ```promql", *["  " + l for l in rule["expr"].strip().splitlines()], "  ```", ""])
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    return sync({TARGET: render()}, check_requested(__doc__))


if __name__ == "__main__":
    sys.exit(main())
