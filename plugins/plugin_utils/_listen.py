# Copyright: Contributors to the dataaggregator.infrastructure collection
# Apache License 2.0 (see LICENSE)
"""Turn a service's listen address into the address a local client connects to."""

from __future__ import annotations

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
