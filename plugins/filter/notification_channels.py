# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: notification_channels
short_description: What the alertmanager role needs to know of its notification channels
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Reads the registry of notification channels (C(plugins/plugin_utils/_channels.py)), which holds for each
    channel, its Alertmanager integration, the contact it sends to, the role settings it needs and
    its secrets.
  - From the role's settings and the receivers that C(alert_routes) built, returns the channels
    used, the secret files and the global keys of C(alertmanager.yml) that name them, a message per
    used channel whose required settings are empty, and whether C(alertmanager.yml) holds a secret
    inline (webhook URLs).
  - The same file registers C(notification_channel_settings), the names of the role variables the
    registry reads.
options:
  _input:
    description:
      - The role's channel settings, without the C(alertmanager_) prefix (C(smtp_smarthost),
        C(smtp_from), C(smtp_auth_username), C(smtp_auth_password), C(slack_api_url),
        C(pagerduty_routing_keys)).
    type: dict
    required: true
  secrets_dir:
    description: The directory of the secret files on the host.
    type: str
    required: true
  receivers:
    description: The receivers of the routing (C(alert_routes)'s C(receivers)).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: The channels of a routing
  ansible.builtin.debug:
    msg: >-
      {{ {'smtp_smarthost': 'smtp.example.org:587', 'smtp_from': 'am@example.org', 'smtp_auth_password': 'x'}
         | dataaggregator.infrastructure.notification_channels('/etc/alertmanager/secrets', routing.receivers) }}
"""

RETURN = r"""
_value:
  description:
    - C(used) (channel names), C(files) (file name to content, secrets), C(global) (keys of
      C(alertmanager.yml)'s global section), C(unconfigured) (messages) and C(secret_config) (bool).
  type: dict
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._channels import (
    channel_settings,
    notification_channels,
)


class FilterModule:
    def filters(self):
        return {"notification_channels": notification_channels, "notification_channel_settings": channel_settings}
