"""Fixtures shared by the unit tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def debian_tool(name: str) -> str:
    """Path of a tool from a Debian package, as `make tools` extracts it into .cache/tools/bin.

    The environment variable named like the tool in capitals (PROMTOOL, AMTOOL) overrides it.
    """
    path = Path(os.environ.get(name.upper(), ROOT / ".cache" / "tools" / "bin" / name))
    if not path.exists():
        pytest.fail(f"{name} not found at {path}: run `make tools` (or set {name.upper()})")
    return str(path)


@pytest.fixture(scope="session")
def promtool():
    return debian_tool("promtool")


@pytest.fixture(scope="session")
def amtool():
    return debian_tool("amtool")
