"""Secrets are declared, not guessed: each credential a config could carry goes to a secret file.

Rendered as the roles render them (the role's defaults and vars on localhost).
The configs, which diffs show, must hold none of the secrets; the secret
files, whose contents are never shown, hold them.
"""

from __future__ import annotations

import json

from test_hostile_values import render

PROMETHEUS_SECRETS = {
    "prometheus_remote_write": [{"url": "https://rw-user:rw-url-password@metrics.example.net/api/v1/write"},
                                {"url": "https://b.example.net/write", "name": "b",
                                 "authorization": {"credentials": "rw-bearer-token"}}],
    "prometheus_remote_read": [{"url": "https://r.example.net/read", "basic_auth": {"username": "u", "password": "rr-password"}}],
}


def test_prometheus_yml_holds_no_remote_storage_credential(tmp_path):
    rc, output, value = render("prometheus", "__prometheus_credentials", tmp_path, PROMETHEUS_SECRETS)
    assert rc == 0, output
    config = json.dumps(value["config"])
    for secret in ("rw-url-password", "rw-bearer-token", "rr-password"):
        assert secret not in config
    assert value["config"]["remote_write"][0]["url"] == "https://metrics.example.net/api/v1/write"
    assert value["config"]["remote_write"][0]["basic_auth"] == {
        "username": "rw-user", "password_file": "/etc/prometheus/secrets/remote_write-0-password"}
    assert value["config"]["remote_write"][1]["authorization"] == {"credentials_file": "/etc/prometheus/secrets/remote_write-b-credentials"}
    assert {(f["content"], f["secret"], f["group"], f["mode"]) for f in value["files"]} == {
        ("rw-url-password", True, "prometheus", "0640"), ("rw-bearer-token", True, "prometheus", "0640"),
        ("rr-password", True, "prometheus", "0640")}


def test_promtail_yml_holds_no_client_credential(tmp_path):
    extra = {"promtail_loki_urls": ["https://shipper:url-password-1@logs.example.net/loki/api/v1/push"],
             "promtail_client_options": {"tenant_id": "da"}}
    rc, output, value = render("promtail", "__promtail_credentials", tmp_path, extra)
    assert rc == 0, output
    assert "url-password-1" not in json.dumps(value["config"])
    (client,) = value["config"]["clients"]
    assert client == {"url": "https://logs.example.net/loki/api/v1/push", "tenant_id": "da",
                      "basic_auth": {"username": "shipper", "password_file": "/etc/promtail/secrets/client-0-password"}}
    assert [(f["content"], f["secret"], f["group"]) for f in value["files"]] == [("url-password-1", True, "promtail")]


def test_promtail_basic_auth_in_the_client_options_goes_to_a_file_per_client(tmp_path):
    extra = {"promtail_loki_urls": ["https://a.example.net/loki/api/v1/push", "https://b.example.net/loki/api/v1/push"],
             "promtail_client_options": {"basic_auth": {"username": "shipper", "password": "options-password-1"}}}
    rc, output, value = render("promtail", "__promtail_credentials", tmp_path, extra)
    assert rc == 0, output
    assert "options-password-1" not in json.dumps(value["config"])
    assert [f["path"] for f in value["files"]] == ["/etc/promtail/secrets/client-0-password", "/etc/promtail/secrets/client-1-password"]


def test_webhook_urls_make_alertmanager_yml_a_secret_file(tmp_path):
    policy = {"severities": [{"name": "warning", "channels": ["webhook"]}], "teams": [],
              "default": {"channels": ["webhook"], "webhook_urls": ["https://hooks.example.net/T/B/webhook-token-1"]}}
    rc, output, value = render("alertmanager", "__alertmanager_config_is_secret", tmp_path, {"alertmanager_routing_policy": policy})
    assert rc == 0, output
    assert value is True
