# Copyright: Contributors to the dataaggregator.infrastructure collection
# Apache License 2.0 (see LICENSE)

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
