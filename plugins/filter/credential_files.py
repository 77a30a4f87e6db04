# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: credential_files
short_description: Move prometheus.yml's credentials into files that Prometheus reads
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team
description:
  - In each scrape config, Alertmanager config, remote_write and remote_read entry,
    replaces C(basic_auth.password), C(authorization.credentials),
    C(oauth2.client_secret) and C(bearer_token) by the matching C(*_file) setting,
    and returns the secret files to write.
  - prometheus.yml then holds no secret, so its diff can be shown.
  - Refuses an entry that sets both a credential and its file, or an empty credential.
options:
  _input:
    description: The Prometheus config, as data.
    type: dict
    required: true
  directory:
    description: Directory of the credential files.
    type: path
    required: true
  group:
    description: Group that may read them (the service's).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: prometheus.yml without its credentials, and the files that hold them
  ansible.builtin.debug:
    msg: "{{ prometheus_config | dataaggregator.infrastructure.credential_files('/etc/prometheus/secrets', 'prometheus') }}"
"""

RETURN = r"""
_value:
  description:
    - C(config), the config with file references, and C(files), the entries for
      M(dataaggregator.infrastructure.file_set) (C(secret) set, mode C(0640)).
  type: dict
"""

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._credential_files import credential_files


class FilterModule:
    def filters(self):
        return {"credential_files": credential_files}
