"""Check a rendered config against an upstream program's own key reference.

The references are data derived from upstream's configuration documents (and
cross-checked against its code): every valid key with its type, in
``../shared/upstream/*-config-keys.json`` beside this checkout (format
``upstream-config-keys/1``; that directory's README gives the schema). Loki
and Promtail decode their file strictly: an unknown key stops them, so the
check fails on one, naming its path.

The check is stricter than Promtail in one place on purpose: Promtail ignores
unknown options inside a pipeline stage (its "lenient" blocks), which would
turn a misspelt option into a silently dropped one; here it is refused too.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path

import pytest

from conftest import ROOT

# Where the references are: beside the checkout on this project's machines.
UPSTREAM_DIR = Path(os.environ.get("DA_UPSTREAM_REFERENCES", ROOT.parent / "shared" / "upstream"))

STRING_TYPES = {"string", "url", "secret", "filename", "host", "labelname", "labelvalue", "regexp"}
# Go's time.ParseDuration, and Prometheus's model.Duration (which adds d, w and y).
DURATION = re.compile(r"^-?((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y))+$|^0$")
SIZE = re.compile(r"^\d+(\.\d+)?\s*([KMGTPE]i?)?B?$", re.IGNORECASE)


def load(name: str) -> "Reference":
    """The reference in UPSTREAM_DIR/name; the test is skipped, with the reason, where it is missing."""
    path = UPSTREAM_DIR / name
    if not path.is_file():
        pytest.skip(f"upstream key reference {path} is not here (a checkout outside this project's machines); "
                    "set DA_UPSTREAM_REFERENCES to the directory that holds it")
    return Reference(json.loads(path.read_text()))


class Reference:
    """The keys one version of a program accepts, and a walk of a config over them."""

    def __init__(self, data: dict):
        if data.get("format") != "upstream-config-keys/1":
            raise ValueError(f"unknown reference format {data.get('format')!r}")
        self.data = data
        self.root = data["root"]
        self.blocks = data["blocks"]
        crosscheck = data.get("code_crosscheck", {})
        self.doc_only = set(crosscheck.get("doc_only", []))
        self.code_only = set(crosscheck.get("code_only", []))
        self.code_only_stages = set(crosscheck.get("stage_names_code_only", []))
        # Where the document and the code disagree on a type, the code decides.
        self.code_types = {entry["path"]: entry["code"] for entry in crosscheck.get("type_mismatch", [])}

    @property
    def version(self) -> str:
        return self.data.get("loki_version") or self.data.get("promtail_version") or self.data.get("upstream", {}).get("tag", "?")

    def problems(self, config) -> list[str]:
        """Every key path of config that the program would refuse, with the reason; [] when it takes it all."""
        found: list[str] = []
        self._block(config, {"children": self.root}, "", "", found)
        return found

    # -- the walk ------------------------------------------------------------

    def _node(self, value, node: dict, path: str, pattern: str, found: list) -> None:
        if pattern in self.doc_only:
            found.append(f"{path}: documented, but the program's code has no such field (it refuses it)")
            return
        if value is None:
            return  # YAML null leaves the default.
        kind = self.code_types.get(pattern, node["type"])
        if kind == "block":
            block = self.blocks[node["block"]] if "block" in node else node
            self._block(value, block, path, pattern, found)
        elif kind == "list":
            if not isinstance(value, list):
                found.append(f"{path}: must be a list, not {type(value).__name__}")
                return
            for index, item in enumerate(value):
                self._node(item, node["items"], f"{path}[{index}]", f"{pattern}[*]", found)
        elif kind == "map":
            if not isinstance(value, dict):
                found.append(f"{path}: must be a mapping, not {type(value).__name__}")
                return
            for key, item in value.items():
                self._node(item, node["values"], f"{path}.{key}", f"{pattern}{{*}}", found)
        elif kind == "one_of":
            self._one_of(value, node, path, pattern, found)
        elif kind in ("any", "external"):
            return  # Not described by the reference: nothing to check.
        elif not self._scalar_fits(value, kind, node):
            found.append(f"{path}: {value!r} is not a valid {kind}")

    def _block(self, value, block: dict, path: str, pattern: str, found: list) -> None:
        if not isinstance(value, dict):
            found.append(f"{path or '(top)'}: must be a mapping, not {type(value).__name__}")
            return
        children = block["children"]
        if block.get("one_key") and len(value) != 1:
            found.append(f"{path}: must hold exactly one of {sorted(children)}, not {sorted(value)}")
        for key, item in value.items():
            child_path = f"{path}.{key}" if path else str(key)
            child_pattern = f"{pattern}.{key}" if pattern else str(key)
            if key in children:
                self._node(item, children[key], child_path, child_pattern, found)
            elif child_pattern in self.code_only or (block.get("one_key") and key in self.code_only_stages):
                continue  # Accepted by the code, though not documented.
            else:
                found.append(f"{child_path}: unknown key (known here: {', '.join(sorted(children))})")

    def _one_of(self, value, node: dict, path: str, pattern: str, found: list) -> None:
        discriminator = node.get("discriminator")
        if discriminator:
            if not isinstance(value, dict):
                found.append(f"{path}: must be a mapping, not {type(value).__name__}")
                return
            case = value.get(discriminator["key"])
            if isinstance(case, str) and discriminator.get("case_insensitive"):
                case = case.lower()
            if case not in discriminator["cases"]:
                found.append(f"{path}.{discriminator['key']}: {case!r} is none of {sorted(discriminator['cases'])}")
                return
            self._block(value, self.blocks[discriminator["cases"][case]], path, f"{pattern}<{case}>", found)
            return
        attempts = []
        for option in node["options"]:
            problems: list[str] = []
            self._node(value, option, path, pattern, problems)
            if not problems:
                return
            attempts.append("; ".join(problems))
        found.append(f"{path}: fits none of its forms ({' | '.join(attempts)})")

    @staticmethod
    def _scalar_fits(value, kind: str, node: dict) -> bool:
        if isinstance(value, bool):
            return kind == "boolean"
        if kind == "boolean":
            return False
        if kind in STRING_TYPES:
            # yaml.v2 reads a number into a string field as its text.
            return isinstance(value, (str, int, float))
        if kind == "int":
            if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
                return True
            return bool(node.get("size")) and isinstance(value, str) and bool(SIZE.match(value))
        if kind == "float":
            return isinstance(value, (int, float))
        if kind == "duration":
            return (isinstance(value, str) and bool(DURATION.match(value))) or value == 0
        if kind in ("time", "daytime"):
            return isinstance(value, (str, datetime.date, datetime.datetime))
        raise ValueError(f"the reference has a type this check does not know: {kind}")
