# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build Prometheus scrape configs from the Ansible inventory.

Everything this collection installs is found through the inventory groups and
the hosts' own variables, so no user writes a target by hand:

* every exporter of the exporters role, on the hosts where it is enabled, on
  the port of its listen address, with https and basic auth where that host's
  web config asks for them;
* the collection's other services (Prometheus, Alertmanager, Grafana, Loki,
  and each host's log shipper, Alloy or Promtail) on the hosts of their groups;
* the platform backend's /metrics on the hosts of its group;
* blackbox probes of the backend's health endpoints and of extra URLs.

Targets that need different credentials or schemes go into separate scrape
configs that keep the same job label.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._exporters import EXPORTERS
from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._listen import listen_endpoint, listen_scope

# The collection's services, scraped where their group has hosts; those with a
# web config name the variables of its basic-auth users and TLS certificate.
SERVICES = {
    "alertmanager": {
        "group": "alertmanager",
        "listen_var": "alertmanager_listen_address",
        "port": 9093,
        "users_var": "alertmanager_web_basic_auth_users",
        "tls_var": "alertmanager_web_tls_cert",
    },
    # Grafana's /metrics needs no login; it is https when Grafana serves TLS.
    "grafana": {"group": "grafana", "listen_var": "grafana_listen_address", "port": 3001, "tls_var": "grafana_web_tls_cert"},
    # Loki has no authentication: it listens on loopback unless told otherwise.
    "loki": {"group": "loki", "listen_var": "loki_listen_address", "port": 3100, "default_listen": "127.0.0.1:3100"},
    # The log shipper of each host of the promtail group, as its logs_shipper says.
    "promtail": {"group": "promtail", "listen_var": "promtail_listen_address", "port": 9080, "shipper": "promtail"},
    # Alloy's server listens on loopback by default: scraped only where this Prometheus runs, unless told otherwise.
    "alloy": {"group": "promtail", "listen_var": "alloy_listen_address", "port": 12345, "default_listen": "127.0.0.1:12345",
              "shipper": "alloy"},
}
# The log shipper of a host that does not say (playbooks/logs.yml's default too; a unit test checks they agree).
DEFAULT_LOGS_SHIPPER = "alloy"


def service_listen(vars_of_host: Mapping, spec: Mapping) -> str:
    """The listen address of a service on a host: its variable, or the role's default."""
    return vars_of_host.get(spec["listen_var"]) or spec.get("default_listen") or f"0.0.0.0:{spec['port']}"


def _host_address(hostvars: Mapping, host: str) -> str:
    return str(hostvars.get("ansible_host") or host)


def _target(hostvars: Mapping, host: str, listen_address: str) -> str:
    """The address Prometheus scrapes: the listen host, or the host's address for a wildcard."""
    try:
        endpoint = listen_endpoint(listen_address)
    except AnsibleFilterError as exc:
        raise AnsibleFilterError(f"host {host}: {exc.message}") from None
    listen_host = listen_address.rpartition(":")[0].strip("[]")
    address = endpoint["host"] if listen_host not in ("", "0.0.0.0", "*", "::") else _host_address(hostvars, host)
    if ":" in address:
        address = f"[{address}]"
    return f"{address}:{endpoint['port']}"


def _labels(host: str, groups_of_host: list, environment: str) -> dict:
    labels = {"inventory_hostname": host}
    if environment:
        labels["environment"] = environment
    if groups_of_host:
        # Comma-framed, so that a relabel or query can match ",postgres," exactly.
        labels["groups"] = "," + ",".join(sorted(groups_of_host)) + ","
    return labels


def _group_hosts(groups: Mapping, name: str | None) -> list:
    return list(groups.get("all", [])) if name is None else list(groups.get(name, []))


def _enabled(hostvars: Mapping, host: str, groups: Mapping, variable: str, default_group: str | None) -> bool:
    value = hostvars.get(variable)
    if value is None:
        return host in _group_hosts(groups, default_group)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1")
    return bool(value)


def _web_access(vars_of_host: Mapping, host: str, users_var: str | None, tls_var: str, username: str,
                client: str = "Prometheus (prometheus_scrape_username)") -> dict:
    """Scheme and credentials for a host's web config: https if it serves TLS, and
    the client's user with the password from that host's basic-auth users."""
    users = (vars_of_host.get(users_var) if users_var else None) or {}
    if users and username not in users:
        raise AnsibleFilterError(
            f"host {host} demands basic auth, but {users_var} has no user {username!r} for {client}"
        )
    access = {"scheme": "https" if vars_of_host.get(tls_var) else "http"}
    if users:
        access.update(username=username, password=users[username])
    return access


def _scrape_target(vars_of_host: Mapping, host: str, listen: str, environment: str, ca_file, web: Mapping) -> dict:
    """One target of a scrape job: address, labels, and how to reach it (plain http unless web says otherwise)."""
    return {
        "address": _target(vars_of_host, host, listen),
        "labels": _labels(host, vars_of_host.get("group_names") or [], environment),
        "scheme": "http",
        "ca_file": ca_file,
        **web,
    }


def _jobs(job: str, targets: list, metrics_path: str = "/metrics") -> list:
    """Group targets by how they are scraped; one scrape config per distinct way."""
    by_profile: dict = {}
    for target in targets:
        profile = (target["scheme"], target.get("username"), target.get("password"), target.get("ca_file"))
        by_profile.setdefault(profile, []).append(target)
    configs = []
    for index, ((scheme, username, password, ca_file), members) in enumerate(by_profile.items()):
        config = {"job_name": job if index == 0 else f"{job}-{index + 1}"}
        if index:
            config["relabel_configs"] = [{"target_label": "job", "replacement": job}]
        config["scheme"] = scheme
        config["metrics_path"] = metrics_path
        if username:
            config["basic_auth"] = {"username": username, "password": password}
        if scheme == "https" and ca_file:
            config["tls_config"] = {"ca_file": ca_file}
        config["static_configs"] = [{"targets": [m["address"]], "labels": m["labels"]} for m in members]
        configs.append(config)
    return configs


def scrape_configs(hostvars: Mapping, groups: Mapping, options: Mapping | None = None) -> list:
    """Return the scrape_configs list for prometheus.yml.

    hostvars and groups are Ansible's magic variables. options (all optional):
      environment         value of the environment target label
      self_address        HOST:PORT of this Prometheus (job "prometheus")
      self_host           this Prometheus's inventory name: a service on loopback is scraped
                          (and the blackbox exporter sent probes) only on this host
      scrape_username     basic-auth user Prometheus uses against exporters with basic auth
      ca_file             CA bundle on the Prometheus host for exporters that serve TLS
      backend_group       inventory group of the platform backend (default "backend")
      backend_port        port of the backend's /metrics (default 8001)
      backend_health_port, backend_health_scheme, backend_health_paths
      blackbox_address    HOST:PORT of the blackbox exporter that runs the probes
      blackbox_http_targets   extra URLs to probe with the http_2xx module
      blackbox_tcp_targets    HOST:PORT targets for the tcp_connect module
      blackbox_icmp_targets   hosts for the icmp module
    """
    options = dict(options or {})
    if not isinstance(groups, Mapping):
        raise AnsibleFilterError("prometheus_scrape_configs: groups must be the inventory's groups mapping")
    environment = str(options.get("environment") or "")
    username = options.get("scrape_username") or "prometheus"
    ca_file = options.get("ca_file") or None
    configs = []

    if options.get("self_address"):
        configs.append({
            "job_name": "prometheus",
            "static_configs": [{"targets": [options["self_address"]]}],
        })

    all_hosts = _group_hosts(groups, None)
    for name, spec in EXPORTERS.items():
        targets = []
        for host in all_hosts:
            vars_of_host = hostvars.get(host, {})
            if not _enabled(vars_of_host, host, groups, f"exporters_{name}_enabled", spec["group"]):
                continue
            listen = vars_of_host.get(f"exporters_{name}_listen_address") or spec.get("default_listen") or f"0.0.0.0:{spec['port']}"
            if not _reachable(host, listen, options):
                continue
            web = _web_access(vars_of_host, host, "exporters_basic_auth_users", "exporters_tls_cert", username) if spec["web"] else {}
            targets.append(_scrape_target(vars_of_host, host, listen, environment, ca_file, web))
        configs.extend(_jobs(name, targets))

    for name, spec in SERVICES.items():
        targets = []
        for host in _group_hosts(groups, spec["group"]):
            vars_of_host = hostvars.get(host, {})
            if "shipper" in spec and (vars_of_host.get("logs_shipper") or DEFAULT_LOGS_SHIPPER) != spec["shipper"]:
                continue
            listen = service_listen(vars_of_host, spec)
            if not _reachable(host, listen, options):
                continue
            web = _web_access(vars_of_host, host, spec.get("users_var"), spec["tls_var"], username) if "tls_var" in spec else {}
            targets.append(_scrape_target(vars_of_host, host, listen, environment, ca_file, web))
        configs.extend(_jobs(name, targets))

    backend_hosts = _group_hosts(groups, options.get("backend_group") or "backend")
    backend_port = int(options.get("backend_port") or 8001)
    configs.extend(_jobs("backend", [
        {
            "address": f"{_host_address(hostvars.get(host, {}), host)}:{backend_port}",
            "labels": _labels(host, hostvars.get(host, {}).get("group_names") or [], environment),
            "scheme": "http",
        }
        for host in backend_hosts
    ]))

    blackbox = options.get("blackbox_address")
    if blackbox:
        health_port = int(options.get("backend_health_port") or 8000)
        health_scheme = options.get("backend_health_scheme") or "http"
        health_paths = options.get("backend_health_paths") or []
        health_urls = [
            f"{health_scheme}://{_host_address(hostvars.get(host, {}), host)}:{health_port}{path}"
            for host in backend_hosts
            for path in health_paths
        ]
        probes = [
            ("blackbox-health", "http_health", health_urls),
            ("blackbox-http", "http_2xx", list(options.get("blackbox_http_targets") or [])),
            ("blackbox-tcp", "tcp_connect", list(options.get("blackbox_tcp_targets") or [])),
            ("blackbox-icmp", "icmp", list(options.get("blackbox_icmp_targets") or [])),
        ]
        # The blackbox exporter of this host demands what its web config says.
        self_host = options.get("self_host")
        access = (_web_access(hostvars.get(self_host, {}), self_host, "exporters_basic_auth_users", "exporters_tls_cert", username)
                  if self_host else {"scheme": "http"})
        for job, module, targets in probes:
            if targets:
                configs.append(_probe_job(job, module, targets, blackbox, environment, access, ca_file, self_host))
    return configs


def _reachable(host: str, listen: str, options: Mapping) -> bool:
    """Whether this Prometheus can reach a service: one on loopback only from its own host."""
    self_host = options.get("self_host")
    if not self_host or host == self_host:
        return True
    try:
        return listen_scope(listen) != "loopback"
    except AnsibleFilterError as exc:
        raise AnsibleFilterError(f"host {host}: {exc.message}") from None


def _probe_job(job: str, module: str, targets: list, blackbox: str, environment: str,
               access: Mapping | None = None, ca_file=None, server_name=None) -> dict:
    labels = {"module": module}
    if environment:
        labels["environment"] = environment
    access = access or {"scheme": "http"}
    client = {"scheme": access["scheme"]}
    if access.get("username"):
        client["basic_auth"] = {"username": access["username"], "password": access["password"]}
    if access["scheme"] == "https":
        # The exporter's certificate names the host, not the loopback address it is reached on.
        client["tls_config"] = {key: value for key, value in (("ca_file", ca_file), ("server_name", server_name)) if value}
    return {
        "job_name": job,
        **client,
        "metrics_path": "/probe",
        "params": {"module": [module]},
        "static_configs": [{"targets": targets, "labels": labels}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": blackbox},
        ],
    }


def alertmanager_targets(hostvars: Mapping, groups: Mapping, group: str = "alertmanager", cluster: bool = False) -> list:
    """HOST:PORT of every Alertmanager in the inventory group, cluster peers included.

    With cluster, the address of each one's gossip port (alertmanager_cluster_listen_address)
    instead of its API.
    """
    variable, default = ("alertmanager_cluster_listen_address", "0.0.0.0:9094") if cluster else ("alertmanager_listen_address", "0.0.0.0:9093")
    targets = []
    for host in _group_hosts(groups, group):
        vars_of_host = hostvars.get(host, {})
        listen = vars_of_host.get(variable) or default
        targets.append(_target(vars_of_host, host, listen))
    return targets


def alertmanager_configs(hostvars: Mapping, groups: Mapping, options: Mapping | None = None) -> list:
    """The alerting.alertmanagers of prometheus.yml: every Alertmanager of the group, with
    the scheme and credentials its web config demands (one entry per distinct way).

    options: group (default "alertmanager"), username (default "prometheus"), ca_file.
    """
    options = dict(options or {})
    group = options.get("group") or "alertmanager"
    username = options.get("username") or "prometheus"
    spec = SERVICES["alertmanager"]
    by_profile: dict = {}
    for host, address in zip(_group_hosts(groups, group), alertmanager_targets(hostvars, groups, group)):
        web = _web_access(hostvars.get(host, {}), host, spec["users_var"], spec["tls_var"], username)
        profile = (web["scheme"], web.get("username"), web.get("password"))
        by_profile.setdefault(profile, []).append(address)
    configs = []
    for (scheme, user, password), addresses in by_profile.items():
        config = {"api_version": "v2", "scheme": scheme}
        if user:
            config["basic_auth"] = {"username": user, "password": password}
        if scheme == "https" and options.get("ca_file"):
            config["tls_config"] = {"ca_file": options["ca_file"]}
        config["static_configs"] = [{"targets": addresses}]
        configs.append(config)
    return configs
