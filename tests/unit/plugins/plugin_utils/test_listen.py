from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._listen import listen_endpoint


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [
        ("0.0.0.0:9100", "127.0.0.1", 9100),
        (":9100", "127.0.0.1", 9100),
        ("*:80", "127.0.0.1", 80),
        ("10.1.2.3:9187", "10.1.2.3", 9187),
        ("exporter.internal:9121", "exporter.internal", 9121),
        ("[::]:9090", "::1", 9090),
        ("[fd00::5]:3100", "fd00::5", 3100),
    ],
)
def test_endpoint(address, host, port):
    assert listen_endpoint(address) == {"host": host, "port": port}


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("9100", "HOST:PORT"),
        ("localhost:", "valid port"),
        ("localhost:0", "valid port"),
        ("localhost:70000", "valid port"),
        ("fd00::5:3100", "brackets"),
        (9100, "HOST:PORT"),
    ],
)
def test_bad_address_is_named(address, message):
    with pytest.raises(AnsibleFilterError, match=message):
        listen_endpoint(address)
