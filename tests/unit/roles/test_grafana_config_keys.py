"""grafana.ini and the provisioning files, as rendered for every shipped inventory, against Grafana 13's keys.

Grafana cannot run on this project's machines (the mirror serves an offline
stand-in), and Grafana itself says nothing of a key it does not know: it
ignores it, and reads a value of the wrong type as the default. A typo in
grafana.ini or in a provisioning file would silently do nothing, in
production. grafana_13_reference.yml lists the keys and types, written from
Grafana's documented facts; this test reads the rendered files as Grafana
would and names every key or value it would ignore.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._line_formats import ini_file
from conftest import render_role, rendered_per_host

REFERENCE = yaml.safe_load(Path(__file__).with_name("grafana_13_reference.yml").read_text())
# What Go's strconv.ParseBool accepts, which Grafana's ini library uses.
GO_BOOLS = {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}
DURATION = re.compile(r"^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h|d|w|y))+)$")
INTEGER = re.compile(r"^-?[0-9]+$")
EXPANDED = re.compile(r"^\$__(file|env)\{[^}]+\}$")
SECTION = re.compile(r"^\[([^\]]+)\]$")
# The sandbox's groups when Grafana's and Loki's real artifacts are supplied (sandbox/sandbox.sh),
# with the address its monitoring container would have.
SANDBOX_GRAFANA = {"all": {
    "hosts": {"da-sandbox-monitor": {"private_address": "172.18.0.2"}},
    "children": {"grafana": {"hosts": {"da-sandbox-monitor": {}}},
                 "loki": {"hosts": {"da-sandbox-monitor": {"loki_listen_address": "172.18.0.2:3100"}}}}}}
RENDERED = ("{'ini': __grafana_ini | dataaggregator.infrastructure.ini_file, 'settings': __grafana_ini,"
            " 'datasources': __grafana_datasources, 'dashboards': __grafana_dashboard_provider}")


def value_problem(kind, value) -> str | None:
    """Why Grafana would not read the value as this kind, or None."""
    if isinstance(kind, dict) and "type" in kind:
        kind = kind["type"]
    if isinstance(kind, dict) and "enum" in kind:
        return None if str(value) in [str(choice) for choice in kind["enum"]] else f"{value!r} is not one of {kind['enum']}"
    if isinstance(kind, dict) and "list_of" in kind:
        words = [word for word in re.split(r"[\s,]+", str(value)) if word]
        unknown = [word for word in words if word not in kind["list_of"]]
        return f"{unknown} are not among {kind['list_of']}" if unknown or not words else None
    checks = {
        "bool": lambda text: text in GO_BOOLS,
        "int": lambda text: bool(INTEGER.match(text)),
        "duration": lambda text: bool(DURATION.match(text)),
        "string": lambda text: True, "path": lambda text: True, "list": lambda text: True,
    }
    if kind not in checks:
        raise AssertionError(f"grafana_13_reference.yml: unknown type {kind!r}")
    return None if checks[kind](str(value)) else f"{value!r} is not a {kind}"


def ini_problems(text: str) -> list:
    """Each key or value of grafana.ini that Grafana 13 would ignore, as 'section.key: why'."""
    problems, section = [], ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        header = SECTION.match(line)
        if header:
            section = header.group(1)
            if section not in REFERENCE["grafana_ini"]:
                problems.append(f"[{section}]: unknown section (line {number})")
            continue
        if "=" not in line:
            problems.append(f"line {number}: neither a section, a comment nor key = value")
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        keys = REFERENCE["grafana_ini"].get(section)
        if keys is None:
            continue  # named once, at its header
        where = f"{section}.{key}" if section else key
        if key not in keys:
            problems.append(f"{where}: unknown key")
            continue
        # An empty value leaves Grafana's default in place.
        if value == "" or EXPANDED.match(value):
            continue
        problem = value_problem(keys[key], value)
        if problem:
            problems.append(f"{where}: {problem}")
    return problems


def mapping_problems(document, spec: dict, where: str) -> list:
    """Keys of a provisioning mapping that Grafana does not know, values of the wrong type, required keys missing."""
    if not isinstance(document, dict):
        return [f"{where}: expected a mapping, got {type(document).__name__}"]
    problems = []
    for key, kind in spec.items():
        if isinstance(kind, dict) and kind.get("required") and key not in document:
            problems.append(f"{where}.{key}: required, missing")
    for key, value in document.items():
        if key not in spec:
            problems.append(f"{where}.{key}: unknown key")
            continue
        kind = spec[key]["type"] if isinstance(spec[key], dict) and "type" in spec[key] else spec[key]
        python_types = {"int": int, "bool": bool, "list": list, "mapping": dict, "string": str, "path": str,
                        "duration": str, "scalar": (str, int, float)}
        if isinstance(kind, str):
            expected = python_types[kind]
            # YAML's bool is no int here: Grafana's decoder refuses true for a number.
            if not isinstance(value, expected) or (kind == "int" and isinstance(value, bool)):
                problems.append(f"{where}.{key}: {value!r} is not a {kind}")
            elif kind == "duration" and not DURATION.match(value):
                problems.append(f"{where}.{key}: {value!r} is not a duration")
        else:
            problem = value_problem(kind, value)
            if problem:
                problems.append(f"{where}.{key}: {problem}")
    return problems


def document_problems(document, file_spec: str, list_key: str, item_spec: str, parts: list) -> list:
    """A provisioning file's problems: its own keys, each item's, and each item's nested mappings (parts)."""
    problems = mapping_problems(document, REFERENCE[file_spec], file_spec)
    for index, item in enumerate(document.get(list_key) or []):
        where = f"{list_key}[{index}]"
        problems += mapping_problems(item, REFERENCE[item_spec], where)
        for key, spec_of in parts:
            problems += mapping_problems(item.get(key, {}), spec_of(item), f"{where}.{key}")
    return problems


def datasources_problems(document) -> list:
    return document_problems(document, "datasources_file", "datasources", "datasource", [
        ("jsonData", lambda source: REFERENCE["json_data_http"] | REFERENCE["json_data"].get(source.get("type"), {})),
        ("secureJsonData", lambda source: REFERENCE["secure_json_data"]),
    ])


def dashboards_problems(document) -> list:
    return document_problems(document, "dashboards_file", "providers", "dashboard_provider",
                             [("options", lambda provider: REFERENCE["dashboard_provider_options"])])


def all_problems(rendered: dict) -> list:
    return (ini_problems(rendered["ini"]) + datasources_problems(rendered["datasources"])
            + dashboards_problems(rendered["dashboards"]))


# -- the shipped inventories and the role defaults ---------------------------

@pytest.mark.parametrize("inventory", ["production", "staging", "sandbox"])
def test_every_grafana_of_an_inventory_gets_only_keys_and_values_grafana_reads(tmp_path, inventory):
    by_host = rendered_per_host(tmp_path, inventory, ["grafana"],
                                f"({RENDERED}) if 'grafana' in group_names else {{}}",
                                extra_inventory=SANDBOX_GRAFANA if inventory == "sandbox" else None)
    grafanas = {host: value for host, value in by_host.items() if value}
    assert grafanas, by_host.keys()
    for host, rendered in grafanas.items():
        assert all_problems(rendered) == [], host
        # Every data source the inventory has: Prometheus, Alertmanager and Loki.
        assert {source["type"] for source in rendered["datasources"]["datasources"]} == {"prometheus", "alertmanager", "loki"}


GROUPS = {"prometheus": ["prom1"], "alertmanager": ["am1"], "loki": ["loki1"]}
VARIANTS = {
    "defaults": {},
    "tls and an https root url": {"grafana_web_tls_cert": "CERT", "grafana_web_tls_key": "KEY",
                                  "grafana_root_url": "https://grafana.example.com/", "grafana_log_level": "debug"},
    "smtp and postgres through the documented extra settings": {
        "grafana_ini_extra": {
            "smtp": {"enabled": True, "host": "smtp.example.com:587", "user": "grafana", "from_address": "grafana@example.com",
                     "startTLS_policy": "MandatoryStartTLS"},
            "database": {"type": "postgres", "host": "db.example.com:5432", "name": "grafana", "user": "grafana",
                         "ssl_mode": "verify-full", "max_open_conn": 20, "conn_max_lifetime": 14400},
            "log": {"mode": "console file"}, "log.file": {"max_days": 7, "log_rotate": True},
            "users": {"default_theme": "system"}, "security": {"cookie_samesite": "strict"},
        },
        "grafana_ini_secrets": {"smtp": {"password": "smtp-secret"}, "database": {"password": "db-secret"}},
    },
}


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict:
    rendered = {}
    for name, extra_vars in VARIANTS.items():
        rc, output, value = render_role("grafana", RENDERED, tmp_path_factory.mktemp("grafana"),
                                        {"grafana_admin_password": "unit", "grafana_secret_key": "unit"} | extra_vars,
                                        groups=GROUPS)
        assert rc == 0, output
        rendered[name] = value
    return rendered


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_roles_own_settings_and_documented_extras_are_keys_grafana_reads(variants, variant):
    assert all_problems(variants[variant]) == []


def test_secret_settings_reach_grafana_ini_as_file_references(variants):
    ini = variants["smtp and postgres through the documented extra settings"]["ini"]
    assert "smtp-secret" not in ini and "db-secret" not in ini
    assert re.search(r"^password = \$__file\{/etc/grafana/secrets/ini/smtp\.password\}$", ini, re.MULTILINE), ini


# -- what the check must refuse ----------------------------------------------

def recursive_combine(base: dict, extra: dict) -> dict:
    """Ansible's combine(recursive=true), which the role applies to grafana_ini_extra."""
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = recursive_combine(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"server": {"http_prot": 3000}}, "server.http_prot: unknown key"),
        ({"sever": {"http_port": 3000}}, "[sever]: unknown section"),
        ({"server": {"http_port": "three thousand"}}, "server.http_port: 'three thousand' is not a int"),
        ({"users": {"allow_sign_up": "perhaps"}}, "users.allow_sign_up: 'perhaps' is not a bool"),
        ({"log": {"level": "verbose"}}, "log.level: 'verbose' is not one of"),
        ({"log": {"mode": "console journald"}}, "log.mode: ['journald'] are not among"),
        ({"paths": {"temp_data_lifetime": "a day"}}, "paths.temp_data_lifetime: 'a day' is not a duration"),
        ({"auth.anonymous": {"enable": True}}, "auth.anonymous.enable: unknown key"),
    ],
)
def test_the_check_names_what_grafana_would_ignore_in_grafana_ini(variants, extra, named):
    # The role's settings with grafana_ini_extra over them, serialised as the role's template does.
    ini = ini_file(recursive_combine(variants["defaults"]["settings"], extra))
    assert ini_problems(variants["defaults"]["ini"]) == []
    problems = ini_problems(ini)
    assert any(problem.startswith(named) for problem in problems), problems


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["datasources"][0].update(isdefault=True), "datasources[0].isdefault: unknown key"),
        (lambda d: d["datasources"][0]["jsonData"].update(httpmethod="POST"), "datasources[0].jsonData.httpmethod: unknown key"),
        (lambda d: d["datasources"][0]["jsonData"].update(httpMethod="PUT"), "datasources[0].jsonData.httpMethod: 'PUT'"),
        (lambda d: d["datasources"][0].update(orgId="1"), "datasources[0].orgId: '1' is not a int"),
        (lambda d: d["datasources"][0].update(access="server"), "datasources[0].access: 'server' is not one of"),
        (lambda d: d["datasources"][0].pop("name"), "datasources[0].name: required, missing"),
        (lambda d: d.update(prune="yes"), "datasources_file.prune: 'yes' is not a bool"),
        (lambda d: d["datasources"][0].setdefault("secureJsonData", {}).update(basicAuthPasword="x"),
         "datasources[0].secureJsonData.basicAuthPasword: unknown key"),
    ],
)
def test_the_check_names_what_grafana_would_ignore_in_the_datasources(variants, change, named):
    document = copy.deepcopy(variants["defaults"]["datasources"])
    change(document)
    problems = datasources_problems(document)
    assert any(problem.startswith(named) for problem in problems), problems


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["providers"][0].update(updateIntervalSeconds="30"), "providers[0].updateIntervalSeconds: '30' is not a int"),
        (lambda d: d["providers"][0]["options"].pop("path"), "providers[0].options.path: required, missing"),
        (lambda d: d["providers"][0]["options"].update(foldersFromFileStructure=True),
         "providers[0].options.foldersFromFileStructure: unknown key"),
        (lambda d: d["providers"][0].update(type="directory"), "providers[0].type: 'directory' is not one of"),
    ],
)
def test_the_check_names_what_grafana_would_ignore_in_the_dashboard_provider(variants, change, named):
    document = copy.deepcopy(variants["defaults"]["dashboards"])
    change(document)
    problems = dashboards_problems(document)
    assert any(problem.startswith(named) for problem in problems), problems
