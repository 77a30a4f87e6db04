# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listen addresses: the address a local client connects to, and who can reach them."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

_IPV4_LOOPBACK = "127.0.0.1"
_IPV6_LOOPBACK = "::1"


def listen_endpoint(listen_address: str) -> dict:
    """Split HOST:PORT (or [V6]:PORT, or :PORT) into the host and port to connect to.

    A wildcard host (empty, 0.0.0.0, *, ::) becomes the loopback address of its
    family, because a client cannot connect to a wildcard.
    """
    if not isinstance(listen_address, str) or ":" not in listen_address:
        raise AnsibleFilterError(f"listen address must look like HOST:PORT, got {listen_address!r}")
    host, port_text = listen_address.rsplit(":", 1)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise AnsibleFilterError(f"listen address {listen_address!r} has no valid port (1-65535)")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    elif ":" in host:
        raise AnsibleFilterError(f"listen address {listen_address!r}: write IPv6 hosts in brackets, as [::1]:PORT")
    if host in ("", "0.0.0.0", "*"):
        host = _IPV4_LOOPBACK
    elif host == "::":
        host = _IPV6_LOOPBACK
    return {"host": host, "port": int(port_text)}


# Addresses only this host, or only the site's own networks, can reach.
_PRIVATE_NETWORKS = tuple(ipaddress.ip_network(network) for network in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7", "fe80::/10", "169.254.0.0/16"))


def listen_scope(listen_address: str) -> str:
    """'loopback', 'private' or 'public' for a listen address; a wildcard listens everywhere: 'public'.

    A host name other than localhost cannot be placed without resolving it
    and counts as public.
    """
    listen_endpoint(listen_address)  # refuses a malformed address
    host = listen_address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return "loopback"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "public"  # a wildcard (empty, *) or a name
    if address.is_unspecified:
        return "public"
    if address.is_loopback:
        return "loopback"
    if any(address in network for network in _PRIVATE_NETWORKS):
        return "private"
    return "public"


def _flag(value) -> bool:
    """A boolean, also when a template rendered it as text."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1")
    return bool(value)


def unauthenticated_listeners(listeners: list) -> list:
    """A message for each listener on a wildcard or public address with no authentication, unless allowed.

    Each listener is a mapping: ``name`` (what listens), ``address``,
    ``authenticated`` (basic auth or TLS is on), ``allow_public`` (the
    role's *_listen_public switch) and ``switch`` (that switch's name).
    """
    if not isinstance(listeners, list):
        raise AnsibleFilterError("unauthenticated_listeners: expected a list of listeners")
    problems = []
    for listener in listeners:
        if not isinstance(listener, Mapping) or not {"name", "address", "switch"} <= set(listener):
            raise AnsibleFilterError(f"unauthenticated_listeners: each listener needs name, address and switch, got {listener!r}")
        if _flag(listener.get("authenticated")) or _flag(listener.get("allow_public")):
            continue
        try:
            scope = listen_scope(listener["address"])
        except AnsibleFilterError as exc:
            raise AnsibleFilterError(f"{listener['name']}: {exc.message}") from None
        if scope == "public":
            problems.append(
                f"{listener['name']} would listen on {listener['address']}, a wildcard or public address, "
                f"with no authentication; {listener.get('fix', 'turn on basic auth or TLS')}, listen on loopback "
                f"or a private address, or set {listener['switch']}: true if something in front authenticates.")
    return problems
