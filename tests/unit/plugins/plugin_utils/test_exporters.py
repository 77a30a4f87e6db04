"""The registry of exporters, and the descriptions the exporters role builds from it.

Every test that names no exporter runs over the whole registry, so that a new
entry is checked without a test of its own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils import _exporters, _scrape
from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._exporters import (
    EXPORTERS,
    ExporterError,
    exporter_services,
    mirror_rows,
    setting_names,
)

ROOT = Path(__file__).resolve().parents[4]
DEFAULTS = yaml.safe_load((ROOT / "roles/exporters/defaults/main.yml").read_text())
SPEC = yaml.safe_load((ROOT / "roles/exporters/meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
SHARED = {"arch": "arm64", "method": "archive", "download_on": "target", "hardening": "strict",
          "basic_auth_users": {}, "tls_cert": "", "tls_key": "", "listen_public": False}


def values(**overrides):
    """The values of every setting, in exporter_setting_names' order: the role's defaults, with overrides."""
    settings = {**DEFAULTS, **{f"exporters_{name}": value for name, value in overrides.items()}}
    return [settings[name] for name in setting_names()]


def by_name(services):
    return {service["name"]: service for service in services}


def test_every_setting_the_registry_reads_is_a_documented_role_default():
    for name in setting_names():
        assert name in DEFAULTS, name
        assert name in SPEC, name
        assert SPEC[name].get("default") == DEFAULTS[name] or "{{" in str(DEFAULTS[name]), name


@pytest.mark.parametrize("name", EXPORTERS)
def test_defaults_enable_each_exporter_on_its_group_and_listen_on_its_port(name):
    entry = EXPORTERS[name]
    enabled = DEFAULTS[f"exporters_{name}_enabled"]
    assert enabled is True if entry["group"] is None else enabled == "{{ '" + entry["group"] + "' in group_names }}"
    assert DEFAULTS[f"exporters_{name}_listen_address"] == entry.get("default_listen", f"0.0.0.0:{entry['port']}")


def test_the_enabled_exporters_are_services_and_the_others_are_removed():
    # Every other exporter on, switched in each spelling a template may give.
    spellings = [(True, True), ("false", False), ("True", True), (False, False), ("yes", True), ("0", False)]
    switches = {name: spellings[index % len(spellings)] for index, name in enumerate(EXPORTERS)}
    catalog = exporter_services(values(**{f"{name}_enabled": given for name, (given, _on) in switches.items()}), SHARED)
    enabled = [name for name, (_given, on) in switches.items() if on]
    assert catalog["enabled"] == enabled
    assert catalog["disabled"] == [name for name in EXPORTERS if name not in enabled]
    assert [s["name"] for s in catalog["services"]] == [EXPORTERS[name]["program"] for name in enabled]
    assert [s["name"] for s in catalog["removed"]] == [EXPORTERS[name]["program"] for name in catalog["disabled"]]


@pytest.mark.parametrize("name", EXPORTERS)
def test_each_description_has_its_release_unit_and_readiness(name):
    entry = EXPORTERS[name]
    service = exporter_services(values(**{f"{name}_enabled": True, f"{name}_version": "9.8.7"}), SHARED)["services"]
    service = by_name(service)[entry["program"]]
    install = service["install"]
    assert install["version"] == "9.8.7"
    assert install["archive_url"].startswith(DEFAULTS[f"exporters_{name}_download_base_url"] + "/v9.8.7/")
    assert "9.8.7" in install["archive_url"].rsplit("/", 1)[1] and "arm64" in install["archive_url"]
    assert install["binaries"] == [{"name": entry["program"]}]
    assert service["unit"]["description"] == entry["description"]
    assert service["unit"]["hardening"] == "strict"
    assert service["ready"]["port"] == entry["port"]
    assert ("web" in service) == (entry["web"] is not None)


def test_the_listen_flags_come_first_the_exporter_s_own_next_and_the_extra_flags_last():
    specifics = {"node": {"unit": {"args": ["--own"], "options": {"MemoryMax": "1G", "CPUQuota": "50%"}}}}
    catalog = exporter_services(values(node_extra_flags=["--extra"], node_systemd_options={"MemoryMax": "2G"},
                                       node_listen_address="[::]:9100"), SHARED, specifics)
    node = by_name(catalog["services"])["node_exporter"]
    assert node["unit"]["args"] == ["--web.listen-address=[::]:9100", "--own", "--extra"]
    # The user's options win over the exporter's own.
    assert node["unit"]["options"] == {"MemoryMax": "2G", "CPUQuota": "50%"}
    assert node["ready"] == {"host": "::1", "port": 9100, "timeout": _exporters.READY_TIMEOUT}


def test_an_exporter_that_takes_its_address_as_two_flags_gets_them():
    for address, listen_ip in (("0.0.0.0:8181", ""), ("10.0.0.5:8080", "10.0.0.5"), ("[::]:8080", ""), ("[fd00::1]:8080", "fd00::1")):
        catalog = exporter_services(values(cadvisor_enabled=True, cadvisor_listen_address=address,
                                           cadvisor_checksum="sha256:ab"), SHARED)
        args = by_name(catalog["services"])["cadvisor"]["unit"]["args"]
        assert args[:2] == [f"--listen_ip={listen_ip}", f"--port={address.rsplit(':', 1)[1]}"], address


def test_an_exporter_without_a_package_comes_from_its_release_with_the_pinned_digest():
    catalog = exporter_services(values(cadvisor_enabled=True, cadvisor_checksum="sha256:abc"),
                                {**SHARED, "method": "package"})
    services = by_name(catalog["services"])
    assert services["cadvisor"]["install"]["method"] == "archive"
    assert services["cadvisor"]["install"]["checksum"] == "sha256:abc"
    assert "packages" not in services["cadvisor"]["install"]
    assert "directories" not in services["cadvisor"]
    # Unpinned, it stays empty for the preflight to name: there is no checksum file to fall back on.
    unpinned = exporter_services(values(cadvisor_enabled=True, cadvisor_checksum=""), SHARED)["services"]
    assert by_name(unpinned)["cadvisor"]["install"]["checksum"] == ""
    node = services["node_exporter"]["install"]
    assert node["method"] == "package" and node["packages"] == ["prometheus-node-exporter"]
    assert node["checksum"].endswith("/sha256sums.txt")


def test_specific_keys_replace_the_registry_s_and_directories_add_to_them():
    specifics = {"node": {"user": "root", "directories": [{"path": "/var/lib/x"}], "unit": {"exec_reload": "kill"}}}
    node = by_name(exporter_services(values(), SHARED, specifics)["services"])["node_exporter"]
    assert node["user"] == "root"
    assert [d["path"] for d in node["directories"]] == ["/etc/node_exporter", "/var/lib/x"]
    assert node["unit"]["exec_reload"] == "kill"


@pytest.mark.parametrize("address", ["nonsense", "host:0", "host:70000", "::1:9100", "", None, "h:9100\n"])
def test_an_invalid_address_is_named_not_raised(address):
    catalog = exporter_services(values(redis_enabled=True, redis_listen_address=address), SHARED)
    assert catalog["invalid_addresses"] == ["exporters_redis_listen_address"]
    redis = by_name(catalog["services"])["redis_exporter"]
    assert "ready" not in redis
    assert not any(arg.startswith("--web.listen-address") for arg in redis["unit"]["args"])
    assert "redis" not in [listener["exporter"] for listener in catalog["listeners"]]


def test_listeners_are_authenticated_by_the_host_s_web_config_except_where_there_is_none():
    every = {f"{name}_enabled": True for name in EXPORTERS} | {"cadvisor_checksum": "sha256:ab"}
    plain = exporter_services(values(**every), SHARED)["listeners"]
    assert [listener["exporter"] for listener in plain] == list(EXPORTERS)
    assert not any(listener["authenticated"] for listener in plain)
    protected = exporter_services(values(**every), {**SHARED, "tls_cert": "C", "listen_public": "yes"})["listeners"]
    for listener in protected:
        assert listener["authenticated"] == (EXPORTERS[listener["exporter"]]["web"] is not None)
        assert listener["allow_public"] is True
    (cadvisor,) = [listener for listener in protected if listener["exporter"] == "cadvisor"]
    assert cadvisor["name"] == "cAdvisor (exporters_cadvisor_listen_address)"
    assert cadvisor["fix"] == "cAdvisor has no authentication"


@pytest.mark.parametrize("bad, message", [
    ({"values": [1, 2]}, "expects the"),
    ({"shared": {"arch": "amd64"}}, "shared needs"),
    ({"specifics": {"mysqld": {}}}, "no exporter is named mysqld"),
])
def test_what_cannot_be_built_is_refused(bad, message):
    with pytest.raises(ExporterError, match=message):
        exporter_services(bad.get("values", values()), bad.get("shared", SHARED), bad.get("specifics"))


def test_the_mirror_repacks_every_packaged_exporter_in_its_release_layout():
    rows = {row.split()[0]: row.split()[1:] for row in mirror_rows()}
    assert set(rows) == {entry["program"] for entry in EXPORTERS.values() if entry.get("package")}
    assert rows["redis_exporter"] == ["prometheus-redis-exporter", "usr/bin/prometheus-redis-exporter",
                                      "archive=redis_exporter-v{version}"]
    # The harness prints them after its own rows.
    printed = subprocess.run([sys.executable, str(ROOT / "tests/harness/mirror_rows.py")], capture_output=True,
                             text=True, check=True).stdout
    assert all("  ".join([name, *row]) in printed.splitlines() for name, row in rows.items())
    assert "prometheus  prometheus  usr/bin/prometheus" in printed


def test_prometheus_scrapes_every_exporter_where_it_is_enabled():
    groups = {"all": ["one", "two"], "prometheus": ["one"]}
    hostvars = {"one": {"group_names": ["prometheus"]},
                "two": {"group_names": [], **{f"exporters_{name}_enabled": True for name in EXPORTERS},
                        **{f"exporters_{name}_listen_address": f"10.0.0.2:{entry['port']}" for name, entry in EXPORTERS.items()}}}
    configs = _scrape.scrape_configs(hostvars, groups, {"self_host": "one"})
    for name, entry in EXPORTERS.items():
        targets = [target for config in configs if config["job_name"] == name
                   for static in config["static_configs"] for target in static["targets"]]
        assert f"10.0.0.2:{entry['port']}" in targets, name
        hostvars["two"][f"exporters_{name}_enabled"] = False
    remaining = {config["job_name"] for config in _scrape.scrape_configs(hostvars, groups, {"self_host": "one"})} & set(EXPORTERS)
    # Switched off on "two": only those the defaults enable on "one" (every host, or its group) are left.
    assert remaining == {name for name, entry in EXPORTERS.items() if entry["group"] in (None, "prometheus")}
