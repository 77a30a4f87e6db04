# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: placeholder_contacts
short_description: The alert contacts of the fleet that are still placeholders
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Checks the contacts of every host of the C(alertmanager) group, so that a play can name
    every placeholder at once, before it touches any host.
  - Checked are each team's and the default receiver's C(email_to) and C(slack_channel) in
    C(alertmanager_routing_policy), and C(alertmanager_smtp_from).
  - A placeholder is a value that still holds C(CHANGE-ME), an address at a domain reserved for
    examples (C(example.org), C(example.com), C(example.net), and the C(.example), C(.invalid),
    C(.test) and C(.localhost) names), or one of O(placeholder_channels).
  - Hosts whose C(site_placeholder_contacts_allowed) is true (the sandbox) are not checked, and a
    host's C(site_real_slack_channels) are real channels even when named like an example.
extends_documentation_fragment:
  - dataaggregator.infrastructure.inventory_filter
options:
  placeholder_channels:
    description: Slack channels that count as placeholders (the role's example channels).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Fail on placeholder contacts, naming them all
  ansible.builtin.assert:
    that: placeholders | length == 0
    fail_msg: "Placeholders: {{ placeholders | map(attribute='setting') | join(', ') }}"
  vars:
    placeholders: "{{ hostvars | dataaggregator.infrastructure.placeholder_contacts(groups, ['#alerts']) }}"
"""

RETURN = r"""
_value:
  description: >-
    One entry per placeholder (setting and value), with C(setting), C(value), C(reason), the C(group)
    checked and the C(hosts) it is set on, in the order found.
  type: list
  elements: dict
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._contacts import placeholder_contacts


class FilterModule:
    """Contact checks."""

    def filters(self):
        return {"placeholder_contacts": placeholder_contacts}
