"""The filter plugins expose their logic under the documented names."""

from __future__ import annotations

from ansible_collections.dataaggregator.infrastructure.plugins.filter import bcrypt_users, listen_endpoint


def test_bcrypt_users_filter_is_registered():
    filters = bcrypt_users.FilterModule().filters()
    hashed = filters["bcrypt_users"]({"prometheus": "pw"}, "seed")
    assert hashed["prometheus"].startswith("$2b$10$")


def test_listen_endpoint_filter_is_registered():
    filters = listen_endpoint.FilterModule().filters()
    assert filters["listen_endpoint"](":9100") == {"host": "127.0.0.1", "port": 9100}
