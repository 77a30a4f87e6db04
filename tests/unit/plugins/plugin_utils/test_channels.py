"""The registry of notification channels, and what the alertmanager role reads from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._alert_routes import alert_routes
from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._channels import (
    CHANNELS,
    channel_files,
    channel_settings,
    channels_used,
    integrations,
    notification_channels,
    unconfigured_channels,
)

SECRETS = "/etc/alertmanager/secrets"
CONTACTS = {"email_to": ["db@example.org"], "slack_channel": "#db", "pagerduty_routing_key": "database",
            "webhook_urls": ["https://hooks.example.org/a", "https://hooks.example.org/b"]}


def policy(channels, **default):
    return {"severities": [{"name": "critical", "channels": channels}], "teams": [],
            "default": {"channels": channels, **{key: CONTACTS[key] for key in default.get("contacts", CONTACTS)}}}


@pytest.mark.parametrize("name", list(CHANNELS))
def test_every_channel_says_its_integration_contact_needs_and_secrets(name):
    entry = CHANNELS[name]
    assert entry["integration"].endswith("_configs")
    assert entry["contact"] in CONTACTS
    assert isinstance(entry["contact_is_list"], bool) and isinstance(entry["inline"], bool)
    built = integrations(CONTACTS, [name], "critical", SECRETS)
    assert list(built) == [entry["integration"]] and built[entry["integration"]]


def test_integrations_follow_the_registrys_order_and_only_the_channels_given():
    built = integrations(CONTACTS, ["webhook", "email"], "warning", SECRETS)
    assert list(built) == ["email_configs", "webhook_configs"]
    assert [hook["url"] for hook in built["webhook_configs"]] == CONTACTS["webhook_urls"]
    pagerduty = integrations(CONTACTS, ["pagerduty"], "page-now", SECRETS)["pagerduty_configs"][0]
    assert pagerduty["routing_key_file"] == f"{SECRETS}/pagerduty-database" and pagerduty["severity"] == "critical"


def test_the_channels_used_are_read_from_the_receivers():
    receivers = alert_routes(policy(["slack", "email"]), {"pagerduty_keys": []})["receivers"]
    assert channels_used(receivers) == ["email", "slack"]
    assert channels_used([{"name": "watchdog"}]) == []


def test_secrets_become_files_named_by_the_global_settings_only_when_set():
    settings = {"smtp_auth_username": "alertmanager", "smtp_auth_password": "smtp-secret", "slack_api_url": "",
                "pagerduty_routing_keys": {"database": "pd-secret-1", "security": "pd-secret-2"}}
    files = channel_files(settings, SECRETS + "/")
    assert files["files"] == {"smtp-password": "smtp-secret", "pagerduty-database": "pd-secret-1",
                              "pagerduty-security": "pd-secret-2"}
    assert files["global"] == {"smtp_auth_username": "alertmanager", "smtp_auth_password_file": f"{SECRETS}/smtp-password"}
    assert list(files["global"]) == ["smtp_auth_username", "smtp_auth_password_file"]
    assert channel_files({}, SECRETS) == {"files": {}, "global": {}}


def test_a_used_channel_without_its_settings_is_named_with_the_variables():
    assert unconfigured_channels(["email", "slack", "webhook"], {"smtp_smarthost": "smtp:25"}) == [
        "The routing policy notifies by email, which needs alertmanager_smtp_from",
        "The routing policy notifies by slack, which needs alertmanager_slack_api_url",
    ]
    assert unconfigured_channels(["slack"], {"slack_api_url": "https://hooks.slack.com/x"}) == []


def test_the_role_gets_everything_in_one_call():
    receivers = alert_routes(policy(["email", "webhook"], contacts=["email_to", "webhook_urls"]), {})["receivers"]
    channels = notification_channels({"smtp_smarthost": "smtp:25", "smtp_from": "am@example.org"}, SECRETS, receivers)
    assert channels == {"used": ["email", "webhook"], "files": {}, "global": {}, "unconfigured": [], "secret_config": True}
    quiet = notification_channels({}, SECRETS, alert_routes(policy(["slack"], contacts=["slack_channel"]), {})["receivers"])
    assert quiet["secret_config"] is False and quiet["unconfigured"] == [
        "The routing policy notifies by slack, which needs alertmanager_slack_api_url"]


def test_the_settings_the_registry_reads_are_the_roles_documented_variables():
    names = channel_settings()
    assert names == list(dict.fromkeys(names)) and all(name.startswith("alertmanager_") for name in names)
    for entry in CHANNELS.values():
        wanted = entry["required"] + [secret["setting"] for secret in entry["secrets"]]
        assert {"alertmanager_" + name for name in wanted} <= set(names)
    # A new channel's settings must be declared (defaults) and documented (the spec).
    role = Path(__file__).resolve().parents[4] / "roles" / "alertmanager"
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(names) <= set(defaults) and set(names) <= set(spec)
    assert channel_settings("x_")[0] == "x_" + names[0][len("alertmanager_"):]
