# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: exporter_services
short_description: The exporters role's services, from the registry of exporters and their settings
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Reads the registry of exporters (C(plugins/plugin_utils/_exporters.py)), which holds for each
    exporter its program, Debian package, release file name, port, default group and whether it
    serves a web config.
  - From the values of every exporter's settings (C(exporters_<name>_enabled), C(_version),
    C(_download_base_url), C(_listen_address), C(_extra_flags), C(_systemd_options), and C(_checksum)
    where upstream publishes no checksum file), in the order C(exporter_setting_names) gives, builds
    the C(common_services) description of each exporter.
  - An exporter's own needs (further flags, secrets, config files) come from O(specifics) and are
    merged into its description.
  - The same file registers C(exporter_setting_names), the names of the variables to read.
options:
  _input:
    description: The values of the variables C(exporter_setting_names) names, in that order.
    type: list
    required: true
  shared:
    description:
      - The role's settings of every exporter. These are C(arch) (Go's name), C(method), C(download_on)
        and C(hardening).
      - Also C(basic_auth_users), C(tls_cert) and C(tls_key), and C(listen_public).
    type: dict
    required: true
  specifics:
    description:
      - Per exporter short name, what only it needs. C(directories) and C(unit.args) are added after
        the registry's, C(unit.options) are taken under the user's systemd options, and any
        other key replaces the registry's.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: The enabled exporters' descriptions
  ansible.builtin.debug:
    msg: >-
      {{ (query('ansible.builtin.vars', *('exporters_' | dataaggregator.infrastructure.exporter_setting_names))
          | dataaggregator.infrastructure.exporter_services(shared)).services }}
"""

RETURN = r"""
_value:
  description:
    - C(enabled) and C(disabled) (short names), C(services) (descriptions of the enabled ones),
      C(removed) (those of the disabled ones), C(invalid_addresses) (the listen-address variables
      that are not HOST:PORT) and C(listeners) (the enabled ones', for C(unauthenticated_listeners)).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils import _exporters


def exporter_services(values, shared, specifics=None):
    try:
        return _exporters.exporter_services(values, shared, specifics)
    except (_exporters.ExporterError, KeyError) as exc:
        raise AnsibleFilterError(f"exporter_services: {exc}") from None


class FilterModule:
    def filters(self):
        return {"exporter_services": exporter_services, "exporter_setting_names": _exporters.setting_names}
