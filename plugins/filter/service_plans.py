# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: service_plans
short_description: What the shared steps put on a host for each service a role describes
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - The planning engine of the internal C(common) role. From each service description
    (an entry of C(common_services)) and a few facts of the host, works out what one step
    does for that service.
  - C(probe) gives only what C(service_install_info) looks at (accounts, release marker, unit).
  - C(install) gives the packages and masked units, the probe that
    C(service_install_info) reads, the directories, the binary links, and how the release
    archive is downloaded and unpacked.
  - C(service) gives the systemd unit (with the flags the installed release knows and the
    hardening profile chosen), the role's config files, the secret environment file, the
    TLS files, the exporter-toolkit web config (bcrypt-hashed users) when the service uses
    one, and what no longer belongs. A service whose flags depend on its package's version
    fails when that version is unknown.
  - C(remove) gives what a removal deletes, the unit last; a service's data only with
    C(remove_data).
  - C(service) also gives how the service tells it is ready (C(ready)), how it reloads
    (C(reload)) and what its role's configure step changed (C(config_changed)), which
    C(service_actions) reads.
  - The same file registers C(service_unit_files), C(changed_services), C(service_actions),
    C(handler_steps), C(hardening_profile) and C(go_architecture).
options:
  _input:
    description: The service descriptions, as the C(common) role's argument spec gives them.
    type: list
    elements: dict
    required: true
  context:
    description:
      - What the plan needs beyond the descriptions.
      - C(install_root), C(bin_dir) and C(controller_cache_dir) (the C(common) role's settings);
        C(facts) (the host's C(virtualization_type) and C(virtualization_role), for the C(auto)
        hardening profile); C(package_versions) (package name to the version apt has or would
        install, from the C(package_versions) filter); C(host) (the inventory name, which salts
        the web config's password hashes, so that a second run writes the same file);
        C(managed_header) (the comment every rendered file starts with); C(unit_mark) (the line
        that marks a unit as the collection's, the only kind ever removed); C(remove_data);
        C(parent_roles) (the roles that include C(common); when given, it must name one).
    type: dict
    required: true
  step:
    description: The step to plan.
    type: str
    required: true
    choices: [probe, install, service, remove]
"""

EXAMPLES = r"""
- name: Plan the units and files of a role's services
  ansible.builtin.set_fact:
    planned: >-
      {{ common_services | dataaggregator.infrastructure.service_plans({
           'install_root': '/opt/dataaggregator', 'bin_dir': '/usr/local/bin',
           'facts': ansible_facts, 'host': inventory_hostname,
           'managed_header': '# Ansible managed'}, 'service') }}
  no_log: true
"""

RETURN = r"""
_value:
  description:
    - One plan per service, in the order given. Every plan has C(name).
    - C(install) adds C(method), C(packages), C(masked_units), C(probe), C(directories),
      C(links) and C(archive).
    - C(probe) gives C(user), C(group), C(extra_groups), C(home), C(marker) and C(unit) instead.
    - C(service) adds C(unit_path), C(hardening), C(files), C(no_restart) (the files a change
      of needs no restart), C(absent), C(ready), C(reload) and C(config_changed).
    - C(remove) adds C(probe), C(packages) and C(absent).
    - Files whose content is a secret carry C(secret=true), for C(file_set).
  type: list
  elements: dict
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._service_plan import (
    changed_services,
    go_architecture,
    handler_steps,
    hardening_name,
    service_actions,
    service_plans,
    unit_files,
)


class FilterModule:
    def filters(self):
        return {
            "service_plans": service_plans,
            "service_unit_files": unit_files,
            "changed_services": changed_services,
            "hardening_profile": hardening_name,
            "go_architecture": go_architecture,
            "service_actions": service_actions,
            "handler_steps": handler_steps,
        }
