"""credential_files: prometheus.yml keeps no credential; each goes to a secret file."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._credential_files import credential_files

CONFIG = {
    "global": {"scrape_interval": "15s"},
    "alerting": {"alertmanagers": [{"basic_auth": {"username": "prometheus", "password": "am-password-1"},
                                    "static_configs": [{"targets": ["am:9093"]}]}]},
    "scrape_configs": [
        {"job_name": "node", "basic_auth": {"username": "prometheus", "password": "scrape-password-1"}},
        {"job_name": "team/api", "authorization": {"type": "Bearer", "credentials": "api-token-1"}},
        {"job_name": "plain"},
    ],
    "remote_write": [{"url": "https://metrics.example.net/api/v1/write",
                      "authorization": {"credentials": "remote-write-token-1"}},
                     {"url": "https://b.example.net/write", "name": "b", "oauth2": {"client_id": "id", "client_secret": "oauth-secret-1"}}],
    "remote_read": [{"url": "https://r.example.net/read", "bearer_token": "read-token-1"}],
}
SECRETS = ["am-password-1", "scrape-password-1", "api-token-1", "remote-write-token-1", "oauth-secret-1", "read-token-1"]


def test_no_credential_is_left_in_the_config_and_each_has_a_file():
    result = credential_files(CONFIG, "/etc/prometheus/secrets", "prometheus")
    text = json.dumps(result["config"])
    assert not [secret for secret in SECRETS if secret in text]
    assert {entry["content"] for entry in result["files"]} == set(SECRETS)
    assert all(entry["secret"] is True and entry["mode"] == "0640" and entry["group"] == "prometheus" for entry in result["files"])


def test_each_credential_becomes_the_programs_own_file_setting():
    config = credential_files(CONFIG, "/s", "prometheus")["config"]
    assert config["alerting"]["alertmanagers"][0]["basic_auth"] == {"username": "prometheus", "password_file": "/s/alertmanager-0-password"}
    assert config["scrape_configs"][0]["basic_auth"]["password_file"] == "/s/scrape-node-password"
    assert config["scrape_configs"][1]["authorization"] == {"type": "Bearer", "credentials_file": "/s/scrape-team_api-credentials"}
    assert config["scrape_configs"][2] == {"job_name": "plain"}
    assert config["remote_write"][0]["authorization"] == {"credentials_file": "/s/remote_write-0-credentials"}
    assert config["remote_write"][1]["oauth2"] == {"client_id": "id", "client_secret_file": "/s/remote_write-b-client_secret"}
    assert config["remote_read"][0] == {"url": "https://r.example.net/read", "bearer_token_file": "/s/remote_read-0-bearer_token"}


def test_the_given_config_is_left_as_it_was():
    before = json.dumps(CONFIG, sort_keys=True)
    credential_files(CONFIG, "/s", "prometheus")
    assert json.dumps(CONFIG, sort_keys=True) == before


def test_names_that_clash_once_made_safe_get_their_own_files():
    config = {"scrape_configs": [{"job_name": "a/b", "basic_auth": {"password": "one-password"}},
                                 {"job_name": "a_b", "basic_auth": {"password": "two-password"}}]}
    paths = [entry["path"] for entry in credential_files(config, "/s", "p")["files"]]
    assert paths == ["/s/scrape-a_b-password", "/s/scrape-a_b-password-2"]


@pytest.mark.parametrize("client, message", [
    ({"job_name": "x", "basic_auth": {"password": "p", "password_file": "/f"}}, "both password and password_file"),
    ({"job_name": "x", "basic_auth": {"password": ""}}, "must be a non-empty string"),
])
def test_ambiguous_or_empty_credentials_are_refused(client, message):
    with pytest.raises(AnsibleFilterError, match=message):
        credential_files({"scrape_configs": [client]}, "/s", "p")


def test_a_config_without_clients_passes_through():
    assert credential_files({"global": {}}, "/s", "p") == {"config": {"global": {}}, "files": []}


def test_a_password_in_a_client_url_moves_to_basic_auth_and_then_to_a_file():
    config = {"clients": [{"url": "https://shipper:p%40ss-word-1@loki.internal:3100/loki/api/v1/push", "batchwait": "1s"}]}
    result = credential_files(config, "/etc/promtail/secrets", "promtail")
    (client,) = result["config"]["clients"]
    assert client == {"url": "https://loki.internal:3100/loki/api/v1/push", "batchwait": "1s",
                      "basic_auth": {"username": "shipper", "password_file": "/etc/promtail/secrets/client-0-password"}}
    assert result["files"][0]["content"] == "p@ss-word-1"
    assert "p%40ss-word-1" not in json.dumps(result["config"]) and "p@ss-word-1" not in json.dumps(result["config"])


def test_a_password_both_in_the_url_and_in_basic_auth_is_refused():
    with pytest.raises(AnsibleFilterError, match="both in its URL and in basic_auth"):
        credential_files({"clients": [{"url": "https://u:p@h/x", "basic_auth": {"username": "u", "password": "q"}}]}, "/s", "p")


def test_a_url_without_a_password_is_left_alone():
    config = {"remote_write": [{"url": "https://user@h/x"}, {"url": "http://h:9/api/v1/push?a=b@c"}]}
    assert credential_files(config, "/s", "p")["config"] == config
