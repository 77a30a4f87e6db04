from __future__ import annotations

import bcrypt
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils import _bcrypt


def test_same_seed_and_password_give_the_same_hash():
    first = _bcrypt.bcrypt_hash("s3cret", "host-a/node_exporter/prometheus")
    second = _bcrypt.bcrypt_hash("s3cret", "host-a/node_exporter/prometheus")
    assert first == second


def test_hash_verifies_the_password_and_rejects_others():
    hashed = _bcrypt.bcrypt_hash("s3cret", "seed").encode()
    assert bcrypt.checkpw(b"s3cret", hashed)
    assert not bcrypt.checkpw(b"s3cret!", hashed)


def test_other_seed_gives_another_salt():
    assert _bcrypt.bcrypt_hash("s3cret", "host-a") != _bcrypt.bcrypt_hash("s3cret", "host-b")


def test_salt_is_canonical_bcrypt():
    salt = _bcrypt.derive_salt("anything", 12).decode()
    assert salt.startswith("$2b$12$")
    body = salt[len("$2b$12$"):]
    assert len(body) == 22
    assert set(body) <= set(_bcrypt._BCRYPT_ALPHABET)
    # The last character only carries two bits: the rest must be zero.
    assert body[-1] in ".Oeu"


@pytest.mark.parametrize("data", [b"\x00" * 16, b"\xff" * 16, bytes(range(16))])
def test_base64_matches_the_reference_encoding(data):
    # bcrypt's alphabet is standard base64's, reordered; map one to the other.
    import base64

    standard = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    expected = base64.b64encode(data).decode().rstrip("=").translate(str.maketrans(standard, _bcrypt._BCRYPT_ALPHABET))
    assert _bcrypt._bcrypt_base64(data) == expected


def test_users_are_hashed_with_their_own_salt():
    hashed = _bcrypt.bcrypt_users({"alice": "pw", "bob": "pw"}, "host/node_exporter")
    assert set(hashed) == {"alice", "bob"}
    assert hashed["alice"] != hashed["bob"]
    assert bcrypt.checkpw(b"pw", hashed["alice"].encode())


@pytest.mark.parametrize(
    ("users", "message"),
    [
        (["alice"], "mapping"),
        ({"alice": ""}, "user 'alice'"),
        ({"alice": 42}, "non-empty string"),
        ({"": "pw"}, "user names"),
        ({"alice": "x" * 73}, "72 bytes"),
    ],
)
def test_bad_input_names_the_problem(users, message):
    with pytest.raises(AnsibleFilterError, match=message):
        _bcrypt.bcrypt_users(users, "seed")


@pytest.mark.parametrize("cost", [3, 32, "10", True])
def test_cost_out_of_range_is_refused(cost):
    with pytest.raises(AnsibleFilterError, match="cost"):
        _bcrypt.derive_salt("seed", cost)
