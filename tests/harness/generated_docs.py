"""What the docs generators and lint checks share: write a generated page, or with --check report it stale; report problems."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def check_requested(description: str) -> bool:
    """Parse the generators' one option: --check fails on stale pages instead of writing them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="fail when a generated page is missing or stale")
    return parser.parse_args().check


def sync(pages: dict, check: bool) -> int:
    """Bring each page (path -> wanted text) up to date; with check, list the stale ones and return 1."""
    stale = []
    for target, wanted in pages.items():
        if target.exists() and target.read_text() == wanted:
            continue
        if check:
            stale.append(str(target.relative_to(ROOT)))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(wanted)
            print(f"wrote {target.relative_to(ROOT)}")
    if stale:
        print("stale generated docs (run: make docs): " + ", ".join(stale))
        return 1
    return 0


def report(problems: list, advice: str) -> int:
    """The lint checks' ending: each problem on its own line, then the advice; 1 when there is any."""
    for problem in problems:
        print(problem)
    if problems:
        print(advice, file=sys.stderr)
        return 1
    return 0
