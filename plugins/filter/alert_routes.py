# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: alert_routes
short_description: Alertmanager route, receivers and inhibit rules from a compact routing policy
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Turns a routing policy (severity tiers and teams) into the C(route),
    C(receivers) and C(inhibit_rules) of C(alertmanager.yml).
  - Each team and severity pair gets one receiver that holds exactly the
    integrations of the tier's channels (or the team's own channels for that
    tier), and one route that selects it with the team's and the tier's
    matchers.
  - An alert of a tier whose team is missing or unknown still gets the tier's
    channels and timings, so a critical one pages; each tier gets a
    C(default-<tier>) receiver with the default contacts, routed after the teams.
    Only alerts of no known tier go to the receiver C(default), through the
    default's own C(channels).
  - Each tier inhibits every later tier for alerts with equal O(_input.inhibit_equal)
    labels, so a critical alert silences its warning twin.
  - PagerDuty routing keys are named by reference and read from files in
    O(options.secrets_dir); the generated config holds no secret.
  - A policy with an unknown channel or key, a missing contact, a duplicate
    name, a bad matcher or an invalid duration fails with a message that names it.
options:
  _input:
    description: The routing policy.
    type: dict
    required: true
    suboptions:
      severities:
        description:
          - Tiers, most severe first. Each has C(name), C(channels) (from C(email),
            C(slack), C(pagerduty), C(webhook)), optional C(matchers) (default
            C(severity="<name>")) and optional C(group_wait), C(group_interval)
            and C(repeat_interval).
        type: list
        elements: dict
        required: true
      teams:
        description:
          - Teams. Each has C(name), optional C(matchers) (default C(team="<name>")),
            the contacts its channels need (C(email_to) list, C(slack_channel),
            C(pagerduty_routing_key) reference, C(webhook_urls) list), and optional
            C(channels), a mapping of tier name to the channels this team uses instead.
        type: list
        elements: dict
        required: true
      default:
        description:
          - The contacts of alerts of no known team (every channel any tier uses needs its contact here),
            and C(channels) for alerts of no known tier.
        type: dict
        required: true
      group_by:
        description: Labels the root route groups by.
        type: list
        elements: str
        default: [alertname, team, severity, instance]
      inhibit_equal:
        description: Labels that must be equal for a tier to inhibit a later one.
        type: list
        elements: str
        default: [alertname, instance]
  options:
    description:
      - C(secrets_dir), the directory of the routing key files (default C(/etc/alertmanager/secrets)).
      - C(pagerduty_keys), the routing key references that exist; others are an error.
      - C(watchdog_webhook_urls), the dead-man's switch that the always-firing C(Watchdog) alert reaches
        every minute, through a route before all others; empty, the C(Watchdog) goes to a receiver
        with no integration.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Build the routing part of alertmanager.yml
  ansible.builtin.set_fact:
    routing: >-
      {{ {'severities': [{'name': 'critical', 'channels': ['email', 'pagerduty'], 'group_wait': '5s', 'repeat_interval': '1h'},
                         {'name': 'warning', 'channels': ['email'], 'group_wait': '30s', 'repeat_interval': '6h'}],
          'teams': [{'name': 'database', 'email_to': ['dba@example.org'], 'pagerduty_routing_key': 'database'}],
          'default': {'channels': ['email'], 'email_to': ['ops@example.org'], 'pagerduty_routing_key': 'ops'}}
         | dataaggregator.infrastructure.alert_routes({'pagerduty_keys': ['database', 'ops']}) }}
"""

RETURN = r"""
_value:
  description: C(route), C(receivers) and C(inhibit_rules), ready to merge into alertmanager.yml.
  type: dict
  contains:
    route:
      description: The root route (receiver C(default)) with one child route per team and tier, then one per tier.
      type: dict
    receivers:
      description: >-
        C(default), then C(<team>-<tier>) for every team and tier, then C(default-<tier>) for every tier,
        then C(watchdog).
      type: list
      elements: dict
    inhibit_rules:
      description: One rule per pair of tiers, the more severe as the source.
      type: list
      elements: dict
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._alert_routes import alert_routes


class FilterModule:
    """Alertmanager routing filters."""

    def filters(self):
        return {"alert_routes": alert_routes}
