# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""grafana.ini settings that are secrets, each kept in a file of its own.

Grafana reads any setting from a file with ``$__file{PATH}``. A secret
setting (an OAuth client secret, an SMTP or database password) is therefore
written to a file that only root and Grafana's group read, and grafana.ini,
which is shown in diffs, holds only the reference.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

SECTION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def grafana_ini_secrets(secrets: Mapping, directory: str) -> dict:
    """{'files': file_set entries (secret), 'settings': {section: {key: '$__file{path}'}}}.

    A file is named <section>.<key> below directory. Section and key names
    are refused unless they are plain names (they become file names); values
    must be non-empty strings, and are never named in a message.
    """
    if not isinstance(secrets, Mapping):
        raise AnsibleFilterError("grafana_ini_secrets: expected a mapping of section to {key: secret}")
    files, settings = [], {}
    for section, options in secrets.items():
        if not isinstance(section, str) or not SECTION.match(section):
            raise AnsibleFilterError(f"grafana_ini_secrets: section {section!r} must be a plain name such as auth.generic_oauth")
        if not isinstance(options, Mapping):
            raise AnsibleFilterError(f"grafana_ini_secrets: [{section}] must be a mapping of key to secret")
        for key, value in options.items():
            if not isinstance(key, str) or not KEY.match(key):
                raise AnsibleFilterError(f"grafana_ini_secrets: [{section}] key {key!r} must be a plain name such as client_secret")
            if not isinstance(value, str) or not value:
                raise AnsibleFilterError(f"grafana_ini_secrets: [{section}] {key} must be a non-empty string (from the vault)")
            path = f"{directory}/{section}.{key}"
            files.append({"path": path, "content": value, "group": "grafana", "mode": "0640", "secret": True})
            settings.setdefault(section, {})[key] = "$__file{" + path + "}"
    return {"files": files, "settings": settings}
