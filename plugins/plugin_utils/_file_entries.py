# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""File entries for file_set, and the install descriptions of Prometheus-style releases.

Two kinds of data the roles used to spell out by hand, once per file or once
per program: the entries of a directory of files (rules, notification
templates, secret files, dashboards), and the install description of a
program released the way Prometheus's projects release (one tarball per
version and architecture beside a sha256sums.txt, and a Debian package).
Pure functions of their arguments.
"""
from __future__ import annotations

import posixpath
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


class FileEntryError(AnsibleFilterError):
    """File names or a release description that cannot make entries; the message says why."""


def _relative_name(name) -> str:
    """A path below the directory: no absolute path, no empty, hidden, "." or ".." part, no line break."""
    if not isinstance(name, str) or not name or name.startswith("/") or "\n" in name or "\r" in name:
        raise FileEntryError(f"file_entries: {name!r} is not a file name below the directory")
    if any(part in ("", ".", "..") or part.startswith(".") for part in name.split("/")):
        raise FileEntryError(f"file_entries: {name!r} is not a file name below the directory")
    return name


def file_entries(contents: Mapping, directory: str, group: str, mode: str = "0640", validate: str | None = None,
                 secret: bool = False) -> list:
    """One file_set entry per name: <directory>/<name>, owned by root and the group, in the mapping's order.

    validate (a command with %s) and secret are set on every entry when given.
    A content is never shown in an error: it may be a secret.
    """
    if not isinstance(contents, Mapping):
        raise FileEntryError(f"file_entries: expects a mapping of file name to content, got {type(contents).__name__}")
    if not directory or not str(directory).startswith("/"):
        raise FileEntryError(f"file_entries: the directory must be an absolute path, got {directory!r}")
    if validate is not None and "%s" not in validate:
        raise FileEntryError(f"file_entries: validate must contain %s: {validate}")
    entries = []
    for name, content in contents.items():
        entry = {"path": posixpath.join(directory, _relative_name(name)), "content": content, "group": group, "mode": mode}
        if validate:
            entry["validate"] = validate
        if secret:
            entry["secret"] = True
        entries.append(entry)
    return entries


def named_contents(sources, texts) -> dict:
    """Source paths and their texts, as file name (the source's base name) to text; a name twice is refused."""
    if not isinstance(sources, list) or not isinstance(texts, list) or len(sources) != len(texts):
        raise FileEntryError("named_contents: expects a list of source paths and one text for each")
    contents = {}
    for source, text in zip(sources, texts):
        name = posixpath.basename(str(source))
        if name in contents:
            raise FileEntryError(f"named_contents: two sources are named {name} ({source})")
        contents[name] = text
    return contents


def release_install(release: Mapping) -> dict:
    """The install description (common_services[].install) of a program released as Prometheus's projects are.

    release holds program, version, base_url (the releases' URL, where each
    version is v<version>/), arch (Go's name), method and download_on; and
    optionally package (Debian's; its binary is /usr/bin/<package>),
    masked_units (default: the package's own unit), binaries (default: the
    program), archive (the file name, with {program}, {version} and {arch};
    default {program}-{version}.linux-{arch}.tar.gz) and checksum (default:
    the release's sha256sums.txt).
    """
    if not isinstance(release, Mapping):
        raise FileEntryError(f"release_install: expects a mapping, got {type(release).__name__}")
    missing = [key for key in ("program", "version", "base_url", "arch", "method") if not release.get(key)]
    if missing:
        raise FileEntryError(f"release_install: {release.get('program') or 'a release'} needs {', '.join(missing)}")
    program, version = release["program"], str(release["version"])
    base = f"{str(release['base_url']).rstrip('/')}/v{version}"
    archive = str(release.get("archive") or "{program}-{version}.linux-{arch}.tar.gz").format(
        program=program, version=version, arch=release["arch"])
    install = {
        "method": release["method"],
        "version": version,
        "archive_url": f"{base}/{archive}",
        "checksum": release.get("checksum") or f"sha256:{base}/sha256sums.txt",
        "binaries": [{"name": name} for name in (release.get("binaries") or [program])],
        "download_on": release.get("download_on") or "target",
    }
    package = release.get("package")
    if package:
        masked = release.get("masked_units")
        install |= {
            "packages": [package],
            "package_binary": f"/usr/bin/{package}",
            "masked_units": list(masked) if masked is not None else [f"{package}.service"],
        }
    elif release["method"] == "package":
        raise FileEntryError(f"release_install: {program} has no package to install")
    return install
