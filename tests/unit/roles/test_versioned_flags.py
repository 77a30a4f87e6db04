"""Flags that only some releases know, chosen by the release installed (issue 21).

postgres_exporter is the case in point: 0.11 (Debian 12) refuses --config.file,
and 0.12 and later warn at every start without it. The unit's command line is
rendered as the roles render it, for the archive method (the pinned version)
and the package method (the version apt-cache policy reports).
"""

from __future__ import annotations

import json
import shlex
import sys

import pytest
import yaml

from conftest import ROOT, ansible

CONFIG_FLAG = "--config.file=/etc/postgres_exporter/postgres_exporter.yml"


def policy(installed: str, candidate: str) -> str:
    return (f"prometheus-postgres-exporter:\n  Installed: {installed}\n  Candidate: {candidate}\n"
            f"  Version table:\n     {candidate} 500\n")


PINNED = str(yaml.safe_load((ROOT / "roles/exporters/defaults/main.yml").read_text())["exporters_postgres_version"])
CASES = {
    "archive-0.11.1": {"method": "archive", "version": "0.11.1", "policy": ""},
    "archive-0.17.1": {"method": "archive", "version": "0.17.1", "policy": ""},
    "archive-pinned-default": {"method": "archive", "version": PINNED, "policy": ""},
    # A package's version is its own: the pinned one does not count.
    "package-installed-0.11.1": {"method": "package", "version": PINNED, "policy": policy("0.11.1+ds-1+b6", "0.11.1+ds-1+b6")},
    "package-installed-0.11.1-newer-candidate": {"method": "package", "version": PINNED,
                                                 "policy": policy("0.11.1+ds-1+b6", "0.17.1-1+b4")},
    "package-to-install-0.17.1": {"method": "package", "version": "0.11.1", "policy": policy("(none)", "0.17.1-1+b4")},
}


def render(tmp_path, cases: dict):
    """({case: ExecStart arguments and config files}, output) as the exporters role's service step renders them."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    # The managed header is rendered from the common role's template, beside the playbook.
    (tmp_path / "templates").symlink_to(ROOT / "roles/common/templates")
    files = [str(ROOT / f"roles/{role}/{kind}/main.yml") for role in ("exporters", "common") for kind in ("defaults", "vars")]
    task_vars = {
        "exporters_postgres_enabled": True,
        "exporters_install_method": "{{ item.value.method }}",
        "__common_package_policy": {"stdout": "{{ item.value.policy }}"},
        "common_service": "{{ __exporters_services | selectattr('name', 'equalto', 'postgres_exporter') | first }}",
        # What Ansible sets inside the exporters role, whose place this play takes.
        "ansible_parent_role_names": ["exporters"],
    }
    (tmp_path / "render.yml").write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False, "vars_files": files,
        "tasks": [{
            "ansible.builtin.copy": {
                "content": "{{ ([common_service] | dataaggregator.infrastructure.service_plans(__common_plan_context, 'service')"
                           " | map(attribute='files') | first) | to_json }}",
                "dest": f"{out}/{{{{ item.key }}}}.json", "mode": "0600"},
            "vars": task_vars | {"exporters_postgres_version": "{{ item.value.version }}"},
            "loop": "{{ cases | dict2items }}", "loop_control": {"label": "{{ item.key }}"},
        }],
    }]))
    result = ansible("ansible-playbook", "-i", "localhost,", str(tmp_path / "render.yml"), "-e", "ansible_connection=local",
                     "-e", f"ansible_python_interpreter={sys.executable}", "-e", json.dumps({"cases": cases, "ansible_facts": {"architecture": "x86_64"}}))
    return {path.stem: planned(json.loads(path.read_text())) for path in out.glob("*.json")}, result


def planned(files: list) -> dict:
    """The ExecStart arguments of the unit (the first file) and the paths of every file the service step writes."""
    exec_start = next(line for line in files[0]["content"].splitlines() if line.startswith("ExecStart="))
    return {"args": shlex.split(exec_start.removeprefix("ExecStart=")), "files": [entry["path"] for entry in files]}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    values, result = render(tmp_path_factory.mktemp("versioned"), CASES)
    assert result.returncode == 0, result.stdout + result.stderr
    return values


@pytest.mark.parametrize(
    ("case", "passed"),
    [
        ("archive-0.11.1", False),
        ("archive-0.17.1", True),
        # The default pin (0.18 and later) knows the flag.
        ("archive-pinned-default", True),
        ("package-installed-0.11.1", False),
        # An installed package is what runs, whatever apt could upgrade it to.
        ("package-installed-0.11.1-newer-candidate", False),
        # A --check run on a new host: the version apt would install.
        ("package-to-install-0.17.1", True),
    ],
)
def test_postgres_exporter_gets_its_config_file_only_from_the_release_that_knows_the_flag(rendered, case, passed):
    args = rendered[case]["args"]
    assert (CONFIG_FLAG in args) is passed, args
    assert args[1].startswith("--web.listen-address="), args
    # The file is written either way: harmless where unread, and ready for an upgrade.
    assert "/etc/postgres_exporter/postgres_exporter.yml" in rendered[case]["files"]


def test_a_package_whose_version_cannot_be_read_renders_no_unit(tmp_path):
    # The service step stops before this, naming the package (common's service.yml).
    values, result = render(tmp_path, {"package-unknown": {"method": "package", "version": PINNED, "policy": ""}})
    assert result.returncode != 0 and not values, result.stdout
