"""postgres_exporter's login (its connection string and pg_hba.conf rules) and what removing a service deletes.

Rendered as the roles render them (ansible-playbook on localhost, with the
role's defaults and vars). The monitoring and exporters scenarios run both
against real hosts; these cover the values a host never shows.
"""

from __future__ import annotations

import urllib.parse

from conftest import render_role

HOSTILE_PASSWORD = "p@ss/w:rd %41?#&='\"x"


def test_the_connection_string_built_from_the_login_gives_back_a_hostile_password_exactly(tmp_path):
    rc, output, dsn = render_role("exporters", "__exporters_postgres_data_source_name", tmp_path,
                                  {"exporters_postgres_login_password": HOSTILE_PASSWORD})
    assert rc == 0, output
    parts = urllib.parse.urlsplit(dsn)
    assert urllib.parse.unquote(parts.password) == HOSTILE_PASSWORD
    assert (parts.username, parts.hostname, parts.port, parts.path, parts.query) == (
        "postgres_exporter", "127.0.0.1", 5432, "/postgres", "sslmode=disable")


def test_a_connection_string_given_whole_is_used_as_it_is(tmp_path):
    given = "postgresql://monitor:secret@db.internal:6432/app?sslmode=verify-full"
    rc, output, dsn = render_role("exporters", "__exporters_postgres_data_source_name", tmp_path,
                                  {"exporters_postgres_data_source_name": given, "exporters_postgres_login_password": "other"})
    assert rc == 0, output
    assert dsn == given


def test_the_pg_hba_rules_admit_the_sources_to_one_database_and_reject_the_login_elsewhere(tmp_path):
    rc, output, rules = render_role("exporters", "__exporters_postgres_hba_rules", tmp_path,
                                    {"exporters_postgres_login_sources": ["10.0.0.5/32"], "exporters_postgres_login_user": "monitor"})
    assert rc == 0, output
    assert rules == [
        "host postgres monitor 10.0.0.5/32 scram-sha-256",
        "host all monitor all reject",
        "local all monitor reject",
    ]


NODE_SERVICE = {
    "name": "node_exporter", "user": "node_exporter",
    "directories": [{"path": "/etc/node_exporter", "mode": "0750"},
                    {"path": "/var/lib/node_exporter/textfile_collector", "mode": "0775", "writable": True}],
    "install": {"method": "archive", "version": "1.10.2", "archive_url": "https://example.invalid/node_exporter.tar.gz",
                "binaries": [{"name": "node_exporter"}], "packages": ["prometheus-node-exporter"],
                "masked_units": ["prometheus-node-exporter.service"]},
    "unit": {"description": "node_exporter"},
    "ready": {"port": 9100},
}


REMOVE_PLAN = "[common_service] | dataaggregator.infrastructure.service_plans(__common_plan_context, 'remove') | first"


def removal(tmp_path, **extra):
    # ansible_parent_role_names: what Ansible sets inside the exporters role, whose place this play takes.
    rc, output, plan = render_role("common", REMOVE_PLAN, tmp_path,
                                   {"common_service": NODE_SERVICE, "ansible_parent_role_names": ["exporters"], **extra})
    assert rc == 0, output
    return plan


def test_removal_deletes_config_links_releases_and_the_unit_last_but_keeps_the_data(tmp_path):
    plan = removal(tmp_path)
    assert plan["absent"] == ["/etc/node_exporter", "/usr/local/bin/node_exporter", "/opt/dataaggregator/node_exporter",
                              "/etc/systemd/system/node_exporter.service"]
    # Installed from the release archive: the distribution's package is not the collection's to remove.
    assert plan["packages"] == []


def test_removal_with_remove_data_deletes_the_directories_the_service_writes(tmp_path):
    plan = removal(tmp_path, common_remove_data=True)
    assert "/var/lib/node_exporter/textfile_collector" in plan["absent"]
    assert plan["absent"][-1] == "/etc/systemd/system/node_exporter.service"


def test_removal_of_a_package_install_takes_the_package_and_the_mask_on_its_unit(tmp_path):
    service = {**NODE_SERVICE, "install": {**NODE_SERVICE["install"], "method": "package"}}
    rc, output, plan = render_role("common", REMOVE_PLAN, tmp_path, {"common_service": service, "ansible_parent_role_names": ["exporters"]})
    assert rc == 0, output
    assert plan["packages"] == ["prometheus-node-exporter"]
    assert "/etc/systemd/system/prometheus-node-exporter.service" in plan["absent"]
    # The collection links binaries into /usr/local/bin only for archive installs.
    assert "/usr/local/bin/node_exporter" not in plan["absent"]


def test_a_switched_off_redis_exporter_renders_on_a_host_whose_basic_auth_lacks_its_user(tmp_path):
    rc, output, services = render_role("exporters", "__exporters_removed_services | map(attribute='name') | list", tmp_path, {
        "exporters_basic_auth_users": {"someone-else": "x"}, "exporters_redis_enabled": False,
        "ansible_facts": {"architecture": "x86_64"}})
    assert rc == 0, output
    assert "redis_exporter" in services
