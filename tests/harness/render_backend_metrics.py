"""Generate a sample /metrics page of the platform backend from docs/metrics.md.

Every metric of the contract, with its documented labels, so that the
monitoring scenario's stand-in backend (nginx on the application host) exposes
what the real backend would, and every dashboard query has data to find.
Label values are the ones the rules and dashboards select on; the others get
one example value. Values are constant: rates are 0, which still yields series.

  python tests/harness/render_backend_metrics.py           write molecule/monitoring/files/backend-metrics.prom
  python tests/harness/render_backend_metrics.py --check   fail if it is stale
"""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path

from generated_docs import check_requested, sync

ROOT = Path(__file__).resolve().parents[2]
METRICS_DOC = ROOT / "docs" / "metrics.md"
TARGET = ROOT / "molecule" / "monitoring" / "files" / "backend-metrics.prom"
ROW = re.compile(r"^\| `(?P<name>[a-z_:]+)` \| (?P<type>[a-z]+)[^|]*\|(?P<labels>[^|]*)\|", re.MULTILINE)
# Values the alert rules and dashboards select on; every other label gets "example".
LABEL_VALUES = {
    "status": ["200", "500", "success", "failed", "error"],
    "result": ["success", "failure"],
    "window": ["24h", "30d"],
    "reason": ["error", "client_close"],
    "method": ["GET"],
    "endpoint": ["/api/pipelines/{id}"],
    "le": None,
}
BUCKETS = ["0.1", "1", "10", "+Inf"]
TIMESTAMP = 1767225600  # 2026-01-01, for the *_timestamp_seconds gauges


def contract() -> list:
    """(name, type, label names) of every metric docs/metrics.md lists."""
    return [
        (match["name"], match["type"], re.findall(r"`([a-z_]+)`", match["labels"]))
        for match in ROW.finditer(METRICS_DOC.read_text())
    ]


def label_text(labels: dict) -> str:
    return "{" + ",".join(f'{key}="{value}"' for key, value in labels.items()) + "}" if labels else ""


def render() -> str:
    lines = ["# Generated from docs/metrics.md by tests/harness/render_backend_metrics.py; do not edit."]
    for name, kind, label_names in contract():
        value = TIMESTAMP if name.endswith("_timestamp_seconds") else 1
        lines.append(f"# TYPE {name} {kind}")
        combinations = itertools.product(*[LABEL_VALUES.get(label) or ["example"] for label in label_names])
        for combination in combinations:
            labels = dict(zip(label_names, combination))
            if kind == "histogram":
                for count, bucket in enumerate(BUCKETS, start=1):
                    lines.append(f"{name}_bucket{label_text({**labels, 'le': bucket})} {count}")
                lines.append(f"{name}_sum{label_text(labels)} 5")
                lines.append(f"{name}_count{label_text(labels)} {len(BUCKETS)}")
            else:
                lines.append(f"{name}{label_text(labels)} {value}")
    return "\n".join(lines) + "\n"


def main() -> int:
    return sync({TARGET: render()}, check_requested(__doc__))


if __name__ == "__main__":
    sys.exit(main())
