"""The alloy role's package method: Grafana's apt repository, shared with the
grafana role on the same host, and the pinned package version.

The mirror's repository holds a stand-in Alloy package laid out as Grafana's
(/usr/bin/alloy, a vendor unit named alloy.service, its sample config as a
conffile), or the real one when DA_REAL_ARTIFACTS supplies
alloy-1.18.1-1.amd64.deb. What Alloy does with the logs is the logging
scenario's (archive method).
"""

from __future__ import annotations

import pytest
from conftest import http_get, inventory_host, play_recap, run_playbook

HOST = "exporters-debian12-package"


@pytest.fixture(scope="module")
def alloy_host():
    return inventory_host(HOST)


def test_both_roles_share_one_source_of_grafana_s_repository(alloy_host):
    sources = alloy_host.check_output("ls /etc/apt/sources.list.d").split()
    assert [name for name in sources if "grafana" in name] == ["grafana.sources"]
    # The inventory sets only grafana_apt_*; Alloy's settings follow them,
    # rather than pointing the shared source back at apt.grafana.com.
    source = alloy_host.file("/etc/apt/sources.list.d/grafana.sources").content_string
    assert "URIs: http://da-artifact-mirror:8080/apt" in source, source


def test_the_pinned_version_runs_under_the_collection_s_unit(alloy_host):
    assert alloy_host.package("alloy").version == "1.18.1-1"
    # The collection's unit overrides the vendor's of the same name.
    assert alloy_host.check_output("systemctl show alloy -p FragmentPath") == "FragmentPath=/etc/systemd/system/alloy.service"
    unit = alloy_host.check_output("systemctl show alloy -p ExecStart")
    assert "/usr/bin/alloy run --server.http.listen-addr=127.0.0.1:12345" in unit
    assert alloy_host.service("alloy").is_running and alloy_host.service("alloy").is_enabled
    assert not alloy_host.file("/usr/local/bin/alloy").exists


def test_the_config_is_the_role_s_not_the_package_s(alloy_host):
    config = alloy_host.file("/etc/alloy/config.alloy")
    assert 'loki.write "default"' in config.content_string
    assert "http://loki.invalid:3100/loki/api/v1/push" in config.content_string
    assert (config.user, config.group, config.mode) == ("root", "alloy", 0o640)


def test_alloy_answers_on_loopback(alloy_host):
    assert http_get(alloy_host, "http://127.0.0.1:12345/-/ready")["status"] == 200


def test_a_second_run_of_the_package_method_changes_nothing():
    rc, output = run_playbook("--limit", HOST, "--tags", "alloy")
    assert rc == 0, output
    assert play_recap(output)[HOST]["changed"] == 0, output
