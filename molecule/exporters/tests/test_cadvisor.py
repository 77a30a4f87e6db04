"""cAdvisor, as the exporters role installs it from its bare upstream executable.

No cAdvisor release is reachable on the test machines, so the local mirror may
serve an offline stand-in (tests/harness/standins/cadvisor.py) that parses the
same flags, binds the same port and answers only /healthz. Tests of cAdvisor's
own behaviour (its metrics) run only against the real executable and are
skipped, with the reason, otherwise.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request

import pytest
from conftest import http_get, mirror_url, play_recap, require_real, run_playbook

VERSION = "0.57.0"
INSTALL_DIR = f"/opt/dataaggregator/cadvisor/{VERSION}"


@pytest.fixture(scope="module")
def cadvisor_enabled(host_vars):
    if not host_vars.get("exporters_cadvisor_enabled") is True:
        pytest.skip("cAdvisor is not enabled on this host")


def listen(host_vars):
    """(configured listen host, port), and the address to connect to."""
    address = host_vars.get("exporters_cadvisor_listen_address", "0.0.0.0:8080")
    listen_host, port = address.rsplit(":", 1)
    return listen_host, int(port), ("127.0.0.1" if listen_host == "0.0.0.0" else listen_host)


def test_runs_only_where_enabled(host, host_vars):
    enabled = host_vars.get("exporters_cadvisor_enabled") is True
    assert host.service("cadvisor").is_running == enabled
    assert host.file("/etc/systemd/system/cadvisor.service").exists == enabled


@pytest.mark.usefixtures("cadvisor_enabled")
def test_installs_the_pinned_executable_verified_against_its_digest(host):
    with urllib.request.urlopen(mirror_url(f"cadvisor/v{VERSION}/cadvisor-v{VERSION}-linux-amd64"), timeout=10) as response:
        published = hashlib.sha256(response.read()).hexdigest()
    binary = host.file(f"{INSTALL_DIR}/cadvisor")
    assert binary.sha256sum == published
    assert binary.mode == 0o755 and binary.user == "root"
    assert host.file("/usr/local/bin/cadvisor").linked_to == f"{INSTALL_DIR}/cadvisor"
    assert host.file(f"{INSTALL_DIR}/.installed").exists
    # The download itself does not stay on the host.
    assert not host.file(f"/opt/dataaggregator/cadvisor/cadvisor-v{VERSION}-linux-amd64").exists


@pytest.mark.usefixtures("cadvisor_enabled")
def test_unit_passes_the_listen_address_and_keeps_a_narrow_sandbox(host, host_vars):
    def prop(name):
        return host.check_output(f"systemctl show -p {name} --value cadvisor")

    listen_host, port, _address = listen(host_vars)
    exec_start = prop("ExecStart")
    assert f"--port={port} " in exec_start
    # cAdvisor's "all addresses" is an empty --listen_ip.
    assert f"--listen_ip={'' if listen_host == '0.0.0.0' else listen_host} " in exec_start
    assert "--housekeeping_interval=10s" in exec_start
    assert prop("ProtectSystem") == "strict"
    assert prop("NoNewPrivileges") == "yes"
    assert sorted(prop("CapabilityBoundingSet").split()) == ["cap_dac_read_search", "cap_syslog"]


@pytest.mark.usefixtures("cadvisor_enabled")
def test_answers_its_readiness_path_on_the_configured_address_only(host, host_vars):
    listen_host, port, address = listen(host_vars)
    assert http_get(host, f"http://{address}:{port}/healthz") == {"status": 200, "body": "ok"}
    assert host.socket(f"tcp://{listen_host}:{port}").is_listening
    if listen_host == "127.0.0.1":
        assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening


@pytest.mark.usefixtures("cadvisor_enabled")
def test_serves_container_metrics(host, host_vars):
    require_real("cadvisor")
    _listen_host, port, address = listen(host_vars)
    response = http_get(host, f"http://{address}:{port}/metrics")
    assert response["status"] == 200
    assert "machine_cpu_cores" in response["body"]
    assert 'container_cpu_usage_seconds_total{' in response["body"]
    assert f'cadvisorVersion="v{VERSION}"' in response["body"]


@pytest.mark.parametrize(
    ("host_name", "extra_vars", "message"),
    [
        # Beside exporters that demand TLS and basic auth, on a public address.
        ("exporters-debian13-package", {"exporters_cadvisor_enabled": True, "exporters_cadvisor_checksum": "sha256:00"},
         "cannot: it would serve /metrics in plain HTTP"),
        ("exporters-debian13-archive", {"exporters_cadvisor_checksum": ""}, "exporters_cadvisor_checksum"),
    ],
)
def test_preflight_refuses_unsafe_or_unpinned_cadvisor_before_any_change(host_name, extra_vars, message):
    rc, output = run_playbook("--limit", host_name, "-e", json.dumps(extra_vars))
    assert rc != 0, output
    # YAML output may fold a long message; compare with whitespace collapsed.
    assert message in " ".join(output.split())
    assert play_recap(output)[host_name]["changed"] == 0, output
