"""missing_secrets: which of the fleet's secrets the vault does not provide."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._secrets import missing_secrets

GROUPS = {"all": ["mon", "db1", "db2"], "grafana": ["mon"], "postgres": ["db1", "db2"]}
REQUIRED = [
    {"name": "vault_grafana_admin_password", "groups": ["grafana"], "purpose": "Grafana's admin password"},
    {"name": "vault_postgres_exporter_password", "groups": ["postgres"], "purpose": "postgres_exporter's login"},
    {"name": "vault_aws_secret_access_key", "groups": ["postgres"], "purpose": "S3 uploads", "when": "backup_s3_bucket"},
]


def test_nothing_is_missing_when_every_host_has_its_secrets():
    hostvars = {
        "mon": {"vault_grafana_admin_password": "x"},
        "db1": {"vault_postgres_exporter_password": "y"},
        "db2": {"vault_postgres_exporter_password": "y"},
    }
    assert missing_secrets(REQUIRED, hostvars, GROUPS) == []


def test_every_missing_secret_is_named_at_once_with_the_hosts_that_need_it():
    hostvars = {"mon": {}, "db1": {"vault_postgres_exporter_password": ""}, "db2": {"backup_s3_bucket": "b"}}
    assert missing_secrets(REQUIRED, hostvars, GROUPS) == [
        {"name": "vault_grafana_admin_password", "purpose": "Grafana's admin password", "hosts": ["mon"]},
        {"name": "vault_postgres_exporter_password", "purpose": "postgres_exporter's login", "hosts": ["db1", "db2"]},
        {"name": "vault_aws_secret_access_key", "purpose": "S3 uploads", "hosts": ["db2"]},
    ]


def test_a_conditional_secret_is_needed_only_where_its_condition_is_set():
    hostvars = {"mon": {"vault_grafana_admin_password": "x"},
                "db1": {"vault_postgres_exporter_password": "y", "backup_s3_bucket": ""},
                "db2": {"vault_postgres_exporter_password": "y"}}
    assert missing_secrets(REQUIRED, hostvars, GROUPS) == []


def test_the_example_files_placeholder_counts_as_missing():
    hostvars = {"mon": {"vault_grafana_admin_password": "CHANGE-ME"},
                "db1": {"vault_postgres_exporter_password": "y"},
                "db2": {"vault_postgres_exporter_password": "https://hooks.example/CHANGE-ME/x"}}
    assert [entry["name"] for entry in missing_secrets(REQUIRED, hostvars, GROUPS)] == [
        "vault_grafana_admin_password", "vault_postgres_exporter_password"]


def test_a_group_without_hosts_needs_nothing():
    assert missing_secrets(REQUIRED, {}, {"all": []}) == []


@pytest.mark.parametrize("requirement, message", [
    ("vault_x", "must be a mapping"),
    ({"groups": ["grafana"]}, "needs a name"),
    ({"name": "vault_x"}, "needs groups"),
    ({"name": "vault_x", "groups": "grafana"}, "needs groups"),
    ({"name": "vault_x", "groups": ["grafana"], "group": "typo"}, "unknown keys ['group']"),
])
def test_a_bad_requirement_is_refused_by_name(requirement, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("[", r"\[").replace("]", r"\]")):
        missing_secrets([requirement], {}, GROUPS)
