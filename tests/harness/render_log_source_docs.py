"""Generate docs/log-sources.md from the logs role's shipped log sources, as both shippers render them.

  python tests/harness/render_log_source_docs.py           write the page
  python tests/harness/render_log_source_docs.py --check   fail if it is stale
"""

from __future__ import annotations

import sys

import yaml
from generated_docs import ROOT, check_requested, sync

sys.path.insert(0, str(ROOT / ".collections"))
from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._alloy import (  # noqa: E402
    alloy_config,
    alloy_log_pipeline,
    component_label,
)
from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._log_sources import (  # noqa: E402
    LABEL_FIELDS,
    STREAM_LABELS,
    log_sources,
    promtail_scrape_configs,
)

TARGET = ROOT / "docs" / "log-sources.md"
DEFAULTS = ROOT / "roles" / "logs" / "defaults" / "main.yml"

FORMAT = """\
## The format

Each source is one mapping, independent of the shipper: the promtail role
renders it with the `promtail_scrape_configs` filter, the alloy role with
`alloy_log_pipeline`, and both streams carry the same labels.

| Key | Meaning |
| --- | --- |
| `name` | Unique name of the source (the scrape job). |
| `job` | Value of the `job` label; the name by default. |
| `paths` / `journal` | File globs, or the systemd journal (`max_age`, `path`); exactly one. |
| `format` | `plain`, `json` (`fields`: names, or name to JSON path), `regex` (`expressions`: named groups are fields) or `docker`. |
| `labels` | Parsed fields promoted to labels: only {label_fields}. |
| `metadata` | Parsed fields kept as structured metadata; by default all that are neither labels nor timestamps. |
| `timestamps` | `field` and Go `format` of the line's own time. |
| `access` | `groups` the shipper joins, or directories it is given by `acl`, to read the source without root. |
| `enabled`, `description` | Switch and note. |

Every stream carries {stream_labels}. Anything else (user and request ids,
endpoints, status codes, paths) would make a stream per value; it stays in the
line or in structured metadata, where LogQL still filters on it:
`{{job="backend"}} | user_id="user123"`, or `{{job="backend"}} | json | duration_ms > 1000`.
"""


def code(values) -> str:
    return ", ".join(f"`{value}`" for value in values) or "-"


def render() -> str:
    shipped = yaml.safe_load(DEFAULTS.read_text())["logs_sources"]
    descriptions = {source["name"]: source.get("description", "") for source in shipped}
    stages = {config["job_name"]: config.get("pipeline_stages", [])
              for config in promtail_scrape_configs(shipped, {"host": "HOST", "environment": "ENV"})}
    lines = [
        "<!-- Generated from roles/logs/defaults/main.yml by tests/harness/render_log_source_docs.py; do not edit. -->",
        "",
        "# Log sources",
        "",
        f"Both log shippers (the alloy and promtail roles; `logs_shipper` chooses) ship the docker-compose stack's {len(shipped)}",
        "log sources (`logs_sources`, in the logs role). Add sources with `logs_sources_extra`, leave some out with",
        "`logs_sources_disabled`; `alloy_log_sources*` and `promtail_log_sources*` give one shipper sources of its own.",
        "",
        "| Source | Job | Reads | Parsing | Labels | Structured metadata | Time from | Access |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for source in log_sources(shipped):
        reads = "the systemd journal" if source["journal"] is not None else code(source["paths"])
        if source["format"] == "json":
            parsing = "JSON: " + code(source["fields"])
        elif source["format"] == "regex":
            parsing = f"{len(source['expressions'])} regex: " + code(source["fields"])
        else:
            parsing = {"docker": "Docker's json-file lines", "plain": "none"}[source["format"]]
        timestamps = code(f"{t['field']} ({t['format']})" for t in source["timestamps"]) if source["timestamps"] else "ingestion"
        access = " + ".join(filter(None, [code(source["access"]["groups"]) if source["access"]["groups"] else "",
                                          "ACL on " + code(source["access"]["acl"]) if source["access"]["acl"] else ""]))
        lines.append(
            f"| {source['name']} | `{source['job']}` | {reads} | {parsing} | "
            f"{code(list(STREAM_LABELS) + source['labels'])} | {code(source['metadata'])} | {timestamps} | {access} |")
    lines.extend(["", "## Sources in detail"])
    alloy_blocks = alloy_log_pipeline(shipped, {"urls": ["http://LOKI:3100/loki/api/v1/push"], "host": "HOST",
                                                "environment": "ENV"})["blocks"]
    for source in shipped:
        lines.extend(["", f"### {source['name']}", "", descriptions[source["name"]], "", "Promtail pipeline stages:", ""])
        rendered = stages[source["name"]]
        lines.extend(["```yaml", yaml.safe_dump(rendered, sort_keys=False, width=200).rstrip(), "```"])
        own = [block for block in alloy_blocks if block.get("label") == component_label(source["name"])]
        lines.extend(["", "Alloy components:", "", "```alloy", alloy_config(own).rstrip(), "```"])
    lines.extend(["", FORMAT.format(label_fields=code(LABEL_FIELDS), stream_labels=code(STREAM_LABELS))])
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    return sync({TARGET: render()}, check_requested(__doc__))


if __name__ == "__main__":
    sys.exit(main())
