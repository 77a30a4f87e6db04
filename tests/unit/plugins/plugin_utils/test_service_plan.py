"""The planning engine of the common role, tested directly: no Ansible run."""
from __future__ import annotations

import pytest
import yaml

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._bcrypt import bcrypt_hash
from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._line_formats import LineFormatError
from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._service_plan import (
    HARDENING_PROFILES,
    UNIT_MARK,
    ServicePlanError,
    changed_services,
    handler_steps,
    service_actions,
    go_architecture,
    hardening_name,
    service_plan,
    service_plans,
    unit_files,
)

HEADER = "#\n# Ansible managed\n#"
CONTAINER = {"virtualization_type": "docker", "virtualization_role": "guest"}
HOST = {"virtualization_type": "kvm", "virtualization_role": "guest"}
CONTEXT = {
    "install_root": "/opt/da",
    "bin_dir": "/usr/local/bin",
    "controller_cache_dir": "/home/ops/.cache/da",
    "facts": CONTAINER,
    "package_versions": {"prometheus-postgres-exporter": "0.17.1"},
    "host": "db1",
    "managed_header": HEADER,
    "unit_mark": UNIT_MARK,
    "remove_data": False,
}

PACKAGE_SERVICE = {
    "name": "postgres_exporter",
    "user": "postgres_exporter",
    "install": {"method": "package", "packages": ["prometheus-postgres-exporter"],
                "package_binary": "/usr/bin/prometheus-postgres-exporter",
                "masked_units": ["prometheus-postgres-exporter.service"]},
    "directories": [{"path": "/etc/postgres_exporter"}],
    "ready": {"port": "9187", "timeout": 30},
    "unit": {
        "description": "PostgreSQL exporter",
        "args": ["--web.listen-address=127.0.0.1:9187"],
        "versioned_args": [{"args": ["--config.file=/etc/postgres_exporter/postgres_exporter.yml"], "since": "0.12.0"}],
        "environment_file": "/etc/postgres_exporter/env",
        "secret_environment": {"DATA_SOURCE_PASS": "unit-pg-secret"},
    },
    "web": {"path": "/etc/postgres_exporter/web-config.yml", "flag": "--web.config.file",
            "basic_auth_users": {"prometheus": "unit-scrape-secret"}, "tls_cert": "", "tls_key": ""},
    "config_files": [{"path": "/etc/postgres_exporter/postgres_exporter.yml", "content": "auth_modules: {}\n", "mode": "0640"}],
}

ARCHIVE_SERVICE = {
    "name": "prometheus",
    "user": "prometheus",
    "home": "/var/lib/prometheus",
    "extra_groups": ["adm"],
    "ready": {"url": "https://127.0.0.1:9090/-/ready", "user": "prometheus", "password": "unit-ready-secret"},
    "reload": {"signal": True, "user": "prometheus", "password": "unit-ready-secret",
               "check": {"url": "https://127.0.0.1:9090/api/v1/status/runtimeinfo", "pattern": '"reloadConfigSuccess": *true'}},
    "install": {"method": "archive", "version": "2.53.3",
                "archive_url": "https://mirror.example/prometheus/v2.53.3/prometheus-2.53.3.linux-amd64.tar.gz?x=1",
                "checksum": "sha256:abc", "binaries": [{"name": "prometheus"}, {"name": "promtool"}]},
    "directories": [
        {"path": "/etc/prometheus"},
        {"path": "/var/lib/prometheus", "owner": "prometheus", "writable": True},
        {"path": "/var/cache/prometheus", "writable": False, "mode": "0755"},
    ],
    "unit": {"description": "Prometheus", "documentation": "https://prometheus.io/docs/",
             "args": ["--config.file=/etc/prometheus/prometheus.yml"],
             "exec_reload": '/bin/sh -c "kill -HUP $MAINPID"',
             "environment": {"GOMAXPROCS": 2, "DEBUG": True},
             "options": {"LimitNOFILE": 65536, "ProtectHome": "yes"}},
    "web": {"path": "/etc/prometheus/web.yml", "flag": "--web.config.file",
            "tls_cert": "-----BEGIN CERTIFICATE-----\nunit\n", "tls_key": "-----BEGIN PRIVATE KEY-----\nunit-key-secret\n"},
}


def plan(service, step, **context):
    return service_plan(service, {**CONTEXT, **context}, step)


def unit_text(service, **context):
    return plan(service, "service", **context)["files"][0]["content"]


def unit_lines(service, **context):
    return unit_text(service, **context).splitlines()


# --- install -----------------------------------------------------------------
def test_a_package_install_names_its_packages_masks_and_probe():
    planned = plan(PACKAGE_SERVICE, "install")
    assert planned["method"] == "package"
    assert planned["packages"] == ["prometheus-postgres-exporter"]
    assert planned["masked_units"] == ["prometheus-postgres-exporter.service"]
    assert planned["links"] == [] and planned["archive"] == {}
    assert planned["probe"] == {"name": "postgres_exporter", "user": "postgres_exporter", "group": "postgres_exporter",
                                "extra_groups": [], "home": "/nonexistent", "marker": "", "unit": "postgres_exporter.service"}


def test_directories_are_root_owned_in_the_services_group_unless_said_otherwise():
    assert plan(ARCHIVE_SERVICE, "install")["directories"] == [
        {"path": "/etc/prometheus", "owner": "root", "group": "prometheus", "mode": "0750"},
        {"path": "/var/lib/prometheus", "owner": "prometheus", "group": "prometheus", "mode": "0750"},
        {"path": "/var/cache/prometheus", "owner": "root", "group": "prometheus", "mode": "0755"},
    ]


def test_an_archive_install_unpacks_into_a_versioned_directory_and_links_each_binary():
    planned = plan(ARCHIVE_SERVICE, "install")
    assert planned["packages"] == [] and planned["masked_units"] == []
    assert planned["probe"]["marker"] == "/opt/da/prometheus/2.53.3/.installed"
    assert planned["probe"]["extra_groups"] == ["adm"] and planned["probe"]["home"] == "/var/lib/prometheus"
    assert planned["links"] == [
        {"path": "/usr/local/bin/prometheus", "src": "/opt/da/prometheus/2.53.3/prometheus"},
        {"path": "/usr/local/bin/promtool", "src": "/opt/da/prometheus/2.53.3/promtool"},
    ]
    archive = planned["archive"]
    # The file name comes from the URL's path: a query string is not part of it.
    assert archive["file"] == "prometheus-2.53.3.linux-amd64.tar.gz"
    assert archive["kind"] == "tarball" and archive["strip_components"] == 1
    assert archive["host_path"] == archive["download_path"] == "/opt/da/prometheus/prometheus-2.53.3.linux-amd64.tar.gz"
    assert archive["record"] == "prometheus-2.53.3.linux-amd64.tar.gz sha256:abc"
    assert archive["executable"] == "prometheus" and archive["name"] == "prometheus"


@pytest.mark.parametrize(("url", "kind"), [
    ("https://x/loki-linux-amd64.zip", "zip"),
    ("https://x/grafana_13.2.1_linux_amd64.tgz", "tarball"),
    ("https://x/cadvisor-v0.57.0-linux-amd64", "executable"),
])
def test_the_archive_kind_follows_the_file_name(url, kind):
    service = {**ARCHIVE_SERVICE, "install": {**ARCHIVE_SERVICE["install"], "archive_url": url,
                                              "binaries": [{"name": "x", "src": "x-linux-amd64"}]}}
    archive = plan(service, "install")["archive"]
    assert archive["kind"] == kind and archive["executable"] == "x-linux-amd64"


def test_a_download_on_the_controller_lands_in_its_cache_first():
    service = {**ARCHIVE_SERVICE, "install": {**ARCHIVE_SERVICE["install"], "download_on": "controller"}}
    archive = plan(service, "install")["archive"]
    assert archive["download_on_controller"] is True
    assert archive["download_path"] == "/home/ops/.cache/da/prometheus-2.53.3.linux-amd64.tar.gz"
    assert archive["host_path"].startswith("/opt/da/prometheus/")


def test_an_archive_install_without_binaries_is_refused():
    service = {**ARCHIVE_SERVICE, "install": {**ARCHIVE_SERVICE["install"], "binaries": []}}
    with pytest.raises(ServicePlanError, match="names its binaries"):
        plan(service, "service")


@pytest.mark.parametrize("service", [{}, {"user": "x"}, {"name": "", "user": "x"}])
def test_a_description_without_a_name_is_refused(service):
    with pytest.raises(ServicePlanError, match="needs a name"):
        plan(service, "install")


@pytest.mark.parametrize("service", ["prometheus", None, ["x"]])
def test_a_description_that_is_no_mapping_is_refused_by_its_type_alone(service):
    with pytest.raises(ServicePlanError, match="is a mapping, got"):
        plan(service, "install")


def test_a_refused_description_is_never_echoed():
    secret = {**PACKAGE_SERVICE, "user": ""}
    with pytest.raises(ServicePlanError) as refused:
        plan(secret, "service")
    assert "user is required" in str(refused.value)
    assert "unit-pg-secret" not in str(refused.value) and "unit-scrape-secret" not in str(refused.value)


@pytest.mark.parametrize(("field", "value", "step"), [
    ("checksum", "", "install"),
    ("checksum", None, "install"),
    ("archive_url", "", "install"),
])
def test_an_archive_without_its_url_or_checksum_is_refused_rather_than_fetched_unchecked(field, value, step):
    service = {**ARCHIVE_SERVICE, "install": {**ARCHIVE_SERVICE["install"], field: value}}
    with pytest.raises(ServicePlanError, match=f"prometheus: install.{field} is required"):
        plan(service, step)


def test_the_steps_that_download_nothing_do_not_read_the_archive_url():
    # The URL names the architecture, a fact: a removal must not need it.
    service = {**ARCHIVE_SERVICE, "install": {k: v for k, v in ARCHIVE_SERVICE["install"].items() if k != "archive_url"}}
    assert plan(service, "remove")["absent"][-1] == "/etc/systemd/system/prometheus.service"
    assert plan(service, "service")["unit_path"] == "/etc/systemd/system/prometheus.service"


def test_a_package_install_without_its_binary_and_tls_without_a_key_are_refused():
    with pytest.raises(ServicePlanError, match="postgres_exporter: install.package_binary is required"):
        plan({**PACKAGE_SERVICE, "install": {"method": "package", "packages": ["prometheus-postgres-exporter"]}}, "service")
    with pytest.raises(ServicePlanError, match="prometheus: web.tls_key is required"):
        plan({**ARCHIVE_SERVICE, "web": {**ARCHIVE_SERVICE["web"], "tls_key": ""}}, "service")


def test_null_lists_count_as_empty():
    service = {**PACKAGE_SERVICE, "install": {**PACKAGE_SERVICE["install"], "packages": None, "masked_units": None}}
    assert plan(service, "install")["packages"] == [] and plan(service, "install")["masked_units"] == []
    unit = [{**BACKUP_UNITS[0], "writable_paths": None}]
    assert "ReadWritePaths" not in unit_files(unit, HOST, HEADER)[0]["content"]


def test_an_unknown_install_method_or_step_is_refused():
    with pytest.raises(ServicePlanError, match="unknown install method 'snap'"):
        plan({**PACKAGE_SERVICE, "install": {"method": "snap"}}, "install")
    with pytest.raises(ServicePlanError, match="unknown step 'deploy'"):
        plan(PACKAGE_SERVICE, "deploy")


def test_a_package_version_that_flags_depend_on_must_be_known():
    with pytest.raises(ServicePlanError, match="apt reports no version, installed or to install, of prometheus-postgres-exporter on db1"):
        plan(PACKAGE_SERVICE, "service", package_versions={})
    # Other steps, and archives (whose version is pinned), do not need it.
    assert plan(PACKAGE_SERVICE, "install", package_versions={})["name"] == "postgres_exporter"
    assert plan(ARCHIVE_SERVICE, "service", package_versions={})["name"] == "prometheus"


def test_descriptions_are_checked_against_the_common_roles_spec_of_the_step():
    # What Ansible's own check of the entry point would say, before any plan.
    with pytest.raises(ServicePlanError, match="common role's install spec: missing required arguments: unit"):
        service_plans([{k: v for k, v in PACKAGE_SERVICE.items() if k != "unit"}], CONTEXT, "install")
    with pytest.raises(ServicePlanError, match="common role's service spec: .*ready"):
        service_plans([{**PACKAGE_SERVICE, "ready": "soon"}], CONTEXT, "service")
    with pytest.raises(ServicePlanError, match="remove spec: common_services.restart_policy. Supported parameters include"):
        service_plans([{**PACKAGE_SERVICE, "restart_policy": "always"}], CONTEXT, "remove")
    # The probe is checked as the install step is.
    with pytest.raises(ServicePlanError, match="common role's probe spec: missing required arguments: unit"):
        service_plans([{k: v for k, v in PACKAGE_SERVICE.items() if k != "unit"}], CONTEXT, "probe")


def test_common_outside_a_service_role_is_refused():
    with pytest.raises(ServicePlanError, match="common is internal"):
        service_plans([PACKAGE_SERVICE], {**CONTEXT, "parent_roles": []}, "install")
    assert service_plans([PACKAGE_SERVICE], {**CONTEXT, "parent_roles": ["exporters"]}, "probe") == [
        plan(PACKAGE_SERVICE, "install")["probe"]]


def test_plans_keep_the_order_of_the_services_and_refuse_a_mapping():
    assert [p["name"] for p in service_plans([ARCHIVE_SERVICE, PACKAGE_SERVICE], CONTEXT, "install")] == [
        "prometheus", "postgres_exporter"]
    with pytest.raises(ServicePlanError, match="a list of service descriptions"):
        service_plans(PACKAGE_SERVICE, CONTEXT, "install")


# --- the unit ------------------------------------------------------------------
def test_the_unit_starts_with_the_header_and_the_collections_mark():
    lines = unit_lines(PACKAGE_SERVICE)
    assert lines[:4] == ["#", "# Ansible managed", "#", UNIT_MARK]
    assert "[Unit]" in lines and "[Service]" in lines and "[Install]" in lines
    assert "StartLimitIntervalSec=0" in lines and "WantedBy=multi-user.target" in lines


def test_a_packages_unit_runs_its_binary_with_the_flags_its_release_knows():
    lines = unit_lines(PACKAGE_SERVICE)
    assert ('ExecStart="/usr/bin/prometheus-postgres-exporter" "--web.listen-address=127.0.0.1:9187" '
            '"--config.file=/etc/postgres_exporter/postgres_exporter.yml" '
            '"--web.config.file=/etc/postgres_exporter/web-config.yml"') in lines
    older = unit_text(PACKAGE_SERVICE, package_versions={"prometheus-postgres-exporter": "0.11.1"})
    assert "--config.file" not in older


def test_an_archives_unit_runs_the_linked_binary_with_its_options_over_the_profile():
    lines = unit_lines(ARCHIVE_SERVICE)
    # A web config with TLS only: the service's flag names the file.
    assert ('ExecStart="/usr/local/bin/prometheus" "--config.file=/etc/prometheus/prometheus.yml" '
            '"--web.config.file=/etc/prometheus/web.yml"') in lines
    assert 'ExecReload=/bin/sh -c "kill -HUP $MAINPID"' in lines
    assert "Documentation=https://prometheus.io/docs/" in lines
    assert 'Environment="GOMAXPROCS=2"' in lines and 'Environment="DEBUG=True"' in lines
    # The role's own option wins over the profile's, and only writable directories are writable.
    assert "ProtectHome=yes" in lines and "ProtectHome=read-only" not in lines
    assert "ReadWritePaths=/var/lib/prometheus" in lines
    assert "LimitNOFILE=65536" in lines


def test_a_unit_without_documentation_or_reload_leaves_those_settings_out():
    service = {**PACKAGE_SERVICE, "unit": {"description": "bare"}, "web": {}}
    text = unit_text(service)
    assert "Documentation=" not in text and "ExecReload=" not in text and "EnvironmentFile=" not in text


@pytest.mark.parametrize(("requested", "facts", "expected"), [
    ("auto", CONTAINER, "basic"),
    ("auto", HOST, "strict"),
    (None, {}, "strict"),
    ("off", CONTAINER, "off"),
    ("strict", CONTAINER, "strict"),
    ("basic", HOST, "basic"),
    ("auto", {"virtualization_type": "docker", "virtualization_role": "host"}, "strict"),
])
def test_auto_hardening_is_basic_only_inside_a_container(requested, facts, expected):
    assert hardening_name(requested, facts) == expected


def test_an_unknown_hardening_profile_is_refused():
    with pytest.raises(ServicePlanError, match="unknown systemd hardening profile 'paranoid'"):
        hardening_name("paranoid", HOST)


@pytest.mark.parametrize("profile", ["basic", "strict"])
def test_each_profile_puts_all_its_settings_in_the_unit(profile):
    service = {**ARCHIVE_SERVICE, "unit": {**ARCHIVE_SERVICE["unit"], "hardening": profile, "options": {}}}
    planned = plan(service, "service")
    assert planned["hardening"] == profile
    text = planned["files"][0]["content"]
    for key, value in HARDENING_PROFILES[profile].items():
        shown = {True: "yes", False: "no"}.get(value, value)
        assert f"{key}={shown}\n" in text, key


def test_no_hardening_means_no_sandbox_and_no_writable_paths():
    service = {**ARCHIVE_SERVICE, "unit": {**ARCHIVE_SERVICE["unit"], "hardening": "off", "options": {}}}
    text = unit_text(service)
    assert "ProtectSystem" not in text and "ReadWritePaths" not in text and "NoNewPrivileges" not in text


def test_a_line_break_in_an_option_cannot_add_a_setting():
    service = {**PACKAGE_SERVICE, "unit": {**PACKAGE_SERVICE["unit"],
                                           "options": {"WorkingDirectory": "x\nExecStartPre=/bin/sh -c 'touch /tmp/pwned'"}}}
    with pytest.raises(LineFormatError, match=r"\[Service\] WorkingDirectory=: the value holds a line feed"):
        plan(service, "service")


def test_hostile_arguments_are_quoted_in_execstart():
    service = {**PACKAGE_SERVICE, "web": {}, "unit": {"description": "x", "args": ['--label=$HOME "%n" \\x']}}
    assert 'ExecStart="/usr/bin/prometheus-postgres-exporter" "--label=$$HOME \\"%%n\\" \\\\x"' in unit_lines(service)


def test_a_line_break_in_an_argument_is_refused():
    service = {**PACKAGE_SERVICE, "unit": {"description": "x", "args": ["a\nExecStartPre=/bin/true"]}}
    with pytest.raises(LineFormatError, match="ExecStart=: the value holds a line feed"):
        plan(service, "service")


# --- the service step's files --------------------------------------------------
def test_the_service_step_writes_unit_config_secret_environment_in_that_order():
    planned = plan(PACKAGE_SERVICE, "service")
    assert planned["unit_path"] == "/etc/systemd/system/postgres_exporter.service"
    assert [(f["path"], f["mode"], f.get("secret", False)) for f in planned["files"]] == [
        ("/etc/systemd/system/postgres_exporter.service", "0644", False),
        ("/etc/postgres_exporter/postgres_exporter.yml", "0640", False),
        ("/etc/postgres_exporter/env", "0600", True),
        ("/etc/postgres_exporter/web-config.yml", "0640", True),
    ]
    # A role's config file is readable by the service's group, never world.
    assert planned["files"][1]["group"] == "postgres_exporter"
    assert planned["files"][2]["content"] == 'DATA_SOURCE_PASS="unit-pg-secret"\n'
    assert planned["absent"] == []


def test_a_secret_environment_with_a_line_break_is_refused_without_showing_it():
    service = {**PACKAGE_SERVICE, "unit": {**PACKAGE_SERVICE["unit"], "secret_environment": {"PASSWORD": "hunter2-secret\nEVIL=1"}}}
    with pytest.raises(LineFormatError) as refused:
        plan(service, "service")
    assert "the value of PASSWORD holds CR, LF or NUL" in str(refused.value)
    assert "hunter2-secret" not in str(refused.value)


def test_tls_files_go_with_the_unit_and_the_key_is_a_secret():
    files = {f["path"]: f for f in plan(ARCHIVE_SERVICE, "service")["files"]}
    assert files["/etc/prometheus/tls.crt"]["mode"] == "0644" and not files["/etc/prometheus/tls.crt"].get("secret")
    key = files["/etc/prometheus/tls.key"]
    assert key["mode"] == "0640" and key["secret"] is True and key["group"] == "prometheus"
    assert "unit-key-secret" in key["content"]


def test_a_web_config_no_longer_used_is_removed():
    service = {**PACKAGE_SERVICE, "web": {**PACKAGE_SERVICE["web"], "basic_auth_users": {}}}
    planned = plan(service, "service")
    assert planned["absent"] == ["/etc/postgres_exporter/web-config.yml"]
    assert "--web.config.file" not in planned["files"][0]["content"]
    assert web_files(service) == []


# --- the web config ---------------------------------------------------------------
def web_files(service, **context):
    """The web config among the service step's files."""
    return [entry for entry in plan(service, "service", **context)["files"] if entry["path"] == service["web"]["path"]]


def test_the_web_config_holds_only_bcrypt_hashes_salted_by_host_and_service():
    files = web_files(PACKAGE_SERVICE)
    assert len(files) == 1
    web = files[0]
    assert (web["path"], web["owner"], web["group"], web["mode"], web["secret"]) == (
        "/etc/postgres_exporter/web-config.yml", "root", "postgres_exporter", "0640", True)
    assert web["content"].startswith(HEADER + "\n")
    assert "unit-scrape-secret" not in web["content"]
    config = yaml.safe_load(web["content"])
    assert config == {"basic_auth_users": {"prometheus": bcrypt_hash("unit-scrape-secret", "db1/postgres_exporter/prometheus")}}
    # The same host renders the same file; another host another salt.
    assert web_files(PACKAGE_SERVICE) == files
    assert web_files(PACKAGE_SERVICE, host="db2")[0]["content"] != web["content"]


def test_a_tls_web_config_names_the_files_the_service_step_writes():
    content = web_files(ARCHIVE_SERVICE)[0]["content"]
    assert yaml.safe_load(content) == {"tls_server_config": {"cert_file": "/etc/prometheus/tls.crt",
                                                             "key_file": "/etc/prometheus/tls.key"}}
    # Serialised as Ansible's to_nice_yaml(indent=2) would: block style, keys in order.
    assert content == HEADER + "\ntls_server_config:\n  cert_file: /etc/prometheus/tls.crt\n  key_file: /etc/prometheus/tls.key\n"


def test_tls_without_the_services_own_flag_writes_only_the_tls_files():
    service = {**ARCHIVE_SERVICE, "web": {k: v for k, v in ARCHIVE_SERVICE["web"].items() if k != "flag"}}
    assert web_files(service) == []
    planned = plan(service, "service")
    assert "--web.config.file" not in planned["files"][0]["content"]
    assert "/etc/prometheus/tls.key" in [f["path"] for f in planned["files"]]
    assert planned["absent"] == ["/etc/prometheus/web.yml"]


# --- removal ------------------------------------------------------------------------
def test_a_removal_takes_configs_links_releases_and_the_unit_last_but_keeps_data():
    absent = plan(ARCHIVE_SERVICE, "remove")["absent"]
    assert absent == ["/etc/prometheus", "/var/cache/prometheus", "/usr/local/bin/prometheus",
                      "/usr/local/bin/promtool", "/opt/da/prometheus", "/etc/systemd/system/prometheus.service"]
    assert "/var/lib/prometheus" not in absent


def test_a_removal_with_remove_data_takes_the_data_too():
    absent = plan(ARCHIVE_SERVICE, "remove", remove_data=True)["absent"]
    assert "/var/lib/prometheus" in absent and absent[-1] == "/etc/systemd/system/prometheus.service"


def test_a_package_removal_unmasks_the_distributions_units_and_names_the_packages():
    planned = plan(PACKAGE_SERVICE, "remove")
    assert planned["packages"] == ["prometheus-postgres-exporter"]
    assert planned["absent"][0] == "/etc/systemd/system/prometheus-postgres-exporter.service"
    assert planned["probe"]["name"] == "postgres_exporter"


# --- units given whole ---------------------------------------------------------------
BACKUP_UNITS = [
    {"name": "backup.service", "hardening": "auto", "writable_paths": ["/var/backups"],
     "sections": {"Unit": {"Description": "Backup"},
                  "Service": {"Type": "oneshot", "ExecStart": ["/usr/local/bin/backup", "run"], "PrivateTmp": False}}},
    {"name": "backup.timer", "sections": {"Timer": {"OnCalendar": "daily"}, "Install": {"WantedBy": "timers.target"}}},
]


def test_units_given_whole_get_their_profile_with_their_own_settings_first():
    files = unit_files(BACKUP_UNITS, HOST, HEADER)
    assert [f["path"] for f in files] == ["/etc/systemd/system/backup.service", "/etc/systemd/system/backup.timer"]
    service = files[0]["content"]
    assert service.startswith(f"{HEADER}\n{UNIT_MARK}\n[Unit]\n")
    assert "PrivateTmp=no" in service and "PrivateTmp=yes" not in service
    assert "SystemCallFilter=@system-service" in service and "ReadWritePaths=/var/backups" in service
    assert service.index("ExecStart=") < service.index("NoNewPrivileges=")
    assert "NoNewPrivileges" not in files[1]["content"]


def test_units_in_a_container_get_the_basic_profile_and_off_gets_none():
    assert "SystemCallFilter" not in unit_files(BACKUP_UNITS, CONTAINER, HEADER)[0]["content"]
    off = [{**BACKUP_UNITS[0], "hardening": "off"}]
    content = unit_files(off, HOST, HEADER, unit_mark="# mine")[0]["content"]
    assert "ReadWritePaths" not in content and "NoNewPrivileges" not in content and "\n# mine\n" in content


# --- what changed ---------------------------------------------------------------------
def test_only_running_services_whose_own_paths_changed_are_named():
    plans = service_plans([ARCHIVE_SERVICE, PACKAGE_SERVICE], CONTEXT, "install")
    written = {"changed_paths": ["/usr/local/bin/promtool"], "removed_paths": []}
    assert changed_services(plans, written) == ["prometheus"]
    assert changed_services(plans, written, ["prometheus"]) == []
    removed = {"changed_paths": [], "removed_paths": ["/etc/postgres_exporter/web-config.yml"]}
    assert changed_services(service_plans([ARCHIVE_SERVICE, {**PACKAGE_SERVICE, "web": {"path": "/etc/postgres_exporter/web-config.yml"}}],
                                          CONTEXT, "service"), removed) == ["postgres_exporter"]
    assert changed_services(plans, {}) == []


def test_a_new_web_config_restarts_nothing_and_a_new_tls_key_restarts_its_service():
    # The service reads its web config on every request; a key only at a start.
    plans = service_plans([ARCHIVE_SERVICE], CONTEXT, "service")
    assert plans[0]["no_restart"] == ["/etc/prometheus/web.yml"]
    assert changed_services(plans, {"changed_paths": ["/etc/prometheus/web.yml"]}) == []
    assert changed_services(plans, {"changed_paths": ["/etc/prometheus/web.yml", "/etc/prometheus/tls.key"]}) == ["prometheus"]


@pytest.mark.parametrize(("machine", "go"), [("x86_64", "amd64"), ("aarch64", "arm64"), ("armv7l", "armv7"), ("riscv64", "riscv64")])
def test_go_names_the_architectures_of_upstream_archives(machine, go):
    assert go_architecture(machine) == go


# --- readiness and the handler path ---------------------------------------------------
PROMTAIL = {"name": "promtail", "user": "promtail", "install": {"method": "package", "package_binary": "/usr/bin/promtail"},
            "unit": {"description": "Promtail"},
            "ready": {"url": "http://127.0.0.1:9080/ready"}, "reload": {"urls": ["http://127.0.0.1:9080/reload"]}}
LOKI = {"name": "loki", "user": "loki", "install": {"method": "package", "package_binary": "/usr/bin/loki"},
        "unit": {"description": "Loki"}, "ready": {"url": "http://127.0.0.1:3100/ready", "timeout": 90}}
LOADED = {"unit_loaded": True, "unit_active": True}


def service_step(*services):
    return service_plans(list(services), CONTEXT, "service")


def test_readiness_is_a_port_or_a_url_with_defaults():
    assert plan(PACKAGE_SERVICE, "service")["ready"] == {"host": "127.0.0.1", "port": 9187, "timeout": 30}
    assert plan(LOKI, "install")["ready"] == {"url": "http://127.0.0.1:3100/ready", "timeout": 90}
    assert plan(ARCHIVE_SERVICE, "service")["ready"]["password"] == "unit-ready-secret"
    assert plan(LOKI, "service")["reload"] == {}


@pytest.mark.parametrize(("change", "message"), [
    ({"ready": None}, "loki: ready is required"),
    ({"ready": {"port": 1, "url": "http://x"}}, "exactly one of port and url"),
    ({"ready": {"timeout": 5}}, "exactly one of port and url"),
    ({"ready": {"url": "http://x", "user": "admin"}}, "ready.user and ready.password go together"),
    ({"reload": {"signal": True}}, "reload by signal needs unit.exec_reload"),
    ({"reload": {"signal": True, "urls": ["http://x"]}}, "a signal or urls, not both"),
    ({"reload": {"check": {"url": "http://x", "pattern": "ok"}}}, "reload.check needs a signal or urls"),
    ({"reload": {"urls": ["http://x"], "check": {"url": "http://x"}}}, "reload.check.pattern is required"),
])
def test_a_readiness_or_reload_that_cannot_work_is_refused(change, message):
    with pytest.raises(ServicePlanError, match=message):
        plan({**LOKI, **change}, "service")


def test_a_refused_readiness_never_shows_its_password():
    with pytest.raises(ServicePlanError) as refused:
        plan({**LOKI, "ready": {"url": "http://x", "password": "unit-lonely-secret"}}, "service")
    assert "unit-lonely-secret" not in str(refused.value)


def test_changed_files_restart_started_services_are_only_waited_for():
    plans = service_step(ARCHIVE_SERVICE, PACKAGE_SERVICE, LOKI)
    actions = service_actions(plans, changed=["prometheus"], started=["postgres_exporter"])
    assert {name: entry["action"] for name, entry in actions.items()} == {"prometheus": "restart", "postgres_exporter": "wait"}
    assert actions["prometheus"]["reload"]["signal"] is True


def test_a_config_change_reloads_where_the_service_can_and_restarts_where_it_cannot():
    plans = service_step({**ARCHIVE_SERVICE, "config_changed": {"reload": True}}, {**LOKI, "config_changed": {"reload": True}},
                         {**PROMTAIL, "config_changed": {"restart": True, "reload": True}})
    actions = service_actions(plans)
    assert {name: entry["action"] for name, entry in actions.items()} == {
        "prometheus": "reload", "loki": "restart", "promtail": "restart"}
    # A service started by this step reads its config then: nothing more to do.
    assert service_actions(plans, started=["loki"])["loki"]["action"] == "wait"


def test_pending_actions_merge_by_priority_restart_then_reload_then_wait():
    reload = service_actions(service_step({**PROMTAIL, "config_changed": {"reload": True}}))
    assert service_actions(service_step(PROMTAIL), changed=["promtail"], pending=reload)["promtail"]["action"] == "restart"
    restart = service_actions(service_step(PROMTAIL), changed=["promtail"])
    assert service_actions(service_step({**PROMTAIL, "config_changed": {"reload": True}}), pending=restart) == restart
    waited = service_actions(service_step(PROMTAIL), started=["promtail"])
    assert service_actions(service_step({**PROMTAIL, "config_changed": {"reload": True}}), pending=waited)["promtail"]["action"] == "reload"
    # Nothing changed: the pending actions stay as they were.
    assert service_actions(service_step(PROMTAIL, LOKI), pending=restart) == restart


def test_a_check_run_acts_only_on_units_it_saw_loaded():
    plans = service_step(PROMTAIL, LOKI)
    actions = service_actions(plans, changed=["promtail", "loki"], check_mode=True, unit_states={"loki": LOADED})
    assert list(actions) == ["loki"]
    assert list(service_actions(plans, changed=["promtail"], check_mode=False)) == ["promtail"]


def test_the_handler_steps_restart_then_wait_then_reload_then_check():
    pending = service_actions(service_step(ARCHIVE_SERVICE, PACKAGE_SERVICE, PROMTAIL, LOKI),
                              changed=["loki"], started=["postgres_exporter"])
    pending |= service_actions(service_step({**ARCHIVE_SERVICE, "config_changed": {"reload": True}},
                                            {**PROMTAIL, "config_changed": {"reload": True}}))
    steps = handler_steps(pending)
    assert steps["restart"] == ["loki"]
    assert steps["ports"] == [{"name": "postgres_exporter", "host": "127.0.0.1", "port": 9187, "timeout": 30}]
    assert steps["urls"] == [{"name": "loki", "url": "http://127.0.0.1:3100/ready", "timeout": 90}]
    assert steps["signal"] == ["prometheus"]
    assert steps["calls"] == [{"name": "promtail", "url": "http://127.0.0.1:9080/reload"}]
    assert steps["checks"] == [{"name": "prometheus", "url": "https://127.0.0.1:9090/api/v1/status/runtimeinfo",
                                "pattern": '"reloadConfigSuccess": *true', "user": "prometheus"}]
    # Passwords stay out of the items, which the handler shows by name.
    assert steps["passwords"] == {"prometheus": "unit-ready-secret"}
    assert "unit-ready-secret" not in str({key: value for key, value in steps.items() if key != "passwords"})


def test_a_restart_waits_with_the_ready_password_kept_apart():
    steps = handler_steps(service_actions(service_step(ARCHIVE_SERVICE, PROMTAIL, LOKI), changed=["prometheus", "promtail", "loki"]))
    assert [entry["name"] for entry in steps["urls"]] == ["prometheus", "promtail", "loki"]
    assert steps["urls"][0] == {"name": "prometheus", "url": "https://127.0.0.1:9090/-/ready", "user": "prometheus", "timeout": 60}
    assert steps["passwords"] == {"prometheus": "unit-ready-secret"}
    assert handler_steps({}) == {"restart": [], "ports": [], "urls": [], "signal": [], "calls": [], "checks": [], "passwords": {}}
