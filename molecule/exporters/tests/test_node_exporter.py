"""node_exporter, as the exporters role installs it: what a user relies on."""

from __future__ import annotations

import pytest
from conftest import (
    assert_no_secret_anywhere, assert_units_within_exposure_limits, http_get, inventory_host, mirror_version,
    play_recap, run_playbook, wait_until,
)

PASSWORD = "molecule-scrape-password"


def scrape(host, host_vars, user=None, password=None):
    """Scrape /metrics as Prometheus would, with the host's scheme and credentials."""
    tls = bool(host_vars.get("exporters_tls_cert"))
    users = host_vars.get("exporters_basic_auth_users") or {}
    if user is None and users:
        user, password = next(iter(users.items()))
    scheme = "https" if tls else "http"
    cafile = "/etc/node_exporter/tls.crt" if tls else ""
    return http_get(host, f"{scheme}://127.0.0.1:9100/metrics", user or "", password or "", cafile)


def test_service_is_active_and_enabled(host):
    service = host.service("node_exporter")
    assert service.is_running
    assert service.is_enabled


def test_runs_unprivileged_in_a_sandbox(host):
    pid = host.check_output("systemctl show -p MainPID --value node_exporter")
    assert host.check_output(f"stat -c %U /proc/{pid}") == "node_exporter"
    assert host.check_output("systemctl show -p NoNewPrivileges --value node_exporter") == "yes"
    assert host.check_output("systemctl show -p ProtectSystem --value node_exporter") == "strict"


def test_metrics_serve_node_series(host, host_vars):
    response = scrape(host, host_vars)
    assert response["status"] == 200
    assert "node_cpu_seconds_total" in response["body"]
    assert "node_exporter_build_info" in response["body"]


def test_installed_from_the_chosen_source(host, host_vars):
    exec_start = host.check_output("systemctl show -p ExecStart --value node_exporter")
    if host_vars["exporters_install_method"] == "archive":
        # Debian 12's build (1.5) on the Debian 12 host, Debian 13's (1.9) on the other.
        version = mirror_version(host, "node_exporter")
        link = host.file("/usr/local/bin/node_exporter")
        assert link.is_symlink
        assert link.linked_to == f"/opt/dataaggregator/node_exporter/{version}/node_exporter"
        assert "/usr/local/bin/node_exporter" in exec_start
        assert f'version="{version}"' in scrape(host, host_vars)["body"]
        # The archive was removed after unpacking; only the marker remains.
        assert not host.file(f"/opt/dataaggregator/node_exporter/node_exporter-{version}.linux-amd64.tar.gz").exists
        assert host.file(f"/opt/dataaggregator/node_exporter/{version}/.installed").exists
    else:
        assert host.package("prometheus-node-exporter").is_installed
        assert "/usr/bin/prometheus-node-exporter" in exec_start
        # The package's own unit must never run beside ours.
        assert host.check_output("systemctl is-enabled prometheus-node-exporter || true") == "masked"


def test_basic_auth_rejects_wrong_credentials(host, host_vars):
    if not host_vars.get("exporters_basic_auth_users"):
        pytest.skip("basic auth is off on this host")
    assert scrape(host, host_vars, user="", password="")["status"] == 401
    assert scrape(host, host_vars, user="prometheus", password="wrong")["status"] == 401
    assert scrape(host, host_vars, user="prometheus", password=PASSWORD)["status"] == 200


def test_web_config_holds_only_a_hash(host, host_vars):
    web_config = host.file("/etc/node_exporter/web-config.yml")
    if not (host_vars.get("exporters_basic_auth_users") or host_vars.get("exporters_tls_cert")):
        assert not web_config.exists
        return
    assert web_config.user == "root"
    assert web_config.group == "node_exporter"
    assert web_config.mode == 0o640
    assert PASSWORD not in web_config.content_string
    if host_vars.get("exporters_basic_auth_users"):
        assert "$2b$12$" in web_config.content_string


def test_tls_is_served_when_configured(host, host_vars):
    if not host_vars.get("exporters_tls_cert"):
        pytest.skip("TLS is off on this host")
    key = host.file("/etc/node_exporter/tls.key")
    assert key.mode == 0o640
    assert key.user == "root"
    # Plain HTTP to a TLS listener gets no metrics.
    plain = http_get(host, "http://127.0.0.1:9100/metrics", "prometheus", PASSWORD)
    assert plain["status"] != 200
    assert scrape(host, host_vars)["status"] == 200


def test_textfile_collector_publishes_prom_files(host, host_vars):
    directory = host.file("/var/lib/node_exporter/textfile_collector")
    assert directory.is_directory
    assert directory.mode == 0o775
    host.check_output(
        "printf 'molecule_textfile_probe 42\\n' > /var/lib/node_exporter/textfile_collector/molecule.prom"
    )
    try:
        assert "molecule_textfile_probe 42" in scrape(host, host_vars)["body"]
    finally:
        host.run("rm -f /var/lib/node_exporter/textfile_collector/molecule.prom")


def test_comes_back_within_10_seconds_after_kill_9(host, host_vars):
    old_pid = host.check_output("systemctl show -p MainPID --value node_exporter")
    host.check_output(f"kill -9 {old_pid}")

    def serving_again():
        pid = host.check_output("systemctl show -p MainPID --value node_exporter")
        return pid not in ("0", old_pid) and scrape(host, host_vars)["status"] == 200

    assert wait_until(serving_again, timeout=10), "node_exporter was not back within 10 s"


def test_check_mode_on_a_converged_host_changes_nothing():
    rc, output = run_playbook("--check", "--diff")
    assert rc == 0, output
    recap = play_recap(output)
    assert recap, output
    for name, counts in recap.items():
        assert counts["failed"] == 0, (name, output)
        assert counts["changed"] == 0, (name, output)


def test_corrupted_archive_fails_and_keeps_the_installed_binary():
    hosts = [inventory_host(name) for name in ("exporters-debian12-archive", "exporters-debian13-archive")]
    before = [target.check_output("sha256sum /usr/local/bin/node_exporter") for target in hosts]

    rc, output = run_playbook("--limit", "archive", "-e", "exporters_node_version=0.0.1-corrupt")

    assert rc != 0, output
    assert "node_exporter-0.0.1-corrupt.linux-amd64.tar.gz" in output
    assert "checksum" in output.lower()
    for target, checksum in zip(hosts, before):
        assert target.check_output("sha256sum /usr/local/bin/node_exporter") == checksum
        version = mirror_version(target, "node_exporter")
        assert target.file("/usr/local/bin/node_exporter").linked_to.endswith(f"/{version}/node_exporter")
        assert not target.file("/opt/dataaggregator/node_exporter/0.0.1-corrupt/.installed").exists
        assert target.service("node_exporter").is_running


@pytest.mark.parametrize(
    ("extra_vars", "named"),
    [
        ('{"exporters_install_method": "tarball"}', "exporters_install_method"),
        ('{"exporters_node_enabled": "perhaps"}', "exporters_node_enabled"),
        ('{"exporters_node_collectors_enabled": {"systemd": true}}', "exporters_node_collectors_enabled"),
        # node_exporter on 0.0.0.0 with no basic auth or TLS, the switch off.
        ('{"exporters_listen_public": false}', "exporters_listen_public: true if something in front authenticates"),
    ],
)
def test_bad_input_stops_the_play_before_any_change(extra_vars, named):
    rc, output = run_playbook("-e", extra_vars)
    assert rc != 0, output
    # Long messages are folded across lines in the output.
    assert named in " ".join(output.split())
    for name, counts in play_recap(output).items():
        assert counts["changed"] == 0, (name, output)


def test_common_role_refuses_to_run_on_its_own():
    rc, output = run_playbook(playbook="common_alone.yml")
    assert rc != 0, output
    assert "dataaggregator.infrastructure.common is internal" in output
    assert not inventory_host("exporters-debian12-package").user("rogue").exists


@pytest.mark.last
def test_no_secret_in_any_hosts_logs_or_the_verbose_output():
    """Every secret of the scenario: not in a -vvv --diff run's output, any host's journal or /var/log."""
    assert assert_no_secret_anywhere(extra_secrets=[PASSWORD]) >= 1


def test_every_unit_of_the_collection_is_within_its_exposure_limit():
    # systemd-analyze security on the running hosts, against the limits the offline unit test holds.
    assert assert_units_within_exposure_limits() >= 1
