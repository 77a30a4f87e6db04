"""Who can reach a listen address, and which listeners the preflights refuse."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._listen import listen_scope, unauthenticated_listeners


@pytest.mark.parametrize("address, scope", [
    ("127.0.0.1:9100", "loopback"), ("localhost:9100", "loopback"), ("[::1]:9100", "loopback"), ("127.3.4.5:1", "loopback"),
    ("10.20.0.11:3100", "private"), ("172.16.0.1:1", "private"), ("172.31.255.255:1", "private"), ("192.168.1.2:1", "private"),
    ("100.64.0.1:1", "private"), ("[fd00::1]:1", "private"),
    ("0.0.0.0:9100", "public"), (":9100", "public"), ("[::]:9100", "public"), ("*:9100", "public"),
    ("172.32.0.1:1", "public"), ("8.8.8.8:53", "public"), ("monitor1.example.net:9090", "public"),
])
def test_scopes(address, scope):
    assert listen_scope(address) == scope


def listener(address, **given):
    return {"name": "node_exporter", "address": address, "switch": "exporters_listen_public", **given}


def test_a_wildcard_without_authentication_is_refused_with_every_way_out():
    (message,) = unauthenticated_listeners([listener("0.0.0.0:9100")])
    assert "node_exporter would listen on 0.0.0.0:9100" in message
    assert "turn on basic auth or TLS" in message and "exporters_listen_public: true" in message


@pytest.mark.parametrize("given", [{"authenticated": True}, {"allow_public": True}, {"authenticated": "True"}])
def test_authentication_or_the_switch_lets_a_wildcard_pass(given):
    assert unauthenticated_listeners([listener("0.0.0.0:9100", **given)]) == []


@pytest.mark.parametrize("address", ["127.0.0.1:9100", "10.1.2.3:9100", "[::1]:9100"])
def test_loopback_and_private_addresses_pass_without_authentication(address):
    assert unauthenticated_listeners([listener(address)]) == []


def test_every_refused_listener_is_named_at_once_with_its_own_advice():
    problems = unauthenticated_listeners([
        listener("0.0.0.0:9100"),
        {"name": "promtail", "address": "0.0.0.0:9080", "switch": "promtail_listen_public", "fix": "Promtail has no authentication"},
        listener("127.0.0.1:9100", name="fine"),
    ])
    assert len(problems) == 2
    assert problems[1].startswith("promtail would listen on 0.0.0.0:9080") and "Promtail has no authentication" in problems[1]


@pytest.mark.parametrize("bad", [[{"name": "x"}], "not a list", [listener("no-port")]])
def test_malformed_listeners_are_refused(bad):
    with pytest.raises(AnsibleFilterError):
        unauthenticated_listeners(bad)


@pytest.mark.parametrize("given", [{"authenticated": "False"}, {"allow_public": "false"}, {"authenticated": ""}])
def test_false_rendered_as_text_is_still_false(given):
    assert len(unauthenticated_listeners([listener("0.0.0.0:9100", **given)])) == 1
