# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: grafana_dashboard_files
short_description: The dashboard files of a Grafana file provider, from compact specs
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Builds every dashboard of a list with the P(dataaggregator.infrastructure.grafana_dashboard#filter)
    filter and returns one file entry per dashboard for the
    M(dataaggregator.infrastructure.file_set) module, at C(<directory>/<folder>/<uid>.json).
  - The content is what C(to_nice_json(indent=2)) writes, plus a newline, serialised by
    Python's own JSON encoder, so that a hundred dashboards cost a fraction of a second
    on every run instead of several.
  - Fails, naming the spec, on a folder that starts with a dot or holds a slash, on a
    text that is not a YAML mapping, and on everything the dashboard filter refuses
    (duplicate uids across the list included).
options:
  _input:
    description: The dashboard entries, each with C(src) (named in errors) and C(folder).
    type: list
    elements: dict
    required: true
  texts:
    description: The YAML text (or the parsed mapping) of each entry's spec, in the same order.
    type: list
    elements: raw
    required: true
  directory:
    description: The file provider's directory; each folder is a directory below it.
    type: str
    required: true
  group:
    description: The group of the files.
    type: str
    default: grafana
  mode:
    description: The mode of the files.
    type: str
    default: "0640"
  environment:
    description:
      - The value each dashboard's C(environment) variable starts on (the inventory's environment).
      - Unset, Grafana starts on the first value it finds.
    type: str
"""

EXAMPLES = r"""
- name: Provision the dashboards
  dataaggregator.infrastructure.file_set:
    files: >-
      {{ dashboards | dataaggregator.infrastructure.grafana_dashboard_files(
           query('ansible.builtin.file', *(dashboards | map(attribute='src'))),
           directory='/etc/grafana/dashboards') }}
  vars:
    dashboards:
      - {src: dashboards/system.yml, folder: Infrastructure}
      - {src: dashboards/cache.yml, folder: Infrastructure}
"""

RETURN = r"""
_value:
  description: One entry per dashboard, with C(path), C(content), C(group) and C(mode).
  type: list
  elements: dict
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._dashboards import dashboard_files


class FilterModule:
    """Grafana dashboard file filter."""

    def filters(self):
        return {"grafana_dashboard_files": dashboard_files}
