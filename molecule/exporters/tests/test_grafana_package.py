"""The grafana role's package method: Grafana's apt repository as a deb822
source, Signed-By its key, and the pinned package version.

The mirror serves a vendor-style repository signed with a throwaway key; its
package holds the offline stand-in (or the real Grafana package, when
DA_REAL_ARTIFACTS supplies grafana_13.2.1_amd64.deb).
"""

from __future__ import annotations

import json

import pytest
from conftest import http_get, inventory_host, play_recap, run_playbook

HOST = "exporters-debian12-package"


@pytest.fixture(scope="module")
def grafana_host():
    return inventory_host(HOST)


def test_the_source_is_deb822_and_signed_by_the_repositorys_key(grafana_host):
    source = grafana_host.file("/etc/apt/sources.list.d/grafana.sources")
    assert source.exists
    fields = dict(line.split(": ", 1) for line in source.content_string.splitlines() if ": " in line)
    assert fields["URIs"] == "http://da-artifact-mirror:8080/apt"
    assert fields["Suites"] == "stable" and fields["Components"] == "main"
    key = grafana_host.file(fields["Signed-By"])
    assert key.exists and "BEGIN PGP PUBLIC KEY BLOCK" in key.content_string
    # The key is the repository's own, not one trusted for every source.
    assert not grafana_host.file("/etc/apt/trusted.gpg.d/grafana.asc").exists


def test_the_pinned_version_is_installed_and_the_vendor_unit_is_masked(grafana_host):
    assert grafana_host.package("grafana").version == "13.2.1"
    assert "masked" in grafana_host.run("systemctl is-enabled grafana-server").stdout
    unit = grafana_host.check_output("systemctl show grafana -p ExecStart")
    assert "/usr/share/grafana/bin/grafana server --config=/etc/grafana/grafana.ini --homepath=/usr/share/grafana" in unit
    assert grafana_host.service("grafana").is_running


def test_grafana_answers_on_port_3001(grafana_host):
    assert http_get(grafana_host, "http://localhost:3001/api/health")["status"] == 200


def test_a_repository_signed_by_another_key_is_refused():
    wrong_key = {"grafana_apt_key_url": "http://da-artifact-mirror:8080/apt/other.key"}
    try:
        rc, output = run_playbook("--limit", HOST, "--tags", "grafana", "-e", json.dumps(wrong_key))
        assert rc != 0, output
        message = " ".join(output.split())
        assert "apt refused Grafana's repository http://da-artifact-mirror:8080/apt" in message, output
        # apt's own reason: the signature does not match the configured key.
        assert "NO_PUBKEY" in message or "is not signed" in message, output
    finally:
        rc, output = run_playbook("--limit", HOST, "--tags", "grafana")
        assert rc == 0, output


def test_a_second_run_of_the_package_method_changes_nothing():
    rc, output = run_playbook("--limit", HOST, "--tags", "grafana")
    assert rc == 0, output
    assert play_recap(output)[HOST]["changed"] == 0, output
