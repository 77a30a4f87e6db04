# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: alloy_config
short_description: Write a Grafana Alloy configuration from data
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Writes a list of blocks in Alloy's configuration syntax. Each block is a mapping with C(block)
    (its name, such as C(loki.write)), an optional C(label), C(arguments) (attribute name to value)
    and C(blocks) (the blocks it holds, in order).
  - Values are strings, numbers, booleans, null, lists and mappings. A mapping whose one key is
    C(reference) is a reference to another component's export (C({reference
    loki.write.default.receiver})), written bare; nothing else is, so an inventory value never
    becomes an expression.
  - Strings are double-quoted with Go's escapes (quotes, backslashes and line breaks stay inside
    one string); multi-line lists and objects have a comma after every element; there are no C(#)
    comments. A label or name that Alloy would refuse fails the filter, naming the block.
  - The same file registers C(alloy_log_pipeline), which builds the blocks that ship log sources
    to Loki.
options:
  _input:
    description: The blocks.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: An Alloy config
  ansible.builtin.copy:
    dest: /etc/alloy/config.alloy
    content: >-
      {{ [{'block': 'logging', 'arguments': {'level': 'info'}}] | dataaggregator.infrastructure.alloy_config }}
    mode: "0640"
"""

RETURN = r"""
_value:
  description: The configuration's text.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils import _alloy


def alloy_config(blocks):
    try:
        return _alloy.alloy_config(blocks)
    except _alloy.AlloyConfigError as exc:
        raise AnsibleFilterError(f"alloy_config: {exc}") from None


def alloy_log_pipeline(sources, options=None):
    try:
        return _alloy.alloy_log_pipeline(sources, options)
    except _alloy.AlloyConfigError as exc:
        raise AnsibleFilterError(f"alloy_log_pipeline: {exc}") from None


class FilterModule:
    def filters(self):
        return {"alloy_config": alloy_config, "alloy_log_pipeline": alloy_log_pipeline}
