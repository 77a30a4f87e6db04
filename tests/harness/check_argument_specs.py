"""Check that every role's meta/argument_specs.yml matches its defaults/main.yml.

For each role, the options of the "main" entry point (for an internal role with
no main options: the union of its entry points) must name exactly the keys of
defaults/main.yml, and where a spec gives a default it must equal the value in
defaults/main.yml. Exits non-zero and lists every mismatch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def spec_options(specs: dict) -> dict:
    entry_points = specs.get("argument_specs", {})
    options = dict(entry_points.get("main", {}).get("options") or {})
    if not options:
        for entry in entry_points.values():
            options.update(entry.get("options") or {})
    return options


def is_template(value) -> bool:
    return isinstance(value, str) and "{{" in value


def check_role(role: Path) -> list[str]:
    problems = []
    defaults_file = role / "defaults" / "main.yml"
    specs_file = role / "meta" / "argument_specs.yml"
    if not specs_file.exists():
        return [f"{role.name}: meta/argument_specs.yml is missing"]
    defaults = (yaml.safe_load(defaults_file.read_text()) or {}) if defaults_file.exists() else {}
    options = spec_options(yaml.safe_load(specs_file.read_text()) or {})
    for name in sorted(set(defaults) - set(options)):
        problems.append(f"{role.name}: {name} is in defaults/main.yml but not in meta/argument_specs.yml")
    for name, option in sorted(options.items()):
        if not option.get("description"):
            problems.append(f"{role.name}: {name} has no description in meta/argument_specs.yml")
        if name not in defaults:
            if not option.get("required"):
                problems.append(f"{role.name}: {name} is in meta/argument_specs.yml but not in defaults/main.yml")
            continue
        if "default" in option and not is_template(defaults[name]):
            spec_default = option["default"]
            if spec_default != defaults[name] and str(spec_default) != str(defaults[name]):
                problems.append(
                    f"{role.name}: {name} defaults to {defaults[name]!r} in defaults/main.yml "
                    f"but to {spec_default!r} in meta/argument_specs.yml"
                )
    return problems


def main() -> int:
    # A directory with no tasks yet (only shipped files) is not a role to check.
    roles = sorted(p for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
    problems = [problem for role in roles for problem in check_role(role)]
    for problem in problems:
        print(problem)
    print(f"argument specs: {len(roles)} roles checked, {len(problems)} mismatches")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
