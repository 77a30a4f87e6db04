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


def role_defaults(role: str) -> list:
    """The defaults files a role sees, as Ansible loads them: its dependencies' (meta/main.yml), then its own."""
    meta = yaml.safe_load((ROOT / f"roles/{role}/meta/main.yml").read_text()) or {}
    files = []
    for dependency in meta.get("dependencies") or []:
        name = (dependency.get("role") if isinstance(dependency, dict) else dependency).rsplit(".", 1)[-1]
        files += [path for path in role_defaults(name) if path not in files]
    return files + [ROOT / f"roles/{role}/defaults/main.yml"]


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
        "vars_files": [*map(str, role_defaults(role)), str(ROOT / f"roles/{role}/vars/main.yml")],
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


def ansible(program: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run([str(Path(sys.executable).parent / program), *args], capture_output=True, text=True,
                          env=env, check=False, cwd=ROOT, timeout=300)


def rendered_per_host(tmp_path, inventory: str, roles, expression: str, extra_inventory: dict | None = None) -> dict:
    """{host: value} of an expression over the roles' variables, with the roles' defaults beneath the inventory.

    extra_inventory: a further inventory (as data) over the shipped one, such as the sandbox's generated groups.
    """
    defaults = {}
    for role in roles:
        for path in role_defaults(role):
            defaults.update(yaml.safe_load(path.read_text()))
    # As inventory variables of 'all' in a file: beneath the inventory's group_vars, as role defaults are.
    (tmp_path / "defaults.yml").write_text(yaml.safe_dump({"all": {"vars": defaults}}))
    vault = tmp_path / "unit-vault.yml"
    vault.write_text(yaml.safe_dump({name: f"unit-{name}" for name in yaml.safe_load((ROOT / "inventories/vault.yml.example").read_text())}))
    out = tmp_path / "per-host"
    out.mkdir()
    (tmp_path / "per-host.yml").write_text(yaml.safe_dump([{
        "hosts": "all", "gather_facts": False,
        "vars_files": [str(ROOT / f"roles/{role}/vars/main.yml") for role in roles],
        "tasks": [{"ansible.builtin.copy": {"content": "{{ (" + expression + ") | to_json }}",
                                            "dest": str(out) + "/{{ inventory_hostname }}.json", "mode": "0600"}}],
    }]))
    extra = []
    if extra_inventory:
        (tmp_path / "extra-inventory.yml").write_text(yaml.safe_dump(extra_inventory))
        extra = ["-i", str(tmp_path / "extra-inventory.yml")]
    result = ansible("ansible-playbook", "-i", str(tmp_path / "defaults.yml"), "-i", f"inventories/{inventory}", *extra,
                     str(tmp_path / "per-host.yml"), "-e", f"@{vault}", "-e", "ansible_connection=local",
                     # The one fact the roles' vars read before a step gathers it: the release's architecture.
                     "-e", json.dumps({"ansible_facts": {"architecture": "x86_64"}}),
                     "-e", f"ansible_python_interpreter={sys.executable}")
    assert result.returncode == 0, result.stdout + result.stderr
    return {path.stem: json.loads(path.read_text()) for path in out.glob("*.json")}
