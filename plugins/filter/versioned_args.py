# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: versioned_args
short_description: The flags of a program that its installed release knows
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Releases of a program add and drop flags. A role lists such flags as data, each entry with the
    first release that knows it (C(since)) and/or the first that no longer does (C(before)), and this
    filter keeps those that apply to the version installed.
  - Versions are compared by their upstream part, so Debian's C(1:0.17.1-1+b4) counts as C(0.17.1).
  - Fails, naming the program, when an entry is malformed or the version is not known.
options:
  _input:
    description: The entries, each a mapping of C(args) (a list of strings) and C(since) and/or C(before).
    type: list
    elements: dict
    required: true
  version:
    description: The version installed, or about to be.
    type: str
    required: true
  program:
    description: The program's name, for the error messages.
    type: str
    default: the program
"""

EXAMPLES = r"""
# postgres_exporter 0.12 and later read a config file, and warn at every start without one;
# 0.11 refuses the flag.
- name: The flags of the installed postgres_exporter
  ansible.builtin.debug:
    msg: >-
      {{ [{'args': ['--config.file=/etc/postgres_exporter/postgres_exporter.yml'], 'since': '0.12.0'}]
         | dataaggregator.infrastructure.versioned_args('0.17.1', program='postgres_exporter') }}
"""

RETURN = r"""
_value:
  description: The arguments of the entries that apply, in their order.
  type: list
  elements: str
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._versions import versioned_args


class FilterModule:
    """Flags by version."""

    def filters(self):
        return {"versioned_args": versioned_args}
