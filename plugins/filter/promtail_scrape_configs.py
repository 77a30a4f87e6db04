# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: promtail_scrape_configs
short_description: Promtail's scrape configs from log sources described as data
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Renders log sources (the collection's shipper-neutral format, documented in
    the promtail role) as Promtail C(scrape_configs), one per source.
  - Every stream carries the labels C(job), C(host) and C(environment); a source
    may add only C(level) and C(logger). Any other parsed field goes to Loki's
    structured metadata (or stays in the line), so the number of streams stays small.
  - A bad source fails with the source's name and the problem, before anything is written.
options:
  _input:
    description: The log sources, a list of mappings.
    type: list
    elements: dict
    required: true
  options:
    description:
      - C(host), the value of the C(host) label.
      - C(environment), the value of the C(environment) label.
      - C(disabled), names of sources to leave out.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Show the scrape configs of the role's sources
  ansible.builtin.debug:
    msg: >-
      {{ promtail_log_sources | dataaggregator.infrastructure.promtail_scrape_configs(
           {'host': inventory_hostname, 'environment': 'production'}) }}
"""

RETURN = r"""
_value:
  description: Promtail scrape configs (C(job_name), C(static_configs) or C(journal), C(pipeline_stages)).
  type: list
  elements: dict
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._log_sources import (
    log_source_access,
    loki_push_urls,
    promtail_clients,
    promtail_scrape_configs,
)


class FilterModule:
    """Log source filters."""

    def filters(self):
        return {
            "promtail_scrape_configs": promtail_scrape_configs,
            "log_source_access": log_source_access,
            "promtail_clients": promtail_clients,
            "loki_push_urls": loki_push_urls,
        }
