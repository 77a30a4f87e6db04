# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stable bcrypt hashes for exporter-toolkit web configs.

A bcrypt hash normally carries a random salt, so rendering a web config twice
gives two different files and every run reports a change. Here the salt is
derived from a seed (host, service and user name), so the same password always
hashes to the same string, and a new password to a new one.
"""

from __future__ import annotations

import hashlib

from ansible.errors import AnsibleFilterError

try:
    import bcrypt
except ImportError:  # pragma: no cover - exercised only without the library
    bcrypt = None

# bcrypt's own base64 alphabet (not the standard one).
_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
MIN_COST = 4
MAX_COST = 31
# OWASP's floor for bcrypt: about 0.25 s per hash on a current core, paid
# once per user and service on each run (the salt is derived, so the result
# is the same) and on a service's first check of each login.
DEFAULT_COST = 12


def _bcrypt_base64(data: bytes) -> str:
    """Encode bytes with bcrypt's base64 alphabet, without padding."""
    bits = int.from_bytes(data, "big")
    total_bits = len(data) * 8
    chars = []
    for shift in range(total_bits - 6, -6, -6):
        index = (bits >> shift) & 0x3F if shift >= 0 else (bits << -shift) & 0x3F
        chars.append(_BCRYPT_ALPHABET[index])
    return "".join(chars)


def derive_salt(seed: str, cost: int = DEFAULT_COST) -> bytes:
    """Return a bcrypt salt string ("$2b$<cost>$" + 22 characters) for a seed."""
    if not isinstance(cost, int) or isinstance(cost, bool) or not MIN_COST <= cost <= MAX_COST:
        raise AnsibleFilterError(f"bcrypt cost must be an integer from {MIN_COST} to {MAX_COST}, got {cost!r}")
    digest = hashlib.sha256(seed.encode("utf-8")).digest()[:16]
    return f"$2b${cost:02d}${_bcrypt_base64(digest)[:22]}".encode("ascii")


def bcrypt_hash(password: str, seed: str, cost: int = DEFAULT_COST) -> str:
    """Hash one password with the salt derived from seed."""
    if bcrypt is None:
        raise AnsibleFilterError("the bcrypt filters need the Python library 'bcrypt' on the controller (pip install bcrypt)")
    if not isinstance(password, str) or not password:
        raise AnsibleFilterError("a bcrypt password must be a non-empty string")
    if not isinstance(seed, str) or not seed:
        raise AnsibleFilterError("the bcrypt seed must be a non-empty string")
    encoded = password.encode("utf-8")
    if len(encoded) > 72:
        raise AnsibleFilterError("bcrypt uses only the first 72 bytes of a password; use a shorter one")
    return bcrypt.hashpw(encoded, derive_salt(seed, cost)).decode("ascii")


def bcrypt_users(users: dict, seed: str, cost: int = DEFAULT_COST) -> dict:
    """Hash a mapping of user name to password; the user name joins the seed."""
    if not isinstance(users, dict):
        raise AnsibleFilterError(f"bcrypt_users expects a mapping of user names to passwords, got {type(users).__name__}")
    hashed = {}
    for user, password in users.items():
        if not isinstance(user, str) or not user:
            raise AnsibleFilterError(f"bcrypt_users: user names must be non-empty strings, got {user!r}")
        try:
            hashed[user] = bcrypt_hash(password, f"{seed}/{user}", cost)
        except AnsibleFilterError as exc:
            raise AnsibleFilterError(f"bcrypt_users: user {user!r}: {exc.message}") from None
    return hashed
