"""The alertmanager role reads the settings of its notification channels by the names the registry gives."""

from __future__ import annotations

from conftest import render_role


def test_the_channel_settings_are_the_role_variables_without_their_prefix(tmp_path):
    settings = {"alertmanager_smtp_smarthost": "smtp.example.org:587", "alertmanager_smtp_from": "am@example.org",
                "alertmanager_smtp_auth_username": "am", "alertmanager_smtp_auth_password": "unit-smtp-secret",
                "alertmanager_slack_api_url": "https://hooks.slack.invalid/unit",
                "alertmanager_pagerduty_routing_keys": {"database": "unit-pd-secret"}}
    rc, output, value = render_role("alertmanager", "__alertmanager_channel_settings", tmp_path, settings)
    assert rc == 0, output
    assert value == {name.removeprefix("alertmanager_"): content for name, content in settings.items()}
