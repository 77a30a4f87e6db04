"""secret_scan: which values count as secrets, and that a search finds them wherever they hide."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "harness"))
import secret_scan  # noqa: E402


def test_every_declared_secret_of_the_roles_is_a_secret_variable():
    names = secret_scan.no_log_variables()
    for name in ("alertmanager_smtp_auth_password", "alertmanager_slack_api_url", "exporters_redis_password",
                 "exporters_basic_auth_users", "grafana_admin_password", "backup_connection_password",
                 "loki_s3_secret_access_key", "prometheus_web_basic_auth_users"):
        assert name in names
    # Names and addresses are not secrets: a scan for them would find them in every log.
    assert not names & {"alertmanager_smtp_auth_username", "exporters_redis_address", "backup_connection_user"}


def test_values_of_mappings_and_lists_are_secrets_but_not_their_keys():
    found = secret_scan.needles({"exporters_basic_auth_users": {"prometheus": "scrape-password-1"},
                                 "alertmanager_pagerduty_routing_keys": ["routing-key-0001"]})
    assert found == {"scrape-password-1": "exporters_basic_auth_users",
                     "routing-key-0001": "alertmanager_pagerduty_routing_keys"}


def test_a_url_is_searched_for_its_password_and_its_token_too():
    found = secret_scan.needles({"dsn": "postgresql://monitor:pg-pass%2Fword@db:5432/postgres",
                                 "slack": "https://hooks.example.net/services/T00/B00/slack-token-123"})
    assert found["pg-pass/word"] == "dsn (password in the URL)"
    assert found["postgresql://monitor:pg-pass%2Fword@db:5432/postgres"] == "dsn"
    assert found["slack-token-123"] == "slack (last part of the URL)"
    assert "https://hooks.example.net/services/T00/B00/slack-token-123" in found


def test_an_address_without_credentials_is_not_a_secret():
    assert secret_scan.needles({"exporters_redis_address": "redis://localhost:6379"}) == {}


@pytest.mark.parametrize("value", ["short", "{{ vault_redis_password }}", "", None, True, {"__ansible_vault": "$ANSIBLE_VAULT;1.1"}])
def test_short_templated_empty_and_still_vaulted_values_are_not_searched(value):
    assert secret_scan.needles({"x": value}) == {}


def test_inventory_secrets_take_no_log_and_vault_variables_of_every_host():
    hostvars = {"a": {"vault_smtp_password": "smtp-secret-1", "grafana_admin_password": "grafana-admin-1",
                      "grafana_domain": "grafana.internal.example"},
                "b": {"exporters_redis_password": "redis-secret-1"}}
    found = secret_scan.inventory_secrets(hostvars, {"grafana_admin_password", "exporters_redis_password"})
    assert found == {"smtp-secret-1": "vault_smtp_password", "grafana-admin-1": "grafana_admin_password",
                     "redis-secret-1": "exporters_redis_password"}


def test_search_names_the_secret_and_the_place_never_the_value():
    secrets = {"redis-secret-1": "exporters_redis_password"}
    places = {"cache: journal": "MESSAGE=Invoked with files=[{'content': 'REDIS_PASSWORD=redis-secret-1'}]",
              "cache: /var/log/syslog": "nothing here",
              "mon: /var/log/x": "-----BEGIN PRIVATE KEY-----"}
    findings = secret_scan.search(secrets, places)
    assert findings == [secret_scan.Finding("exporters_redis_password", "cache: journal"),
                        secret_scan.Finding("a private key", "mon: /var/log/x")]
    report = secret_scan.report(findings, secrets, len(places))
    assert "redis-secret-1" not in report
    assert report.splitlines()[-1].startswith("2 found: 1 secret values (exporters_redis_password) searched in 3 places")
