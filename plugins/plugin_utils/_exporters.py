# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exporters of the exporters role, said once.

EXPORTERS says, per exporter (its short name is the one of its settings,
exporters_<name>_*):
  program        the release's program, its unit, user and /etc directory
  package        Debian's package of it (its binary is /usr/bin/<package>),
                 or None when only the upstream release exists
  package_path   the binary inside that package (the test mirror repacks it)
  archive        the release's file name, with {program}, {version} and
                 {arch}; default {program}-{version}.linux-{arch}.tar.gz
  title          its name in messages (default: the program)
  description, documentation   the unit's
  group          the inventory group that enables it by default (None: all)
  port           its port; default_listen its default address when it is
                 not 0.0.0.0:<port>
  web            "toolkit" when it serves exporter-toolkit's web config (TLS
                 and basic auth), "own" when it serves them through flags of
                 its own, None when it has neither
  listen         "flag" (--web.listen-address=HOST:PORT) or "ip_port"
                 (--listen_ip=HOST --port=PORT)
  checksum       true when no checksum file is published: the digest is
                 then a setting of its own (exporters_<name>_checksum)
  config_directory  false when it has no /etc/<program> (default true)

The role's vars describe what only one exporter needs (its own flags,
secrets, config files) in __exporters_specifics. The role (exporter_services),
the scrape configs (_scrape), the test mirror and the tests read this
registry; adding an exporter is an entry here, its settings (defaults and
argument spec) and the regenerated docs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._file_entries import release_install

EXPORTERS = {
    "node": {
        "program": "node_exporter", "package": "prometheus-node-exporter",
        "package_path": "usr/bin/prometheus-node-exporter",
        "description": "Prometheus node exporter", "documentation": "https://github.com/prometheus/node_exporter",
        "group": None, "port": 9100, "web": "toolkit", "listen": "flag",
    },
    "postgres": {
        "program": "postgres_exporter", "package": "prometheus-postgres-exporter",
        "package_path": "usr/bin/prometheus-postgres-exporter",
        "description": "Prometheus PostgreSQL exporter",
        "documentation": "https://github.com/prometheus-community/postgres_exporter",
        "group": "postgres", "port": 9187, "web": "toolkit", "listen": "flag",
    },
    "redis": {
        "program": "redis_exporter", "package": "prometheus-redis-exporter",
        "package_path": "usr/bin/prometheus-redis-exporter",
        "archive": "{program}-v{version}.linux-{arch}.tar.gz",
        "description": "Prometheus Redis exporter", "documentation": "https://github.com/oliver006/redis_exporter",
        # Not built on exporter-toolkit: TLS and one basic-auth user through its own flags.
        "group": "redis", "port": 9121, "web": "own", "listen": "flag",
    },
    "blackbox": {
        "program": "blackbox_exporter", "package": "prometheus-blackbox-exporter",
        "package_path": "usr/bin/prometheus-blackbox-exporter",
        "description": "Prometheus blackbox exporter", "documentation": "https://github.com/prometheus/blackbox_exporter",
        # On loopback by default: the Prometheus of the same host sends it the
        # probes; anyone else who reached it could make the host fetch any URL.
        "group": "prometheus", "port": 9115, "default_listen": "127.0.0.1:9115", "web": "toolkit", "listen": "flag",
    },
    "cadvisor": {
        # A bare executable, with no checksum file and no Debian package.
        "program": "cadvisor", "title": "cAdvisor", "package": None, "archive": "{program}-v{version}-linux-{arch}", "checksum": True,
        # Configured by flags alone: no /etc directory.
        "config_directory": False,
        "description": "cAdvisor container metrics", "documentation": "https://github.com/google/cadvisor",
        "group": "docker", "port": 8080, "web": None, "listen": "ip_port",
    },
}

# The settings every exporter has, exporters_<name>_<setting>.
SETTINGS = ("enabled", "version", "download_base_url", "listen_address", "extra_flags", "systemd_options")
PREFIX = "exporters_"
# The role's settings of every exporter, which exporter_services needs.
SHARED = ("arch", "method", "download_on", "hardening", "basic_auth_users", "tls_cert", "tls_key", "listen_public")
# How long the handler path waits for a (re)started exporter to listen.
READY_TIMEOUT = 30
# HOST:PORT, [V6]:PORT or :PORT, as the preflight accepts it.
_ADDRESS = re.compile(r"(\[[0-9a-fA-F:.]+\]|[^:\s]*):[0-9]{1,5}")


class ExporterError(ValueError):
    """A description the registry cannot build."""


def _setting_keys() -> list:
    """(exporter, setting) for every setting, in the registry's order (exporter by exporter)."""
    return [(name, setting) for name, entry in EXPORTERS.items()
            for setting in SETTINGS + (("checksum",) if entry.get("checksum") else ())]


def setting_names(prefix: str = PREFIX) -> list:
    """The variables of every exporter's settings, prefix + <exporter>_<setting>, in the registry's order."""
    return [f"{prefix}{name}_{setting}" for name, setting in _setting_keys()]


def _settings(values: list) -> dict:
    """The values query('ansible.builtin.vars', *setting_names()) returned, by exporter and setting."""
    keys = _setting_keys()
    if not isinstance(values, list) or len(values) != len(keys):
        raise ExporterError(f"exporter_services: expects the {len(keys)} values of exporter_setting_names, in order")
    settings: dict = {}
    for (name, setting), value in zip(keys, values):
        settings.setdefault(name, {})[setting] = value
    return settings


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1")
    return bool(value)


def valid_address(address) -> bool:
    """HOST:PORT with a port from 1 to 65535 (an IPv6 host in brackets)."""
    return isinstance(address, str) and bool(_ADDRESS.fullmatch(address)) and 0 < int(address.rpartition(":")[2]) < 65536


def _host_port(address: str) -> tuple:
    host, port = address.rsplit(":", 1)
    return host.strip("[]"), int(port)


def _ready(address: str) -> dict:
    """Where a client on the host reaches the exporter: a wildcard becomes loopback."""
    host, port = _host_port(address)
    if host in ("", "0.0.0.0", "*"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return {"host": host, "port": port, "timeout": READY_TIMEOUT}


def _listen_args(entry: Mapping, address: str) -> list:
    if entry["listen"] == "ip_port":
        # Two flags; a wildcard host is "" (all addresses).
        host, port = _host_port(address)
        return [f"--listen_ip={'' if host in ('0.0.0.0', '::', '*') else host}", f"--port={port}"]
    return [f"--web.listen-address={address}"]


def _install(entry: Mapping, settings: Mapping, shared: Mapping) -> dict:
    """The install description: the release, or Debian's package where there is one and the method says so."""
    install = release_install({
        "program": entry["program"], "version": settings["version"], "base_url": settings["download_base_url"],
        "arch": shared["arch"], "download_on": shared["download_on"], "archive": entry.get("archive"),
        "package": entry.get("package"),
        # An exporter without a package always comes from its release.
        "method": shared["method"] if entry.get("package") else "archive",
    })
    if entry.get("checksum"):
        # No checksum file upstream: the pinned digest, even empty (the preflight names it), never a guess.
        install["checksum"] = settings["checksum"]
    return install


def _web(entry: Mapping, shared: Mapping) -> dict | None:
    path = f"/etc/{entry['program']}/web-config.yml"
    if entry["web"] == "toolkit":
        return {"path": path, "basic_auth_users": shared["basic_auth_users"], "tls_cert": shared["tls_cert"],
                "tls_key": shared["tls_key"], "flag": "--web.config.file"}
    if entry["web"] == "own":
        # Only the TLS files; the exporter's own flags name them.
        return {"path": path, "tls_cert": shared["tls_cert"], "tls_key": shared["tls_key"]}
    return None


def service(name: str, settings: Mapping, shared: Mapping, specific: Mapping | None = None) -> dict:
    """The common_services description of one exporter.

    settings are its exporters_<name>_* values, shared the role's settings
    of every exporter (arch, method, download_on, hardening, basic_auth_users,
    tls_cert, tls_key), specific what only this exporter needs: further
    directories, unit args (after the listen flags, before the extra flags)
    and unit options (under the user's), and any other key of the
    description, which replaces the registry's.
    """
    entry = EXPORTERS[name]
    specific = dict(specific or {})
    specific_unit = dict(specific.pop("unit", None) or {})
    program = entry["program"]
    address = settings["listen_address"]
    directories = ([{"path": f"/etc/{program}", "mode": "0750"}] if entry.get("config_directory", True) else []) \
        + list(specific.pop("directories", None) or [])
    description = {"name": program, "user": program, "install": _install(entry, settings, shared)}
    if directories:
        description["directories"] = directories
    if valid_address(address):  # the preflight names an invalid one
        description["ready"] = _ready(address)
    web = _web(entry, shared)
    if web:
        description["web"] = web
    description |= specific
    options = dict(specific_unit.pop("options", None) or {}) | dict(settings.get("systemd_options") or {})
    args = (_listen_args(entry, address) if valid_address(address) else []) + list(specific_unit.pop("args", None) or [])
    description["unit"] = {
        "description": entry["description"],
        "documentation": entry["documentation"],
        "hardening": shared["hardening"],
        "options": options,
        "args": args + list(settings.get("extra_flags") or []),
        **specific_unit,
    }
    return description


def _listener(name: str, settings: Mapping, protected: bool, allow_public: bool) -> dict:
    entry = EXPORTERS[name]
    title = entry.get("title", entry["program"])
    listener = {"exporter": name, "name": f"{title} ({PREFIX}{name}_listen_address)",
                "address": settings["listen_address"], "authenticated": protected and entry["web"] is not None,
                "switch": f"{PREFIX}listen_public", "allow_public": allow_public}
    if entry["web"] is None:
        listener["fix"] = f"{title} has no authentication"
    return listener


def exporter_services(values: list, shared: Mapping, specifics: Mapping | None = None) -> dict:
    """What the exporters role needs of its exporters, from their settings.

    values are query('ansible.builtin.vars', *setting_names()). Returns:
      enabled, disabled   short names of the exporters switched on and off
      services            the common_services descriptions of the enabled ones
      removed             those of the disabled ones (removed if installed)
      invalid_addresses   the listen-address settings that are not HOST:PORT
      listeners           the enabled ones' listeners, for unauthenticated_listeners
    """
    settings = _settings(values)
    if not isinstance(shared, Mapping) or not set(SHARED) <= set(shared):
        raise ExporterError(f"exporter_services: shared needs {', '.join(SHARED)}")
    shared = dict(shared)
    protected = bool(shared.get("basic_auth_users")) or bool(shared.get("tls_cert"))
    specifics = specifics or {}
    unknown = sorted(set(specifics) - set(EXPORTERS))
    if unknown:
        raise ExporterError(f"exporter_services: no exporter is named {', '.join(unknown)}")
    result: dict = {"enabled": [], "disabled": [], "services": [], "removed": [], "invalid_addresses": [], "listeners": []}
    for name in EXPORTERS:
        enabled = _flag(settings[name]["enabled"])
        result["enabled" if enabled else "disabled"].append(name)
        result["services" if enabled else "removed"].append(
            service(name, settings[name], shared, specifics.get(name)))
        if not valid_address(settings[name]["listen_address"]):
            result["invalid_addresses"].append(f"{PREFIX}{name}_listen_address")
        elif enabled:
            result["listeners"].append(_listener(name, settings[name], protected, _flag(shared.get("listen_public"))))
    return result


def mirror_rows() -> list:
    """The test mirror's rows (tests/harness/mirror.sh) of the exporters Debian packages."""
    rows = []
    for entry in EXPORTERS.values():
        if not entry.get("package"):
            continue
        row = [entry["program"], entry["package"], entry["package_path"]]
        archive = entry.get("archive")
        if archive:
            # The mirror names the archive's top directory; it appends .linux-amd64.
            row.append("archive=" + archive.split(".linux-")[0].format(program=entry["program"], version="{version}"))
        rows.append("  ".join(row))
    return rows
