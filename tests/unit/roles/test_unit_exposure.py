"""How exposed each unit of the collection is, measured by systemd's own tool.

The roles' units are rendered as the roles render them (their defaults and
vars, and the common role's, on localhost), for each hardening profile, and
scored with ``systemd-analyze security --offline=true``, which reads a unit
file without running it: the strict profile, which unprivileged containers
cannot start, is measured too. Each score must stay at or below its figure in
unit_exposure.yml.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, role_defaults

LIMITS = yaml.safe_load((Path(__file__).with_name("unit_exposure.yml")).read_text())
SERVICES = {  # role: the variable that holds its services (a list, or one service)
    "prometheus": "[__prometheus_service]", "alertmanager": "[__alertmanager_service]", "grafana": "[__grafana_service]",
    "loki": "[__loki_service]", "promtail": "[__promtail_service]", "alloy": "[__alloy_service]",
    "exporters": "__exporters_services",
}
EVERY_EXPORTER = {"exporters_postgres_enabled": True, "exporters_redis_enabled": True, "exporters_blackbox_enabled": True,
                  "exporters_cadvisor_enabled": True}
SCORE = re.compile(r"Overall exposure level for \S+: (\d+\.\d+)")


def ansible_playbook(tmp_path: Path, playbook: list, extra: dict) -> None:
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(
        {"all": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    (tmp_path / "play.yml").write_text(yaml.safe_dump(playbook))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"),
                             str(tmp_path / "play.yml"), "-e", json.dumps(extra)],
                            capture_output=True, text=True, env=env, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def units(tmp_path_factory) -> dict:
    """{profile: {unit name: path of the rendered file}}."""
    root = tmp_path_factory.mktemp("units")
    for profile in ("basic", "strict"):
        (root / profile).mkdir()
    for role, services in SERVICES.items():
        work = root / role
        work.mkdir()
        (work / "templates").symlink_to(ROOT / "roles/common/templates")
        files = [*map(str, role_defaults(role)), f"{ROOT}/roles/{role}/vars/main.yml",
                 f"{ROOT}/roles/common/defaults/main.yml", f"{ROOT}/roles/common/vars/main.yml"]
        ansible_playbook(work, [{
            # The architecture names the release archive the unit runs.
            "hosts": "localhost", "gather_facts": True, "gather_subset": ["!all", "!min", "platform"], "vars_files": files,
            "tasks": [{
                "name": "Render the unit",
                "ansible.builtin.copy": {"content": "{{ ([common_service] | dataaggregator.infrastructure.service_plans("
                                                    "__common_plan_context, 'service') | first).files[0].content }}",
                                         "dest": str(root) + "/{{ item.1 }}/{{ item.0.name }}.service", "mode": "0600"},
                # (ansible_parent_role_names: what Ansible sets inside the role this play stands for.)
                "vars": {"common_service": "{{ item.0 | combine({'unit': {'hardening': item.1}}, recursive=true) }}",
                         "ansible_parent_role_names": [role]},
                "loop": "{{ " + services + " | product(['basic', 'strict']) | list }}",
                "loop_control": {"label": "{{ item.0.name }} {{ item.1 }}"},
            }],
        }], EVERY_EXPORTER | {"grafana_admin_password": "unit", "grafana_secret_key": "unit"})
    work = root / "backup"
    work.mkdir()
    (work / "templates").symlink_to(ROOT / "roles/common/templates")
    ansible_playbook(work, [{
        "hosts": "localhost", "gather_facts": False,
        "vars_files": [f"{ROOT}/roles/{role}/{kind}/main.yml" for role in ("backup", "common") for kind in ("defaults", "vars")],
        # The common role's units entry point applies the profile, as the role does.
        "tasks": [{"ansible.builtin.copy": {"content": "{{ (__common_unit_files | first).content }}",
                                            "dest": f"{root}/{profile}/{{{{ item.name }}}}", "mode": "0600"},
                   "vars": {"backup_systemd_hardening": profile, "common_units": ["{{ item }}"]},
                   "loop": "{{ __backup_units | selectattr('name', 'search', '[.]service$') | list }}",
                   "loop_control": {"label": "{{ item.name }}"}} for profile in ("basic", "strict")],
    }], {"backup_databases": ["app"], "backup_user": "postgres"})
    return {profile: {path.name: path for path in sorted((root / profile).glob("*.service"))}
            for profile in ("basic", "strict")}


def exposure(path: Path) -> float:
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(path)],
                            capture_output=True, text=True, check=False)
    match = SCORE.search(result.stdout + result.stderr)
    assert match, result.stdout + result.stderr
    return float(match.group(1))


@pytest.fixture(scope="module")
def scores(units) -> dict:
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (Debian's systemd package has it)")
    return {profile: {name: exposure(path) for name, path in files.items()} for profile, files in units.items()}


def test_every_unit_the_collection_installs_is_measured(units):
    for profile in ("basic", "strict"):
        assert set(units[profile]) == set(LIMITS[profile]), profile


@pytest.mark.parametrize("profile", ["basic", "strict"])
def test_no_unit_is_more_exposed_than_its_limit(scores, profile):
    print(json.dumps(scores[profile], indent=1, sort_keys=True))
    over = {name: (score, LIMITS[profile][name]) for name, score in scores[profile].items() if score > LIMITS[profile][name]}
    assert not over, f"exposure above the limit (score, limit): {over}"


def test_strict_is_safer_than_basic_for_every_service(scores):
    for name, score in scores["strict"].items():
        assert score < scores["basic"][name], name
