# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: package_versions
short_description: Upstream version of each package in apt-cache policy's output
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Reads the output of C(LC_ALL=C apt-cache policy PACKAGE...) and gives, per package, the upstream
    part of its installed version, or of the version apt would install when it is not installed yet
    (a C(--check) run on a new host).
  - Packages apt does not know are left out.
options:
  _input:
    description: The output of C(apt-cache policy), in the C locale.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Read the versions of the exporters' packages
  ansible.builtin.command:
    argv: [apt-cache, policy, prometheus-postgres-exporter]
  environment:
    LC_ALL: C
  register: policy
  changed_when: false

- name: Show them
  ansible.builtin.debug:
    msg: "{{ policy.stdout | dataaggregator.infrastructure.package_versions }}"
"""

RETURN = r"""
_value:
  description: Package name to upstream version, for example C(prometheus-postgres-exporter) to C(0.17.1).
  type: dict
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._versions import package_versions


class FilterModule:
    """Package versions."""

    def filters(self):
        return {"package_versions": package_versions}
