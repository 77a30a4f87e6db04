"""Fixtures shared by the unit tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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


def render_role(role: str, expression: str, tmp_path: Path, extra_vars: dict | None = None, groups: dict | None = None):
    """(rc, output, value): one Jinja expression evaluated with a role's defaults and vars, as ansible-playbook would.

    value is None when the render failed; output then says why.
    """
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
                         "children": {name: {"hosts": {host: {} for host in hosts}} for name, hosts in (groups or {}).items()}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    output = tmp_path / "rendered.json"
    output.unlink(missing_ok=True)
    playbook = [{
        "hosts": "localhost", "gather_facts": False,
        "vars_files": [str(ROOT / f"roles/{role}/defaults/main.yml"), str(ROOT / f"roles/{role}/vars/main.yml")],
        "tasks": [{"ansible.builtin.copy": {"content": "{{ %s | to_json }}" % expression, "dest": str(output), "mode": "0600"}}],
    }]
    (tmp_path / "render.yml").write_text(yaml.safe_dump(playbook))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"),
         str(tmp_path / "render.yml"), "-e", json.dumps(extra_vars or {})],
        capture_output=True, text=True, env=env, check=False, cwd=tmp_path)
    value = json.loads(output.read_text()) if result.returncode == 0 else None
    return result.returncode, result.stdout + result.stderr, value
