# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: prometheus_scrape_configs
short_description: Prometheus scrape configs for everything the inventory runs
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Builds the C(scrape_configs) of C(prometheus.yml) from the inventory, so that
    no target of this collection is written by hand.
  - Every exporter of the C(exporters) role is scraped on the hosts where it is
    enabled (its C(exporters_<name>_enabled) variable, or by default its inventory
    group), on the port of its listen address, with https and basic auth where
    that host's web config asks for them.
  - Alertmanager, Grafana, Loki and Promtail are scraped on the hosts of their
    groups; the platform backend's C(/metrics) on the hosts of the backend group;
    blackbox probes cover the backend's health endpoints and extra URLs.
  - Each target carries the labels C(inventory_hostname), C(environment) and
    C(groups) (the host's groups, comma-framed).
extends_documentation_fragment:
  - dataaggregator.infrastructure.inventory_filter
options:
  options:
    description:
      - C(environment), C(self_address), C(scrape_username), C(ca_file),
        C(backend_group), C(backend_port), C(backend_health_port),
        C(backend_health_scheme), C(backend_health_paths), C(blackbox_address),
        C(blackbox_http_targets), C(blackbox_tcp_targets), C(blackbox_icmp_targets).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Show the scrape configs this inventory produces
  ansible.builtin.debug:
    msg: >-
      {{ hostvars | dataaggregator.infrastructure.prometheus_scrape_configs(groups,
           {'environment': 'staging', 'self_address': '127.0.0.1:9090',
            'blackbox_address': '127.0.0.1:9115',
            'backend_health_paths': ['/health/live', '/health/ready', '/health/startup']}) }}
"""

RETURN = r"""
_value:
  description: A list of Prometheus scrape configs.
  type: list
  elements: dict
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._scrape import (
    alertmanager_configs,
    alertmanager_targets,
    scrape_configs,
)


class FilterModule:
    """Prometheus inventory filters."""

    def filters(self):
        return {
            "prometheus_scrape_configs": scrape_configs,
            "prometheus_alertmanager_targets": alertmanager_targets,
            "prometheus_alertmanager_configs": alertmanager_configs,
        }
