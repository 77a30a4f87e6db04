# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: listen_endpoint
short_description: Host and port a local client uses to reach a listen address
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Splits a service's listen address (C(HOST:PORT), C([IPV6]:PORT) or C(:PORT))
    into the host and port to connect to.
  - A wildcard host (empty, C(0.0.0.0), C(*)) becomes C(127.0.0.1), and C(::) becomes C(::1).
  - Fails with a message that names the value when it is not a valid listen address.
options:
  _input:
    description: The listen address.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Wait until node_exporter listens
  ansible.builtin.wait_for:
    host: "{{ (exporters_node_listen_address | dataaggregator.infrastructure.listen_endpoint).host }}"
    port: "{{ (exporters_node_listen_address | dataaggregator.infrastructure.listen_endpoint).port }}"
"""

RETURN = r"""
_value:
  description: The host and port to connect to.
  type: dict
  contains:
    host:
      description: Host name or address, without brackets.
      type: str
    port:
      description: TCP port.
      type: int
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._listen import (
    listen_endpoint,
    unauthenticated_listeners,
)


class FilterModule:
    """Listen-address filters."""

    def filters(self):
        return {"listen_endpoint": listen_endpoint, "unauthenticated_listeners": unauthenticated_listeners}
