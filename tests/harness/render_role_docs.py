"""Generate docs/roles/<role>.md from each role's meta/argument_specs.yml.

The argument specs are the one source of the role documentation:
  python tests/harness/render_role_docs.py           write the docs
  python tests/harness/render_role_docs.py --check   fail if a doc is stale
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml
from generated_docs import check_requested, sync

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "roles"
HEADER = "<!-- Generated from roles/{role}/meta/argument_specs.yml by tests/harness/render_role_docs.py; do not edit. -->\n"


ANSIBLE_MARKUP = re.compile(r"\b[COVIE]\(([^)]*)\)")


def text(value) -> str:
    """One line of Markdown; Ansible doc markup C(x), O(x), V(x) becomes code."""
    if isinstance(value, list):
        value = " ".join(str(item) for item in value)
    value = ANSIBLE_MARKUP.sub(r"`\1`", " ".join(str(value).split()))
    return value.replace("|", "\\|")


def code(value) -> str:
    if value is None:
        return ""
    rendered = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    rendered = rendered.removesuffix("\n...").removesuffix("...").strip()
    return f"`{rendered}`".replace("|", "\\|")


def option_rows(options: dict, prefix: str = "") -> list[str]:
    rows = []
    for name, spec in options.items():
        kind = spec.get("type", "str")
        if kind == "list" and spec.get("elements"):
            kind = f"list of {spec['elements']}"
        notes = []
        if spec.get("required"):
            notes.append("**required**")
        if spec.get("choices"):
            notes.append("choices: " + ", ".join(code(choice) for choice in spec["choices"]))
        if spec.get("no_log"):
            notes.append("secret (never logged)")
        description = text(spec.get("description", ""))
        if notes:
            description = f"{description} ({'; '.join(notes)})"
        default = code(spec["default"]) if "default" in spec else ""
        rows.append(f"| `{prefix}{name}` | {kind} | {default} | {description} |")
        if spec.get("options"):
            rows.extend(option_rows(spec["options"], f"{prefix}{name}."))
    return rows


def render(role: str, specs: dict) -> str:
    lines = [HEADER.format(role=role), f"# Role `dataaggregator.infrastructure.{role}`", ""]
    for entry_point, entry in specs.get("argument_specs", {}).items():
        title = "" if entry_point == "main" else f" (entry point `{entry_point}`)"
        lines.append(f"## {text(entry.get('short_description', entry_point))}{title}")
        lines.append("")
        if entry.get("description"):
            for paragraph in entry["description"] if isinstance(entry["description"], list) else [entry["description"]]:
                lines.extend([text(paragraph), ""])
        options = entry.get("options") or {}
        if options:
            lines.extend(["| Variable | Type | Default | Description |", "| --- | --- | --- | --- |"])
            lines.extend(option_rows(options))
        else:
            lines.append("No variables.")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    pages = {
        DOCS / f"{specs_file.parent.parent.name}.md": render(specs_file.parent.parent.name, yaml.safe_load(specs_file.read_text()) or {})
        for specs_file in sorted(ROOT.glob("roles/*/meta/argument_specs.yml"))
    }
    return sync(pages, check_requested(__doc__))


if __name__ == "__main__":
    sys.exit(main())
