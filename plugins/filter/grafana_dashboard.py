# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: grafana_dashboard
short_description: Grafana dashboard JSON from a compact spec
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Builds a complete Grafana dashboard from a short spec of rows and panels, so
    that dashboards are reviewed as a few lines of data rather than thousands of
    lines of JSON.
  - Panels flow left to right in their row and wrap at 24 columns; every panel
    gets a stable id (its position), datasource references by uid (the
    C(datasource) and C(loki_datasource) variables), and full field and option
    settings, so that the JSON round-trips unchanged through Grafana's schema.
  - Every dashboard carries the tag C(dataaggregator) and a links menu of all
    dashboards with that tag, a default time range and a refresh interval.
  - A spec with an unknown panel type, a missing query, a width over 24, an
    unknown key or a duplicate uid fails with a message that names the
    dashboard, the panel and the field.
options:
  _input:
    description:
      - One spec, or a list of specs (then uids must be unique across the list).
      - A spec has C(uid), C(title), optional C(tags), C(description), C(variables)
        (from C(datasource), C(loki_datasource), C(environment), C(job), C(instance);
        default all but C(loki_datasource), which logs panels add), C(time_from)
        (default C(6h)), C(refresh) (default C(30s)), and C(rows).
      - A row has C(title) and C(panels). A panel has C(title), C(type) (C(timeseries),
        C(stat), C(gauge), C(table), C(bargauge), C(logs), C(alertlist)), C(queries)
        (each an expression, or a mapping of C(expr), C(legend), C(instant), C(format)),
        and optional C(unit), C(thresholds) (list of C(value) and C(color)), C(width)
        (1 to 24, default 12), C(height) (default 8), C(description), C(decimals),
        C(min), C(max) and C(stack).
    type: raw
    required: true
  environment:
    description:
      - The value the C(environment) variable starts on (the inventory's environment).
      - Unset, Grafana starts on the first value it finds.
    type: str
"""

EXAMPLES = r"""
- name: Write a dashboard
  ansible.builtin.copy:
    dest: /var/lib/grafana/dashboards/cache.json
    content: >-
      {{ {'uid': 'da-cache', 'title': 'Cache Performance', 'tags': ['cache'],
          'rows': [{'title': 'Redis', 'panels': [
            {'title': 'Hit rate', 'type': 'stat', 'unit': 'percentunit', 'width': 6,
             'queries': ['sum(rate(redis_keyspace_hits_total[5m])) / (sum(rate(redis_keyspace_hits_total[5m])) + sum(rate(redis_keyspace_misses_total[5m])))'],
             'thresholds': [{'value': 0.8, 'color': 'green'}]}]}]}
         | dataaggregator.infrastructure.grafana_dashboard | to_nice_json }}
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The dashboard JSON as a mapping (a list of them for a list of specs).
  type: raw
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._dashboards import grafana_dashboard, grafana_dashboards


def _build(specs, environment=None):
    return grafana_dashboards(specs, environment) if isinstance(specs, list) else grafana_dashboard(specs, environment=environment)


class FilterModule:
    """Grafana dashboard filters."""

    def filters(self):
        return {"grafana_dashboard": _build}
