# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Move the contents of a file set's secret files into its no_log parameter.

Ansible logs a module's parameters to the managed host's journal (syslog)
before the module runs, masking only those its argument spec declares
no_log. A secret file's content given inline in ``files`` would be logged
there. The file_set action plugin therefore hands every secret file's content
to the module through ``secret_contents`` (declared no_log), keyed by path,
so the host's log shows only ``secret_contents=NOT_LOGGING_PARAMETER``.
"""

from __future__ import annotations

from collections.abc import Mapping


class SecretContentError(ValueError):
    """The task's arguments cannot be split safely; the message says why."""


def split_secret_contents(args: Mapping) -> dict:
    """A copy of file_set's arguments whose secret files carry no content.

    The contents of files with a true ``secret`` move into ``secret_contents``
    (merged with any given there). A secret file whose path appears twice, or
    whose content is given both inline and in ``secret_contents``, is refused:
    either would leave it unclear which content is written.
    """
    files = args.get("files") or []
    if not isinstance(files, list):
        # The module's own argument check reports the wrong type.
        return dict(args)
    secret_contents = dict(args.get("secret_contents") or {})
    public_files = []
    seen = set()
    for entry in files:
        if not isinstance(entry, Mapping) or not _truthy(entry.get("secret")):
            public_files.append(entry)
            continue
        path = entry.get("path")
        if path in seen:
            raise SecretContentError(f"file_set: the secret file {path} is listed twice")
        seen.add(path)
        entry = dict(entry)
        if "content" in entry:
            if path in secret_contents:
                raise SecretContentError(f"file_set: the content of {path} is given both in files and in secret_contents")
            secret_contents[path] = entry.pop("content")
        public_files.append(entry)
    split = dict(args)
    split["files"] = public_files
    if secret_contents:
        split["secret_contents"] = secret_contents
    return split


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "y", "t")
    return bool(value)
