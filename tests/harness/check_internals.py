"""Refuse a role that reads another role's internal variables.

A role's internal variables (those whose names start with two underscores
and the role's name: __common_plans, __prometheus_local_url) are its own.
Another role that reads one depends on how that role works inside, and
breaks when it changes: it passes data in through the role's arguments
instead. Checked: every tracked file below roles/ (tasks, handlers, vars,
defaults, templates, meta). Comments count too, as a reference to an
internal in prose goes stale the same way. Exits non-zero and lists each
read with its place.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from generated_docs import report

ROOT = Path(__file__).resolve().parents[2]


def role_names() -> list[str]:
    return sorted(path.name for path in (ROOT / "roles").iterdir() if path.is_dir())


def internal_reads(role: str, text: str, roles: list[str]) -> list[tuple[int, str]]:
    """(line number, variable) of every internal variable of another role named in a text of this role."""
    others = "|".join(re.escape(name) for name in roles if name != role)
    if not others:
        return []
    pattern = re.compile(rf"\b__(?:{others})_\w+")
    return [(text.count("\n", 0, match.start()) + 1, match.group(0)) for match in pattern.finditer(text)]


def checked_files() -> list[str]:
    tracked = subprocess.run(["git", "ls-files", "roles"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [name for name in tracked if (ROOT / name).is_file()]


def main() -> int:
    roles = role_names()
    problems = []
    for name in checked_files():
        role = name.split("/")[1]
        text = (ROOT / name).read_text(encoding="utf-8", errors="replace")
        problems += [f"{name}:{number}: {variable}" for number, variable in internal_reads(role, text, roles)]
    return report(problems, "A role reads another role's internal variables: pass the data in through that role's "
                            "arguments (common_services, for the common role) instead.")


if __name__ == "__main__":
    sys.exit(main())
