# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Program versions: Debian's package versions read as upstream's, and flags chosen by version."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError

# The upstream part of a Debian version: no epoch ("1:"), no repack or
# revision suffix ("+ds1-2", "-1+b4", "~rc1").
_UPSTREAM = re.compile(r"^(?:[0-9]+:)?v?([0-9]+(?:\.[0-9]+)*)")
_POLICY_PACKAGE = re.compile(r"^(\S+):$")
_POLICY_VERSION = re.compile(r"^\s+(Installed|Candidate):\s+(\S+)$")


def upstream_version(version: str) -> str:
    """The upstream release in a Debian (or upstream) version string: 1:0.17.1-1+b4 -> 0.17.1."""
    match = _UPSTREAM.match(str(version).strip())
    if not match:
        raise AnsibleFilterError(f"{version!r} is not a version this collection can compare (such as 0.17.1)")
    return match.group(1)


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in upstream_version(version).split("."))


def _at_least(version: str, bound: str) -> bool:
    ours, theirs = _release(version), _release(bound)
    width = max(len(ours), len(theirs))
    return ours + (0,) * (width - len(ours)) >= theirs + (0,) * (width - len(theirs))


def package_versions(policy_output: str) -> dict:
    """Upstream version per package from `LC_ALL=C apt-cache policy PACKAGE...`.

    The installed version where the package is installed, else the one apt
    would install (a --check run before the install step has run).
    """
    found: dict[str, dict[str, str]] = {}
    package = None
    for line in (policy_output or "").splitlines():
        header = _POLICY_PACKAGE.match(line)
        if header:
            package = header.group(1)
            found[package] = {}
            continue
        entry = _POLICY_VERSION.match(line)
        if package and entry and entry.group(2) != "(none)":
            found[package][entry.group(1)] = entry.group(2)
    return {name: upstream_version(versions.get("Installed") or versions["Candidate"])
            for name, versions in found.items() if versions}


def versioned_args(entries: Sequence, version: str, program: str = "the program") -> list:
    """The arguments of the entries that apply to this version of the program.

    Each entry is a mapping: ``args`` (a list), and ``since`` (the first
    release that knows them) and/or ``before`` (the first that no longer does).
    """
    if not entries:
        return []
    if not version:
        raise AnsibleFilterError(
            f"the version of {program} is not known, so the flags that depend on it cannot be chosen")
    chosen: list = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("args"), Sequence) or isinstance(entry.get("args"), str) \
                or not set(entry) <= {"args", "since", "before"} or not ({"since", "before"} & set(entry)):
            raise AnsibleFilterError(
                f"a versioned argument of {program} must be a mapping of args (a list) and since and/or before, got {entry!r}")
        if "since" in entry and not _at_least(version, entry["since"]):
            continue
        if "before" in entry and _at_least(version, entry["before"]):
            continue
        chosen.extend(str(arg) for arg in entry["args"])
    return chosen
