# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: bcrypt_users
short_description: Hash user passwords with bcrypt, stably across runs
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Turns a mapping of user names to plain passwords into a mapping of user
    names to bcrypt hashes, as the C(basic_auth_users) of an exporter-toolkit
    web config expects.
  - The salt is derived from O(seed) and the user name, so the same password
    hashes to the same string on every run and the rendered file does not
    change. A new password gives a new hash.
  - Needs the Python library C(bcrypt) on the controller.
options:
  _input:
    description: Mapping of user name to plain-text password (from the vault).
    type: dict
    required: true
  seed:
    description:
      - Text the salt is derived from, for example the host and service name.
      - Use a different seed per host so that equal passwords give different hashes.
    type: str
    required: true
  cost:
    description: bcrypt cost factor (4 to 31); 12 is the floor OWASP recommends.
    type: int
    default: 12
"""

EXAMPLES = r"""
- name: Render the basic_auth_users of a web config
  ansible.builtin.debug:
    msg: "{{ {'prometheus': vault_scrape_password} | dataaggregator.infrastructure.bcrypt_users(inventory_hostname ~ '/node_exporter') }}"
"""

RETURN = r"""
_value:
  description: Mapping of user name to bcrypt hash (C($2b$...)).
  type: dict
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._bcrypt import bcrypt_users


class FilterModule:
    """bcrypt filters."""

    def filters(self):
        return {"bcrypt_users": bcrypt_users}
