# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build Grafana's datasource provisioning file from the Ansible inventory.

Grafana reads Prometheus, Alertmanager and Loki on the first host of each
service's inventory group (or at a URL given instead), with https and basic
auth where that host's web config asks for them. The datasources keep fixed
uids, which the dashboards reference.

Grafana expands environment variables and $__file{} in every provisioned
value; '$$' is its escape for a literal '$'. Every string is escaped, so a
password with a '$' reaches the datasource unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._scrape import (
    SERVICES,
    _group_hosts,
    _target,
    _web_access,
    service_listen,
)

# The datasources this collection provisions, with the uids dashboards use.
DATASOURCES = {
    "prometheus": {
        "name": "Prometheus",
        "uid": "da-prometheus",
        "group": "prometheus",
        "listen_var": "prometheus_listen_address",
        "port": 9090,
        "users_var": "prometheus_web_basic_auth_users",
        "tls_var": "prometheus_web_tls_cert",
        "json_data": {"httpMethod": "POST", "prometheusType": "Prometheus"},
    },
    # The collection's other services: where they listen and how they are
    # reached, as Prometheus scrapes them.
    "alertmanager": {**SERVICES["alertmanager"], "name": "Alertmanager", "uid": "da-alertmanager",
                     "json_data": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False}},
    "loki": {**SERVICES["loki"], "name": "Loki", "uid": "da-loki", "json_data": {"maxLines": 1000}},
}
DATASOURCE_KEYS = {
    "name", "type", "uid", "access", "orgId", "url", "user", "database", "basicAuth", "basicAuthUser",
    "withCredentials", "isDefault", "jsonData", "secureJsonData", "version", "editable",
}


def _escape(value):
    """Escape '$' in every string of a provisioned value, so Grafana takes it literally."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, Mapping):
        return {key: _escape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escape(item) for item in value]
    return value


def _endpoint(kind: str, hostvars: Mapping, groups: Mapping, options: Mapping):
    """URL, user and password of one service, from the options or from its group's first host."""
    spec = DATASOURCES[kind]
    url = options.get(f"{kind}_url") or ""
    if url:
        return {"url": url, "username": options.get(f"{kind}_username") or "",
                "password": options.get(f"{kind}_password") or "", "vars": {}}
    hosts = _group_hosts(groups, options.get(f"{kind}_group") or spec["group"])
    if not hosts:
        return None
    host = hosts[0]
    vars_of_host = hostvars.get(host, {})
    listen = service_listen(vars_of_host, spec)
    username = options.get("username") or "grafana"
    web = _web_access(vars_of_host, host, spec.get("users_var"), spec.get("tls_var", ""), username,
                      client="Grafana (grafana_datasource_username)")
    return {"url": f"{web['scheme']}://{_target(vars_of_host, host, listen)}",
            "username": web.get("username", ""), "password": web.get("password", ""), "vars": vars_of_host}


def datasources(hostvars: Mapping, groups: Mapping, options: Mapping | None = None) -> dict:
    """Return Grafana's datasource provisioning document (apiVersion 1).

    options (all optional):
      username              the basic-auth user Grafana sends (default "grafana")
      ca_cert               PEM of the CA that signed the https services' certificates
      scrape_interval       Prometheus's scrape interval, the smallest step of queries
                            (default: the Prometheus host's prometheus_scrape_interval, if set)
      <kind>_url            use this URL instead of the group's first host (kind: prometheus,
                            alertmanager, loki), with <kind>_username and <kind>_password
      <kind>_group          inventory group of the service
      extra                 further datasources, provisioned as given
    A service with neither hosts nor a URL gets no datasource, except Prometheus:
    every dashboard needs it.
    """
    options = dict(options or {})
    if not isinstance(groups, Mapping):
        raise AnsibleFilterError("grafana_datasources: groups must be the inventory's groups mapping")
    ca_cert = options.get("ca_cert") or ""
    provisioned = []
    for kind, spec in DATASOURCES.items():
        endpoint = _endpoint(kind, hostvars, groups, options)
        if endpoint is None:
            if kind == "prometheus":
                raise AnsibleFilterError(
                    "grafana_datasources: no Prometheus to read from: the inventory group "
                    f"{options.get('prometheus_group') or 'prometheus'!r} is empty and no prometheus_url is given"
                )
            continue
        json_data = dict(spec["json_data"])
        secure = {}
        # Queries need no finer step than Prometheus's scrape interval.
        interval = options.get("scrape_interval") or endpoint["vars"].get("prometheus_scrape_interval")
        if kind == "prometheus" and interval:
            json_data["timeInterval"] = str(interval)
        if endpoint["username"]:
            secure["basicAuthPassword"] = endpoint["password"]
        if endpoint["url"].startswith("https://") and ca_cert:
            json_data["tlsAuthWithCACert"] = True
            secure["tlsCACert"] = ca_cert
        datasource = {
            "name": spec["name"], "type": kind, "uid": spec["uid"], "orgId": 1, "access": "proxy",
            "url": endpoint["url"], "isDefault": kind == "prometheus", "editable": False,
            "basicAuth": bool(endpoint["username"]),
        }
        if endpoint["username"]:
            datasource["basicAuthUser"] = endpoint["username"]
        datasource["jsonData"] = json_data
        if secure:
            datasource["secureJsonData"] = secure
        provisioned.append(datasource)

    names = {datasource["name"] for datasource in provisioned}
    uids = {datasource["uid"] for datasource in provisioned}
    for index, extra in enumerate(options.get("extra") or []):
        where = f"grafana_datasources: extra datasource {index + 1}"
        if not isinstance(extra, Mapping) or not extra.get("name") or not extra.get("type"):
            raise AnsibleFilterError(f"{where} needs at least 'name' and 'type'")
        unknown = sorted(set(extra) - DATASOURCE_KEYS)
        if unknown:
            raise AnsibleFilterError(f"{where} ({extra['name']}): unknown keys {unknown}; allowed: {sorted(DATASOURCE_KEYS)}")
        if extra["name"] in names or (extra.get("uid") and extra["uid"] in uids):
            raise AnsibleFilterError(f"{where} ({extra['name']}): its name or uid is already provisioned")
        names.add(extra["name"])
        uids.add(extra.get("uid"))
        provisioned.append({"orgId": 1, "access": "proxy", "editable": False, **extra})
    # prune: a datasource taken out of this file is deleted from Grafana.
    return _escape({"apiVersion": 1, "prune": True, "datasources": provisioned})
