# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: systemd_unit
short_description: A systemd unit file from its sections as data, safe against hostile values
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Serialises a mapping of sections to mappings of settings as a unit file. A list
    is one line per item; a boolean is C(yes) or C(no); C(None) leaves the setting out.
  - Refuses CR, LF and NUL in any name or value, and a value that ends in a
    backslash (which would continue on the next line), naming the setting.
  - Escapes C(%) as C(%%) everywhere (systemd's specifiers).
  - An C(Exec*) setting given as a list of arguments is quoted argument by
    argument, with C($) written C($$) and C(\) and C(") escaped; given as a
    string it is taken as a command line written by the role.
  - Each C(Environment) item, C(NAME=value), is quoted whole.
  - The same file registers C(environment_file), C(ini_file) and C(crontab_line),
    the collection's other line-based serialisers, with the same rules.
options:
  _input:
    description: The unit's sections.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: A unit whose flags hold values from the inventory
  ansible.builtin.debug:
    msg: >-
      {{ {'Service': {'ExecStart': ['/usr/local/bin/node_exporter', '--web.listen-address=' ~ exporters_node_listen_address],
                      'Environment': ['TZ=UTC']}}
         | dataaggregator.infrastructure.systemd_unit }}
"""

RETURN = r"""
_value:
  description: The unit file's text, ending in a newline.
  type: str
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._line_formats import (
    crontab_line,
    environment_file,
    ini_file,
    systemd_unit,
)


class FilterModule:
    def filters(self):
        return {
            "systemd_unit": systemd_unit,
            "environment_file": environment_file,
            "ini_file": ini_file,
            "crontab_line": crontab_line,
        }
