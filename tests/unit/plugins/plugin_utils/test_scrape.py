from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils import _scrape


def inventory():
    groups = {
        "all": ["mon1", "db1", "db2", "cache1", "app1", "am1", "am2"],
        "prometheus": ["mon1"],
        "postgres": ["db1", "db2"],
        "redis": ["cache1"],
        "backend": ["app1"],
        "alertmanager": ["am1", "am2"],
    }
    hostvars = {host: {"group_names": [g for g, members in groups.items() if g != "all" and host in members]}
                for host in groups["all"]}
    return hostvars, groups


def job(configs, name):
    return [config for config in configs if config["job_name"] == name or config["job_name"].startswith(name + "-")]


def targets(configs, name):
    return sorted(t for config in job(configs, name) for sc in config["static_configs"] for t in sc["targets"])


def test_every_host_gets_node_and_group_members_get_their_exporter():
    hostvars, groups = inventory()
    configs = _scrape.scrape_configs(hostvars, groups, {"environment": "staging"})
    assert targets(configs, "node") == sorted(f"{h}:9100" for h in groups["all"])
    assert targets(configs, "postgres") == ["db1:9187", "db2:9187"]
    assert targets(configs, "redis") == ["cache1:9121"]
    # On loopback by default: the Prometheus of the same host scrapes it.
    assert targets(configs, "blackbox") == ["127.0.0.1:9115"]
    assert targets(configs, "cadvisor") == []
    assert targets(configs, "backend") == ["app1:8001"]
    assert targets(configs, "alertmanager") == ["am1:9093", "am2:9093"]


def test_labels_carry_inventory_name_environment_and_groups():
    hostvars, groups = inventory()
    configs = _scrape.scrape_configs(hostvars, groups, {"environment": "production"})
    (postgres,) = job(configs, "postgres")
    labels = postgres["static_configs"][0]["labels"]
    assert labels == {"inventory_hostname": "db1", "environment": "production", "groups": ",postgres,"}


def test_host_variables_override_enablement_port_and_address():
    hostvars, groups = inventory()
    hostvars["db2"]["exporters_postgres_enabled"] = False
    hostvars["cache1"]["exporters_redis_listen_address"] = "10.0.0.7:9999"
    hostvars["app1"]["exporters_node_enabled"] = "false"
    hostvars["mon1"]["ansible_host"] = "192.0.2.10"
    configs = _scrape.scrape_configs(hostvars, groups)
    assert targets(configs, "postgres") == ["db1:9187"]
    assert targets(configs, "redis") == ["10.0.0.7:9999"]
    assert "app1:9100" not in targets(configs, "node")
    assert "192.0.2.10:9100" in targets(configs, "node")


def test_tls_and_basic_auth_hosts_get_their_own_scrape_config_with_the_same_job_label():
    hostvars, groups = inventory()
    hostvars["db2"]["exporters_basic_auth_users"] = {"prometheus": "s3cret"}
    hostvars["db2"]["exporters_tls_cert"] = "-----BEGIN CERTIFICATE-----"
    configs = _scrape.scrape_configs(hostvars, groups, {"ca_file": "/etc/prometheus/ca.pem"})
    plain, secured = job(configs, "postgres")
    assert plain["scheme"] == "http" and "basic_auth" not in plain
    assert secured["job_name"] == "postgres-2"
    assert secured["relabel_configs"] == [{"target_label": "job", "replacement": "postgres"}]
    assert secured["scheme"] == "https"
    assert secured["basic_auth"] == {"username": "prometheus", "password": "s3cret"}
    assert secured["tls_config"] == {"ca_file": "/etc/prometheus/ca.pem"}
    assert secured["static_configs"][0]["targets"] == ["db2:9187"]


def test_basic_auth_without_a_user_for_prometheus_is_an_error_that_names_the_host():
    hostvars, groups = inventory()
    hostvars["db1"]["exporters_basic_auth_users"] = {"someone": "pw"}
    with pytest.raises(AnsibleFilterError, match="db1.*'prometheus'"):
        _scrape.scrape_configs(hostvars, groups)


def test_self_scrape_and_blackbox_probes_of_the_health_endpoints():
    hostvars, groups = inventory()
    configs = _scrape.scrape_configs(hostvars, groups, {
        "self_address": "127.0.0.1:9090",
        "blackbox_address": "127.0.0.1:9115",
        "backend_health_paths": ["/health/live", "/health/ready", "/health/startup"],
        "blackbox_http_targets": ["https://app.example.org/"],
        "blackbox_tcp_targets": ["db1:5432"],
    })
    assert job(configs, "prometheus")[0]["static_configs"] == [{"targets": ["127.0.0.1:9090"]}]
    (health,) = job(configs, "blackbox-health")
    assert health["params"] == {"module": ["http_health"]}
    assert health["static_configs"][0]["targets"] == [
        "http://app1:8000/health/live", "http://app1:8000/health/ready", "http://app1:8000/health/startup"]
    assert {"target_label": "__address__", "replacement": "127.0.0.1:9115"} in health["relabel_configs"]
    assert job(configs, "blackbox-http")[0]["params"] == {"module": ["http_2xx"]}
    assert job(configs, "blackbox-tcp")[0]["static_configs"][0]["targets"] == ["db1:5432"]
    assert job(configs, "blackbox-icmp") == []


def test_job_names_are_unique():
    hostvars, groups = inventory()
    hostvars["db2"]["exporters_tls_cert"] = "x"
    options = {"self_address": "127.0.0.1:9090", "blackbox_address": "b:9115", "backend_health_paths": ["/health/live"]}
    configs = _scrape.scrape_configs(hostvars, groups, options)
    names = [config["job_name"] for config in configs]
    assert len(names) == len(set(names))


def test_alertmanager_targets_list_every_peer():
    hostvars, groups = inventory()
    hostvars["am2"]["alertmanager_listen_address"] = "[fd00::2]:9093"
    assert _scrape.alertmanager_targets(hostvars, groups) == ["am1:9093", "[fd00::2]:9093"]


def test_alertmanager_cluster_addresses_use_the_gossip_port():
    hostvars, groups = inventory()
    hostvars["am1"]["ansible_host"] = "192.0.2.1"
    hostvars["am2"]["alertmanager_cluster_listen_address"] = "10.0.0.2:9999"
    assert _scrape.alertmanager_targets(hostvars, groups, cluster=True) == ["192.0.2.1:9094", "10.0.0.2:9999"]


def test_bad_listen_address_names_the_host():
    hostvars, groups = inventory()
    hostvars["cache1"]["exporters_redis_listen_address"] = "nonsense"
    with pytest.raises(AnsibleFilterError, match="cache1"):
        _scrape.scrape_configs(hostvars, groups)


def test_cadvisor_runs_on_docker_hosts_and_is_scraped_in_plain_http_even_beside_protected_exporters():
    hostvars, groups = inventory()
    groups["docker"] = ["app1", "db1"]
    hostvars["db1"]["exporters_basic_auth_users"] = {"prometheus": "s3cret"}
    hostvars["db1"]["exporters_tls_cert"] = "-----BEGIN CERTIFICATE-----"
    hostvars["db1"]["exporters_cadvisor_listen_address"] = "10.0.0.5:8181"
    configs = _scrape.scrape_configs(hostvars, groups)
    (cadvisor,) = job(configs, "cadvisor")
    assert targets(configs, "cadvisor") == ["10.0.0.5:8181", "app1:8080"]
    assert cadvisor["scheme"] == "http"
    assert "basic_auth" not in cadvisor and "tls_config" not in cadvisor
    # ...while the same host's other exporters keep https and basic auth.
    assert [c["scheme"] for c in job(configs, "node")] == ["http", "https"]


def test_alertmanagers_with_a_web_config_get_their_scheme_and_credentials():
    hostvars, groups = inventory()
    hostvars["am2"]["alertmanager_web_basic_auth_users"] = {"prometheus": "am-secret", "admin": "other"}
    hostvars["am2"]["alertmanager_web_tls_cert"] = "-----BEGIN CERTIFICATE-----"
    configs = _scrape.alertmanager_configs(hostvars, groups, {"ca_file": "/etc/prometheus/ca.pem"})
    assert configs == [
        {"api_version": "v2", "scheme": "http", "static_configs": [{"targets": ["am1:9093"]}]},
        {"api_version": "v2", "scheme": "https", "basic_auth": {"username": "prometheus", "password": "am-secret"},
         "tls_config": {"ca_file": "/etc/prometheus/ca.pem"}, "static_configs": [{"targets": ["am2:9093"]}]},
    ]
    # Prometheus scrapes Alertmanager's own metrics the same way.
    plain, secured = job(_scrape.scrape_configs(hostvars, groups, {"ca_file": "/etc/prometheus/ca.pem"}), "alertmanager")
    assert plain["scheme"] == "http" and "basic_auth" not in plain
    assert secured["basic_auth"] == {"username": "prometheus", "password": "am-secret"}


def test_an_alertmanager_without_the_prometheus_user_is_an_error():
    hostvars, groups = inventory()
    hostvars["am1"]["alertmanager_web_basic_auth_users"] = {"admin": "x"}
    with pytest.raises(AnsibleFilterError, match="host am1 demands basic auth, but alertmanager_web_basic_auth_users has no user 'prometheus'"):
        _scrape.alertmanager_configs(hostvars, groups)


def test_loki_is_scraped_where_it_listens_and_promtail_everywhere_it_runs():
    hostvars, groups = inventory()
    groups = {**groups, "loki": ["mon1", "app1"], "promtail": ["app1", "db1"]}
    hostvars = {**hostvars, "app1": {**hostvars["app1"], "loki_listen_address": "10.3.0.2:3100", "logs_shipper": "promtail"},
                "db1": {**hostvars["db1"], "logs_shipper": "promtail"}}
    configs = _scrape.scrape_configs(hostvars, groups, {"environment": "staging"})
    # Loki's default is loopback (it has no authentication); a private address is scraped there.
    assert targets(configs, "loki") == ["10.3.0.2:3100", "127.0.0.1:3100"]
    assert targets(configs, "promtail") == ["app1:9080", "db1:9080"]
    assert targets(configs, "alloy") == []


def test_each_host_s_log_shipper_is_scraped_and_only_it():
    hostvars, groups = inventory()
    groups = {**groups, "promtail": ["mon1", "app1", "db1"]}
    hostvars["app1"] |= {"logs_shipper": "promtail", "promtail_listen_address": "10.0.0.21:9080"}
    hostvars["db1"] |= {"alloy_listen_address": "10.0.0.31:12345"}  # alloy: the default shipper
    configs = _scrape.scrape_configs(hostvars, groups, {"self_host": "mon1"})
    assert targets(configs, "promtail") == ["10.0.0.21:9080"]
    # mon1's Alloy on its loopback default is scraped by the Prometheus of mon1 only.
    assert sorted(targets(configs, "alloy")) == ["10.0.0.31:12345", "127.0.0.1:12345"]


def test_a_service_on_loopback_is_scraped_only_by_the_prometheus_of_its_own_host():
    hostvars, groups = inventory()
    groups["prometheus"] = ["mon1", "db1"]  # a second Prometheus: its blackbox on loopback too
    hostvars["app1"]["exporters_node_listen_address"] = "127.0.0.1:9100"
    configs = _scrape.scrape_configs(hostvars, groups, {"self_host": "mon1"})
    assert targets(configs, "blackbox") == ["127.0.0.1:9115"]
    assert [c["labels"]["inventory_hostname"] for c in job(configs, "blackbox")[0]["static_configs"]] == ["mon1"]
    assert "127.0.0.1:9100" not in targets(configs, "node"), "app1's loopback node_exporter is out of reach"
    # Without self_host (older callers), every target is kept as before.
    assert "127.0.0.1:9100" in targets(_scrape.scrape_configs(hostvars, groups, {}), "node")


def test_probes_carry_the_credentials_that_the_local_blackbox_exporter_demands():
    hostvars, groups = inventory()
    hostvars["mon1"]["exporters_basic_auth_users"] = {"prometheus": "scrape-password"}
    configs = _scrape.scrape_configs(hostvars, groups, {
        "self_host": "mon1", "blackbox_address": "127.0.0.1:9115", "backend_health_paths": ["/health/live"]})
    (health,) = job(configs, "blackbox-health")
    assert health["scheme"] == "http"
    assert health["basic_auth"] == {"username": "prometheus", "password": "scrape-password"}
    hostvars["mon1"]["exporters_tls_cert"] = "PEM"
    (health,) = job(_scrape.scrape_configs(hostvars, groups, {
        "self_host": "mon1", "blackbox_address": "127.0.0.1:9115", "ca_file": "/etc/prometheus/scrape-ca.pem",
        "backend_health_paths": ["/health/live"]}), "blackbox-health")
    assert health["scheme"] == "https"
    assert health["tls_config"] == {"ca_file": "/etc/prometheus/scrape-ca.pem", "server_name": "mon1"}
