# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a service: what the shared steps of the common role put on a host.

A service role describes each of its services whole, as data (the
common_services entries of roles/common/meta/argument_specs.yml). From that
description and a few facts of the host, service_plan works out everything
the steps do: the accounts and the install (package or release archive), the
directories and binary links, the systemd unit with its hardening, the
secret environment, TLS and web-config files, what a removal deletes, and
how the role tells that the service is ready again after a restart or a
reload. The steps then only carry the plan out, one remote execution per
step for all of a role's services.

Pure functions of their arguments: no Ansible run is needed to test them.
"""
from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.filter.core import to_nice_yaml as ansible_to_nice_yaml

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._bcrypt import bcrypt_users
from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._line_formats import (
    environment_file,
    systemd_unit,
)
from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._versions import versioned_args

# Every unit written here carries this line: only a unit that does is ever
# removed (an exporter switched off but installed by other means stays).
UNIT_MARK = "# Installed by the dataaggregator.infrastructure collection: switching its component off removes it."

# systemd sandboxing. "basic" holds what works in unprivileged containers on
# Debian 12 and 13 (tried one option at a time: seccomp-based options fail
# under Debian 13's systemd there); "strict" adds the seccomp and kernel
# protections of a real host: every program here is a Go binary, which needs
# no writable and executable memory and no syscall outside @system-service;
# AF_NETLINK is for node_exporter's and cAdvisor's network statistics.
# "auto" picks by the host's virtualization type. tests/unit/roles/
# test_unit_exposure.py scores each profile with systemd-analyze.
HARDENING_BASIC = {
    "NoNewPrivileges": True,
    "CapabilityBoundingSet": "",
    "PrivateTmp": True,
    "ProtectSystem": "strict",
    "ProtectHome": "read-only",
    "ProtectControlGroups": True,
}
HARDENING_PROFILES = {
    "off": {},
    "basic": HARDENING_BASIC,
    "strict": HARDENING_BASIC | {
        "LockPersonality": True,
        "RestrictRealtime": True,
        "RestrictSUIDSGID": True,
        "RestrictNamespaces": True,
        "SystemCallArchitectures": "native",
        "PrivateDevices": True,
        "ProtectKernelModules": True,
        "ProtectKernelTunables": True,
        "ProtectKernelLogs": True,
        "ProtectClock": True,
        "ProtectHostname": True,
        "SystemCallFilter": "@system-service",
        "SystemCallErrorNumber": "EPERM",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        "MemoryDenyWriteExecute": True,
    },
}
CONTAINER_TYPES = frozenset({"docker", "container", "containerd", "podman", "lxc", "systemd-nspawn"})

# Go's names for the machine architectures that upstream archives are built for.
GO_ARCHITECTURES = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "armv7",
    "armv6l": "armv6",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
}

_TARBALL = re.compile(r"[.]tar[.]gz$|[.]tgz$")
_ZIP = re.compile(r"[.]zip$")


class ServicePlanError(AnsibleFilterError):
    """A service description the plan cannot be made from."""


def go_architecture(machine: str) -> str:
    """Go's name for a machine architecture (the name itself when Go has no other)."""
    return GO_ARCHITECTURES.get(machine, machine)


def in_container(facts: Mapping) -> bool:
    """Whether the virtualization facts say the host is a container (a guest of a container engine)."""
    return facts.get("virtualization_role", "") == "guest" and facts.get("virtualization_type", "") in CONTAINER_TYPES


def auto_hardening(facts: Mapping) -> str:
    """The profile "auto" stands for: basic in a container (it cannot start the strict one), strict elsewhere."""
    return "basic" if in_container(facts) else "strict"


def hardening_name(requested, facts: Mapping) -> str:
    """The profile a unit runs under: the requested one, or the one auto picks."""
    name = auto_hardening(facts) if requested in (None, "auto") else requested
    if name not in HARDENING_PROFILES:
        raise ServicePlanError(f"unknown systemd hardening profile {name!r}: use one of auto, {', '.join(HARDENING_PROFILES)}")
    return name


def to_nice_yaml(data) -> str:
    """YAML exactly as the to_nice_yaml filter (indent=2, sort_keys=False) writes it, whatever the ansible-core release."""
    return ansible_to_nice_yaml(data, indent=2, sort_keys=False)


class _Service:
    """One service description, with the values every part of its plan shares."""

    def __init__(self, service: Mapping, context: Mapping):
        # Never the description itself in a message: it holds the service's secrets.
        if not isinstance(service, Mapping):
            raise ServicePlanError(f"a service description is a mapping, got {type(service).__name__}")
        if not service.get("name"):
            raise ServicePlanError("a service description needs a name")
        self.service = service
        self.context = context
        self.name = service["name"]
        self.install = service.get("install") or {}
        self.method = self.install.get("method", "package")
        if self.method not in ("package", "archive"):
            raise ServicePlanError(f"{self.name}: unknown install method {self.method!r} (package or archive)")
        self.user = self._required(service, "user")
        self.group = service.get("group", self.user)
        self.unit = service.get("unit") or {}
        self.web = service.get("web") or {}
        self.install_root = context.get("install_root", "/opt/dataaggregator")
        self.bin_dir = context.get("bin_dir", "/usr/local/bin")
        self.archive_dir = f"{self.install_root}/{self.name}/{self.install.get('version', '')}"
        self.unit_path = f"/etc/systemd/system/{self.name}.service"

    def _required(self, mapping: Mapping, key: str, where: str = ""):
        """A setting without which the plan would be wrong (an empty checksum would skip the check)."""
        value = mapping.get(key)
        if value in (None, ""):
            raise ServicePlanError(f"{self.service['name']}: {where}{key} is required and empty or missing")
        return value

    @property
    def archive_file(self) -> str:
        """The archive's file name, from its URL's path (read only by the steps that download)."""
        return posixpath.basename(urlsplit(self._required(self.install, "archive_url", "install.")).path)

    # --- readiness -----------------------------------------------------

    def _credentials(self, mapping: Mapping, where: str) -> dict:
        """Basic-auth credentials for a check: both or neither."""
        user, password = mapping.get("user") or "", mapping.get("password") or ""
        if bool(user) != bool(password):
            raise ServicePlanError(f"{self.name}: {where}user and {where}password go together")
        return {"user": user, "password": password} if user else {}

    def ready(self) -> dict:
        """How to tell the service is ready after a start or a restart: a port that listens, or a URL that answers 200."""
        ready = self._required(self.service, "ready")
        if ("port" in ready) == ("url" in ready):
            raise ServicePlanError(f"{self.name}: ready needs exactly one of port and url")
        planned = {"timeout": int(ready.get("timeout") or 60)}
        if "port" in ready:
            return planned | {"host": ready.get("host") or "127.0.0.1", "port": int(ready["port"])}
        return planned | {"url": ready["url"]} | self._credentials(ready, "ready.")

    def reload(self) -> dict:
        """How the service takes a new config without a restart (empty: it cannot, and restarts)."""
        reload = self.service.get("reload") or {}
        signal, urls = bool(reload.get("signal")), list(reload.get("urls") or [])
        if signal and urls:
            raise ServicePlanError(f"{self.name}: reload takes a signal or urls, not both")
        if not (signal or urls):
            if reload.get("check"):
                raise ServicePlanError(f"{self.name}: reload.check needs a signal or urls to check")
            return {}
        if signal and not self.unit.get("exec_reload"):
            raise ServicePlanError(f"{self.name}: reload by signal needs unit.exec_reload")
        planned = {"signal": signal, "urls": urls} | self._credentials(reload, "reload.")
        check = reload.get("check") or {}
        if check:
            planned["check"] = {"url": self._required(check, "url", "reload.check."),
                                "pattern": self._required(check, "pattern", "reload.check.")}
        return planned

    # --- install -------------------------------------------------------
    @property
    def is_archive(self) -> bool:
        return self.method == "archive"

    @property
    def marker(self) -> str:
        return f"{self.archive_dir}/.installed" if self.is_archive else ""

    @property
    def binary_path(self) -> str:
        """The service's main binary: the package's, or the first one an archive brings."""
        if not self.is_archive:
            return self._required(self.install, "package_binary", "install.")
        binaries = self.install.get("binaries") or []
        if not binaries:
            raise ServicePlanError(f"{self.name}: an archive install names its binaries (install.binaries)")
        return f"{self.bin_dir}/{binaries[0]['name']}"

    def probe(self) -> dict:
        """What service_install_info looks at."""
        return {
            "name": self.name,
            "user": self.user,
            "group": self.group,
            "extra_groups": self.service.get("extra_groups", []),
            "home": self.service.get("home", "/nonexistent"),
            "marker": self.marker,
            "unit": f"{self.name}.service",
        }

    def directories(self) -> list:
        """Root-owned by default, so that the service cannot change its own config."""
        return [
            {
                "path": directory["path"],
                "owner": directory.get("owner", "root"),
                "group": directory.get("group", self.group),
                "mode": directory.get("mode", "0750"),
            }
            for directory in self.service.get("directories", [])
        ]

    def links(self) -> list:
        if not self.is_archive:
            return []
        return [
            {"path": f"{self.bin_dir}/{binary['name']}", "src": f"{self.archive_dir}/{binary.get('src', binary['name'])}"}
            for binary in self.install.get("binaries", [])
        ]

    def archive(self) -> dict:
        """How install_archive.yml downloads, checks and unpacks the release (archive installs only)."""
        if not self.is_archive:
            return {}
        binaries = self.install.get("binaries") or [{}]
        kind = "tarball" if _TARBALL.search(self.archive_file) else ("zip" if _ZIP.search(self.archive_file) else "executable")
        on_controller = self.install.get("download_on", "target") == "controller"
        host_path = f"{self.install_root}/{self.name}/{self.archive_file}"
        checksum = self._required(self.install, "checksum", "install.")
        return {
            "name": self.name,
            "url": self.install["archive_url"],
            "checksum": checksum,
            "file": self.archive_file,
            "kind": kind,
            "directory": self.archive_dir,
            "strip_components": self.install.get("strip_components", 1),
            "executable": binaries[0].get("src", binaries[0].get("name", "")),
            "marker": self.marker,
            "record": f"{self.archive_file} {checksum}",
            "host_path": host_path,
            "download_on_controller": on_controller,
            "download_path": (f"{self.context.get('controller_cache_dir', '')}/{self.archive_file}" if on_controller else host_path),
        }

    def packages(self) -> list:
        return list(self.install.get("packages") or []) if not self.is_archive else []

    def masked_units(self) -> list:
        return list(self.install.get("masked_units") or []) if not self.is_archive else []

    # --- the unit ------------------------------------------------------
    @property
    def version(self) -> str:
        """The release installed, which picks the flags that only some releases know."""
        if self.is_archive:
            return self.install.get("version", "")
        packages = self.install.get("packages") or [""]
        return (self.context.get("package_versions") or {}).get(packages[0], "")

    def check_version(self) -> None:
        """A service whose flags depend on its package's version needs that version known."""
        if self.unit.get("versioned_args") and not self.is_archive and not self.version:
            package = (self.install.get("packages") or [""])[0]
            raise ServicePlanError(
                f"apt reports no version, installed or to install, of {package} on {self.context.get('host', 'the host')},"
                " so the flags that depend on it cannot be chosen. Run apt-get update there, or check the package's name.")

    @property
    def web_file_used(self) -> bool:
        """A web config file for the service's own flag (exporter-toolkit): with TLS or users and a flag."""
        return self.web_enabled and "flag" in self.web

    @property
    def web_tls(self) -> bool:
        return len(self.web.get("tls_cert", "") or "") > 0

    @property
    def web_users(self) -> Mapping:
        return self.web.get("basic_auth_users", {}) or {}

    @property
    def web_enabled(self) -> bool:
        return self.web_tls or len(self.web_users) > 0

    @property
    def web_dir(self) -> str:
        return posixpath.dirname(self.web.get("path", "") or "")

    def hardening(self) -> str:
        return hardening_name(self.unit.get("hardening", "auto"), self.context.get("facts") or {})

    def unit_sections(self) -> dict:
        """The unit as data; systemd_unit serialises it, quoting each argument."""
        args = [self.binary_path] + list(self.unit.get("args", []))
        args += versioned_args(self.unit.get("versioned_args", []), self.version, program=self.name)
        if self.web_file_used:
            args.append(f"{self.web['flag']}={self.web['path']}")
        profile = self.hardening()
        writable = [directory["path"] for directory in self.service.get("directories", []) if directory.get("writable")]
        service = {
            "Type": "simple",
            "User": self.user,
            "Group": self.group,
            "ExecStart": args,
            "ExecReload": self.unit.get("exec_reload"),
            "Restart": "on-failure",
            "RestartSec": "2s",
            "Environment": [f"{key}={value}" for key, value in (self.unit.get("environment") or {}).items()],
            "EnvironmentFile": self.unit.get("environment_file"),
        }
        service.update(HARDENING_PROFILES[profile])
        if profile != "off" and writable:
            service["ReadWritePaths"] = writable
        service.update(self.unit.get("options") or {})
        return {
            "Unit": {
                "Description": self.unit.get("description", self.name),
                "Documentation": self.unit.get("documentation"),
                "After": "network-online.target",
                "Wants": "network-online.target",
                # Never give up restarting: a service that failed for a while
                # (a missing mount, a bad config being fixed) must come back, and
                # a later restart by Ansible must not be refused as "repeated too
                # quickly".
                "StartLimitIntervalSec": 0,
            },
            "Service": service,
            "Install": {"WantedBy": "multi-user.target"},
        }

    def unit_file(self) -> str:
        mark = self.context.get("unit_mark", UNIT_MARK)
        return f"{self.context.get('managed_header', '')}\n{mark}\n{systemd_unit(self.unit_sections())}"

    def service_files(self) -> list:
        """The unit, the role's config files, the secret environment and the TLS files."""
        files = [{"path": self.unit_path, "content": self.unit_file(), "mode": "0644"}]
        files += [dict(entry, group=self.group) for entry in self.service.get("config_files", [])]
        if "environment_file" in self.unit:
            files.append({
                "path": self.unit["environment_file"],
                "content": environment_file(self.unit.get("secret_environment") or {}),
                "mode": "0600",
                "secret": True,
            })
        if self.web_tls:
            files += [
                {"path": f"{self.web_dir}/tls.crt", "content": self.web["tls_cert"], "group": self.group, "mode": "0644"},
                {"path": f"{self.web_dir}/tls.key", "content": self._required(self.web, "tls_key", "web."), "group": self.group,
                 "mode": "0640", "secret": True},
            ]
        return files

    def service_absent(self) -> list:
        """A web config the service no longer reads (its TLS and users were taken away)."""
        return [self.web["path"]] if "path" in self.web and not self.web_file_used else []

    # --- web config ----------------------------------------------------
    def web_config(self) -> dict:
        config = {}
        if self.web_tls:
            config["tls_server_config"] = {"cert_file": f"{self.web_dir}/tls.crt", "key_file": f"{self.web_dir}/tls.key"}
        if self.web_users:
            config["basic_auth_users"] = bcrypt_users(dict(self.web_users), f"{self.context.get('host', '')}/{self.name}")
        return config

    def web_files(self) -> list:
        """Rendered, and its passwords hashed, only when the service uses it."""
        if not self.web_file_used:
            return []
        content = f"{self.context.get('managed_header', '')}\n{to_nice_yaml(self.web_config())}"
        return [{"path": self.web["path"], "content": content, "owner": "root", "group": self.group, "mode": "0640",
                 "secret": True}]

    # --- removal -------------------------------------------------------
    def remove_absent(self) -> list:
        """Everything a removal deletes, the unit last (a removal cut short is finished by the next run).

        The directories the service writes (its data) go only with remove_data.
        """
        directories = self.service.get("directories", [])
        kept_data = not self.context.get("remove_data", False)
        return (
            [f"/etc/systemd/system/{unit}" for unit in self.masked_units()]
            + [d["path"] for d in directories if "writable" not in d]
            + [d["path"] for d in directories if "writable" in d and not d["writable"]]
            + ([] if kept_data else [d["path"] for d in directories if "writable" in d and d["writable"]])
            + [link["path"] for link in self.links()]
            + [f"{self.install_root}/{self.name}"]
            + [self.unit_path]
        )


STEPS = ("probe", "install", "service", "remove")

INTERNAL = ("dataaggregator.infrastructure.common is internal: it installs services for the collection's"
            " service roles. Use one of those roles instead.")


def service_plan(service: Mapping, context: Mapping, step: str) -> dict:
    """The plan of one service for one step of the common role.

    context holds what is not part of the description: install_root, bin_dir,
    controller_cache_dir, facts (the virtualization facts, for auto hardening),
    package_versions (name to the version apt has or would install), host (the
    inventory name, which salts the web config's hashes), managed_header (the
    comment every rendered file starts with), unit_mark (the line that marks a
    unit as the collection's) and remove_data.
    """
    planned = _Service(service, context)
    if step == "probe":
        return planned.probe()
    if step == "install":
        return {
            "name": planned.name,
            "method": planned.method,
            "packages": planned.packages(),
            "masked_units": planned.masked_units(),
            "probe": planned.probe(),
            "directories": planned.directories(),
            "links": planned.links(),
            "archive": planned.archive(),
            "ready": planned.ready(),
            "reload": planned.reload(),
        }
    if step == "service":
        planned.check_version()
        web_files = planned.web_files()
        return {
            "name": planned.name,
            "unit_path": planned.unit_path,
            "hardening": planned.hardening(),
            "files": planned.service_files() + web_files,
            # The service reads its web config on every request: a change needs no restart.
            "no_restart": [entry["path"] for entry in web_files],
            "absent": planned.service_absent(),
            "ready": planned.ready(),
            "reload": planned.reload(),
            "config_changed": dict(service.get("config_changed") or {}),
        }
    if step == "remove":
        return {
            "name": planned.name,
            "probe": planned.probe(),
            "packages": planned.packages(),
            "absent": planned.remove_absent(),
        }
    raise ServicePlanError(f"unknown step {step!r}: one of {', '.join(STEPS)}")


# The common role's argument spec, beside this file in the collection: the
# entry points' specs, which the plans check the descriptions against.
ARGUMENT_SPECS = Path(__file__).resolve().parents[2] / "roles" / "common" / "meta" / "argument_specs.yml"


@functools.lru_cache(maxsize=None)
def entry_point_options(entry_point: str) -> dict:
    """The options of one of the common role's entry points, as its meta/argument_specs.yml gives them."""
    with ARGUMENT_SPECS.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)["argument_specs"][entry_point]["options"]


def _plain(value):
    """A plain copy of value: Ansible hands a filter containers whose templates resolve when read.

    The spec check must see resolved values: it resolves nothing itself.
    """
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(item) for item in value]
    return value


def check_descriptions(services: Sequence, step: str) -> None:
    """Check the descriptions against the spec of the step's entry point, as Ansible would.

    The service roles import common's steps without Ansible's own check (one
    task fewer per step); this is the same check, run by the plan.
    """
    options = entry_point_options("install" if step == "probe" else step)
    result = ArgumentSpecValidator(options).validate({"common_services": _plain(services)},
                                                     validate_role_argument_spec=True)
    if result.error_messages:
        raise ServicePlanError(f"the service descriptions do not match the common role's {step} spec: "
                               + "; ".join(result.error_messages))


def service_plans(services: Sequence, context: Mapping, step: str) -> list:
    """The plans of a role's services for one step, in their order.

    The descriptions are first checked against the common role's spec of the
    step. A context with parent_roles (the roles that include common) must
    name one: common is not for use on its own.
    """
    if "parent_roles" in context and not context["parent_roles"]:
        raise ServicePlanError(INTERNAL)
    if not isinstance(services, Sequence) or isinstance(services, (str, bytes)):
        raise ServicePlanError(f"service_plans expects a list of service descriptions, got {type(services).__name__}")
    if step not in STEPS:
        raise ServicePlanError(f"unknown step {step!r}: one of {', '.join(STEPS)}")
    check_descriptions(services, step)
    return [service_plan(service, context, step) for service in services]


def unit_files(units: Sequence, facts: Mapping, managed_header: str, unit_mark: str = UNIT_MARK) -> list:
    """Units given whole, as data (oneshot jobs and their timers), with their hardening.

    A unit's own [Service] options win over its hardening profile's.
    """
    files = []
    for unit in units:
        sections = dict(unit["sections"])
        if unit.get("hardening") is not None and "Service" in sections:
            profile = hardening_name(unit["hardening"], facts)
            writable = list(unit.get("writable_paths") or []) if profile != "off" else []
            added = HARDENING_PROFILES[profile] | ({"ReadWritePaths": writable} if writable else {})
            own = sections["Service"]
            sections["Service"] = dict(own) | {key: value for key, value in added.items() if key not in own}
        files.append({
            "path": f"/etc/systemd/system/{unit['name']}",
            "mode": "0644",
            "content": f"{managed_header}\n{unit_mark}\n{systemd_unit(sections)}",
        })
    return files


def changed_services(plans: Sequence, written: Mapping, seen_stopped: Sequence = ()) -> list:
    """The running services whose files, among the paths a step wrote or removed, changed.

    A service the install step saw stopped is left out: the service step
    starts it with its new files.
    """
    touched = set(written.get("changed_paths", []) or []) | set(written.get("removed_paths", []) or [])
    names = []
    for plan in plans:
        if plan["name"] in seen_stopped:
            continue
        paths = [entry["path"] for key in ("directories", "links", "files") for entry in plan.get(key, [])]
        paths = [path for path in paths + plan.get("absent", []) if path not in plan.get("no_restart", [])]
        if touched.intersection(paths):
            names.append(plan["name"])
    return names


# What the one handler path of the common role does, by priority: a restart
# loads everything a reload would, and a start (a wait) everything too.
ACTIONS = ("wait", "reload", "restart")


def service_actions(plans: Sequence, changed: Sequence = (), started: Sequence = (), pending: Mapping | None = None,
                    check_mode: bool = False, unit_states: Mapping | None = None) -> dict:
    """The actions the handler path owes each service of a service step, merged with those already pending.

    changed: the running services whose files the shared steps changed (they
    restart). started: those the step started (they are waited for). A plan's
    config_changed (the role's configure step: restart and/or reload) adds a
    restart, or a reload where the service can reload. In a --check run, a
    unit the install step did not see loaded has nothing to act on.
    Returns name to {name, action, ready, reload}.
    """
    actions = dict(pending or {})
    for plan in plans:
        name = plan["name"]
        if check_mode and not ((unit_states or {}).get(name) or {}).get("unit_loaded", False):
            continue
        config = plan.get("config_changed") or {}
        if name in started:
            action = "wait"
        elif name in changed or config.get("restart") or (config.get("reload") and not plan.get("reload")):
            action = "restart"
        elif config.get("reload"):
            action = "reload"
        else:
            continue
        earlier = actions.get(name, {}).get("action", "wait")
        if name not in actions or ACTIONS.index(action) > ACTIONS.index(earlier):
            actions[name] = {"name": name, "action": action, "ready": plan["ready"], "reload": plan.get("reload") or {}}
    return actions


def handler_steps(pending: Mapping) -> dict:
    """The pending actions as the handler path's tasks loop over them, in the order they run.

    restart: names to restart. ports and urls: the readiness checks of the
    services restarted or started. signal: names to reload with systemctl.
    calls: the reload requests of services that reload through their API.
    checks: the URLs that tell a reload took. The loop items carry no
    password, so that each can be shown with its service's name: passwords
    holds them by service name, for the tasks' url_password (which Ansible
    never shows).
    """
    steps = {"restart": [], "ports": [], "urls": [], "signal": [], "calls": [], "checks": [], "passwords": {}}
    for name, entry in pending.items():
        ready, reload = dict(entry["ready"]), dict(entry.get("reload") or {})
        if entry["action"] == "restart":
            steps["restart"].append(name)
        if entry["action"] in ("restart", "wait"):
            if ready.get("password"):
                steps["passwords"][name] = ready.pop("password")
            steps["ports" if "port" in ready else "urls"].append(dict(ready, name=name))
            continue
        if reload.get("password"):
            steps["passwords"][name] = reload["password"]
        user = {"user": reload["user"]} if reload.get("user") else {}
        if reload.get("signal"):
            steps["signal"].append(name)
        steps["calls"] += [dict(user, name=name, url=url) for url in reload.get("urls", [])]
        if reload.get("check"):
            steps["checks"].append(dict(user, name=name, **reload["check"]))
    return steps
