from __future__ import annotations

import shutil
import subprocess

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._versions import (
    package_versions,
    upstream_version,
    versioned_args,
)

CONFIG_FILE = {"args": ["--config.file=/etc/postgres_exporter/postgres_exporter.yml"], "since": "0.12.0"}


@pytest.mark.parametrize(
    ("version", "upstream"),
    [
        ("0.17.1", "0.17.1"),
        ("v1.77.0", "1.77.0"),
        ("0.17.1-1+b4", "0.17.1"),
        ("1:1.5.0+ds-1+b6", "1.5.0"),
        ("2.53.3+ds1-2", "2.53.3"),
        ("3.0.0~rc1-1", "3.0.0"),
        (" 0.11.1+ds-1+b6\n", "0.11.1"),
    ],
)
def test_the_upstream_part_of_a_debian_version(version, upstream):
    assert upstream_version(version) == upstream


@pytest.mark.parametrize("version", ["", "latest", "(none)", "x1.2"])
def test_what_is_not_a_version_is_refused_by_name(version):
    with pytest.raises(AnsibleFilterError, match="is not a version"):
        upstream_version(version)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.11.1", []),
        ("0.11.99", []),
        ("0.12", CONFIG_FILE["args"]),
        ("0.12.0", CONFIG_FILE["args"]),
        ("0.17.1-1+b4", CONFIG_FILE["args"]),
        ("1.0.0", CONFIG_FILE["args"]),
    ],
)
def test_a_flag_is_passed_from_the_release_that_knows_it(version, expected):
    assert versioned_args([CONFIG_FILE], version, "postgres_exporter") == expected


def test_a_flag_dropped_by_a_release_is_passed_only_before_it_and_the_order_is_kept():
    entries = [
        {"args": ["--web.console.templates=consoles"], "before": "3.0.0"},
        {"args": ["--a", "--b"], "since": "2.0.0", "before": "2.50.0"},
        {"args": ["--agent"], "since": "3.0.0"},
    ]
    assert versioned_args(entries, "2.42.0") == ["--web.console.templates=consoles", "--a", "--b"]
    assert versioned_args(entries, "2.53.3") == ["--web.console.templates=consoles"]
    assert versioned_args(entries, "3.5.1") == ["--agent"]


def test_no_entries_need_no_version():
    assert versioned_args([], "") == []
    assert versioned_args(None, "") == []


@pytest.mark.parametrize(
    ("entries", "version", "message"),
    [
        ([CONFIG_FILE], "", "the version of postgres_exporter is not known"),
        ([{"args": "--config.file=x", "since": "0.12.0"}], "0.17.1", "must be a mapping of args"),
        ([{"args": ["--x"]}], "0.17.1", "must be a mapping of args"),
        ([{"args": ["--x"], "since": "0.12.0", "until": "1.0"}], "0.17.1", "must be a mapping of args"),
        (["--config.file=x"], "0.17.1", "must be a mapping of args"),
        ([{"args": ["--x"], "since": "soon"}], "0.17.1", "'soon' is not a version"),
    ],
)
def test_malformed_entries_and_an_unknown_version_fail_with_the_programs_name(entries, version, message):
    with pytest.raises(AnsibleFilterError, match=message):
        versioned_args(entries, version, "postgres_exporter")


POLICY = """prometheus-postgres-exporter:
  Installed: 0.11.1+ds-1+b6
  Candidate: 0.11.1+ds-1+b6
  Version table:
 *** 0.11.1+ds-1+b6 500
        500 http://apt.mirror.invalid/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
prometheus-node-exporter:
  Installed: (none)
  Candidate: 1.9.0-1+b4
  Version table:
     1.9.0-1+b4 500
        500 http://apt.mirror.invalid/debian trixie/main amd64 Packages
no-such-package:
  Installed: (none)
  Candidate: (none)
  Version table:
"""


def test_apt_policy_gives_the_installed_version_else_the_one_apt_would_install():
    assert package_versions(POLICY) == {"prometheus-postgres-exporter": "0.11.1", "prometheus-node-exporter": "1.9.0"}
    assert package_versions("") == {}


@pytest.mark.skipif(not shutil.which("apt-cache") or not shutil.which("dpkg-query"), reason="needs apt-cache and dpkg-query (Debian)")
def test_apt_policy_of_this_machine_agrees_with_dpkg():
    policy = subprocess.run(["apt-cache", "policy", "dpkg", "no-such-package-of-this-name"], env={"LC_ALL": "C"},
                            capture_output=True, text=True, check=True).stdout
    installed = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "dpkg"], capture_output=True, text=True,
                               check=True).stdout
    assert package_versions(policy) == {"dpkg": upstream_version(installed)}
