"""grafana_datasources: the provisioning file, from the inventory.

The keys are checked against Grafana's provisioning documentation
(https://grafana.com/docs/grafana/latest/administration/provisioning/#data-sources).
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils import _datasources
from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._datasources import datasources

# The top level and the datasource keys Grafana's provisioning documentation lists.
DOCUMENTED_TOP_LEVEL = {"apiVersion", "datasources", "deleteDatasources", "prune"}
DOCUMENTED_DATASOURCE = {
    "name", "type", "uid", "access", "orgId", "url", "user", "database", "basicAuth", "basicAuthUser",
    "withCredentials", "isDefault", "jsonData", "secureJsonData", "version", "editable",
}
# jsonData and secureJsonData keys documented for these datasource types.
DOCUMENTED_JSON_DATA = {
    "prometheus": {"httpMethod", "prometheusType", "timeInterval", "tlsAuthWithCACert", "tlsSkipVerify"},
    "alertmanager": {"implementation", "handleGrafanaManagedAlerts", "tlsAuthWithCACert"},
    "loki": {"maxLines", "tlsAuthWithCACert"},
}
DOCUMENTED_SECURE_JSON_DATA = {"basicAuthPassword", "tlsCACert", "tlsClientCert", "tlsClientKey"}
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def inventory(**extra_vars):
    groups = {"all": ["mon1", "mon2", "am1", "logs1"], "prometheus": ["mon1", "mon2"],
              "alertmanager": ["am1"], "loki": ["logs1"]}
    hostvars = {host: dict(extra_vars.get(host, {})) for host in groups["all"]}
    return hostvars, groups


def by_uid(document):
    return {datasource["uid"]: datasource for datasource in document["datasources"]}


def test_three_datasources_with_fixed_uids_and_prometheus_as_default():
    hostvars, groups = inventory()
    document = datasources(hostvars, groups)
    assert document["apiVersion"] == 1 and document["prune"] is True
    found = by_uid(document)
    assert set(found) == {"da-prometheus", "da-alertmanager", "da-loki"}
    assert found["da-prometheus"]["url"] == "http://mon1:9090"
    assert found["da-alertmanager"]["url"] == "http://am1:9093"
    # Loki has no authentication, so the loki role keeps it on loopback unless told otherwise.
    assert found["da-loki"]["url"] == "http://127.0.0.1:3100"
    assert [d["uid"] for d in document["datasources"] if d["isDefault"]] == ["da-prometheus"]
    assert all(d["editable"] is False and d["access"] == "proxy" and not d["basicAuth"] for d in found.values())


def test_loki_on_a_private_address_is_read_there():
    hostvars, groups = inventory(logs1={"loki_listen_address": "10.2.0.4:3100"})
    assert by_uid(datasources(hostvars, groups))["da-loki"]["url"] == "http://10.2.0.4:3100"


def test_keys_are_those_grafana_documents():
    hostvars, groups = inventory(mon1={
        "prometheus_web_basic_auth_users": {"grafana": "pw"}, "prometheus_web_tls_cert": "PEM"})
    document = datasources(hostvars, groups, {"ca_cert": CA, "scrape_interval": "5s"})
    assert set(document) <= DOCUMENTED_TOP_LEVEL
    for datasource in document["datasources"]:
        assert set(datasource) <= DOCUMENTED_DATASOURCE, datasource["name"]
        assert set(datasource["jsonData"]) <= DOCUMENTED_JSON_DATA[datasource["type"]], datasource["name"]
        assert set(datasource.get("secureJsonData", {})) <= DOCUMENTED_SECURE_JSON_DATA, datasource["name"]
        assert isinstance(datasource["orgId"], int) and isinstance(datasource["basicAuth"], bool)


def test_web_config_of_the_host_sets_https_user_password_and_ca():
    hostvars, groups = inventory(
        mon1={"prometheus_listen_address": "0.0.0.0:9443", "ansible_host": "10.0.0.5",
              "prometheus_web_basic_auth_users": {"prometheus": "a", "grafana": "s3cret"},
              "prometheus_web_tls_cert": "PEM"},
        am1={"alertmanager_web_basic_auth_users": {"grafana": "am-pw"}},
    )
    found = by_uid(datasources(hostvars, groups, {"ca_cert": CA, "scrape_interval": "5s"}))
    prometheus = found["da-prometheus"]
    assert prometheus["url"] == "https://10.0.0.5:9443"
    assert prometheus["basicAuth"] is True and prometheus["basicAuthUser"] == "grafana"
    assert prometheus["secureJsonData"] == {"basicAuthPassword": "s3cret", "tlsCACert": CA}
    assert prometheus["jsonData"]["tlsAuthWithCACert"] is True
    assert prometheus["jsonData"]["timeInterval"] == "5s"
    # Plain http: no CA, even though one is given.
    assert found["da-alertmanager"]["url"] == "http://am1:9093"
    assert found["da-alertmanager"]["secureJsonData"] == {"basicAuthPassword": "am-pw"}
    assert "tlsAuthWithCACert" not in found["da-alertmanager"]["jsonData"]


def test_a_host_that_demands_basic_auth_without_a_user_for_grafana_fails_naming_both():
    hostvars, groups = inventory(mon1={"prometheus_web_basic_auth_users": {"prometheus": "a"}})
    with pytest.raises(AnsibleFilterError, match=r"mon1 .*prometheus_web_basic_auth_users.*'grafana'.*grafana_datasource_username"):
        datasources(hostvars, groups)


def test_urls_replace_the_inventory_and_empty_groups_drop_optional_datasources():
    hostvars = {"x": {}}
    groups = {"all": ["x"]}
    document = datasources(hostvars, groups, {
        "prometheus_url": "https://prom.example.org", "prometheus_username": "viewer", "prometheus_password": "pw"})
    (prometheus,) = document["datasources"]
    assert prometheus["url"] == "https://prom.example.org" and prometheus["basicAuthUser"] == "viewer"
    with pytest.raises(AnsibleFilterError, match="no Prometheus"):
        datasources(hostvars, groups)


def test_the_minimal_step_is_the_scrape_interval_of_the_prometheus_host():
    hostvars, groups = inventory(mon1={"prometheus_scrape_interval": "30s"})
    assert by_uid(datasources(hostvars, groups))["da-prometheus"]["jsonData"]["timeInterval"] == "30s"
    assert by_uid(datasources(hostvars, groups, {"scrape_interval": "1m"}))["da-prometheus"]["jsonData"]["timeInterval"] == "1m"


def test_dollar_signs_are_escaped_so_grafana_takes_them_literally():
    hostvars, groups = inventory(mon1={"prometheus_web_basic_auth_users": {"grafana": "pa$$w0rd$HOME"}})
    prometheus = by_uid(datasources(hostvars, groups))["da-prometheus"]
    assert prometheus["secureJsonData"]["basicAuthPassword"] == "pa$$$$w0rd$$HOME"


def test_extra_datasources_are_checked_and_appended():
    hostvars, groups = inventory()
    extra = {"name": "Postgres", "type": "grafana-postgresql-datasource", "uid": "pg", "url": "db:5432"}
    document = datasources(hostvars, groups, {"extra": [extra]})
    assert document["datasources"][-1]["uid"] == "pg" and document["datasources"][-1]["orgId"] == 1
    with pytest.raises(AnsibleFilterError, match="extra datasource 1 .*unknown keys"):
        datasources(hostvars, groups, {"extra": [dict(extra, password_file="x")]})
    with pytest.raises(AnsibleFilterError, match="already provisioned"):
        datasources(hostvars, groups, {"extra": [dict(extra, uid="da-loki")]})
    with pytest.raises(AnsibleFilterError, match="needs at least"):
        datasources(hostvars, groups, {"extra": [{"name": "x"}]})


def test_uids_match_what_the_datasource_variables_of_the_dashboards_select():
    # The dashboards pick their datasource by type; the fixed uids are what
    # users and links reference.
    assert {spec["uid"] for spec in _datasources.DATASOURCES.values()} == {"da-prometheus", "da-alertmanager", "da-loki"}
