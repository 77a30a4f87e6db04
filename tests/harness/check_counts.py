"""Refuse hand-written counts of what the collection ships ("ten dashboards", "69 alerting rules").

Counts go stale the day something is added. The generated docs state them
(docs/alerts.md, docs/dashboards.md, docs/log-sources.md: their generators
count); everything else links there. Checked: every tracked Markdown file that
no generator writes, and the role files whose text reaches the generated role
docs (meta/argument_specs.yml, defaults/main.yml). "at least N" (a test's
floor) is not a count of what ships. docs/performance.md measures fixed-size
configurations and says so. Exits non-zero and lists every count found.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from generated_docs import report

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a dozen)"
THINGS = r"(?:alerting rules|alert rules|rules|dashboards|log sources|sources|notification channels|channels|alerts)"
COUNT = re.compile(rf"(?<!at least )\b{NUMBER}\s+(?:of\s+the\s+)?(?:\w+\s+)?{THINGS}\b", re.IGNORECASE)
# Written by a generator, which counts; or measurements of fixed configurations.
EXEMPT = re.compile(r"^(docs/roles/.*\.md|docs/(alerts|dashboards|log-sources|performance)\.md|CHANGELOG\.(rst|md)|changelogs/.*)$")


def checked_files() -> list[Path]:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in tracked
            if not EXEMPT.match(name)
            and (name.endswith(".md") or re.match(r"roles/[^/]+/(meta/argument_specs|defaults/main)\.yml$", name))]


def counts_in(text: str) -> list[tuple[int, str]]:
    """(line number, the count) of every hand-written count in a text, a count split over two lines too."""
    return [(text.count("\n", 0, match.start()) + 1, " ".join(match.group(0).split())) for match in COUNT.finditer(text)]


def main() -> int:
    problems = []
    for path in checked_files():
        for number, count in counts_in(path.read_text(encoding="utf-8")):
            problems.append(f"{path.relative_to(ROOT)}:{number}: \"{count}\"")
    return report(problems, "Hand-written counts go stale: link to the generated docs (docs/alerts.md, docs/dashboards.md, "
                            "docs/log-sources.md), which state them.")


if __name__ == "__main__":
    sys.exit(main())
