# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Move the credentials of prometheus.yml into files that Prometheus reads.

Prometheus reads every credential of an HTTP client from a file when told
to (``password_file``, ``credentials_file``, ``bearer_token_file``,
``client_secret_file``). With the credentials moved there, prometheus.yml
holds none: its diff can be shown, and no heuristic has to guess whether it
is secret. The files are secrets, readable by root and Prometheus's group.

Promtail's clients take the same settings, and are treated the same way.

The HTTP clients looked at: each scrape config, each Alertmanager config,
each remote_write and remote_read entry, and each of Promtail's clients. A
client URL that carries a user and password (https://user:pass@host/...)
loses them to the client's basic_auth, whose password then goes to a file.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# (block, inline key, file key); None for a key at the top of the client config.
CREDENTIALS = (
    ("basic_auth", "password", "password_file"),
    ("authorization", "credentials", "credentials_file"),
    ("oauth2", "client_secret", "client_secret_file"),
    (None, "bearer_token", "bearer_token_file"),
)
SECTIONS = (
    ("scrape", ("scrape_configs",), "job_name"),
    ("alertmanager", ("alerting", "alertmanagers"), None),
    ("remote_write", ("remote_write",), "name"),
    ("remote_read", ("remote_read",), "name"),
    ("client", ("clients",), "name"),
)
UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# scheme://user:pass... where the part after the ':' is no port: a password
# whose '/', '?' or '#' made urlsplit end the host part before the '@'.
AMBIGUOUS_CREDENTIALS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?!\[)[^@/?#]*:(?![0-9]*[/?#])[^@/?#]*[/?#].*@")


def _clients(config: dict):
    """(section, name, client) for every HTTP client of the config, in order."""
    for section, path, name_key in SECTIONS:
        entries = config
        for key in path:
            entries = entries.get(key) if isinstance(entries, Mapping) else None
        for index, client in enumerate(entries or []):
            if isinstance(client, dict):
                name = client.get(name_key) if name_key else None
                yield section, str(name) if name else str(index), client


def split_url_credentials(url: str):
    """The URL without its user and password, and {"username", "password"}; None for them when it has no password.

    A user without a password is no secret, and stays in the URL. Raises
    ValueError, never quoting the URL, when it cannot be read, or when it
    seems to hold a password that is not percent-encoded ('/', '?', '#' in it
    end the host part early, and the password would stay in the URL).
    """
    if not isinstance(url, str) or "@" not in url:
        return url, None
    if AMBIGUOUS_CREDENTIALS.match(url):
        raise ValueError("the URL seems to hold a password with '/', '?' or '#' in it (or a port that is no number):"
                         " percent-encode them")
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        # Python's message may quote a piece of the password.
        raise ValueError("the URL's host or port cannot be read") from None
    if parts.password is None:
        return url, None
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{port}" if port else "")
    bare = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return bare, {"username": urllib.parse.unquote(parts.username or ""), "password": urllib.parse.unquote(parts.password)}


def _url_credentials_to_basic_auth(section: str, name: str, client: dict) -> None:
    """Move a user and password out of the client's URL into its basic_auth."""
    try:
        url, credentials = split_url_credentials(client.get("url"))
    except ValueError as error:
        raise AnsibleFilterError(f"credential_files: {section} {name!r}: {error}") from None
    if credentials is None:
        return
    if client.get("basic_auth"):
        raise AnsibleFilterError(f"credential_files: {section} {name!r} has a password both in its URL and in basic_auth")
    client["url"] = url
    client["basic_auth"] = credentials


def _plain(value):
    """A plain copy: mappings as dicts, lists as lists (Ansible hands filters lazy containers)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def credential_files(config: Mapping, directory: str, group: str) -> dict:
    """{'config': the config with each inline credential replaced by a file, 'files': the file_set entries}."""
    if not isinstance(config, Mapping):
        raise AnsibleFilterError("credential_files: expected the Prometheus config as a mapping")
    config = _plain(config)
    files, used = [], set()
    for section, name, client in _clients(config):
        _url_credentials_to_basic_auth(section, name, client)
        for block, inline, file_key in CREDENTIALS:
            holder = client.get(block) if block else client
            if not isinstance(holder, dict) or inline not in holder:
                continue
            value = holder.pop(inline)
            if file_key in holder:
                raise AnsibleFilterError(f"credential_files: {section} {name!r} sets both {inline} and {file_key}")
            if not isinstance(value, str) or not value:
                raise AnsibleFilterError(f"credential_files: {section} {name!r}: {inline} must be a non-empty string")
            stem = UNSAFE.sub("_", f"{section}-{name}-{inline}")
            file_name, number = stem, 1
            while file_name in used:
                number += 1
                file_name = f"{stem}-{number}"
            used.add(file_name)
            path = f"{directory}/{file_name}"
            holder[file_key] = path
            files.append({"path": path, "content": value, "group": group, "mode": "0640", "secret": True})
    return {"config": config, "files": files}
