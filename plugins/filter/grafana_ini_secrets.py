# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: grafana_ini_secrets
short_description: Secret grafana.ini settings as files, and the $__file{} references to them
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - Turns a mapping of sections to mappings of keys to secrets into one secret file per setting,
    C(DIRECTORY/section.key), for M(dataaggregator.infrastructure.file_set), and
    the grafana.ini settings that read them through C($__file{PATH}).
  - grafana.ini itself, which diffs show, then holds no secret.
  - Refuses section and key names that are not plain names, and empty or
    non-string values (without naming the value).
options:
  _input:
    description: The secret settings, a mapping of section to a mapping of key to secret.
    type: dict
    required: true
  directory:
    description: Directory of the secret files.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: An OAuth client secret kept out of grafana.ini
  ansible.builtin.debug:
    msg: "{{ {'auth.generic_oauth': {'client_secret': vault_grafana_oauth_secret}}
             | dataaggregator.infrastructure.grafana_ini_secrets('/etc/grafana/secrets/ini') }}"
"""

RETURN = r"""
_value:
  description:
    - C(files), the file entries (C(secret) set, mode C(0640), group C(grafana)),
      and C(settings), the grafana.ini settings that name them.
  type: dict
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._grafana_ini import grafana_ini_secrets


class FilterModule:
    def filters(self):
        return {"grafana_ini_secrets": grafana_ini_secrets}
