# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: grafana_datasources
short_description: Grafana's datasource provisioning file, from the inventory
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Builds the datasource provisioning document (C(apiVersion 1)) for Prometheus,
    Alertmanager and Loki, with the fixed uids C(da-prometheus), C(da-alertmanager)
    and C(da-loki) that the dashboards reference. Prometheus is the default datasource.
  - Each service is read on the first host of its inventory group, on the port of that
    host's listen address, with https (its C(*_web_tls_cert)) and basic auth (the
    password of O(options.username) in its C(*_web_basic_auth_users)) where its web
    config demands them. An explicit URL replaces the inventory lookup.
  - Alertmanager and Loki are left out when their groups are empty; Prometheus is
    required.
  - C(prune) is on, so a datasource removed from the file is removed from Grafana.
  - Grafana expands C($VAR) and C($__file{}) in provisioned values; every string is
    escaped (C($) becomes C($$)), so values are taken literally.
extends_documentation_fragment:
  - dataaggregator.infrastructure.inventory_filter
options:
  options:
    description:
      - C(username), the basic-auth user Grafana sends (default C(grafana)).
      - C(ca_cert), PEM of the CA that signed the certificates of https services.
      - C(scrape_interval), Prometheus's scrape interval (the datasource's minimal step); by default
        the Prometheus host's C(prometheus_scrape_interval), where the inventory sets it.
      - C(prometheus_url), C(alertmanager_url), C(loki_url) instead of the inventory, each
        with optional C(<kind>_username) and C(<kind>_password).
      - C(prometheus_group), C(alertmanager_group), C(loki_group), the inventory groups.
      - C(extra), further datasources as Grafana's provisioning takes them.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Provision the datasources
  ansible.builtin.copy:
    content: "{{ hostvars | dataaggregator.infrastructure.grafana_datasources(groups, {'username': 'grafana'}) | to_nice_yaml }}"
    dest: /etc/grafana/provisioning/datasources/dataaggregator.yml
    owner: root
    group: grafana
    mode: "0640"
  no_log: true
"""

RETURN = r"""
_value:
  description: The provisioning document, with C(apiVersion), C(prune) and C(datasources).
  type: dict
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._datasources import datasources


class FilterModule:
    """Grafana datasource filter."""

    def filters(self):
        return {"grafana_datasources": datasources}
