# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The input of the filters that read the whole inventory."""

    DOCUMENTATION = r"""
options:
  _input:
    description: The C(hostvars) magic variable.
    type: dict
    required: true
  groups:
    description: The C(groups) magic variable.
    type: dict
    required: true
"""
