# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: file_entries
short_description: The file_set entries of a directory of files, from file name to content
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - One entry per file for the M(dataaggregator.infrastructure.file_set) module, at
    C(<directory>/<name>), owned by root and O(group), in the order given.
  - Names may hold one or more folders (C(Team/board.json)); an absolute name, an empty,
    hidden, C(.) or C(..) part and a line break are refused. A content is never shown in an
    error.
  - The same file registers C(named_contents) (source paths and their texts to this filter's
    input) and C(release_install) (the install description of a program released as
    Prometheus's projects are).
options:
  _input:
    description: File name to content.
    type: dict
    required: true
  directory:
    description: The absolute directory of the files.
    type: str
    required: true
  group:
    description: The group of the files (the service's).
    type: str
    required: true
  mode:
    description: The mode of the files.
    type: str
    default: "0640"
  validate:
    description: A check each file must pass before any is replaced, with C(%s) for the file.
    type: str
  secret:
    description: Whether the contents are secrets (never shown in output, diffs or the host's log).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Install the alert rules, each checked by promtool
  dataaggregator.infrastructure.file_set:
    files: >-
      {{ sources | dataaggregator.infrastructure.named_contents(query('ansible.builtin.file', *sources, rstrip=false))
         | dataaggregator.infrastructure.file_entries('/etc/prometheus/rules', 'prometheus',
                                                      validate='promtool check rules %s') }}
  vars:
    sources: [files/rules/node.yml, files/rules/postgres.yml]
"""

RETURN = r"""
_value:
  description: The entries (C(path), C(content), C(group), C(mode), and C(validate) and C(secret) when given).
  type: list
  elements: dict
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._file_entries import (
    file_entries,
    named_contents,
    release_install,
)


class FilterModule:
    def filters(self):
        return {
            "file_entries": file_entries,
            "named_contents": named_contents,
            "release_install": release_install,
        }
