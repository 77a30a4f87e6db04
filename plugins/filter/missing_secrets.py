# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: missing_secrets
short_description: The secrets of the fleet that the vault does not provide
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Checks a list of required secrets against every host of the groups that need them,
    so that a play can name every missing secret at once, before it touches any host.
  - A requirement names the variable (C(vault_*) in the shipped inventories), the groups whose
    hosts need it, what it is for, and optionally (C(when)) a variable that must be set on a host
    for the secret to be needed there.
  - An empty string, list or mapping counts as missing, and so does a value that still holds
    the C(CHANGE-ME) placeholder of C(inventories/vault.yml.example).
options:
  _input:
    description: The requirements, mappings with C(name), C(groups), C(purpose) and optionally C(when).
    type: list
    elements: dict
    required: true
  hostvars:
    description: Ansible's C(hostvars).
    type: dict
    required: true
  groups:
    description: Ansible's C(groups).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Fail on missing secrets, naming them all
  ansible.builtin.assert:
    that: missing | length == 0
    fail_msg: "Missing from the vault: {{ missing | map(attribute='name') | join(', ') }}"
  vars:
    missing: >-
      {{ [{'name': 'vault_grafana_admin_password', 'groups': ['grafana'], 'purpose': 'Grafana admin'}]
         | dataaggregator.infrastructure.missing_secrets(hostvars, groups) }}
"""

RETURN = r"""
_value:
  description: The missing requirements in the order given, each with C(name), C(purpose) and the C(hosts) that need it.
  type: list
  elements: dict
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._secrets import missing_secrets


class FilterModule:
    """Secret checks."""

    def filters(self):
        return {"missing_secrets": missing_secrets}
